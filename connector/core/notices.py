"""What a run tells people (SPEC §14): one notice per event and run, never per action.

Pure: a run's result in, the notices out (subject, paragraphs, tables, attachments,
recipients), in Vietnamese or English. ``outputs.notify`` renders them as e-mail and
webhook bodies; ``service.notify`` decides when to send. Nothing here ever holds a
secret: a result carries none (passwords live only in sealed files).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connector.core.actions import Kind
from connector.core.results import RunResult

FAILURE_CODES = (2, 4)

TEXT: dict[str, dict[str, str]] = {
    "vi": {
        "changes": "{n} thay đổi đã áp dụng",
        "changes_intro": "Lượt chạy {run_id} (phạm vi {scope}) đã thay đổi thư mục: {n} thao "
                         "tác thành công, {failed} thất bại. Báo cáo đầy đủ được đính kèm.",
        "locked": "Người bị khóa và lý do",
        "counts": "Số lượng theo thao tác và điều khoản",
        "guard": "cơ chế an toàn đã dừng lượt chạy: cần phê duyệt",
        "guard_intro": "Lượt chạy {run_id} (phạm vi {scope}) không thay đổi gì: {error}",
        "guard_would": "Nếu được phê duyệt, kế hoạch sẽ thực hiện:",
        "guard_approve": "Xem xét kế hoạch {plan}, rồi phê duyệt đúng kế hoạch đó bằng lệnh:",
        "failure": "lượt chạy thất bại (mã {code})",
        "failure_intro": "Lượt chạy {run_id} (phạm vi {scope}) kết thúc với mã {code}: "
                         "{error}. Các lượt sau sẽ thử lại; thông báo này chỉ gửi một lần "
                         "cho đến khi chạy lại thành công.",
        "recovered": "các lượt chạy đã thành công trở lại",
        "recovered_intro": "Lượt chạy {run_id} (phạm vi {scope}) đã thành công (mã {code}) "
                           "sau các lượt thất bại.",
        "credentials": "tài khoản mới của đơn vị {unit}",
        "credentials_intro": "Đơn vị {unit} có {n} tài khoản mới (lượt chạy {run_id}). Mật "
                             "khẩu ban đầu nằm trong tệp đính kèm, được mã hóa cho khóa của "
                             "đơn vị (age); giải mã bằng: age -d -i <khóa bí mật> {file}",
        "new_accounts": "Tài khoản mới",
        "action": "Thao tác", "clause": "Điều khoản", "number": "Số lượng",
        "employee_id": "Mã nhân viên", "name": "Họ và tên", "reason": "Lý do", "dn": "DN",
        "footer": "Thư tự động của bhxh-connector; không chứa mật khẩu nào.",
    },
    "en": {
        "changes": "{n} changes applied",
        "changes_intro": "Run {run_id} (scope {scope}) changed the directory: {n} actions "
                         "applied, {failed} failed. The full report is attached.",
        "locked": "People locked and why",
        "counts": "Counts by action and clause",
        "guard": "the safety guard stopped the run: approval needed",
        "guard_intro": "Run {run_id} (scope {scope}) changed nothing: {error}",
        "guard_would": "If approved, the plan would do:",
        "guard_approve": "Review the plan {plan}, then approve exactly it with:",
        "failure": "run failed (exit code {code})",
        "failure_intro": "Run {run_id} (scope {scope}) ended with exit code {code}: {error}. "
                         "Later runs retry; this message is sent once until runs succeed "
                         "again.",
        "recovered": "runs succeed again",
        "recovered_intro": "Run {run_id} (scope {scope}) succeeded (exit code {code}) after "
                           "failed runs.",
        "credentials": "new accounts of unit {unit}",
        "credentials_intro": "Unit {unit} has {n} new accounts (run {run_id}). Their initial "
                             "passwords are in the attached file, encrypted for the unit's "
                             "age key; decrypt with: age -d -i <secret key> {file}",
        "new_accounts": "New accounts",
        "action": "Action", "clause": "Clause", "number": "Count",
        "employee_id": "Employee id", "name": "Full name", "reason": "Reason", "dn": "DN",
        "footer": "An automatic message of bhxh-connector; it holds no password.",
    },
}


@dataclass(frozen=True)
class Table:
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Notice:
    """One message: for the scope's operators (``to`` None) or for a unit's contact."""

    event: str
    run_id: str
    scope: str
    exit_code: int
    subject: str
    paragraphs: tuple[str, ...]
    tables: tuple[Table, ...] = ()
    #: files attached: the run's HTML report, or a unit's sealed credentials
    attachments: tuple[str, ...] = ()
    to: tuple[str, ...] | None = None
    summary: Mapping[str, Any] = field(default_factory=dict)
    pending_plan: str | None = None
    report: str | None = None
    recovered: bool = False
    footer: str = ""

    def webhook_body(self) -> dict[str, Any]:
        """SPEC §14's webhook fields (and ``recovered`` for the end of failures)."""
        return {"event": self.event, "run_id": self.run_id, "scope": self.scope,
                "exit_code": self.exit_code, "summary": dict(self.summary),
                "pending_plan": self.pending_plan, "report": self.report,
                "subject": self.subject, "recovered": self.recovered}


def subject(scope: str, text: str) -> str:
    return f"[bhxh-connector] {scope}: {text}"


def notices(result: RunResult, language: str, events: frozenset[str], *,
            report: str | None = None, failing_before: bool = False,
            contacts: Mapping[tuple[str, str], str] | None = None) -> list[Notice]:
    """The notices of one run. ``failing_before``: the daemon's earlier runs were failing
    (a failure is then not told again, and a success says they succeed again)."""
    text = TEXT.get(language, TEXT["vi"])
    summary: Mapping[str, Any] = result.to_dict()["summary"]  # type: ignore[assignment]
    out: list[Notice] = []
    failed = result.exit_code in FAILURE_CODES
    if "failure" in events and failed and not failing_before:
        out.append(_failure(result, text, summary))
    if "failure" in events and failing_before and not failed:
        out.append(_recovered(result, text, summary))
    if "guard" in events and result.exit_code == 3:
        out.append(_guard(result, text, summary))
    applied = [o for o in result.outcomes if o.ok]
    if "changes" in events and not result.dry_run and applied:
        out.append(_changes(result, text, summary, report))
    if "credentials" in events:
        out += _credentials(result, text, contacts or {})
    return out


def _common(result: RunResult, summary: Mapping[str, Any]) -> dict[str, Any]:
    return {"run_id": result.run_id, "scope": result.scope, "exit_code": result.exit_code,
            "summary": summary}


def _failure(result: RunResult, text: dict[str, str], summary: Mapping[str, Any]) -> Notice:
    values = {"run_id": result.run_id, "scope": result.scope, "code": result.exit_code,
              "error": result.error or "-"}
    return Notice("failure", subject=subject(result.scope, text["failure"].format(**values)),
                  paragraphs=(text["failure_intro"].format(**values),), footer=text["footer"],
                  **_common(result, summary))


def _recovered(result: RunResult, text: dict[str, str], summary: Mapping[str, Any]) -> Notice:
    values = {"run_id": result.run_id, "scope": result.scope, "code": result.exit_code}
    return Notice("failure", subject=subject(result.scope, text["recovered"]),
                  paragraphs=(text["recovered_intro"].format(**values),), recovered=True,
                  footer=text["footer"], **_common(result, summary))


def _counts(result: RunResult, text: dict[str, str], kinds: Sequence[object] | None) -> Table:
    actions = [o.action for o in result.outcomes if o.ok] if kinds is None else \
        list(result.plan.actions if result.plan else ())
    counts = Counter((a.kind.value, a.clause or "") for a in actions)
    return Table(text["counts"], (text["action"], text["clause"], text["number"]),
                 tuple((kind, clause or "-", str(n)) for (kind, clause), n in sorted(
                     counts.items())))


def _guard(result: RunResult, text: dict[str, str], summary: Mapping[str, Any]) -> Notice:
    values = {"run_id": result.run_id, "scope": result.scope, "error": result.error or "-"}
    paragraphs = [text["guard_intro"].format(**values), text["guard_would"]]
    if result.pending_plan:
        paragraphs += [text["guard_approve"].format(plan=result.pending_plan),
                       f"connector apply {result.pending_plan} --allow-mass-lock"]
    return Notice("guard", subject=subject(result.scope, text["guard"]),
                  paragraphs=tuple(paragraphs), tables=(_counts(result, text, ()),),
                  pending_plan=result.pending_plan, footer=text["footer"],
                  **_common(result, summary))


def _changes(result: RunResult, text: dict[str, str], summary: Mapping[str, Any],
             report: str | None) -> Notice:
    applied = [o.action for o in result.outcomes if o.ok]
    values = {"run_id": result.run_id, "scope": result.scope, "n": len(applied),
              "failed": len(result.failed)}
    names = {p.key: p.full_name for p in result.roster.people} if result.roster else {}
    locked = tuple(sorted((a.employee_id or "-", names.get((a.employee_id or "").casefold(),
                                                            ""), a.reason, a.clause or "-")
                          for a in applied if a.kind is Kind.LOCK))
    tables = [_counts(result, text, None)]
    if locked:
        tables.append(Table(text["locked"], (text["employee_id"], text["name"], text["reason"],
                                             text["clause"]), locked))
    return Notice("changes", subject=subject(result.scope, text["changes"].format(**values)),
                  paragraphs=(text["changes_intro"].format(**values),), tables=tuple(tables),
                  attachments=(report,) if report else (), report=report,
                  footer=text["footer"], **_common(result, summary))


def _credentials(result: RunResult, text: dict[str, str],
                 contacts: Mapping[tuple[str, str], str]) -> list[Notice]:
    out = []
    for unit in result.credential_units:
        code, kind = str(unit["code"]), str(unit["unit_type"])
        contact = contacts.get((kind, code.casefold()))
        accounts = unit.get("accounts") or []
        if contact is None or not isinstance(accounts, list) or not accounts:
            continue
        file = str(unit["file"])
        values = {"unit": code, "n": len(accounts), "run_id": result.run_id,
                  "file": file.rsplit("/", 1)[-1]}
        rows = tuple((str(a["employee_id"]), str(a["full_name"]), str(a["dn"]))
                     for a in accounts)
        out.append(Notice("credentials", result.run_id, result.scope, result.exit_code,
                          subject(result.scope, text["credentials"].format(**values)),
                          (text["credentials_intro"].format(**values),),
                          (Table(text["new_accounts"], (text["employee_id"], text["name"],
                                                        text["dn"]), rows),),
                          attachments=(file,), to=(contact,), footer=text["footer"],
                          summary={"unit": code, "accounts": len(accounts)}))
    return out

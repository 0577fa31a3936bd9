"""Reports of a run for the people who review and sign it off (SPEC §9).

``--report PATH``: HTML (one self-contained file: no script, style, font or
image fetched from anywhere, so it opens on an air-gapped PC), CSV (UTF-8 with
a BOM, so Excel shows Vietnamese) or XLSX, by the file's suffix. The HTML goes
through Jinja2 with autoescaping: a name like ``<script>`` is shown as text.
The chart of actions per unit is hand-written inline SVG, in this module only.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from connector.core.cells import csv_text, is_formula
from connector.core.results import RunResult
from connector.core.wording import code_vi, rejection_vi, scope_vi
from connector.errors import ConfigError
from connector.outputs.files import write_atomically

COLUMNS = ("run_id", "action", "employee_id", "full_name", "unit_type", "unit_code", "dn",
           "reason", "clause", "outcome", "error")

LABELS = {
    "vi": {"title": "Báo cáo đồng bộ tài khoản", "run_id": "Mã lượt chạy",
           "plan_id": "Mã kế hoạch", "scope": "Phạm vi", "actor": "Danh tính kết nối",
           "mode": "Chế độ", "dry_run": "Chạy thử (không ghi gì)", "applied": "Đã áp dụng",
           "when": "Thời điểm", "duration": "Thời lượng", "exit_code": "Mã kết thúc",
           "counts": "Số lượng theo thao tác và điều khoản", "action": "Thao tác",
           "number": "Số lượng", "clause": "Điều khoản", "per_unit": "Thao tác theo đơn vị",
           "actions": "Các thao tác", "name": "Họ và tên", "unit": "Đơn vị",
           "reason": "Lý do", "outcome": "Kết quả", "rejected": "Dòng bị từ chối",
           "line": "Dòng", "held": "Người vẫn bị khóa (khóa bền vững)",
           "roster": "Danh sách nhân sự", "roster_sha256": "Mã băm SHA-256 của danh sách",
           "none": "Không có", "employee_id": "Mã nhân viên", "unknown": "(không rõ)"},
    "en": {"title": "Account reconcile report", "run_id": "Run", "plan_id": "Plan",
           "scope": "Scope", "actor": "Bound as", "mode": "Mode",
           "dry_run": "Dry run (nothing written)", "applied": "Applied", "when": "When",
           "duration": "Duration", "exit_code": "Exit code",
           "counts": "Counts by action and clause", "action": "Action", "number": "Count",
           "clause": "Clause", "per_unit": "Actions per unit", "actions": "Actions",
           "name": "Full name", "unit": "Unit", "reason": "Reason", "outcome": "Outcome",
           "rejected": "Rejected rows", "line": "Line",
           "held": "Held people (sticky locks kept)", "roster": "Roster",
           "roster_sha256": "Roster SHA-256", "none": "None", "employee_id": "employee_id",
           "unknown": "(unknown)"},
}


def rows(result: RunResult, document: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per action, with the person's name and unit (from the action or the
    roster row), its outcome and error (from ``document``, the run's ``to_dict``): the
    CSV, the XLSX and the HTML table."""
    people = {p.key: p for p in result.roster.people} if result.roster else {}
    entries = _entries(result)
    out = []
    for action, item in zip(result.plan.actions if result.plan else (),
                            document["actions"], strict=True):
        changes = dict(action.changes)
        person = people.get((action.employee_id or "").casefold())
        # not on the roster (a not_on_roster lock): the directory knows the name and unit
        known = entries(action.member or action.dn) if person is None else {}
        out.append({
            "run_id": result.run_id, "action": action.kind.value,
            "employee_id": action.employee_id or "",
            "full_name": changes.get("cn") or (person.full_name if person else
                                               known.get("cn", "")),
            "unit_type": changes.get("employeeType") or
            (person.unit_type.value if person else known.get("employeeType", "")),
            "unit_code": changes.get("departmentNumber") or
            (person.unit_code if person else known.get("departmentNumber", "")),
            "dn": action.dn, "reason": action.reason, "clause": action.clause or "",
            "outcome": item["outcome"], "error": item["error"] or "",
        })
    return out


def _entries(result: RunResult) -> Any:
    """DN → the entry's values as the run read them; the index is built on first use
    (only a report with actions for people off the roster needs it)."""
    seen = result.seen
    index: dict[str, Any] | None = None

    def lookup(dn: str) -> Any:
        nonlocal index
        if seen is None:
            return {}
        if index is None:
            index = {a.dn.casefold(): a.values for a in seen.accounts}
        return index.get(dn.casefold(), {})
    return lookup


def chart(table: list[dict[str, Any]], unknown: str = "?") -> str:
    """Actions per unit as a horizontal bar chart, inline SVG (values escaped)."""
    from markupsafe import escape

    counts = Counter(r.get("unit") or f"{r['unit_type']} {r['unit_code']}".strip() or unknown
                     for r in table)
    if not counts:
        return "<p>—</p>"
    items = counts.most_common(30)
    top = max(n for _, n in items)
    height = 24 * len(items) + 10
    bars = []
    for index, (unit, n) in enumerate(items):
        y = 5 + 24 * index
        width = max(2, int(380 * n / top))
        bars.append(f'<text x="0" y="{y + 15}">{escape(unit)}</text>'
                    f'<rect x="170" y="{y}" width="{width}" height="18" fill="#2f6fb3"></rect>'
                    f'<text x="{176 + width}" y="{y + 15}">{n}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="620" height="{height}" '
            f'role="img" id="chart">{"".join(bars)}</svg>')


def _html(result: RunResult, document: dict[str, Any], table: list[dict[str, Any]],
          language: str) -> str:
    import jinja2
    from markupsafe import Markup

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
        autoescape=True, undefined=jinja2.StrictUndefined)
    plan, words = result.plan, _words(language)
    labels = LABELS[language]
    shown = [{**row, "unit": f"{words(row['unit_type'])} {row['unit_code']}".strip() or
              labels["unknown"], "action": words(row["action"]), "reason": words(row["reason"]),
              "outcome_text": words(row["outcome"]), "error": row["error"]} for row in table]
    rejected = [{**r, "reason": rejection_vi(r["reason"]) if language == "vi" else r["reason"]}
                for r in document["rejected"]]
    held = [{**h, "reason": words(h["reason"])} for h in document["held"]]
    clauses = []
    for key, n in (plan.counts_by_clause() if plan else {}).items():
        kind, clause = key.split(" ", 1)
        clauses.append((f"{words(kind)} {clause}", n))
    return environment.get_template("report.html.j2").render(
        lang=language, t=labels,
        run={"run_id": result.run_id, "plan_id": result.plan_id,
             "scope": scope_vi(result.scope) if language == "vi" else result.scope,
             "actor": result.actor, "dry_run": result.dry_run,
             "when": datetime.now().astimezone().isoformat(timespec="seconds"),
             "duration": f"{result.duration:.2f}", "exit_code": result.exit_code,
             "error": result.error, "roster": result.roster_path,
             "roster_sha256": result.roster_sha256},
        counts=[(words(k), n) for k, n in (plan.counts() if plan else {}).items() if n],
        clauses=clauses, chart=Markup(chart(shown, labels["unknown"])), actions=shown,
        rejected=rejected, held=held)


def _words(language: str) -> Any:
    """The codes a person reads, in the report's language (SPEC codes in English)."""
    if language == "vi":
        return code_vi
    return lambda code: code or ""


def _csv(table: list[dict[str, Any]]) -> bytes:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, extrasaction="ignore",
                            lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({name: csv_text(value) for name, value in row.items()} for row in table)
    return ("\ufeff" + text.getvalue()).encode("utf-8")


def _xlsx(result: RunResult, table: list[dict[str, Any]]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)

    def cells(sheet: Any, values: list[Any]) -> list[Any]:
        """A value openpyxl would store as a formula is stored as a string cell."""
        out = []
        for value in values:
            if is_formula(value):
                value = WriteOnlyCell(sheet, value=value)
                value.data_type = "s"
            out.append(value)
        return out

    actions = book.create_sheet("actions")
    actions.append(list(COLUMNS))
    for row in table:
        actions.append(cells(actions, [row[c] for c in COLUMNS]))
    rejected = book.create_sheet("rejected")
    rejected.append(["line", "employee_id", "reason"])
    for r in result.rejected:
        rejected.append(cells(rejected, [r.line, r.employee_id or "", r.reason]))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def write_report(result: RunResult, path: Path, language: str = "vi") -> Path:
    """Write the report the suffix asks for, atomically."""
    suffix = path.suffix.lower()
    document = result.to_dict()
    table = rows(result, document)
    if suffix in (".html", ".htm"):
        data = _html(result, document, table, language).encode("utf-8")
    elif suffix == ".csv":
        data = _csv(table)
    elif suffix == ".xlsx":
        data = _xlsx(result, table)
    else:
        raise ConfigError(f"--report {path}: the name must end in .html, .csv or .xlsx")
    return write_atomically(path, data)



"""Human-readable output of plans and runs. Pure: strings in, strings out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connector.core.actions import Action, Kind, Plan
from connector.core.results import BootstrapResult, ManualResult, ReorganizeResult, RunResult

SHOW_REJECTED = 20
SHOW_ACTIONS_APPLY = 50


def _changes(action: Action) -> str:
    if action.kind is Kind.CREATE:
        values = dict(action.changes)
        return f"cn={values.get('cn', '')!r}"
    if action.member:
        return f"member {action.member}"
    if action.changes:
        return ", ".join(f"{name}={value!r}" for name, value in action.changes)
    return ""


def action_table(actions: Sequence[Action], limit: int | None = None,
                 more: str = "--dry-run or --json") -> list[str]:
    rows = [("ACTION", "EMPLOYEE_ID", "CLAUSE", "REASON", "DN", "DETAIL")]
    shown = actions if limit is None else actions[:limit]
    for action in shown:
        rows.append((action.kind.value, action.employee_id or "-", action.clause or "-",
                     action.reason, action.dn, _changes(action)))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(row)).rstrip()
        for row in rows
    ]
    if limit is not None and len(actions) > limit:
        lines.append(f"... and {len(actions) - limit} more (list them all with {more})")
    return lines


def counts_line(plan: Plan) -> str:
    counts = plan.counts()
    clauses: dict[str, list[str]] = {}
    for key, number in plan.counts_by_clause().items():
        kind, clause = key.split(" ", 1)
        clauses.setdefault(kind, []).append(f"{clause}: {number}")
    parts = []
    for kind in Kind:
        number = counts.get(kind.value, 0)
        if number:
            detail = f" ({', '.join(clauses[kind.value])})" if kind.value in clauses else ""
            parts.append(f"{kind.value} {number}{detail}")
    return " · ".join(parts) if parts else "nothing to do: the directory is in step"


def run_report(result: RunResult, *, show_all: bool | None = None) -> str:
    """A run for a person: the run, the roster and directory, the plan and its warnings,
    the rows and operations that need attention, the credentials, the verdict."""
    lines = [_headline(result)]
    if result.plan is not None:
        lines += _plan_lines(result, show_all)
    lines += _attention_lines(result)
    lines += _ending_lines(result)
    return "\n".join(lines)


def _headline(result: RunResult) -> str:
    mode = "DRY RUN: nothing will be written" if result.dry_run else (
        f"apply of plan {result.plan_id} ({result.plan_file})" if result.plan_file else "apply")
    line = f"Run {result.run_id} · scope {result.scope} · bound as {result.actor} · {mode}"
    roster, plan = result.roster, result.plan
    if roster is not None:
        out = len(plan.out_of_scope) if plan else 0
        line += (f"\nRoster: {_count(roster.rows, 'row')}, {roster.valid} valid, "
                 f"{len(result.rejected)} rejected, {out} out of scope (ignored)")
        if plan and plan.without_account:
            line += (f", {plan.without_account} not active and without an account "
                     "(nothing to do)")
    return line


def _few(ids: Sequence[str]) -> str:
    return ", ".join(ids[:10]) + (" ..." if len(ids) > 10 else "")


def _plan_lines(result: RunResult, show_all: bool | None) -> list[str]:
    plan = result.plan
    assert plan is not None
    lines = [f"Directory: {_count(plan.managed, 'account')} in "
             f"{_count(len(plan.containers), 'managed OU')}", ""]
    if plan.actions:
        full = result.dry_run if show_all is None else show_all
        more = (f"connector show {result.plan_file} or --json" if result.plan_file
                else "--dry-run or --json")
        lines += action_table(plan.actions, None if full else SHOW_ACTIONS_APPLY, more)
        lines.append("")
    lines.append("Plan: " + counts_line(plan))
    if plan.orphan_locks_suspended:
        lines.append("Orphan locks SUSPENDED: no account is locked as not_on_roster in this "
                     f"run, because {plan.orphan_locks_suspended}. Fix the export and run "
                     "again.")
    if plan.restored:
        lines.append(f"WARNING: {len(plan.restored)} lock(s) had been removed outside the "
                     "connector (pwdAccountLockedTime gone, lock record still on the entry: "
                     "a password reset does this) and are put back: "
                     + _few([a.employee_id or a.dn for a in plan.restored]))
    if plan.held:
        lines += _held_lines(plan, result.scope)
    return lines


def show_plan_text(result: RunResult, created: str, sha256: str, verdict: str) -> str:
    """``connector show``: a plan file as its dry run showed it, with its provenance."""
    plan = result.plan
    assert plan is not None
    roster = result.roster
    lines = [f"Plan {result.plan_id} · scope {result.scope} · made by {result.actor} at "
             f"{created}",
             f"Plan file SHA-256 {sha256}",
             f"Roster: {result.roster_path or '?'} ({_count(roster.rows if roster else 0, 'row')}"
             f", sha256 {result.roster_sha256 or '?'})",
             f"Directory when planned: {_count(plan.managed, 'account')}", ""]
    if plan.actions:
        lines += action_table(plan.actions)
        lines.append("")
    lines.append("Plan: " + counts_line(plan))
    lines.append(verdict)
    return "\n".join(lines)


def _held_lines(plan: Plan, scope: str) -> list[str]:
    """Sticky locks reconcile keeps, and who may lift which: a 6.3 misuse hold is the
    IT Centre's alone (Art. 6 §3), so a province is not told to try."""
    misuse = [h.employee_id for h in plan.held if h.clause == "6.3"]
    others = [h.employee_id for h in plan.held if h.clause != "6.3"]
    who = "person keeps" if len(plan.held) == 1 else "people keep"
    lines = [f"Held: {len(plan.held)} active {who} a sticky lock that reconcile does not lift"]
    if others:
        lines.append("  6.2.2/6.2.3 (lift with `connector unlock` once it is settled): "
                     + _few(others))
    if misuse:
        lift = ("lift with `connector unlock` after the investigation" if scope == "it-centre"
                else "a misuse hold only the IT Centre may lift (Art. 6 §3): ask it")
        lines.append(f"  6.3 ({lift}): " + _few(misuse))
    return lines


def _attention_lines(result: RunResult) -> list[str]:
    lines: list[str] = []
    rejected = result.rejected
    if rejected:
        lines.append(f"Rejected rows ({len(rejected)}; their accounts are left as they are):")
        lines += [f"  line {row.line}: {row.employee_id or '?'}: {row.reason}"
                  for row in rejected[:SHOW_REJECTED]]
        if len(rejected) > SHOW_REJECTED:
            lines.append(f"  ... and {len(rejected) - SHOW_REJECTED} more (all of them in --json)")
    if result.failed:
        lines.append(f"Failed operations ({len(result.failed)}):")
        lines += [f"  {o.action.kind.value} {o.action.dn}: {o.error}"
                  for o in result.failed[:SHOW_REJECTED]]
    if result.only:
        lines.append(f"Only for: {', '.join(result.only)} (nobody else was planned or touched)")
    lines += [f"  {employee_id}: neither on the roster nor in the managed OUs"
              for employee_id in result.only_unknown]
    if result.credentials_issued or result.credentials_withheld:
        lines.append(f"Initial passwords: {result.credentials_issued} issued, sealed in "
                     f"{', '.join(result.credential_files) or '-'}")
        lines += [f"  {count} account(s) of unit {code or '?'} created WITHOUT a password: "
                  "the units file names no recipient for it"
                  for code, count in sorted(result.credentials_withheld.items())]
    return lines


def _ending_lines(result: RunResult) -> list[str]:
    lines = [f"Stopped: {result.error}"] if result.error else []
    if not result.dry_run and result.plan is not None and result.exit_code != 3:
        applied = sum(1 for o in result.outcomes if o.ok)
        lines.append(f"Result: {applied} applied, {len(result.failed)} failed, in "
                     f"{result.duration:.2f}s")
    elif result.dry_run:
        lines.append(f"Dry run finished in {result.duration:.2f}s; nothing was written")
    if result.notifications_waiting:
        lines.append(f"Notifications: {result.notifications_waiting} messages wait in the "
                     "outbox (sent at the next run)")
    if result.audit_lines_waiting:
        lines.append(f"Audit trail: {result.audit_lines_waiting} lines wait for the syslog "
                     "collector (sent at the next run)")
    lines.append(f"Exit code {result.exit_code}")
    return lines


def daemon_state(data: Mapping[str, Any]) -> str:
    """Running, stopped (when and how), or gone without a word (a stale pid)."""
    runs = _count(data.get("runs_since_start", 0), "run")
    if data.get("running"):
        since = f", since {data['since']}" if data.get("since") else ""
        return f"running (pid {data.get('pid', '?')}{since}; {runs} since it started)"
    if data.get("state") == "stopped":
        return (f"stopped at {data.get('stopped_at', '?')} ({data.get('stopped_by', '?')}) "
                f"after {runs}")
    return (f"not running: pid {data.get('pid', '?')} is gone, and the daemon did not say "
            "it stopped (killed with SIGKILL, crashed, or the machine went down)"
            + (f"; it ran since {data['since']}" if data.get("since") else ""))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def status_report(data: Mapping[str, Any], where: object) -> str:
    """The daemon's status file for a person: what ran last, how it ended, what it did."""
    summary: Mapping[str, Any] = data.get("last_summary") or {}
    planned = {k: v for k, v in (summary.get("planned") or {}).items() if v}
    lines = [
        f"Daemon for scope {data.get('scope', '?')}: {daemon_state(data)} (status file in "
        f"{where})",
        f"  last run       {data.get('last_run_id', '-')}: started "
        f"{data.get('last_started', '-')}, finished {data.get('last_finished', '-')}",
        f"  outcome        {data.get('last_outcome', '-')} (exit code "
        f"{data.get('last_exit_code', '-')})",
        f"  last success   {data.get('last_success') or 'never'}",
    ]
    if summary:
        lines.append(
            f"  that run       roster {summary.get('roster_rows', 0)} rows "
            f"({summary.get('rejected_rows', 0)} rejected), "
            f"{summary.get('managed_accounts', 0)} accounts managed; planned "
            + (", ".join(f"{k} {v}" for k, v in planned.items()) or "nothing")
            + f"; {summary.get('applied', 0)} applied, {summary.get('failed', 0)} failed"
            + (f", {summary['held']} held" if summary.get("held") else "")
            + f"; {summary.get('duration_seconds', 0)} s")
    if data.get("last_error"):
        lines.append(f"  error          {data['last_error']}")
    if data.get("notifications_waiting") is not None:
        lines.append(f"  notifications  {data['notifications_waiting']} messages wait in the "
                     "outbox")
    if data.get("audit_lines_waiting") is not None:
        lines.append(f"  audit trail    {data['audit_lines_waiting']} lines wait for the "
                     "syslog collector")
    return "\n".join(lines)


def manual_text(result: ManualResult) -> str:
    """``connector lock`` / ``unlock``: each change and its outcome, then the verdict."""
    lines = []
    for outcome in result.outcomes:
        action = outcome.action
        state = "ok" if outcome.ok else f"FAILED: {outcome.error}"
        lines.append(f"{action.kind.value} {action.dn} ({action.reason}, clause "
                     f"{action.clause or '-'}): {state}")
    lines.append(result.message if result.exit_code == 0 else "some operations failed")
    return "\n".join(lines)


def bootstrap_text(result: BootstrapResult) -> str:
    lines = [f"would create {dn}" for dn in result.planned]
    lines += [f"created {dn}" for dn in result.created]
    lines += [f"FAILED {dn}: {error}" for dn, error in result.failed]
    if not result.created and not result.planned and not result.failed:
        lines.append(f"nothing to do: all {len(result.existing)} entries exist")
    else:
        lines.append(f"{len(result.created)} created, {len(result.planned)} to create, "
                     f"{len(result.existing)} already there, {len(result.failed)} failed")
    return "\n".join(lines)


def reorganize_text(result: ReorganizeResult) -> str:
    dry_run = result.dry_run
    lines = [f"{'would create' if dry_run else 'created'} {dn}"
             for dn in result.tree.created or result.tree.planned]
    for outcome in result.moves:
        state = "" if outcome.ok else f": FAILED {outcome.error}"
        lines.append(f"{'would move' if dry_run else 'moved'} {outcome.action.from_dn} -> "
                     f"{outcome.action.dn}{state}")
    lines += [f"{'would empty' if dry_run else 'emptied (kept)'} {dn}" for dn in result.emptied]
    lines.append(f"{len(result.moves)} account(s) {'to move' if dry_run else 'moved'}, "
                 f"{len(result.failed)} failed" if result.moves else "nothing to move")
    return "\n".join(lines)


def verify_text(report: Mapping[str, Any]) -> str:
    """``connector audit verify`` for a person."""
    anchor = report.get("anchor_seq")
    anchored = f"anchored at seq {anchor}" if anchor is not None else "no anchor in the " \
        "directory for this identity yet"
    if report["ok"]:
        return (f"audit trail OK: {report['lines']} lines, head seq {report['head_seq']} "
                f"({str(report['head_sha256'])[:16]}…), {anchored}")
    problem = report["first_break"]
    return (f"audit trail BROKEN at seq {problem['seq']} ({problem['file']}, line "
            f"{problem['line']}): {problem['problem']}; {report['lines']} lines read, "
            f"{anchored}")

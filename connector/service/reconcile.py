"""One reconcile run, and the manual lock/unlock: the composition of the adapters.

read roster → snapshot the scope's OUs (one paged search each) → plan (pure)
→ safety guard → apply (or print, in dry-run) → audit every change.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from loguru import logger

from connector.audit import AuditLog
from connector.core.model import Account, Rejected
from connector.core.plan import Action, Kind, Plan, check_guard, compute_plan, lock_actions
from connector.core.policy import (
    MANUAL_REASONS,
    Clause,
    LockReason,
    can_unlock,
    writable_containers,
)
from connector.core.results import Outcome
from connector.directory.base import Directory
from connector.errors import (
    ConfigError,
    DirectoryUnavailable,
    ExitCode,
    NotFound,
    PermissionRefused,
    SafetyAbort,
)
from connector.settings import Settings
from connector.sources.roster import RosterResult, read_roster

DirectoryFactory = Callable[[], Directory]
Progress = Callable[[int, int], None]


@dataclass
class RunResult:
    run_id: str
    scope: str
    actor: str
    dry_run: bool
    roster: RosterResult | None = None
    plan: Plan | None = None
    outcomes: list[Outcome] = field(default_factory=list)
    duration: float = 0.0
    exit_code: int = 0
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def rejected(self) -> list[Rejected]:
        rows = list(self.roster.rejected) if self.roster else []
        if self.plan:
            rows += list(self.plan.rejected)
        return sorted(rows, key=lambda r: r.line)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    def to_dict(self) -> dict[str, object]:
        plan = self.plan
        errors = {id(o.action): o.error for o in self.outcomes}
        applied = {id(o.action) for o in self.outcomes}
        actions = []
        for action in plan.actions if plan else ():
            item = action.to_dict()
            if self.dry_run:
                item["outcome"] = "planned"
            elif id(action) in applied:
                item["outcome"] = "failed" if errors[id(action)] else "ok"
            else:
                item["outcome"] = "not_applied"
            item["error"] = errors.get(id(action))
            actions.append(item)
        return {
            "run_id": self.run_id,
            "scope": self.scope,
            "actor": self.actor,
            "dry_run": self.dry_run,
            "exit_code": self.exit_code,
            "error": self.error,
            "summary": {
                "roster_rows": self.roster.rows if self.roster else 0,
                "valid_rows": len(self.roster.people) if self.roster else 0,
                "rejected_rows": len(self.rejected),
                "out_of_scope_rows": len(plan.out_of_scope) if plan else 0,
                "managed_accounts": plan.managed if plan else 0,
                "planned": plan.counts() if plan else {},
                "planned_by_clause": plan.counts_by_clause() if plan else {},
                "applied": sum(1 for o in self.outcomes if o.ok),
                "failed": len(self.failed),
                "held": len(plan.held) if plan else 0,
                "locks_restored": len(plan.restored) if plan else 0,
                "orphan_locks_suspended": bool(plan and plan.orphan_locks_suspended),
                "orphan_locks_suspended_reason": plan.orphan_locks_suspended if plan else None,
                "duration_seconds": round(self.duration, 3),
                "phase_seconds": {k: round(v, 3) for k, v in self.timings.items()},
            },
            "actions": actions,
            "rejected": [r.to_dict() for r in self.rejected],
            "out_of_scope": [row.to_dict() for row in plan.out_of_scope] if plan else [],
            "held": [h.to_dict() for h in plan.held] if plan else [],
            "orphan_locks_suspended": bool(plan and plan.orphan_locks_suspended),
            "orphan_locks_suspended_reason": plan.orphan_locks_suspended if plan else None,
            "roster_incomplete": list(self.roster.incomplete) if self.roster else [],
        }


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


def reconcile(
    settings: Settings,
    connect: DirectoryFactory,
    *,
    dry_run: bool = False,
    allow_mass_lock: bool = False,
    roster_path: Path | None = None,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    run_id: str | None = None,
) -> RunResult:
    """One run. Raises ConfigError/RosterUnreadable (2) and DirectoryUnavailable (4) before
    any write; returns a result whose exit code says the rest (0, 1, 3, 4)."""
    started = time.monotonic()
    scope = settings.scope_value
    result = RunResult(run_id or new_run_id(), str(scope), settings.ldap.bind_dn or "", dry_run)
    path = roster_path or settings.roster.path
    if path is None:
        raise ConfigError("no roster: pass --roster PATH or set CONNECTOR_ROSTER__PATH")
    with logger.contextualize(run_id=result.run_id):
        mark = time.monotonic()
        roster = read_roster(path)
        result.roster = roster
        mark = _lap(result, "roster", mark)
        logger.info("roster {}: {} rows, {} valid, {} rejected", path, roster.rows,
                    len(roster.people), len(roster.rejected))
        if roster.ignored_columns:
            logger.warning("roster columns ignored: {}", ", ".join(roster.ignored_columns))
        directory = connect()
        mark = _lap(result, "connect", mark)
        try:
            result.actor = directory.actor
            snapshot = directory.snapshot(scope)
            mark = _lap(result, "snapshot", mark)
            logger.info("snapshot: {} accounts in the OUs of {} ({:.2f}s)", len(snapshot.accounts),
                        scope, result.timings["snapshot"])
            plan = compute_plan(roster.people, snapshot, scope, settings.layout_value,
                                roster.rejected_keys, roster.incomplete)
            result.plan = plan
            mark = _lap(result, "plan", mark)
            planned = {kind: n for kind, n in plan.counts().items() if n}
            logger.info("plan: {}", ", ".join(f"{k} {n}" for k, n in planned.items()) or
                        "nothing to do")
            if plan.orphan_locks_suspended:
                logger.warning("no account is locked as not_on_roster in this run: {}",
                               plan.orphan_locks_suspended)
            for action in plan.restored:
                logger.warning("lock of {} ({}, clause {}) had been removed outside the "
                               "connector: the lock record is still on the entry, putting it "
                               "back", action.dn, action.reason, action.clause or "-")
            try:
                check_guard(plan, roster_rows=roster.rows,
                            max_lock_count=settings.safety.max_lock_count,
                            max_lock_ratio=settings.safety.max_lock_ratio,
                            min_unit_size=settings.safety.min_unit_size,
                            allow_mass_lock=allow_mass_lock)
            except SafetyAbort as exc:
                result.error, result.exit_code = str(exc), exc.exit_code
                logger.error("{}", exc)
                return result
            audit = AuditLog(settings.audit.path, run_id=result.run_id, actor=directory.actor,
                             scope=str(scope))
            try:
                if dry_run:
                    for action in plan.actions:
                        audit.record(action, dry_run=True)
                else:
                    _apply(plan, directory, audit, result, stop, progress)
                _lap(result, "apply", mark)
            finally:
                audit.close()
        finally:
            directory.close()
            result.duration = time.monotonic() - started
        if result.exit_code == 0 and (result.rejected or result.failed or
                                      not roster.complete):
            result.exit_code = ExitCode.PARTIAL
        logger.info("run {} finished in {:.2f}s with exit code {}", result.run_id,
                    result.duration, result.exit_code)
    return result


def _lap(result: RunResult, phase: str, since: float) -> float:
    now = time.monotonic()
    result.timings[phase] = now - since
    return now


def _apply(
    plan: Plan,
    directory: Directory,
    audit: AuditLog,
    result: RunResult,
    stop: threading.Event | None,
    progress: Progress | None,
) -> None:
    total = len(plan.actions)

    def on_outcome(outcome: Outcome) -> None:
        result.outcomes.append(outcome)
        audit.record(outcome.action, dry_run=False, error=outcome.error)
        if outcome.error:
            logger.warning("{} {} failed: {}", outcome.action.kind.value, outcome.action.dn,
                           outcome.error)
        if progress is not None:
            progress(len(result.outcomes), total)

    try:
        directory.apply(plan.actions, on_outcome, stop, within=plan.containers)
    except DirectoryUnavailable as exc:
        result.error, result.exit_code = f"run cut off: {exc}", exc.exit_code
        logger.error("{}", result.error)
        return
    if stop is not None and stop.is_set() and len(result.outcomes) < total:
        result.error = (f"stopped on request after {len(result.outcomes)} of {total} actions; "
                        "the next run converges")
        result.exit_code = DirectoryUnavailable.exit_code
        logger.warning("{}", result.error)


# ------------------------------------------------------------------------ manual actions


@dataclass
class ManualResult:
    run_id: str
    actions: list[Action]
    outcomes: list[Outcome]
    message: str

    @property
    def exit_code(self) -> int:
        return 1 if any(not o.ok for o in self.outcomes) else 0


def _accounts(settings: Settings, directory: Directory, employee_id: str) -> list[Account]:
    containers = writable_containers(settings.scope_value, settings.layout_value)
    accounts = directory.find_accounts(employee_id, containers)
    if not accounts:
        raise NotFound(f"no account with employee_id {employee_id} in the OUs of scope "
                       f"{settings.scope_value}")
    return accounts


def _run_manual(settings: Settings, directory: Directory, actions: list[Action],
                message: str) -> ManualResult:
    run_id = new_run_id()
    audit = AuditLog(settings.audit.path, run_id=run_id, actor=directory.actor,
                     scope=str(settings.scope_value))
    outcomes: list[Outcome] = []

    def on_outcome(outcome: Outcome) -> None:
        outcomes.append(outcome)
        audit.record(outcome.action, dry_run=False, error=outcome.error)

    try:
        directory.apply(actions, on_outcome)
    finally:
        audit.close()
    return ManualResult(run_id, actions, outcomes, message)


def manual_lock(settings: Settings, directory: Directory, employee_id: str, reason: str,
                note: str | None = None) -> ManualResult:
    """``connector lock``: Art. 6 §3 (misuse, IT Centre only) and the other lock reasons."""
    scope = settings.scope_value
    if reason not in MANUAL_REASONS:
        raise ConfigError(f"unknown lock reason {reason!r}; one of: {', '.join(MANUAL_REASONS)}")
    clause = MANUAL_REASONS[reason]
    if clause == Clause.MISUSE and not scope.is_it_centre:
        raise PermissionRefused("a misuse lock (Art. 6 §3, clause 6.3) is placed by the IT Centre "
                                f"only; scope {scope} may lock with another reason")
    wanted = LockReason(reason, clause)
    actions: list[Action] = []
    for account in _accounts(settings, directory, employee_id):
        if account.locked and account.lock_clause is None and not account.lock_lost:
            # locked by someone else, no record: say why from now on
            actions.append(Action(Kind.RELABEL, account.dn, reason,
                                  employee_id=account.employee_id, clause=clause, note=note))
        else:
            actions.extend(lock_actions(account, wanted, note))
    if not actions:
        return ManualResult("-", [], [], f"{employee_id} is already locked; nothing to do")
    return _run_manual(settings, directory, actions,
                       f"locked {employee_id} ({reason}, clause {clause})")


def manual_unlock(settings: Settings, directory: Directory, employee_id: str,
                  note: str | None = None) -> ManualResult:
    """``connector unlock``: lifts sticky locks too, but a 6.3 hold only for the IT Centre."""
    scope = settings.scope_value
    actions: list[Action] = []
    for account in _accounts(settings, directory, employee_id):
        if not account.locked:
            continue
        if not can_unlock(scope, account.lock_clause):
            raise PermissionRefused(
                f"{account.dn} is under a security hold (clause 6.3, misuse): only the IT Centre "
                f"can lift it; scope {scope} may not"
            )
        actions.append(Action(Kind.UNLOCK, account.dn, "manual",
                              employee_id=account.employee_id, clause=account.lock_clause,
                              note=note))
    if not actions:
        return ManualResult("-", [], [], f"{employee_id} is not locked; nothing to do")
    return _run_manual(settings, directory, actions, f"unlocked {employee_id}")

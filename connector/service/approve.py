"""Review and approve (SPEC §9): the plan as a file, and ``connector apply`` of exactly it.

``plan_document`` records, per action, what the planner saw of the entry
(``expect``). ``apply_plan`` re-reads only the entries the plan touches (one
search per OU), sends in the plan's order the actions whose expectation still
holds, and marks the others ``skipped`` with the reason: it never plans
anything new.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from loguru import logger

from connector.core.actions import Action, Kind, Plan, UnitCount
from connector.core.guard import check_guard
from connector.core.model import Account, Snapshot, dn_key
from connector.core.plancheck import action_refusal
from connector.core.policy import managed_containers
from connector.core.results import Outcome, RosterResult, RunResult
from connector.directory.base import Directory
from connector.errors import ConfigError, ExitCode, SafetyAbort
from connector.outputs.audit import AuditLog, now_iso, plan_trail
from connector.outputs.planfile import (
    FORMAT,
    Expect,
    PlanFile,
    digest,
    plan_bytes,
    read_plan,
    write_plan,
)
from connector.service.anchor import close_trail
from connector.service.credentials import Issuer, report_sealed
from connector.service.journal import journal, recover
from connector.settings import Settings
from connector.sources.units import load_units

GROUP_KINDS = (Kind.GROUP_ADD, Kind.GROUP_REMOVE)


def _expect(action: Action, accounts: Mapping[str, Account],
            groups: Mapping[str, frozenset[str]]) -> dict[str, Any]:
    if action.kind in GROUP_KINDS:
        members = groups.get(dn_key(action.dn))
        return {"exists": members is not None,
                "member_present": members is not None and
                dn_key(action.member or "") in members}
    account = accounts.get(dn_key(action.dn))
    if account is None:
        return {"exists": False}
    return {"exists": True, "locked": account.locked, "lock_reason": account.lock_reason,
            "lock_clause": account.lock_clause, "lock_values": list(account.lock_values),
            "values": {name: account.values.get(name) for name, _ in action.changes}}


def plan_document(result: RunResult, plan: Plan, snapshot: Snapshot, settings: Settings,
                  roster_path: Path) -> dict[str, Any]:
    accounts = {dn_key(a.dn): a for a in snapshot.accounts}
    groups = {dn_key(g.dn): frozenset(dn_key(m) for m in g.members)
              for g in snapshot.groups.values()}
    try:
        digest = hashlib.sha256(roster_path.read_bytes()).hexdigest()
    except OSError:
        digest = ""
    actions = []
    for action in plan.actions:
        item = action.to_dict()
        item["restore"] = action.restore
        item["expect"] = _expect(action, accounts, groups)
        actions.append(item)
    return {
        "format": FORMAT, "plan_id": result.run_id, "created": now_iso(),
        "scope": result.scope, "base_dn": settings.ldap.base_dn, "actor": result.actor,
        "roster": {"path": str(roster_path), "sha256": digest,
                   "rows": result.roster.rows if result.roster else 0},
        "summary": result.to_dict()["summary"],
        "units": [{"unit": u.unit, "accounts": u.accounts, "orphans": u.orphans,
                   "orphan_locks": u.orphan_locks} for u in plan.units],
        "actions": actions,
    }


def pending_path(settings: Settings, plan_id: str) -> Path:
    return settings.state.dir / f"pending-{str(settings.scope_value).replace(':', '-')}-" \
        f"{plan_id}.json"


def save_plan(path: Path, document: dict[str, Any], settings: Settings,
              anchor: Callable[[], tuple[int, str] | None] | None = None) -> Path:
    """Write the plan file and, first, the audit line with its digest (SPEC §15): the
    only file ``apply`` will accept under this plan_id is the one written here."""
    data = plan_bytes(document)
    audit = AuditLog(settings.audit.path, run_id=document["plan_id"], actor=document["actor"],
                     scope=document["scope"], plan_id=document["plan_id"], anchor=anchor)
    try:
        audit.prepare(1)
        audit.record_plan(document["plan_id"], digest(data), str(path))
    finally:
        audit.close()
    written = write_plan(path, data)
    logger.info("plan {} written to {} ({} actions, sha256 {})", document["plan_id"], written,
                len(document["actions"]), digest(data)[:16])
    return written


# ------------------------------------------------------------------------------- apply


def apply_refusal(plan: PlanFile, sha256: str, settings: Settings) -> str | None:
    """Why ``apply`` would refuse this file before reading the directory, or None."""
    scope = str(settings.scope_value)
    if plan.scope != scope:
        return f"the plan is for scope {plan.scope}; this connector runs as {scope}"
    if dn_key(plan.base_dn) != dn_key(settings.ldap.base_dn):
        return f"the plan is for base DN {plan.base_dn}, not {settings.ldap.base_dn}"
    trail = plan_trail(settings.audit.path, plan.plan_id, scope)
    written = trail.digests.get(sha256)
    if written is None:
        return (f"the audit trail {settings.audit.path} records no plan {plan.plan_id} with "
                f"this file's SHA-256 ({sha256[:16]}…): the file is not the plan that was "
                "written (edited after review?); make a new plan")
    if trail.applied:
        return (f"plan {plan.plan_id} was already applied (the audit log shows its plan_id); "
                "after a partial apply, make a new plan")
    try:
        created = dt.datetime.fromisoformat(written)
    except ValueError:
        return f"the audit line of plan {plan.plan_id} has no valid time"
    age = dt.datetime.now(dt.UTC) - created
    limit = settings.plan.max_age_hours
    if age > dt.timedelta(hours=limit):
        return (f"the plan is {age.total_seconds() / 3600:.1f} hours old, more than "
                f"CONNECTOR_PLAN__MAX_AGE_HOURS={limit:g}: make a new one")
    return None


def plan_result(plan: PlanFile) -> RunResult:
    """A plan file as the dry run that made it (``connector show``): its actions, its
    counts and its roster; the rejected rows are not in a plan file, only their count."""
    summary = plan.summary
    result = RunResult(plan.plan_id, plan.scope, plan.actor, True, plan_id=plan.plan_id,
                       roster_path=plan.roster.path, roster_sha256=plan.roster.sha256 or None)
    result.roster = RosterResult((), (), (), plan.roster.rows)
    result.plan = Plan(actions=tuple(p.to_action() for p in plan.actions),
                       managed=int(summary.get("managed_accounts", 0)),
                       units=tuple(UnitCount(u.unit, u.accounts, u.orphans, u.orphan_locks)
                                   for u in plan.units))
    return result


def _inadmissible(plan: PlanFile, actions: list[Action], settings: Settings,
                  lane: tuple[str, ...]) -> str | None:
    """The first action the planner could not have made, with its number, or None. A
    revert plan's actions undo one run, whose changes are read from the trail."""
    scope, layout = settings.scope_value, settings.layout_value
    reverted = {action.reverts for action in actions} - {None}
    if len(reverted) > 1 or (reverted and plan.reverts not in reverted):
        return "a revert plan undoes one run: its actions name " + ", ".join(
            sorted(str(r) for r in reverted))
    undone: frozenset[tuple[str, str, str | None]] = frozenset()
    if reverted:
        from connector.service.revert import revert_undoes

        undone = revert_undoes(settings, str(plan.reverts))
    for number, (planned, action) in enumerate(zip(plan.actions, actions, strict=True), 1):
        refusal = action_refusal(action, planned.expect.seen(), scope, layout, lane, undone)
        if refusal is not None:
            return f"action {number} ({action.kind.value} {action.dn}): {refusal}"
    return None


def _guarded(plan: PlanFile, actions: list[Action], snapshot: Snapshot,
             lane: tuple[str, ...]) -> Plan:
    """The plan as the guard sees it: managed accounts as read now, the planner's units
    (the vanished-unit rule), and a restore counted as a lock unless the directory
    shows the record it puts back."""
    accounts = {dn_key(a.dn): a for a in snapshot.accounts}
    counted: list[Action] = []
    for action in actions:
        account = accounts.get(dn_key(action.dn))
        if action.restore and (account is None or not account.lock_values):
            action = replace(action, restore=False)
        counted.append(action)
    units = tuple(UnitCount(u.unit, u.accounts, u.orphans, u.orphan_locks)
                  for u in plan.units)  # the digest vouches for them: as the planner saw
    return Plan(actions=tuple(counted), managed=len(snapshot.accounts), units=units,
                containers=lane)


def _still_holds(action: Action, expect: Expect, accounts: Mapping[str, Account],
                 groups: Mapping[str, frozenset[str] | None]) -> str | None:
    """None if the entry is still as the planner saw it, else why not."""
    if action.kind in GROUP_KINDS:
        members = groups.get(dn_key(action.dn))
        if members is None:
            return f"the group {action.dn} is gone"
        present = dn_key(action.member or "") in members
        if present != expect.member_present:
            return (f"{action.member} is {'already' if present else 'no longer'} a member "
                    f"of {action.dn}")
        return None
    account = accounts.get(dn_key(action.dn))
    if not expect.exists:
        return "the entry exists now (someone created it)" if account is not None else None
    if account is None:
        return "the entry is gone"
    if account.locked != expect.locked:
        return f"the entry is {'locked' if account.locked else 'unlocked'} now"
    if (account.lock_clause, account.lock_reason) != (expect.lock_clause, expect.lock_reason) \
            or set(account.lock_values) != set(expect.lock_values):
        return f"its lock record changed (now {account.lock_reason}, {account.lock_clause})"
    for name, old in expect.values.items():
        if account.values.get(name) != old:
            return f"{name} changed since the plan was made"
    return None


def apply_plan(settings: Settings, directory: Directory, path: Path, run_id: str, *,
               allow_mass_lock: bool = False) -> RunResult:
    """Apply a saved plan: exactly its actions, those whose expectation still holds,
    after proving the file is the one written (its digest in the audit trail), that
    each action is one the planner could have made, and that the guard lets it pass."""
    plan, sha256 = read_plan(path)
    recover(settings, directory)  # an apply cut off earlier counts as applied
    refusal = apply_refusal(plan, sha256, settings)
    if refusal is not None:
        raise ConfigError(f"{path}: refused: {refusal}; nothing was changed")
    scope = settings.scope_value
    snapshot = directory.snapshot(scope)
    lane = managed_containers(scope, settings.layout_value, snapshot.provinces)
    actions = [planned.to_action() for planned in plan.actions]
    refusal = _inadmissible(plan, actions, settings, lane)
    if refusal is not None:
        raise ConfigError(f"{path}: refused: {refusal}; nothing was changed")
    result = RunResult(run_id, plan.scope, directory.actor, False)
    result.plan_id, result.seen = plan.plan_id, snapshot
    result.roster_path = plan.roster.path
    result.roster_sha256 = plan.roster.sha256 or None
    result.plan = _guarded(plan, actions, snapshot, lane)
    try:
        check_guard(result.plan, roster_rows=max(plan.roster.rows, 1),
                    max_lock_count=settings.safety.max_lock_count,
                    max_lock_ratio=settings.safety.max_lock_ratio,
                    min_unit_size=settings.safety.min_unit_size, allow_mass_lock=allow_mass_lock)
    except SafetyAbort as exc:
        result.error, result.exit_code = str(exc), exc.exit_code
        return result
    result.plan = replace(result.plan, actions=tuple(actions))
    accounts = {dn_key(a.dn): a for a in snapshot.accounts}
    groups: dict[str, frozenset[str] | None] = {
        dn_key(g.dn): frozenset(dn_key(m) for m in g.members) for g in snapshot.groups.values()}
    audit = AuditLog(settings.audit.path, run_id=run_id, actor=directory.actor,
                     scope=plan.scope, plan_id=plan.plan_id, anchor=directory.latest_anchor,
                     roster_sha256=plan.roster.sha256 or None)
    audit.prepare(len(actions))
    with journal(settings, audit, actions):
        _send(settings, plan, actions, directory, audit, result, accounts, groups, lane)
    result.audit_lines_waiting = close_trail(directory, settings)
    if result.skipped or result.failed:
        result.exit_code = ExitCode.PARTIAL
    logger.info("plan {}: {} applied, {} skipped, {} failed", plan.plan_id,
                sum(1 for o in result.outcomes if o.ok), len(result.skipped), len(result.failed))
    return result


def _send(settings: Settings, plan: PlanFile, actions: list[Action], directory: Directory,
          audit: AuditLog, result: RunResult, accounts: Mapping[str, Account],
          groups: Mapping[str, frozenset[str] | None], lane: tuple[str, ...]) -> None:
    """Send the actions whose expectation still holds; the others are ``skipped``."""
    holding: list[Action] = []
    try:
        for planned, action in zip(plan.actions, actions, strict=True):
            reason = _still_holds(action, planned.expect, accounts, groups)
            if reason is None:
                holding.append(action)
            else:
                result.skipped[id(action)] = reason
                audit.record(action, dry_run=False, error=reason, outcome="skipped")
                logger.warning("{} {} skipped: {}", action.kind.value, action.dn, reason)

        def on_outcome(outcome: Outcome) -> None:
            result.outcomes.append(outcome)
            audit.record(outcome.action, dry_run=False, error=outcome.error)

        issuer = _issuer(settings, result.run_id)
        if issuer is not None:  # an approved create gets its credential as a run's would
            issuer.prepare(holding, lane)
        try:
            directory.apply(holding, on_outcome, within=lane,
                            after_create=issuer.after_create if issuer else None)
        finally:
            if issuer is not None:
                report_sealed(issuer, result)
    finally:
        audit.close()


def _issuer(settings: Settings, run_id: str) -> Issuer | None:
    if not settings.credentials.issue:
        return None
    return Issuer(settings, load_units(settings.units.path) if settings.units.path else None,
                  run_id)

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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loguru import logger

from connector.audit import AuditLog, now_iso
from connector.core.actions import Action, Kind, Plan
from connector.core.guard import check_guard
from connector.core.model import Account, Snapshot, dn_key, parent_dn
from connector.core.results import Outcome, RunResult
from connector.directory.base import Directory
from connector.errors import ConfigError, ExitCode, SafetyAbort
from connector.planfile import FORMAT, Expect, PlanFile, read_plan, write_plan
from connector.settings import Settings

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
            "lock_clause": account.lock_clause,
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
        "summary": result.to_dict()["summary"], "actions": actions,
    }


def pending_path(settings: Settings, plan_id: str) -> Path:
    return settings.state.dir / f"pending-{str(settings.scope_value).replace(':', '-')}-" \
        f"{plan_id}.json"


def save_plan(path: Path, document: dict[str, Any]) -> Path:
    written = write_plan(path, document)
    logger.info("plan {} written to {} ({} actions)", document["plan_id"], written,
                len(document["actions"]))
    return written


# ------------------------------------------------------------------------------- apply


def _refusal(plan: PlanFile, settings: Settings) -> str | None:
    scope = str(settings.scope_value)
    if plan.scope != scope:
        return f"the plan is for scope {plan.scope}; this connector runs as {scope}"
    if dn_key(plan.base_dn) != dn_key(settings.ldap.base_dn):
        return f"the plan is for base DN {plan.base_dn}, not {settings.ldap.base_dn}"
    try:
        created = dt.datetime.fromisoformat(plan.created)
    except ValueError:
        return f"created {plan.created!r} is not an ISO 8601 time"
    if created.tzinfo is None:
        return "created has no time zone"
    age = dt.datetime.now(dt.UTC) - created
    limit = settings.plan.max_age_hours
    if age > dt.timedelta(hours=limit):
        return (f"the plan is {age.total_seconds() / 3600:.1f} hours old, more than "
                f"CONNECTOR_PLAN__MAX_AGE_HOURS={limit:g}: make a new one")
    if _applied_before(settings.audit.path, plan.plan_id):
        return (f"plan {plan.plan_id} was already applied (the audit log shows its plan_id); "
                "after a partial apply, make a new plan")
    return None


def _applied_before(audit: Path, plan_id: str) -> bool:
    marker = f'"plan_id": "{plan_id}"'
    try:
        with audit.open(encoding="utf-8") as handle:
            return any(marker in line and '"dry_run": false' in line for line in handle)
    except FileNotFoundError:
        return False


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
    if (account.lock_clause, account.lock_reason) != (expect.lock_clause, expect.lock_reason):
        return f"its lock record changed (now {account.lock_reason}, {account.lock_clause})"
    for name, old in expect.values.items():
        if account.values.get(name) != old:
            return f"{name} changed since the plan was made"
    return None


def apply_plan(settings: Settings, directory: Directory, path: Path, run_id: str, *,
               allow_mass_lock: bool = False) -> RunResult:
    """Apply a saved plan: exactly its actions, those whose expectation still holds."""
    plan = read_plan(path)
    refusal = _refusal(plan, settings)
    if refusal is not None:
        raise ConfigError(f"{path}: refused: {refusal}; nothing was changed")
    result = RunResult(run_id, plan.scope, directory.actor, False)
    result.plan_id = plan.plan_id
    actions = [planned.to_action() for planned in plan.actions]
    result.plan = Plan(actions=tuple(actions),
                       managed=int(plan.summary.get("managed_accounts") or 0))
    try:
        check_guard(result.plan, roster_rows=max(plan.roster.rows, 1),
                    max_lock_count=settings.safety.max_lock_count,
                    max_lock_ratio=settings.safety.max_lock_ratio,
                    min_unit_size=settings.safety.min_unit_size, allow_mass_lock=allow_mass_lock)
    except SafetyAbort as exc:
        result.error, result.exit_code = str(exc), exc.exit_code
        return result
    containers = sorted({parent_dn(a.dn) for a in actions if a.kind not in GROUP_KINDS},
                        key=dn_key)
    accounts = directory.read_accounts(containers)
    group_dns = {dn_key(a.dn): a.dn for a in actions if a.kind in GROUP_KINDS}
    groups = {key: directory.group_members(dn) for key, dn in group_dns.items()}
    holding: list[Action] = []
    audit = AuditLog(settings.audit.path, run_id=run_id, actor=directory.actor,
                     scope=plan.scope, plan_id=plan.plan_id)
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

        directory.apply(holding, on_outcome)
    finally:
        audit.close()
    if result.skipped or result.failed:
        result.exit_code = ExitCode.PARTIAL
    logger.info("plan {}: {} applied, {} skipped, {} failed", plan.plan_id,
                sum(1 for o in result.outcomes if o.ok), len(result.skipped), len(result.failed))
    return result

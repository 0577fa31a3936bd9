"""``connector lock`` and ``connector unlock``: one account, by hand, audited.

A misuse lock (Art. 6 §3, clause 6.3) is the IT Centre's security hold; a
province may lock and unlock its own staff for the other reasons.
"""

from __future__ import annotations

from dataclasses import replace

from connector.core import lockinfo
from connector.core.actions import Action, Kind
from connector.core.lockplan import lock_actions
from connector.core.model import Account, Scope
from connector.core.policy import (
    MANUAL_REASONS,
    Clause,
    LockReason,
    in_it_centre_lane,
    unlock_refusal,
    writable_containers,
)
from connector.core.results import ManualResult, Outcome
from connector.directory.base import Directory
from connector.errors import ConfigError, NotFound, PermissionRefused
from connector.outputs.audit import AuditLog
from connector.service.anchor import close_trail
from connector.service.journal import journal, recover
from connector.service.runid import new_run_id
from connector.settings import Settings


def _accounts(settings: Settings, directory: Directory, employee_id: str) -> list[Account]:
    containers = writable_containers(settings.scope_value, settings.layout_value)
    accounts = directory.find_accounts(employee_id, containers)
    if not accounts:
        raise NotFound(f"no account with employee_id {employee_id} in the OUs of scope "
                       f"{settings.scope_value}")
    return accounts


def lockable_by(scope: Scope, settings: Settings, account: Account) -> bool:
    """A non-misuse lock stays in the scope's own lane (whoever locks it lifts it)."""
    return not scope.is_it_centre or in_it_centre_lane(settings.layout_value, account.dn)


def _run_manual(settings: Settings, directory: Directory, actions: list[Action],
                message: str) -> ManualResult:
    run_id = new_run_id()
    audit = AuditLog(settings.audit.path, run_id=run_id, actor=directory.actor,
                     scope=str(settings.scope_value), anchor=directory.latest_anchor)
    outcomes: list[Outcome] = []

    def on_outcome(outcome: Outcome) -> None:
        outcomes.append(outcome)
        audit.record(outcome.action, dry_run=False, error=outcome.error)

    recover(settings, directory)
    audit.prepare(len(actions))
    with journal(settings, audit, actions):
        try:
            directory.apply(actions, on_outcome)
        finally:
            audit.close()
    close_trail(directory, settings)
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
        if clause != Clause.MISUSE and not lockable_by(scope, settings, account):
            raise PermissionRefused(
                f"{account.dn} is a province's own staff: the IT Centre locks it only as "
                "misuse (clause 6.3, Art. 6 §3); its other locks are that province's to "
                "place and lift; nothing was changed")
        if account.locked and account.lock_clause is None and not account.lock_lost:
            # locked by someone else, no record: say why from now on
            actions.append(Action(Kind.RELABEL, account.dn, reason,
                                  employee_id=account.employee_id, clause=clause, note=note,
                                  lock_values=account.lock_values))
        elif not lockable_by(scope, settings, account):
            # the IT Centre's hold on a province's staff sits beside the province's own
            # record, never in its place: lifting the hold must not lift the province's lock
            actions.extend(replace(a, lock_values=()) for a in lock_actions(account, wanted, note))
        else:
            actions.extend(lock_actions(account, wanted, note))
    if not actions:
        return ManualResult("-", [], [], f"{employee_id} is already locked; nothing to do")
    return _run_manual(settings, directory, actions,
                       f"locked {employee_id} ({reason}, clause {clause})")


def _unlock(scope: Scope, settings: Settings, account: Account, note: str | None) -> Action:
    """Lift the account's lock; the IT Centre lifting its 6.3 hold from a province's staff
    removes only the 6.3 records, and leaves the entry locked if the province's own
    record remains (``lift_only``)."""
    if lockable_by(scope, settings, account):
        return Action(Kind.UNLOCK, account.dn, "manual", employee_id=account.employee_id,
                      clause=account.lock_clause, note=note, lock_values=account.lock_values)
    holds = tuple(v for v in account.lock_values
                  if (record := lockinfo.parse(v)) is not None and record.clause == Clause.MISUSE)
    return Action(Kind.UNLOCK, account.dn, "manual", employee_id=account.employee_id,
                  clause=Clause.MISUSE, note=note, lock_values=holds,
                  lift_only=len(holds) < len(account.lock_values))


def manual_unlock(settings: Settings, directory: Directory, employee_id: str,
                  note: str | None = None) -> ManualResult:
    """``connector unlock``: lifts sticky locks too, but a 6.3 hold only for the IT Centre."""
    scope = settings.scope_value
    actions: list[Action] = []
    for account in _accounts(settings, directory, employee_id):
        if not account.locked:
            continue
        refusal = unlock_refusal(scope, settings.layout_value, account.dn,
                                 account.lock_clause)
        if refusal is not None:
            raise PermissionRefused(f"{refusal}; nothing was changed")
        actions.append(_unlock(scope, settings, account, note))
    if not actions:
        return ManualResult("-", [], [], f"{employee_id} is not locked; nothing to do")
    return _run_manual(settings, directory, actions, f"unlocked {employee_id}")

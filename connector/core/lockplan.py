"""The actions that lock an account for a reason: a lock, a relabel to a stronger
record, or the restore of a lock whose record is still there."""

from __future__ import annotations

from connector.core.actions import Action, Kind
from connector.core.model import Account
from connector.core.policy import LockReason, should_relabel

#: The note of a lock put back after a password change outside the connector lifted it.
NOTE_LOCK_LOST = ("lock restored: pwdAccountLockedTime had been removed outside the connector "
                  "(a password change lifts it), the lock record was still on the entry")


def lock_actions(account: Account, wanted: LockReason, note: str | None = None) -> list[Action]:
    """What it takes for ``account`` to be locked for ``wanted`` (nothing if it is).

    A stronger reason replaces the record (relabel); a lock whose record is there but
    whose ``pwdAccountLockedTime`` is gone is put back (SPEC §2: the record is the truth).
    """
    if not account.locked:
        return [Action(Kind.LOCK, account.dn, wanted.reason,
                       employee_id=account.employee_id, clause=wanted.clause, note=note)]
    if should_relabel(account.lock_clause, wanted, account.lock_reason):
        if account.lock_lost:  # both at once: a full lock with the new record
            return [Action(Kind.LOCK, account.dn, wanted.reason,
                           employee_id=account.employee_id, clause=wanted.clause,
                           note=_join(NOTE_LOCK_LOST, note), lock_values=account.lock_values)]
        return [Action(Kind.RELABEL, account.dn, wanted.reason,
                       employee_id=account.employee_id, clause=wanted.clause, note=note,
                       lock_values=account.lock_values)]
    if account.lock_lost:
        return [restore_action(account)]
    return []


def restore_action(account: Account) -> Action:
    return Action(Kind.LOCK, account.dn, account.lock_reason or "unknown",
                  employee_id=account.employee_id, clause=account.lock_clause,
                  note=NOTE_LOCK_LOST, restore=True, lock_values=account.lock_values)


def _join(*notes: str | None) -> str:
    return "; ".join(n for n in notes if n)

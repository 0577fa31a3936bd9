"""Whether an action's change is on the entry now: how a run cut off mid-apply is
told apart, change by change, from the one that never sent it (SPEC §15)."""

from __future__ import annotations

from connector.core import lockinfo
from connector.core.actions import Action, Kind
from connector.core.model import Account, dn_key


def reached(action: Action, account: Account | None,
            members: frozenset[str] | None = None) -> bool:
    """True if the directory shows what ``action`` would have made of the entry.

    ``account``: the entry as read now (None: absent); ``members``: for a group action,
    the group's members as normalised DNs (None: no such group)."""
    if action.kind in (Kind.GROUP_ADD, Kind.GROUP_REMOVE):
        if members is None:
            return False
        present = dn_key(action.member or "") in members
        return present if action.kind is Kind.GROUP_ADD else not present
    if account is None:
        return False
    if action.kind is Kind.CREATE:
        return True
    if action.kind is Kind.UPDATE:  # an update that changes nothing is not evidence
        return bool(action.changes) and all(account.values.get(name) == value
                                            for name, value in action.changes)
    if action.kind is Kind.UNLOCK:
        if not action.lock_values:  # a lock with no record: lifted if no longer locked
            return not account.locked
        return not set(action.lock_values) & set(account.lock_values)
    if action.restore:
        return account.locked and not account.lock_lost
    if action.kind in (Kind.LOCK, Kind.RELABEL):
        made = f"{lockinfo.PREFIX}{action.clause or lockinfo.NO_CLAUSE}:{action.reason}"
        return any((value.split(" ", 1)[0] == made) and value not in action.lock_values
                   for value in account.lock_values)
    return False

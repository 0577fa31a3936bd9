"""A plan file's actions re-checked before ``connector apply`` sends any (SPEC §15).

A plan file is a document someone may have edited. Whatever it says, each action
must be one the planner itself could have produced: a kind ``apply`` may send, only
the attributes the planner writes for that kind, an entry in the scope's lane, a
lock the rules allow this scope to place and an unlock they allow it to lift. One
action that fails refuses the whole plan (the caller's business); this module only
says why, without I/O.
"""

from __future__ import annotations

from typing import NamedTuple

from connector.core.actions import PERSON_ATTRIBUTES, Action, Kind
from connector.core.model import EMPLOYEE_ID, Layout, Scope, dn_key, parent_dn
from connector.core.policy import (
    LIFTABLE_CLAUSES,
    Clause,
    LockReason,
    in_it_centre_lane,
    should_relabel,
    unlock_refusal,
    write_refusal,
)
from connector.core.revert import TOUCHED, Undo

#: the ``format`` of a plan file (SPEC §9)
PLAN_FORMAT = "connector-plan/1"
#: what ``apply`` sends; a move is ``connector reorganize``'s, as the operator
APPLICABLE = frozenset({Kind.CREATE, Kind.UPDATE, Kind.LOCK, Kind.RELABEL, Kind.UNLOCK,
                        Kind.GROUP_ADD, Kind.GROUP_REMOVE})
#: the attributes a create or an update may write: §2's account attributes, never
#: ``userPassword``, ``pwdAccountLockedTime`` or ``description`` (the lock record)
WRITABLE = frozenset(PERSON_ATTRIBUTES)
#: clauses a plan may lock with (6.3 is placed by hand by the IT Centre, never planned)
PLANNED_CLAUSES = frozenset(Clause) - {Clause.MISUSE}


class Seen(NamedTuple):
    """What the plan says the planner saw of the entry (``expect``)."""

    exists: bool
    locked: bool
    lock_clause: str | None
    lock_reason: str | None
    lock_values: tuple[str, ...]


def action_refusal(action: Action, seen: Seen, scope: Scope, layout: Layout,
                   lane: tuple[str, ...], undoes: frozenset[Undo] = frozenset()) -> str | None:
    """Why ``apply`` must not send this action, or None if the planner could have made
    it. ``lane``: the scope's managed containers (the entries a reconcile may touch).
    ``undoes``: for a revert plan (SPEC §13), the changes the reverted run's trail
    shows; a revert action may undo those, and touch no other entry."""
    if action.kind not in APPLICABLE:
        return f"a {action.kind.value} is not an action `connector apply` sends"
    if action.reverts is not None:
        refusal = _revert_refusal(action, seen, scope, layout, lane, undoes)
        if refusal != _ORDINARY:
            return refusal
    if action.kind in (Kind.GROUP_ADD, Kind.GROUP_REMOVE):
        return _group_refusal(action, scope, layout)
    refusal = write_refusal(scope, layout, action.dn, within=lane)
    if refusal is not None:
        return refusal
    if action.employee_id is None or not EMPLOYEE_ID.match(action.employee_id):
        return f"employee_id {action.employee_id!r} is not an employee id"
    if action.kind in (Kind.CREATE, Kind.UPDATE):
        return _values_refusal(action)
    if action.changes:
        return f"a {action.kind.value} changes no attribute, yet this one lists changes"
    if action.kind is Kind.UNLOCK:
        return _unlock_refusal(action, seen, scope, layout)
    return _lock_refusal(action, seen)


def _values_refusal(action: Action) -> str | None:
    names = [name for name, _ in action.changes]
    foreign = sorted({name for name in names if name not in WRITABLE})
    if foreign:
        return (f"a {action.kind.value} may write only the account attributes of SPEC §2; "
                f"this one writes {', '.join(foreign)}")
    if len(set(names)) != len(names):
        return "an attribute is listed twice"
    values = dict(action.changes)
    assert action.employee_id is not None
    if "uid" in values and (values["uid"] or "").casefold() != action.employee_id.casefold():
        return "uid differs from the action's employee_id"
    if action.kind is Kind.CREATE:
        rdn = action.dn.split(",", 1)[0]
        if dn_key(rdn) != dn_key(f"uid={action.employee_id}") or values.get("uid") is None:
            return f"a create names its entry uid=<employee_id>; this one is {rdn}"
    return None


def _lock_refusal(action: Action, seen: Seen) -> str | None:
    if action.restore:
        if action.kind is not Kind.LOCK or not seen.exists or not seen.lock_values:
            return "a restore puts back a lock whose record the planner saw; there was none"
        if (action.clause, action.reason) != (seen.lock_clause, seen.lock_reason or "unknown"):
            return "a restore must put back the recorded lock, not another one"
        return None
    if action.clause not in PLANNED_CLAUSES:
        return (f"clause {action.clause!r} is not one a plan locks with (6.3 is placed "
                "by hand: `connector lock --reason misuse`)")
    if not seen.exists:
        return "a lock of an entry the planner did not see"
    if action.kind is Kind.RELABEL and not seen.locked:
        return "a relabel of an entry that was not locked"
    if (action.kind is Kind.RELABEL or seen.lock_values) and not should_relabel(
            seen.lock_clause, LockReason(action.reason, action.clause), seen.lock_reason):
        return (f"a plan replaces a lock record only with a stronger one; clause "
                f"{action.clause} does not outrank {seen.lock_clause or 'an unexplained lock'}")
    return None


def _unlock_refusal(action: Action, seen: Seen, scope: Scope, layout: Layout) -> str | None:
    if not seen.exists or not seen.locked:
        return "an unlock of an entry the planner did not see locked"
    if seen.lock_clause not in LIFTABLE_CLAUSES or action.clause != seen.lock_clause:
        return (f"a plan lifts only the locks reconcile lifts itself (clauses "
                f"{', '.join(sorted(LIFTABLE_CLAUSES))}); this one was {seen.lock_clause}")
    return unlock_refusal(scope, layout, action.dn, seen.lock_clause)


def _group_refusal(action: Action, scope: Scope, layout: Layout) -> str | None:
    refusal = write_refusal(scope, layout, action.dn, group=True, member=action.member)
    if refusal is not None:
        return refusal
    member = action.member or ""
    if not in_it_centre_lane(layout, member) or not dn_key(parent_dn(member)).startswith(
            dn_key(layout.province_admins).partition(",")[0] + ","):
        return f"{member} is not a province administrator"
    code = dn_key(action.dn).split(",", 1)[0].split("=", 1)[1]
    prefix = dn_key(layout.province_group).split("=", 1)[1].split("{code}", 1)[0]
    if dn_key(parent_dn(member)) != dn_key(layout.admins_dn(code.removeprefix(prefix))):
        return f"{member} is not an administrator of the province of {action.dn}"
    return None


#: a revert action that is an ordinary one: the ordinary checks decide
_ORDINARY = "ordinary"


def _revert_refusal(action: Action, seen: Seen, scope: Scope, layout: Layout,
                    lane: tuple[str, ...], undoes: frozenset[Undo]) -> str | None:
    """A revert action undoes a change the reverted run made: lifting the sticky lock
    it placed, putting back the record it lifted or replaced. Anything else about it
    is checked as for any action."""
    key = dn_key(action.dn)
    if (key, TOUCHED, None) not in undoes:
        return f"it reverts run {action.reverts}, whose audit trail shows no change of {action.dn}"
    kind, clause = action.kind, action.clause
    inverse = {Kind.UNLOCK: ((Kind.LOCK, clause), (Kind.RELABEL, clause)),
               Kind.LOCK: ((Kind.UNLOCK, clause),),
               Kind.RELABEL: ((Kind.RELABEL, clause),)}.get(kind, ())
    if not any((key, k.value, c) in undoes for k, c in inverse):
        return _ORDINARY
    if action.changes or action.restore:
        return f"a revert {kind.value} changes no attribute and restores nothing"
    refusal = write_refusal(scope, layout, action.dn, within=lane)
    if refusal is not None:
        return refusal
    if not seen.exists or (kind is not Kind.LOCK and not seen.locked):
        return f"a revert {kind.value} of an entry the planner did not see locked"
    return unlock_refusal(scope, layout, action.dn, seen.lock_clause if kind is Kind.UNLOCK
                          else clause)

"""The plan that undoes a run (SPEC §13), from that run's applied audit lines: pure.

Each applied change becomes its inverse, in reverse order, with the expectation that
the entry is still as the run left it, so that someone's later change wins (``apply``
skips an action whose expectation no longer holds). A create becomes a lock (reason
``reverted``, clause 9.2): nothing is ever deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from connector.core import lockinfo
from connector.core.actions import Action, Kind
from connector.core.lockplan import NOTE_LOCK_LOST
from connector.core.model import dn_key
from connector.core.policy import Clause

REVERTED = "reverted"
#: (normalised DN, kind of the run's change, clause): what a revert action may undo
Undo = tuple[str, str, str | None]
#: the kind of the entry ``(dn, TOUCHED, None)`` that every changed DN also has: one
#: set lookup says whether the run changed the entry at all
TOUCHED = "*"


@dataclass(frozen=True)
class Done:
    """One applied change of the run, as its audit line tells it."""

    kind: str
    dn: str
    employee_id: str | None
    reason: str | None
    clause: str | None
    changes: Mapping[str, str | None]
    member: str | None
    note: str | None
    before: Mapping[str, Any] | None
    actor: str

    @classmethod
    def of(cls, line: Mapping[str, Any]) -> Done:
        return cls(str(line.get("action")), str(line.get("dn") or ""), line.get("employee_id"),
                   line.get("reason"), line.get("clause"), line.get("changes") or {},
                   line.get("member"), line.get("note"), line.get("before"),
                   str(line.get("actor") or ""))

    @property
    def replaced(self) -> list[str]:
        values = (self.before or {}).get("description") or []
        return [str(v) for v in values] if isinstance(values, list) else []


class State(NamedTuple):
    """An entry's lock as read now, or as the run left it."""

    locked: bool
    reason: str | None
    clause: str | None
    values: tuple[str, ...]


UNLOCKED = State(False, None, None, ())


@dataclass(frozen=True)
class Undoing:
    """A revert action and what ``apply`` must find on the entry to send it."""

    action: Action
    expect: dict[str, Any]


def undoes(done: Iterable[Done]) -> frozenset[Undo]:
    """What a revert plan of this run may undo: ``apply`` admits a revert action that
    a plan could not otherwise make (lifting a sticky lock, putting back a 6.3 hold or
    a weaker record) only if the run's trail shows the change it undoes."""
    out: set[Undo] = set()
    for item in done:
        if item.kind == Kind.RELABEL.value or (item.kind == Kind.LOCK.value and item.replaced):
            old = _record(item.replaced, None)
            out.add((dn_key(item.dn), Kind.RELABEL.value, old.clause if old else None))
        out.add((dn_key(item.dn), item.kind, item.clause))
        out.add((dn_key(item.dn), TOUCHED, None))
    return frozenset(out)


def revert_plan(done: Sequence[Done], run_id: str,
                current: Mapping[str, State]) -> tuple[list[Undoing], list[str]]:
    """The actions undoing ``done`` (in the run's order), last change first, and what
    cannot be undone and why. ``current``: each entry's lock as read now, by normalised
    DN; the run's own record is found there by its clause, reason and author (an
    unlock removes exactly that value and no other)."""
    left_by_run = _left(done, current)
    plan: list[Undoing] = []
    left: list[str] = []
    for item in reversed(done):
        undone = _undo(item, run_id, left_by_run.get(dn_key(item.dn), UNLOCKED))
        if isinstance(undone, str):
            left.append(f"{item.kind} {item.dn}: {undone}")
        else:
            plan.append(undone)
    return plan, left


def _left(done: Sequence[Done], current: Mapping[str, State]) -> dict[str, State]:
    """Each entry's lock as the run left it: what its lock changes made, else as now."""
    left = dict(current)
    for item in done:
        key = dn_key(item.dn)
        if item.kind in (Kind.LOCK.value, Kind.RELABEL.value):
            own = tuple(v for v in current.get(key, UNLOCKED).values if _is_by(v, item))
            left[key] = State(True, item.reason, item.clause, own[:1] or (_placeholder(item),))
        elif item.kind in (Kind.UNLOCK.value, Kind.CREATE.value):
            left[key] = UNLOCKED
    return left


def _seen(state: State) -> dict[str, Any]:
    return {"exists": True, "locked": state.locked, "lock_reason": state.reason,
            "lock_clause": state.clause, "lock_values": list(state.values)}


def _undo(item: Done, run_id: str, state: State) -> Undoing | str:
    kind = item.kind
    if kind == Kind.CREATE.value:
        return Undoing(Action(Kind.LOCK, item.dn, REVERTED, clause=Clause.NOT_ON_ROSTER.value,
                              note=f"reverts run {run_id}",
                              employee_id=item.employee_id, reverts=run_id),
                       {**_seen(state), "values": {}})
    if kind == Kind.UPDATE.value:
        before = dict(item.before or {})
        if set(before) != set(item.changes):
            return "its audit line has no `before` (written before SPEC §13)"
        changes = tuple((name, _text(before[name])) for name in item.changes)
        return Undoing(Action(Kind.UPDATE, item.dn, REVERTED, changes=changes,
                              before=tuple((n, _text(v)) for n, v in item.changes.items()),
                              employee_id=item.employee_id, reverts=run_id),
                       {**_seen(state), "values": dict(item.changes)})
    if kind in (Kind.GROUP_ADD.value, Kind.GROUP_REMOVE.value):
        added = kind == Kind.GROUP_ADD.value
        return Undoing(Action(Kind.GROUP_REMOVE if added else Kind.GROUP_ADD, item.dn,
                              REVERTED, member=item.member,
                              employee_id=item.employee_id, reverts=run_id),
                       {"exists": True, "member_present": added})
    if kind == Kind.UNLOCK.value:
        return _relock(item, run_id, state)
    if kind in (Kind.LOCK.value, Kind.RELABEL.value):
        return _unlock(item, run_id, state)
    return f"a {kind} is not undone by a revert plan (a move: `connector reorganize` " \
           "with the units file as it was)"


def _unlock(item: Done, run_id: str, state: State) -> Undoing | str:
    """A lock or relabel undone: the run's record removed (and, where the run's change
    replaced a record, that record written back instead)."""
    if (item.note or "").startswith(NOTE_LOCK_LOST):
        return "a lock the rules keep (put back after a password reset) is never lifted"
    expect = _seen(state)
    if item.replaced:
        old = _record(item.replaced, None)
        if old is None:
            return "the record it replaced cannot be read"
        return Undoing(Action(Kind.RELABEL, item.dn, old.reason, clause=old.clause,
                              note=old.note, lock_values=state.values,
                              employee_id=item.employee_id, reverts=run_id), expect)
    return Undoing(Action(Kind.UNLOCK, item.dn, REVERTED, clause=item.clause,
                          lock_values=state.values,
                              employee_id=item.employee_id, reverts=run_id), expect)


def _relock(item: Done, run_id: str, state: State) -> Undoing | str:
    """An unlock undone: the lifted record written back, with its reason, clause and
    note."""
    if "pwdAccountLockedTime" not in (item.before or {}):
        return "it lifted one record and left the entry locked by others; lock by hand"
    record = _record(item.replaced, item.clause)
    if record is None:
        return "its audit line does not show the lock record it lifted"
    return Undoing(Action(Kind.LOCK, item.dn, record.reason, clause=record.clause,
                          note=record.note,
                              employee_id=item.employee_id, reverts=run_id), _seen(state))


def _record(values: Sequence[str], clause: str | None) -> lockinfo.LockRecord | None:
    records = [r for v in values if (r := lockinfo.parse(v)) is not None]
    for record in records:
        if clause is None or record.clause == clause:
            return record
    return records[0] if records else None


def _is_by(value: str, item: Done) -> bool:
    record = lockinfo.parse(value)
    return record is not None and (record.clause, record.reason) == (item.clause, item.reason) \
        and dn_key(record.by or "") == dn_key(item.actor)


def _placeholder(item: Done) -> str:
    """The expected record when the run's own is no longer on the entry: a value no
    entry carries, so that ``apply`` skips the action (the record changed since)."""
    return f"bhxh-lock:{item.clause or '-'}:{item.reason} by={item.actor} (gone)"


def _text(value: object) -> str | None:
    return None if value is None else str(value)

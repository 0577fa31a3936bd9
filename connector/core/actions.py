"""The plan as a value (octoDNS's ``Plan``): frozen, ordered, serialisable actions.

One ``to_dict()`` feeds the dry-run table, ``--json``, the audit log and the
tests. Every action carries the employee, the DN, the reason and the clause of
Decision 2366 that justifies it. Built by ``core.plan``; nothing here decides.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import KW_ONLY, dataclass, field
from enum import StrEnum
from json.encoder import encode_basestring as _json_text
from typing import NamedTuple

from connector.core.model import Rejected, dn_key, id_key


class Kind(StrEnum):
    """Action kinds, in the order they are applied: revocations first."""

    GROUP_REMOVE = "group_remove"
    LOCK = "lock"
    RELABEL = "relabel"
    UPDATE = "update"
    CREATE = "create"
    UNLOCK = "unlock"
    GROUP_ADD = "group_add"
    MOVE = "move"  # ``connector reorganize`` only; reconcile never plans one


_ORDER = {kind: index for index, kind in enumerate(Kind)}


#: Person attributes the connector owns, in the order they are shown.
PERSON_ATTRIBUTES = (
    "uid",
    "employeeNumber",
    "cn",
    "displayName",
    "sn",
    "givenName",
    "mail",
    "employeeType",
    "departmentNumber",
    "businessCategory",
    "pwdStartTime",
    "pwdEndTime",
)
#: the ``pwdAccountLockedTime`` value a connector lock writes (ppolicy: locked for good)
LOCKED_TIME = "000001010000Z"
#: The effective-date attributes (ppolicy enforces them at bind time, SPEC §3).
DATE_ATTRIBUTES = {"start_date": "pwdStartTime", "end_date": "pwdEndTime"}


@dataclass(frozen=True)
class Action:
    """One change to one entry. Only kind, DN and reason are positional."""

    kind: Kind
    dn: str
    reason: str  # a Reason, or the roster status that demands a lock
    _: KW_ONLY
    employee_id: str | None = None
    clause: str | None = None
    changes: tuple[tuple[str, str | None], ...] = ()
    member: str | None = None
    note: str | None = None
    #: put back a lock whose record is still on the entry: only ``pwdAccountLockedTime``
    #: is added, the record is left as it is (a province may restore a 6.3 hold it
    #: may not rewrite)
    restore: bool = False
    #: the entry's DN before a move (``connector reorganize``)
    from_dn: str | None = None
    #: lock, relabel, unlock: the ``bhxh-lock:`` values the planner saw on the entry,
    #: removed in the same modify as the change (slapd refuses it if one is gone)
    lock_values: tuple[str, ...] = ()
    #: an unlock that removes only its ``lock_values`` and leaves the entry locked by the
    #: records that remain (the IT Centre lifting its 6.3 hold from a province's staff)
    lift_only: bool = False
    #: an update: the old values of the attributes it changes (SPEC §13's ``before``)
    before: tuple[tuple[str, str | None], ...] = ()
    #: an action of a revert plan: the run_id it undoes (SPEC §13)
    reverts: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "action": self.kind.value,
            "employee_id": self.employee_id,
            "dn": self.dn,
            "reason": self.reason,
            "clause": self.clause,
            "changes": dict(self.changes) if self.changes else None,
            "member": self.member,
            "note": self.note,
            "from_dn": self.from_dn,
            "reverts": self.reverts,
        }

    def before_dict(self) -> dict[str, object] | None:
        """What the action replaces (SPEC §13): the old values of an update, the lock
        records a lock, relabel or unlock removes (an unlock also lifts the ppolicy
        lock), the member of a group change, the DN before a move; None for a create."""
        kind = self.kind
        if kind is Kind.CREATE:
            return None
        if kind is Kind.UPDATE:
            return dict(self.before)
        if kind in (Kind.LOCK, Kind.RELABEL, Kind.UNLOCK):
            before: dict[str, object] = {"description": list(self.lock_values)}
            if kind is Kind.UNLOCK and not self.lift_only:
                before["pwdAccountLockedTime"] = LOCKED_TIME
            return before
        if kind in (Kind.GROUP_ADD, Kind.GROUP_REMOVE):
            return {"member": self.member, "present": kind is Kind.GROUP_REMOVE}
        return {"dn": self.from_dn}

    @property
    def sort_key(self) -> tuple[int, str, str]:
        return (_ORDER[self.kind], dn_key(self.dn), self.member or "")


@dataclass(frozen=True)
class Held:
    """An active person whose sticky lock reconcile will not lift."""

    employee_id: str
    dn: str
    clause: str | None
    reason: str | None

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)  # flat fields: asdict's deep copy costs 10x


class OutOfScope(NamedTuple):
    """A valid row that names another scope's person (a tuple: a national roster
    gives a province ~90,000 of them)."""

    employee_id: str
    line: int
    unit_type: str
    unit_code: str
    role: str | None

    def to_dict(self) -> dict[str, object]:
        return _row_dict(self)

    def to_json(self) -> str:
        return row_json(self)


def _row_dict(row: OutOfScope | Unchecked) -> dict[str, object]:
    return {"employee_id": row.employee_id, "line": row.line, "unit_type": row.unit_type,
            "unit_code": row.unit_code, "role": row.role}  # asdict's deep copy costs 10x


def row_json(row: OutOfScope | Unchecked) -> str:
    """``to_dict()`` as compact JSON text, made without the dict: a province writes
    ~90,000 of these per national run, and a generic encoder costs 4x this."""
    unit = (row[2], row[3], row[4])
    tail = _UNIT_JSON.get(unit)
    if tail is None:  # a few hundred units nationally: each encoded once per process
        role = "null" if row.role is None else _json_text(row.role)
        tail = (f'"unit_type": {_json_text(row.unit_type)}, '
                f'"unit_code": {_json_text(row.unit_code)}, "role": {role}}}')
        if len(_UNIT_JSON) < 4096:  # bounded: a long-lived daemon, a hostile roster
            _UNIT_JSON[unit] = tail
    return f'{{"employee_id": {_json_text(row[0])}, "line": {row[1]:d}, {tail}'


#: (unit_type, unit_code, role) → the end of a row's JSON text (``row_json``)
_UNIT_JSON: dict[tuple[str, str, str | None], str] = {}


class Unchecked(NamedTuple):
    """A roster row whose unit names another scope's person (``plainly_elsewhere``):
    counted and checked for a duplicate id, but validated in full only if its id turns
    out to be an account of this scope (``sources.roster.settle``): a province need not
    judge the other 90 % of a national roster, nor be failed by their typos. Out of
    scope as it stands, with the same fields as :class:`OutOfScope` and its cells."""

    employee_id: str
    line: int
    unit_type: str
    unit_code: str
    role: str | None
    cells: list[str]

    def to_dict(self) -> dict[str, object]:
        return _row_dict(self)

    def to_json(self) -> str:
        return row_json(self)

    @property
    def key(self) -> str:
        return id_key(self.employee_id)


@dataclass(frozen=True)
class Awaiting:
    """A person whose unit was merged or renamed and whose account must move OU: neither
    locked nor re-issued until ``connector reorganize`` has moved it (SPEC §10)."""

    employee_id: str
    dn: str | None
    from_code: str
    to_code: str

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)  # flat fields: asdict's deep copy costs 10x


@dataclass(frozen=True)
class UnitCount:
    """One unit's accounts in the snapshot, and how many of them have no roster row."""

    unit: str
    accounts: int
    orphans: int
    orphan_locks: int

    @property
    def vanished(self) -> bool:
        """Every account of the unit is off the roster and this plan locks some of them."""
        return self.orphan_locks > 0 and self.orphans == self.accounts


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...]
    managed: int
    containers: tuple[str, ...] = ()
    out_of_scope: tuple[OutOfScope | Unchecked, ...] = ()
    held: tuple[Held, ...] = ()
    rejected: tuple[Rejected, ...] = field(default_factory=tuple)
    #: why no account is locked as not_on_roster in this run (None: orphans are locked)
    orphan_locks_suspended: str | None = None
    units: tuple[UnitCount, ...] = ()
    awaiting: tuple[Awaiting, ...] = ()
    #: this scope's rows of people not active (on leave, gone) who have no account:
    #: nothing to issue nor to lock, but counted, so that no row goes unaccounted for
    without_account: int = 0

    @property
    def lock_count(self) -> int:
        """New locks, the ones the guard limits; putting a recorded lock back is not one."""
        return sum(1 for action in self.actions if action.kind is Kind.LOCK and not action.restore)

    @property
    def restored(self) -> tuple[Action, ...]:
        return tuple(action for action in self.actions if action.restore)

    def counts(self) -> dict[str, int]:
        counts = Counter(action.kind.value for action in self.actions)
        return {kind.value: counts.get(kind.value, 0) for kind in Kind}

    def counts_by_clause(self) -> dict[str, int]:
        counts = Counter(
            f"{action.kind.value} {action.clause}" for action in self.actions if action.clause
        )
        return dict(sorted(counts.items()))

    def to_dict(self) -> dict[str, object]:
        return {
            "managed_accounts": self.managed,
            "counts": self.counts(),
            "counts_by_clause": self.counts_by_clause(),
            "actions": [action.to_dict() for action in self.actions],
            "held": [held.to_dict() for held in self.held],
            "out_of_scope": [row.to_dict() for row in self.out_of_scope],
            "awaiting_reorganize": [row.to_dict() for row in self.awaiting],
        }

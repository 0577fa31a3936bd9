"""Decision 2366/QĐ-BHXH as code: which status locks with which clause, which
locks are sticky, and which OUs a scope manages (Art. 6 §1-3, Art. 9 §2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from connector.core.model import Layout, Person, Role, Scope, Snapshot, Status, UnitType, dn_key


class Clause(StrEnum):
    """The clause of Decision 2366 behind a lock (SPEC §1)."""

    LEAVE = "6.2.1"  # maternity, long sick or unpaid leave, or left VSS
    TRANSFER = "6.2.2"  # another field of work or unit
    VIOLATION = "6.2.3"  # broke the rules on account use
    VENDOR_LEAVE = "6.2.4"  # the same as 6.2.1, for a vendor's person
    MISUSE = "6.3"  # the IT Centre's security hold
    NOT_ON_ROSTER = "9.2"  # not eligible: no roster row, or a second account


class Reason(StrEnum):
    """Why an action is taken, besides the roster statuses themselves."""

    NEW = "new_on_roster"
    CHANGED = "roster_changed"
    RETURNED = "returned"
    NOT_ON_ROSTER = "not_on_roster"
    DUPLICATE = "duplicate_account"
    TRANSFERRED = "transferred"
    MISUSE = "misuse"
    MANUAL = "manual"
    ADMIN_ACTIVE = "admin_active"
    ADMIN_INACTIVE = "admin_inactive"
    REORGANIZED = "reorganized"

#: Locks that reconcile lifts by itself when the person is ``active`` again.
LIFTABLE_CLAUSES = frozenset({Clause.LEAVE, Clause.VENDOR_LEAVE, Clause.NOT_ON_ROSTER})
#: Locks that need an explicit ``connector unlock`` (a lock of unknown origin is
#: treated the same way: never lift what we cannot explain).
STICKY_CLAUSES = frozenset({Clause.TRANSFER, Clause.VIOLATION, Clause.MISUSE})

#: Higher rank wins when a locked account gets a new reason to be locked.
_RANK: dict[str, int] = {
    Clause.NOT_ON_ROSTER: 1,
    Clause.LEAVE: 2,
    Clause.VENDOR_LEAVE: 2,
    Clause.TRANSFER: 3,
    Clause.VIOLATION: 4,
    Clause.MISUSE: 5,
}

#: Reasons a manual ``connector lock`` accepts, with their clause.
MANUAL_REASONS: dict[str, str] = {
    Reason.MISUSE: Clause.MISUSE,
    Status.VIOLATION.value: Clause.VIOLATION,
    Reason.TRANSFERRED: Clause.TRANSFER,
    Status.TERMINATED.value: Clause.LEAVE,
    Status.MATERNITY_LEAVE.value: Clause.LEAVE,
    Status.SICK_LEAVE.value: Clause.LEAVE,
    Status.UNPAID_LEAVE.value: Clause.LEAVE,
}


@dataclass(frozen=True)
class LockReason:
    reason: str
    clause: str


def status_lock(person: Person) -> LockReason | None:
    """The lock a roster status demands, or None for ``active``."""
    status = person.status
    if status is Status.ACTIVE:
        return None
    if status is Status.VIOLATION:
        return LockReason(status.value, Clause.VIOLATION)
    if status is Status.TRANSFERRED:
        return LockReason(status.value, Clause.TRANSFER)
    clause = Clause.VENDOR_LEAVE if person.unit_type is UnitType.VENDOR else Clause.LEAVE
    return LockReason(status.value, clause)


def is_liftable(clause: str | None) -> bool:
    """Only leave/termination/orphan locks are lifted automatically."""
    return clause in LIFTABLE_CLAUSES


def rank(clause: str | None) -> int:
    return _RANK.get(clause or "", 6)  # unknown origin outranks everything we would write


def should_relabel(current: str | None, wanted: LockReason, current_reason: str | None) -> bool:
    """Whether a locked account's recorded reason should change.

    A sticky or unknown lock is only replaced by a stronger one; a liftable one
    follows the roster (maternity leave that becomes termination says so).
    """
    if current is None or current not in _RANK:
        return False
    if current in STICKY_CLAUSES:
        return rank(wanted.clause) > rank(current)
    return rank(wanted.clause) >= rank(current) and (current, current_reason) != (
        wanted.clause,
        wanted.reason,
    )


def managed_containers(scope: Scope, layout: Layout, provinces: frozenset[str]) -> tuple[str, ...]:
    """The OUs whose accounts this scope issues and locks (Art. 6 §1)."""
    if scope.is_it_centre:
        return (
            layout.central_area_dn,
            layout.vendors_area_dn,
            *(layout.admins_dn(code) for code in sorted(provinces)),
        )
    assert scope.code is not None
    return (layout.people_dn(scope.code),)


def plainly_elsewhere(scope: Scope, unit_type: UnitType, unit_code: str,
                      role: Role | None) -> bool:
    """A row that names another scope's person by its unit alone: province staff for
    the IT Centre; anyone but this province's own staff for a province.

    Only a first sieve: a row whose id is an account, a former account or an admin in
    this scope's OUs is still this scope's concern (the planner's ``elsewhere``)."""
    if unit_type is UnitType.PROVINCE:
        if scope.is_it_centre:  # province staff are the provinces' (no role: staff)
            return role is not Role.ADMIN
        return role is Role.ADMIN or unit_code.casefold() != (scope.code or "").casefold()
    return not scope.is_it_centre


def canonical_province(code: str, provinces: frozenset[str]) -> str | None:
    return _folded_provinces(provinces).get(code.casefold())


@lru_cache(maxsize=64)
def _folded_provinces(provinces: frozenset[str]) -> dict[str, str]:
    """casefold(code) → code, built once per set of provinces (a lookup per roster row)."""
    return {known.casefold(): known for known in provinces}


def desired_container(
    person: Person,
    scope: Scope,
    layout: Layout,
    snapshot: Snapshot,
    existing_containers: frozenset[str] = frozenset(),
) -> str | None:
    """The OU where this person's account belongs under this scope, or None if
    the row is someone else's to manage.

    ``existing_containers`` (normalised) break the tie when ``role`` is not given:
    an account already under ``ou=admins`` stays an admin account.
    """
    if person.unit_type is UnitType.CENTRAL:
        if not scope.is_it_centre:
            return None
        return _existing(layout.central_dn, layout.central_area_dn, snapshot)
    if person.unit_type is UnitType.VENDOR:
        if not scope.is_it_centre:
            return None
        return _existing(layout.vendors_dn, layout.vendors_area_dn, snapshot)
    code = canonical_province(person.unit_code, snapshot.provinces) or person.unit_code.upper()
    role = person.role
    if role is None:
        known_admin = dn_key(layout.admins_dn(code)) in existing_containers or (
            scope.code is not None and person.key in snapshot.admin_keys)
        role = Role.ADMIN if known_admin else Role.USER
    if role is Role.ADMIN:
        return layout.admins_dn(code) if scope.is_it_centre else None
    own = scope.code
    if own is not None and own.casefold() == code.casefold():
        return layout.people_dn(own)
    return None


def _existing(preferred: str, area: str, snapshot: Snapshot) -> str:
    """Where new accounts go: ``ou=people,ou=central`` as bootstrap makes it, or straight
    under ``ou=central`` in a directory built without that level."""
    return area if dn_key(preferred) in snapshot.missing else preferred


def area_of(layout: Layout, container: str) -> str:
    """Containers inside the central or vendor subtree count as one place: an account
    directly under ``ou=central`` is the same account as one under ``ou=people,ou=central``."""
    key = dn_key(container)
    for area in (layout.central_area_dn, layout.vendors_area_dn):
        area_key = dn_key(area)
        if key == area_key or key.endswith("," + area_key):
            return area_key
    return key


def writable_containers(scope: Scope, layout: Layout) -> tuple[str, ...]:
    """Where a scope may write at all (Art. 6 §1; the directory's ACLs say the same).

    The IT Centre may lock any account (Art. 6 §3), so its area spans every
    people container; reconcile itself only plans inside ``managed_containers``.
    """
    if scope.is_it_centre:
        return (layout.central_area_dn, layout.vendors_area_dn, layout.provinces_dn)
    assert scope.code is not None
    return (layout.people_dn(scope.code),)


def _under(dn: str, container: str) -> bool:
    return dn_key(dn).endswith("," + dn_key(container))


def in_it_centre_lane(layout: Layout, dn: str) -> bool:
    """Central staff, vendors and the provinces' ``ou=admins``: the accounts the IT
    Centre itself issues and locks (Art. 6 §1)."""
    if _under(dn, layout.central_area_dn) or _under(dn, layout.vendors_area_dn):
        return True
    container = dn_key(dn).partition(",")[2]
    rdn, _, province = container.partition(",")
    admins_rdn = dn_key(layout.province_admins).partition(",")[0]
    return rdn == admins_rdn and province.partition(",")[2] == dn_key(layout.provinces_dn)


def unlock_refusal(scope: Scope, layout: Layout, dn: str, clause: str | None) -> str | None:
    """Who lifts a lock (SPEC §15), or None if this scope may lift this one: a 6.3
    hold only the IT Centre; any other lock only the scope whose lane the account is
    in (the IT Centre may lock a province's staff, Art. 6 §3, but their 6.2.x locks
    are the province's to lift)."""
    if clause == Clause.MISUSE:
        return None if scope.is_it_centre else (
            f"{dn} is under a security hold (clause 6.3, misuse): only the IT Centre can "
            f"lift it; scope {scope} may not")
    if scope.is_it_centre and not in_it_centre_lane(layout, dn):
        return (f"{dn} is a province's own staff: its lock (clause {clause or '-'}) is "
                "lifted by that province only; the IT Centre lifts its own lane's locks "
                "and 6.3 holds")
    return None


def write_refusal(
    scope: Scope,
    layout: Layout,
    dn: str,
    *,
    group: bool = False,
    member: str | None = None,
    within: Sequence[str] | None = None,
) -> str | None:
    """Why this write falls outside the scope, or None if it is in its lane.

    Checked on the write path before anything is sent (Art. 9 §5): a bug in the
    planner or a crafted roster cannot reach another unit's accounts. ``within``
    narrows the lane (a reconcile writes only in its managed OUs); by default it
    is everything the scope may write (a manual lock by the IT Centre, Art. 6 §3).
    """
    if group:
        if not scope.is_it_centre:
            return f"scope {scope} does not manage groups ({dn})"
        prefix = dn_key(layout.province_group_dn("")).split(",", 1)[0]
        rdn, _, parent = dn_key(dn).partition(",")
        if parent != dn_key(layout.groups_dn) or not rdn.startswith(prefix):
            return f"{dn} is not a province admin group"
        if member is not None and not _under(member, layout.provinces_dn):
            return f"{member} is not a province account"
        return None
    lane = writable_containers(scope, layout) if within is None else within
    if any(_under(dn, container) for container in lane):
        return None
    return f"{dn} is outside the OUs of scope {scope}"

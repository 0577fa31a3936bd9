"""The planner: roster people + directory snapshot + scope → ordered actions.

Pure code. Every action carries the employee, the DN, the reason and the
clause of Decision 2366 that justifies it; one ``to_dict()`` feeds the dry-run
table, ``--json``, the audit log and the tests.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter

from connector.core.actions import (
    DATE_ATTRIBUTES,
    PERSON_ATTRIBUTES,
    Action,
    Awaiting,
    Held,
    Kind,
    OutOfScope,
    Plan,
    Unchecked,
    UnitCount,
)
from connector.core.desired import (
    DEFAULT_ZONE,
    desired_values,
    differs,
    effective,
    moved_field_or_unit,
    replaced_values,
)
from connector.core.dn import account_dn
from connector.core.lockplan import lock_actions, restore_action
from connector.core.model import (
    Account,
    KnownUnits,
    Layout,
    Person,
    Rejected,
    Role,
    Scope,
    Snapshot,
    Status,
    UnitType,
    dn_key,
    parent_dn,
)
from connector.core.placement import province_of, unit_of
from connector.core.policy import (
    Clause,
    LockReason,
    Reason,
    area_of,
    canonical_province,
    desired_container,
    is_liftable,
    managed_containers,
    plainly_elsewhere,
    status_lock,
)

NONE: frozenset[str] = frozenset()
#: (target container, canonical province, the unit is unknown, the target's area)
_Place = tuple[str | None, str | None, bool, str | None]


class _Planner:
    def __init__(self, scope: Scope, layout: Layout, snapshot: Snapshot,
                 complete: bool = True, zone: str = DEFAULT_ZONE,
                 renames: Mapping[str, str] | None = None,
                 known: KnownUnits | None = None) -> None:
        self.complete = complete
        self.known = known if scope.is_it_centre else None
        self.renames = dict(renames or {})
        self.awaiting: list[Awaiting] = []
        self.zone = zone
        self.scope = scope
        self.layout = layout
        self.snapshot = snapshot
        self.actions: list[Action] = []
        self.held: list[Held] = []
        self.out_of_scope: list[OutOfScope] = []
        self.rejected: list[Rejected] = []
        self.handled: set[str] = set()
        self.final_locked: dict[str, bool] = {dn_key(a.dn): a.locked for a in snapshot.accounts}
        self.eligible_admins: set[str] = set()
        self.without_account = 0
        self._areas: dict[str, str] = {}
        self._places: dict[tuple[UnitType, str, Role | None], _Place] = {}

    def _area(self, container: str) -> str:
        """``area_of``, remembered: a few dozen containers, asked about per account."""
        area = self._areas.get(container)
        if area is None:
            area = self._areas[container] = area_of(self.layout, container)
        return area

    def lock(self, account: Account, wanted: LockReason) -> None:
        self.actions.extend(lock_actions(account, wanted))
        self.final_locked[dn_key(account.dn)] = True

    def _renamed(self, old: str | None, new: str | None) -> bool:
        return bool(old and new and self.renames.get(old.casefold(), "").casefold()
                    == new.casefold())

    def keep_locked(self, account: Account) -> None:
        """A lock the rules keep: put it back if a password change removed it."""
        if account.lock_lost:
            self.actions.append(restore_action(account))

    def _placed(self, person: Person, existing: list[Account]) -> _Place:
        """Where the account belongs, the province the unit names and whether the unit is
        unknown: remembered per unit and role when a role is given (nothing else then
        decides it); a row with no role may be told by its accounts."""
        cells = (person.unit_type, person.unit_code, person.role)
        place = self._places.get(cells) if person.role is not None else None
        if place is None:
            containers = frozenset(dn_key(a.container) for a in existing) if existing \
                else NONE
            target = desired_container(person, self.scope, self.layout, self.snapshot,
                                       containers)
            province = canonical_province(person.unit_code, self.snapshot.provinces) \
                if person.unit_type is UnitType.PROVINCE else None
            place = (target, province, self.unknown(person),
                     None if target is None else self._area(target))
            if person.role is not None:
                self._places[cells] = place
        return place

    def person(self, person: Person, existing: list[Account]) -> None:
        target, province, unknown, place = self._placed(person, existing)
        unknown_province = person.unit_type is UnitType.PROVINCE and province is None
        for account in existing:
            self.handled.add(dn_key(account.dn))
        if self.awaiting_move(person, existing):
            return
        if (unknown_province and (existing or target is not None)) or unknown:
            # a typo in unit_code must not read as a transfer (a sticky lock) or an issuance
            self.reject_unit(person)
            return
        if target is None:
            self.out_of_scope.append(
                OutOfScope(person.employee_id, person.line, person.unit_type.value,
                           person.unit_code, person.role.value if person.role else None)
            )
            moved = status_lock(person) or LockReason(Reason.TRANSFERRED, Clause.TRANSFER)
            for account in existing:
                self.lock(account, moved)
            return
        unit_code = province or person.unit_code
        here = [a for a in existing if self._area(a.container) == place]
        if len(here) < len(existing):
            moved = status_lock(person) or LockReason(Reason.TRANSFERRED, Clause.TRANSFER)
            for account in existing:
                if self._area(account.container) != place:
                    self.lock(account, moved)
        wanted = desired_values(person, unit_code, self.zone)
        if here:
            if len(here) > 1:
                expected = dn_key(account_dn(person.employee_id, target))
                here.sort(key=lambda a: dn_key(a.dn) != expected)  # the uid=<id> entry first
            self.reconcile(here[0], person, wanted)
            for duplicate in here[1:]:  # a second entry for one person: not eligible (Art. 9 §2)
                self.lock(duplicate, LockReason(Reason.DUPLICATE, Clause.NOT_ON_ROSTER))
        elif person.status is Status.ACTIVE:
            dn = account_dn(person.employee_id, target)
            changes = tuple((name, wanted[name]) for name in PERSON_ATTRIBUTES if name in wanted)
            self.actions.append(Action(Kind.CREATE, dn, Reason.NEW,
                                       employee_id=person.employee_id, changes=changes))
            self.final_locked[dn_key(dn)] = False
            self._note_admin(person, dn)
        else:
            self.without_account += 1

    def unknown(self, person: Person) -> bool:
        """The IT Centre reads every row (SPEC §16): a unit it knows nowhere is a typo
        that nobody else would report, so the row is rejected, never out of scope."""
        known = self.known
        if known is None:
            return False
        code = person.unit_code.casefold()
        if person.unit_type is UnitType.PROVINCE:
            return (canonical_province(person.unit_code, self.snapshot.provinces) is None
                    and code not in known.provinces)
        listed = known.central if person.unit_type is UnitType.CENTRAL else known.vendors
        return listed is not None and code not in listed

    def reject_unit(self, person: Person) -> None:
        self.rejected.append(Rejected(person.line, person.employee_id,
                                      f"unit_code {person.unit_code!r} is not a known unit"))

    def elsewhere(self, person: Person) -> bool:
        """A row with no account here that is plainly another scope's: counted out of
        scope at once. The short cut of ``person()`` for most of a national roster (a
        province sees 90 % of the rows go by); anything less plain takes the long way."""
        if self.snapshot.former_keys and person.key in self.snapshot.former_keys:
            return False
        role = person.role
        plain = plainly_elsewhere(self.scope, person.unit_type, person.unit_code, role) or (
            # no role given, but the directory has them as an admin: the IT Centre's
            role is None and not self.scope.is_it_centre
            and person.unit_type is UnitType.PROVINCE and person.key in self.snapshot.admin_keys)
        if plain and self.known is not None and self.unknown(person):
            self.reject_unit(person)
            return True
        if plain:
            self.out_of_scope.append(
                OutOfScope(person.employee_id, person.line, person.unit_type.value,
                           person.unit_code, role.value if role else None))
        return plain

    def awaiting_move(self, person: Person, existing: list[Account]) -> bool:
        """SPEC §10: a province person whose unit is the new name of their account's
        province is neither locked (it is not a transfer) nor issued a second account."""
        if person.unit_type is not UnitType.PROVINCE or not self.renames:
            return False
        new = person.unit_code.casefold()
        for account in existing:
            old = province_of(account, self.layout, self.snapshot.provinces)
            if old is not None and self.renames.get(old.casefold(), "").casefold() == new:
                self.awaiting.append(Awaiting(person.employee_id, account.dn, old,
                                              person.unit_code.upper()))
                self._note_admin(person, account.dn)  # its group changes with the move
                return True
        if not existing and person.key in self.snapshot.former_keys:
            self.awaiting.append(Awaiting(person.employee_id, None, "?", person.unit_code.upper()))
            return True
        return False

    def _note_admin(self, person: Person, dn: str) -> None:
        """Remember an active province admin; ``groups()`` keeps only those under ou=admins."""
        if self.scope.is_it_centre and person.status is Status.ACTIVE:
            self.eligible_admins.add(dn_key(dn))

    def reconcile(self, account: Account, person: Person, wanted: Mapping[str, str]) -> None:
        current = account.values
        # most accounts of a quiet run hold exactly what the roster says: one C-level
        # comparison of the two item views instead of one per attribute
        changes: tuple[tuple[str, str | None], ...] = () if wanted.items() <= current.items() \
            else tuple((name, wanted[name]) for name in PERSON_ATTRIBUTES
                       if name in wanted and differs(name, current.get(name), wanted[name]))
        changes += tuple((attribute, None) for column, attribute in DATE_ATTRIBUTES.items()
                         if getattr(person, column) == "" and current.get(attribute) is not None)
        renamed = tuple((name, value) for name, value in changes if name == "departmentNumber"
                        and self._renamed(current.get(name), value))
        if renamed:  # a merged or renamed unit: the same people, the same field of work
            changes = tuple(c for c in changes if c[0] != "departmentNumber")
            current = {**current, "departmentNumber": wanted["departmentNumber"]}
            self.actions.append(Action(Kind.UPDATE, account.dn, Reason.REORGANIZED,
                                       employee_id=account.employee_id, changes=renamed,
                                       before=replaced_values(account.values, renamed)))
        lock = status_lock(person)
        if lock is None and moved_field_or_unit(current, wanted):
            lock = LockReason(Reason.TRANSFERRED, Clause.TRANSFER)
        if lock is not None:
            self.lock(account, lock)
        if changes:
            self.actions.append(Action(Kind.UPDATE, account.dn, Reason.CHANGED,
                                       employee_id=account.employee_id, changes=changes,
                                       before=replaced_values(current, changes)))
        if lock is None and account.locked:
            if is_liftable(account.lock_clause):
                self.actions.append(Action(Kind.UNLOCK, account.dn, Reason.RETURNED,
                                           employee_id=account.employee_id,
                                           clause=account.lock_clause,
                                           lock_values=account.lock_values))
                self.final_locked[dn_key(account.dn)] = False
            else:
                self.held.append(Held(account.employee_id, account.dn, account.lock_clause,
                                      account.lock_reason))
                self.keep_locked(account)
        self._note_admin(person, account.dn)

    def orphans(self, protected: frozenset[str]) -> None:
        """Art. 9 §2: an account with no roster row is locked, unless its row was rejected
        or the roster cannot be trusted to list everyone (then it is left as it is)."""
        if not self.complete:
            return
        for account in self.snapshot.accounts:
            if dn_key(account.dn) in self.handled or account.key in protected:
                continue
            self.lock(account, LockReason(Reason.NOT_ON_ROSTER, Clause.NOT_ON_ROSTER))

    def units(self, protected: frozenset[str]) -> tuple[UnitCount, ...]:
        """Per unit: accounts, those with no roster row, and the orphan locks planned."""
        locks = {dn_key(a.dn) for a in self.actions
                 if a.kind is Kind.LOCK and a.reason == Reason.NOT_ON_ROSTER and not a.restore}
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for account in self.snapshot.accounts:
            key = dn_key(account.dn)
            count = counts[unit_of(account, self.layout, self.snapshot.provinces)]
            count[0] += 1
            if key not in self.handled and account.key not in protected:
                count[1] += 1
            if key in locks:
                count[2] += 1
        return tuple(UnitCount(unit, *numbers) for unit, numbers in sorted(counts.items()))

    def groups(self, protected: frozenset[str]) -> None:
        """Province admin groups follow the accounts; a rejected row's membership stays."""
        if not self.scope.is_it_centre:
            return
        admin_containers = {dn_key(self.layout.admins_dn(c)): c for c in self.snapshot.provinces}
        known: dict[str, tuple[str, str | None]] = {
            dn_key(a.dn): (a.dn, a.employee_id) for a in self.snapshot.accounts
        }
        known.update({dn_key(a.dn): (a.dn, a.employee_id) for a in self.actions
                      if a.kind is Kind.CREATE})
        desired: dict[str, set[str]] = defaultdict(set)
        for key in self.eligible_admins:
            code = admin_containers.get(parent_dn(key))
            if code is not None and not self.final_locked.get(key, False):
                desired[code].add(key)
        for code in sorted(self.snapshot.provinces):
            group = self.snapshot.groups.get(code)
            if group is None:
                continue
            members = {dn_key(m) for m in group.members}
            for member in sorted(members):
                if parent_dn(member) in admin_containers and member not in desired[code]:
                    dn, employee_id = known.get(member, (member, None))
                    if employee_id is not None and employee_id.casefold() in protected:
                        continue
                    if not self.complete and member not in self.handled:
                        continue  # off an incomplete roster: left as it is, like its lock
                    self.actions.append(Action(Kind.GROUP_REMOVE, group.dn, Reason.ADMIN_INACTIVE,
                                               employee_id=employee_id, member=dn))
            for member in sorted(desired[code] - members):
                dn, employee_id = known[member]
                self.actions.append(Action(Kind.GROUP_ADD, group.dn, Reason.ADMIN_ACTIVE,
                                           employee_id=employee_id, member=dn))


def compute_plan(
    people: Iterable[Person],
    snapshot: Snapshot,
    scope: Scope,
    layout: Layout,
    rejected_keys: frozenset[str] = frozenset(),
    incomplete: tuple[str, ...] = (),
    *,
    today: dt.date | None = None,
    zone: str = DEFAULT_ZONE,
    renames: Mapping[str, str] | None = None,
    unchecked: Sequence[OutOfScope | Unchecked] = (),
    known: KnownUnits | None = None,
) -> Plan:
    """Everything this scope must do to bring its OUs in step with the roster.

    ``incomplete``: why the roster may not list everyone (RosterResult.incomplete);
    then no account is locked or removed from a group for being off the roster.
    ``unchecked``: rows set aside as plainly another scope's whose ids name no account
    here (RosterResult.unchecked, settled): out of scope, nothing more.
    ``known``: the units the IT Centre knows besides the directory's provinces (the
    units file's, and former codes); a row naming none of them is rejected.
    """
    planner = _Planner(scope, layout, snapshot, complete=not incomplete, zone=zone,
                       renames=renames, known=known)
    by_key: dict[str, list[Account]] = defaultdict(list)
    for account in snapshot.accounts:
        by_key[account.key].append(account)
    roster = sorted((effective(p, today) for p in people), key=lambda p: p.line)
    for person in roster:
        existing = by_key.get(person.key)
        if existing is None and planner.elsewhere(person):
            continue
        planner.person(person, existing or [])
    protected = rejected_keys | {id_key_of(r) for r in planner.rejected}
    on_roster = protected | {p.key for p in roster}
    planner.orphans(on_roster)
    planner.groups(protected)
    suspended = None
    if incomplete:
        more = f" (and {len(incomplete) - 3} more)" if len(incomplete) > 3 else ""
        suspended = "the roster is incomplete: " + "; ".join(incomplete[:3]) + more
    return Plan(
        actions=tuple(sorted(planner.actions, key=lambda a: a.sort_key)),
        managed=len(snapshot.accounts),
        containers=managed_containers(scope, layout, snapshot.provinces),
        out_of_scope=tuple(sorted((*planner.out_of_scope, *unchecked), key=_LINE))
        if unchecked else tuple(planner.out_of_scope),
        held=tuple(planner.held),
        rejected=tuple(planner.rejected),
        orphan_locks_suspended=suspended,
        units=planner.units(on_roster),
        awaiting=tuple(planner.awaiting),
        without_account=planner.without_account,
    )


#: a row's line, for sorting (``OutOfScope`` and ``Unchecked`` both have it second)
_LINE = itemgetter(1)


def id_key_of(rejected: Rejected) -> str:
    return (rejected.employee_id or "").casefold()

"""Lock integrity in the planner (SPEC §2, §3): the lock record is the truth, an
incomplete roster never orphans anyone, a vanished unit trips the guard, and no
rejected or unknown row is ever acted on (Hypothesis properties)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.core.actions import Kind, Plan
from connector.core.guard import check_guard
from connector.core.lockplan import NOTE_LOCK_LOST
from connector.core.model import Account, Group, Scope
from connector.core.plan import compute_plan
from connector.core.policy import STICKY_CLAUSES
from connector.errors import EmptyRoster, SafetyAbort, TooManyLocks, UnitVanished
from tests.helpers import LAYOUT, account_of, person, snapshot

IT = Scope.parse("it-centre")
BTE = Scope.parse("province:BTE")


def lost(account: Account, clause: str, reason: str) -> Account:
    """An account whose lock record survived a password reset that dropped the lock."""
    return replace(account, locked=True, lock_clause=clause, lock_reason=reason, lock_lost=True)


def actions(plan: Plan) -> list[tuple[str, str | None, str, str | None, bool]]:
    return [(a.kind.value, a.employee_id, a.reason, a.clause, a.restore) for a in plan.actions]


def guard(plan: Plan, *, rows: int = 100, count: int = 500, ratio: float = 1.0,
          unit: int = 5, allow: bool = False) -> None:
    check_guard(plan, roster_rows=rows, max_lock_count=count, max_lock_ratio=ratio,
                min_unit_size=unit, allow_mass_lock=allow)


# --- the lock record is the truth -----------------------------------------------------------


@pytest.mark.parametrize("status,clause,reason", [
    ("active", "6.2.3", "violation"),      # a held, sticky lock
    ("active", "6.2.2", "transferred"),
    ("active", "6.3", "misuse"),           # a security hold
    ("maternity_leave", "6.2.1", "maternity_leave"),  # still on leave
    ("violation", "6.2.3", "violation"),
])
def test_a_lock_dropped_by_a_password_reset_is_put_back_with_its_record(status, clause, reason):
    p = person("B1", unit_type="province", unit_code="BTE", status=status)
    plan = compute_plan([p], snapshot(lost(account_of(p), clause, reason)), BTE, LAYOUT)
    (action,) = plan.actions
    assert (action.kind, action.reason, action.clause, action.restore) == \
        (Kind.LOCK, reason, clause, True)
    assert action.note == NOTE_LOCK_LOST and plan.restored == (action,)


def test_a_lost_lock_the_rules_lift_is_unlocked_record_and_all():
    p = person("TW1")
    plan = compute_plan([p], snapshot(lost(account_of(p), "6.2.1", "sick_leave")), IT, LAYOUT)
    assert actions(plan) == [("unlock", "TW1", "returned", "6.2.1", False)]


def test_a_lost_lock_with_a_stronger_new_reason_is_locked_afresh_with_the_new_record():
    p = person("TW1", status="violation")
    plan = compute_plan([p], snapshot(lost(account_of(p), "6.2.1", "sick_leave")), IT, LAYOUT)
    (action,) = plan.actions
    assert (action.kind, action.clause, action.restore) == (Kind.LOCK, "6.2.3", False)
    assert "removed outside the connector" in (action.note or "")


def test_an_orphan_whose_lock_was_dropped_gets_it_back():
    gone = person("TW9")
    plan = compute_plan([person("TW1")], snapshot(
        account_of(person("TW1")), lost(account_of(gone), "9.2", "not_on_roster")), IT, LAYOUT)
    assert ("lock", "TW9", "not_on_roster", "9.2", True) in actions(plan)


def test_putting_locks_back_is_not_limited_by_the_guard():
    people = [person(f"U{i}", status="violation") for i in range(40)]
    accounts = [lost(account_of(p), "6.2.3", "violation") for p in people]
    plan = compute_plan(people, snapshot(*accounts), IT, LAYOUT)
    assert len(plan.restored) == 40 and plan.lock_count == 0
    guard(plan, count=1, ratio=0.01)


def test_a_rejected_row_with_a_lost_lock_is_left_as_it_is():
    p = person("B1", unit_type="province", unit_code="BTE")
    plan = compute_plan([], snapshot(lost(account_of(p), "6.2.3", "violation")), BTE, LAYOUT,
                        frozenset({"b1"}))
    assert plan.actions == ()


# --- an incomplete roster never orphans -----------------------------------------------------


def test_an_incomplete_roster_makes_no_orphan_lock_but_does_the_rest():
    kept, leaving, gone = person("TW1"), person("TW2", status="terminated"), person("TW3")
    new = person("TW4")
    snap = snapshot(account_of(kept), account_of(leaving), account_of(gone))
    plan = compute_plan([kept, leaving, new], snap, IT, LAYOUT,
                        incomplete=("lines 5-9 are one record",))
    assert actions(plan) == [("lock", "TW2", "terminated", "6.2.1", False),
                             ("create", "TW4", "new_on_roster", None, False)]
    assert plan.orphan_locks_suspended is not None and "lines 5-9" in \
        plan.orphan_locks_suspended


def test_an_incomplete_roster_keeps_an_absent_admin_in_the_group():
    admin = person("A1", unit_type="province", unit_code="BTE", role="admin")
    account = account_of(admin)
    group = Group(LAYOUT.province_group_dn("BTE"), "BTE", frozenset({account.dn}))
    plan = compute_plan([], snapshot(account, groups=[group]), IT, LAYOUT,
                        incomplete=("line 3: the row cannot be tied to one employee_id",))
    assert plan.actions == ()
    complete = compute_plan([person("X1")], snapshot(account, groups=[group]), IT, LAYOUT)
    assert {a.kind for a in complete.actions} >= {Kind.LOCK, Kind.GROUP_REMOVE}


# --- a unit that vanishes -------------------------------------------------------------------


def _unit(code: str, n: int, unit_type: str = "central") -> list[Account]:
    return [account_of(person(f"{code}{i}", unit_type=unit_type, unit_code=code))
            for i in range(n)]


def test_a_whole_department_missing_from_the_roster_trips_the_guard_naming_it():
    stays = _unit("TCCB", 30)
    people = [person(a.employee_id, unit_code="TCCB") for a in stays]
    plan = compute_plan(people, snapshot(*stays, *_unit("KHTC", 5)), IT, LAYOUT)
    assert plan.lock_count == 5
    with pytest.raises(UnitVanished, match=r"every account of central unit KHTC \(5\)") as err:
        guard(plan)
    assert (err.value.unit, err.value.count, err.value.threshold) == ("central unit KHTC", 5, 5)
    assert "MIN_UNIT_SIZE=5" in str(err.value) and err.value.exit_code == 3
    guard(plan, allow=True)  # --allow-mass-lock approves it
    guard(plan, unit=6)  # a smaller unit than the setting may go


def test_a_province_that_vanishes_counts_its_people_and_admins_together():
    bte = [account_of(person(f"B{i}", unit_type="province", unit_code="BTE")) for i in range(6)]
    plan = compute_plan([person("B99", unit_type="province", unit_code="HCM")],
                        snapshot(*bte), BTE, LAYOUT)
    with pytest.raises(UnitVanished, match="province BTE"):
        guard(plan)


def test_a_unit_with_one_person_still_on_the_roster_has_not_vanished():
    accounts = _unit("KHTC", 8)
    plan = compute_plan([person("KHTC0", unit_code="KHTC")], snapshot(*accounts), IT, LAYOUT)
    assert plan.lock_count == 7
    guard(plan)


def test_a_unit_already_locked_except_one_still_vanishes():
    accounts = _unit("KHTC", 6)
    accounts[1:] = [replace(a, locked=True, lock_clause="6.2.1", lock_reason="terminated")
                    for a in accounts[1:]]
    plan = compute_plan([person("X1")], snapshot(*accounts), IT, LAYOUT)
    with pytest.raises(UnitVanished):
        guard(plan)


def test_guard_errors_are_typed_and_carry_their_numbers():
    plan = compute_plan([person("X1")], snapshot(*_unit("KHTC", 3), *_unit("TCCB", 3)),
                        IT, LAYOUT)
    with pytest.raises(TooManyLocks) as err:
        guard(plan, count=5)
    assert (err.value.limit, err.value.count, err.value.threshold) == ("max_lock_count", 6, 5)
    with pytest.raises(EmptyRoster):
        guard(plan, rows=0, allow=True)
    assert issubclass(UnitVanished, SafetyAbort) and issubclass(TooManyLocks, SafetyAbort)


# --- properties -----------------------------------------------------------------------------

IDS = [f"P{i}" for i in range(8)]
STATUSES = ["active", "maternity_leave", "terminated", "transferred", "violation"]
CLAUSES = [None, "6.2.1", "6.2.2", "6.2.3", "6.3", "9.2"]


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list, tuple[Account, ...], frozenset[str], tuple[str, ...]]:
    """A roster (some rows rejected), a directory with any lock state, and maybe a damaged
    file."""
    roster, accounts, rejected = [], [], set()
    for employee_id in IDS:
        fate = draw(st.sampled_from(["row", "rejected", "absent"]))
        kind = draw(st.sampled_from(["central", "vendor"]))
        p = person(employee_id, unit_type=kind, unit_code="VNPT" if kind == "vendor" else "T1",
                   status=draw(st.sampled_from(STATUSES)))
        if fate == "row":
            roster.append(p)
        elif fate == "rejected":
            rejected.add(employee_id.casefold())
        if draw(st.booleans()):
            clause = draw(st.sampled_from(CLAUSES))
            locked = clause is not None or draw(st.booleans())
            account = account_of(p, locked=locked, clause=clause,
                                 reason="x" if clause else None)
            if clause is not None and draw(st.booleans()):
                account = replace(account, lock_lost=True)
            accounts.append(account)
    incomplete = ("lines 4-6 are one record",) if draw(st.booleans()) else ()
    return roster, tuple(accounts), frozenset(rejected), incomplete


@settings(max_examples=300, deadline=None)
@given(worlds())
def test_property_a_rejected_or_unknown_row_is_never_acted_on(world):
    roster, accounts, rejected, incomplete = world
    plan = compute_plan(roster, snapshot(*accounts), IT, LAYOUT, rejected, incomplete)
    on_roster = {p.key for p in roster}
    for action in plan.actions:
        key = (action.employee_id or "").casefold()
        assert key not in rejected, action
        if incomplete:
            assert key in on_roster, action  # off an incomplete roster: left as it is


@settings(max_examples=300, deadline=None)
@given(worlds())
def test_property_orphan_locks_only_when_the_roster_is_complete(world):
    roster, accounts, rejected, incomplete = world
    plan = compute_plan(roster, snapshot(*accounts), IT, LAYOUT, rejected, incomplete)
    orphan_locks = [a for a in plan.actions if a.reason == "not_on_roster" and not a.restore]
    if incomplete:
        assert orphan_locks == [] and plan.orphan_locks_suspended
    else:
        assert plan.orphan_locks_suspended is None


@settings(max_examples=300, deadline=None)
@given(worlds())
def test_property_sticky_records_are_never_lifted_and_lost_locks_never_stay_lost(world):
    roster, accounts, rejected, incomplete = world
    plan = compute_plan(roster, snapshot(*accounts), IT, LAYOUT, rejected, incomplete)
    by_dn = {a.dn: a for a in accounts}
    unlocked = {a.dn for a in plan.actions if a.kind is Kind.UNLOCK}
    locked = {a.dn for a in plan.actions if a.kind is Kind.LOCK}
    for dn in unlocked:
        assert by_dn[dn].lock_clause not in STICKY_CLAUSES and by_dn[dn].lock_clause is not None
    on_roster = {p.key for p in roster}
    for account in accounts:
        acted_on = account.key in on_roster or not (incomplete or account.key in rejected)
        if account.lock_lost and acted_on and account.dn not in unlocked:
            assert account.dn in locked, account  # a kept lock is always put back


def test_a_province_never_issues_a_second_account_to_its_admin_when_role_is_not_given():
    """The roster's role column is optional: a province admin whose row gives no role
    already has an account under ou=admins (the IT Centre's); the province must not
    create a user account for the same person in ou=people."""
    admin = replace(person("BA1", unit_type="province", unit_code="BTE"), role=None)
    snap = replace(snapshot(), admin_keys=frozenset({"ba1"}))
    plan = compute_plan([admin], snap, BTE, LAYOUT)
    assert plan.actions == () and [o.employee_id for o in plan.out_of_scope] == ["BA1"]
    assert [a.kind for a in compute_plan([admin], snapshot(), BTE, LAYOUT).actions] == \
        [Kind.CREATE]

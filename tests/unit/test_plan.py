"""The planner against every row of SPEC §1 (Decision 2366, Art. 6 and 9)."""

from __future__ import annotations

import pytest

from connector.core.actions import Action, Kind, Plan
from connector.core.guard import check_guard
from connector.core.model import Account, Group, KnownUnits, Scope, Snapshot
from connector.core.plan import compute_plan
from connector.errors import SafetyAbort
from tests.helpers import LAYOUT, account_of, person, snapshot

IT = Scope.parse("it-centre")
BTE = Scope.parse("province:BTE")


def plan_for(people, snap, scope=IT, rejected=frozenset()) -> Plan:
    return compute_plan(people, snap, scope, LAYOUT, rejected)


def kinds(plan: Plan) -> list[tuple[str, str | None, str, str | None]]:
    return [(a.kind.value, a.employee_id, a.reason, a.clause) for a in plan.actions]


def only(plan: Plan) -> Action:
    assert len(plan.actions) == 1, kinds(plan)
    return plan.actions[0]


# --- creation (Art. 9 §2: only eligible people get accounts) -------------------------------


def test_active_central_person_without_account_gets_one_with_spec_attributes():
    p = person("TW1", name="  Nguyễn   Thị Bích Ngọc ".strip(), email="ngoc@vss.gov.vn",
               field="Thu")
    action = only(plan_for([p], snapshot()))
    assert action.kind is Kind.CREATE
    assert action.dn == f"uid=TW1,{LAYOUT.central_dn}"
    values = dict(action.changes)
    assert values["uid"] == values["employeeNumber"] == "TW1"
    assert values["cn"] == values["displayName"] == p.full_name
    assert values["sn"] == "Nguyễn" and values["givenName"] == "Ngọc"
    assert values["mail"] == "ngoc@vss.gov.vn"
    assert values["employeeType"] == "central"
    assert values["departmentNumber"] == "TTCNTT"
    assert values["businessCategory"] == "Thu"


def test_vendor_person_is_created_under_vendors():
    action = only(plan_for([person("V1", unit_type="vendor", unit_code="VNPT")], snapshot()))
    assert action.dn == f"uid=V1,{LAYOUT.vendors_dn}"


@pytest.mark.parametrize("status", ["maternity_leave", "sick_leave", "unpaid_leave",
                                    "terminated", "transferred", "violation"])
def test_person_with_non_active_status_and_no_account_gets_none(status):
    assert plan_for([person("TW1", status=status)], snapshot()).actions == ()


def test_province_scope_creates_its_own_staff_in_its_people_ou():
    p = person("B1", unit_type="province", unit_code="BTE")
    action = only(plan_for([p], snapshot(), BTE))
    assert action.kind is Kind.CREATE
    assert action.dn == f"uid=B1,{LAYOUT.people_dn('BTE')}"


def test_province_code_in_roster_is_matched_case_insensitively():
    p = person("B1", unit_type="province", unit_code="bte")
    action = only(plan_for([p], snapshot(), BTE))
    assert action.dn == f"uid=B1,{LAYOUT.people_dn('BTE')}"
    assert dict(action.changes)["departmentNumber"] == "BTE"


def test_it_centre_creates_province_admins_under_admins_and_adds_them_to_the_group():
    group = Group(LAYOUT.province_group_dn("BTE"), "BTE", frozenset({"cn=no-members"}))
    p = person("A1", unit_type="province", unit_code="BTE", role="admin")
    plan = plan_for([p], snapshot(groups=[group]))
    assert kinds(plan) == [("create", "A1", "new_on_roster", None),
                           ("group_add", "A1", "admin_active", None)]
    assert plan.actions[1].member == f"uid=A1,{LAYOUT.admins_dn('BTE')}"
    assert plan.actions[1].dn == group.dn


# --- scope (Art. 6 §1) ---------------------------------------------------------------------


def test_rows_of_other_scopes_are_counted_out_of_scope_and_ignored():
    rows = [person("TW1"), person("B1", unit_type="province", unit_code="BTE"),
            person("H1", unit_type="province", unit_code="HCM"),
            person("A1", unit_type="province", unit_code="BTE", role="admin")]
    plan = plan_for(rows, snapshot(), BTE)
    assert [a.employee_id for a in plan.actions] == ["B1"]
    assert sorted(o.employee_id for o in plan.out_of_scope) == ["A1", "H1", "TW1"]


def test_it_centre_leaves_province_staff_to_the_province():
    plan = plan_for([person("B1", unit_type="province", unit_code="BTE")], snapshot())
    assert plan.actions == ()
    assert [o.employee_id for o in plan.out_of_scope] == ["B1"]


def test_admin_row_without_role_column_keeps_an_existing_admin_account():
    admin = person("A1", unit_type="province", unit_code="BTE", role="admin")
    same_no_role = person("A1", unit_type="province", unit_code="BTE", role=None)
    plan = plan_for([same_no_role], snapshot(account_of(admin)))
    assert plan.actions == () and plan.out_of_scope == ()


def test_province_row_for_a_province_missing_from_the_directory_is_rejected_not_locked():
    admin = person("A1", unit_type="province", unit_code="XYZ", role="admin")
    plan = plan_for([admin], snapshot())
    assert plan.actions == ()
    assert [r.employee_id for r in plan.rejected] == ["A1"]


# --- locks: Art. 6 §2.1 and §2.4 -----------------------------------------------------------


@pytest.mark.parametrize("status", ["maternity_leave", "sick_leave", "unpaid_leave", "terminated"])
def test_leave_or_termination_locks_with_6_2_1(status):
    active = person("TW1")
    action = only(plan_for([person("TW1", status=status)], snapshot(account_of(active))))
    assert (action.kind, action.reason, action.clause) == (Kind.LOCK, status, "6.2.1")


@pytest.mark.parametrize("status", ["maternity_leave", "sick_leave", "unpaid_leave", "terminated"])
def test_vendor_leave_or_termination_locks_with_6_2_4(status):
    active = person("V1", unit_type="vendor", unit_code="VNPT")
    leaving = person("V1", unit_type="vendor", unit_code="VNPT", status=status)
    action = only(plan_for([leaving], snapshot(account_of(active))))
    assert (action.kind, action.reason, action.clause) == (Kind.LOCK, status, "6.2.4")


def test_province_staff_on_leave_is_locked_by_the_province():
    active = person("B1", unit_type="province", unit_code="BTE")
    leave = person("B1", unit_type="province", unit_code="BTE", status="sick_leave")
    action = only(plan_for([leave], snapshot(account_of(active)), BTE))
    assert (action.kind, action.clause) == (Kind.LOCK, "6.2.1")


def test_already_locked_account_is_not_locked_again():
    p = person("TW1", status="sick_leave")
    plan = plan_for([p], snapshot(account_of(p, locked=True, clause="6.2.1",
                                             reason="sick_leave")))
    assert plan.actions == ()


def test_changed_leave_reason_relabels_the_lock():
    p = person("TW1", status="terminated")
    plan = plan_for([p], snapshot(account_of(p, locked=True, clause="6.2.1",
                                             reason="maternity_leave")))
    assert kinds(plan) == [("relabel", "TW1", "terminated", "6.2.1")]
    assert plan.lock_count == 0


# --- return from leave ---------------------------------------------------------------------


@pytest.mark.parametrize("clause,reason", [("6.2.1", "maternity_leave"),
                                           ("6.2.4", "unpaid_leave"),
                                           ("9.2", "not_on_roster")])
def test_return_to_active_unlocks_a_non_sticky_lock(clause, reason):
    p = person("TW1")
    action = only(plan_for([p], snapshot(account_of(p, locked=True, clause=clause,
                                                    reason=reason))))
    assert (action.kind, action.reason, action.clause) == (Kind.UNLOCK, "returned", clause)


@pytest.mark.parametrize("clause", ["6.2.2", "6.2.3", "6.3", None])
def test_return_to_active_never_lifts_a_sticky_or_unexplained_lock(clause):
    p = person("TW1")
    plan = plan_for([p], snapshot(account_of(p, locked=True, clause=clause, reason="x")))
    assert plan.actions == ()
    assert [(h.employee_id, h.clause) for h in plan.held] == [("TW1", clause)]


# --- Art. 6 §2.2 transfer ------------------------------------------------------------------


def test_status_transferred_locks_with_6_2_2():
    p = person("TW1")
    action = only(plan_for([person("TW1", status="transferred")], snapshot(account_of(p))))
    assert (action.kind, action.reason, action.clause) == (Kind.LOCK, "transferred", "6.2.2")


def test_change_of_field_locks_as_transfer_and_records_the_new_field():
    before = person("TW1", field="Thu bảo hiểm")
    after = person("TW1", field="Sổ thẻ")
    plan = plan_for([after], snapshot(account_of(before)))
    assert kinds(plan) == [("lock", "TW1", "transferred", "6.2.2"),
                           ("update", "TW1", "roster_changed", None)]
    assert plan.actions[1].changes == (("businessCategory", "Sổ thẻ"),)


def test_change_of_department_locks_as_transfer():
    before = person("TW1", unit_code="BTHU")
    after = person("TW1", unit_code="TTCNTT")
    plan = plan_for([after], snapshot(account_of(before)))
    assert kinds(plan)[0] == ("lock", "TW1", "transferred", "6.2.2")


def test_transfer_lock_is_sticky_on_the_next_run():
    after = person("TW1", field="Sổ thẻ")
    locked = account_of(after, locked=True, clause="6.2.2", reason="transferred")
    plan = plan_for([after], snapshot(locked))
    assert plan.actions == () and len(plan.held) == 1


def test_filling_in_a_field_the_directory_lacked_is_an_update_not_a_transfer():
    before = person("TW1")
    after = person("TW1", field="Thu")
    assert kinds(plan_for([after], snapshot(account_of(before)))) == [
        ("update", "TW1", "roster_changed", None)]


def test_move_from_central_to_vendor_locks_the_old_account_and_creates_the_new():
    old = person("X1")
    new = person("X1", unit_type="vendor", unit_code="VNPT")
    plan = plan_for([new], snapshot(account_of(old)))
    assert kinds(plan) == [("lock", "X1", "transferred", "6.2.2"),
                           ("create", "X1", "new_on_roster", None)]
    assert plan.actions[0].dn.endswith(LAYOUT.central_dn)
    assert plan.actions[1].dn.endswith(LAYOUT.vendors_dn)


def test_province_locks_its_account_when_the_person_moves_to_another_province():
    old = person("B1", unit_type="province", unit_code="BTE")
    new = person("B1", unit_type="province", unit_code="HCM")
    action = only(plan_for([new], snapshot(account_of(old)), BTE))
    assert (action.kind, action.clause) == (Kind.LOCK, "6.2.2")


def test_person_leaving_central_for_a_province_is_locked_by_it_centre():
    old = person("X1")
    new = person("X1", unit_type="province", unit_code="BTE")
    action = only(plan_for([new], snapshot(account_of(old))))
    assert (action.kind, action.clause, action.reason) == (Kind.LOCK, "6.2.2", "transferred")


# --- Art. 6 §2.3 violation, §3 misuse ------------------------------------------------------


def test_violation_locks_with_6_2_3():
    p = person("TW1")
    action = only(plan_for([person("TW1", status="violation")], snapshot(account_of(p))))
    assert (action.kind, action.reason, action.clause) == (Kind.LOCK, "violation", "6.2.3")


def test_violation_of_a_person_on_leave_upgrades_the_lock_to_6_2_3():
    p = person("TW1", status="violation")
    plan = plan_for([p], snapshot(account_of(p, locked=True, clause="6.2.1",
                                             reason="sick_leave")))
    assert kinds(plan) == [("relabel", "TW1", "violation", "6.2.3")]


def test_misuse_hold_is_never_downgraded_by_the_roster():
    p = person("TW1", status="terminated")
    plan = plan_for([p], snapshot(account_of(p, locked=True, clause="6.3", reason="misuse")))
    assert plan.actions == ()


# --- Art. 9 §2 orphans ---------------------------------------------------------------------


def test_account_with_no_roster_row_is_locked_as_not_on_roster():
    action = only(plan_for([], snapshot(account_of(person("GONE")))))
    assert (action.kind, action.reason, action.clause) == (Kind.LOCK, "not_on_roster", "9.2")


def test_locked_orphan_is_left_alone():
    orphan = account_of(person("GONE"), locked=True, clause="6.2.3", reason="violation")
    assert plan_for([], snapshot(orphan)).actions == ()


def test_rejected_row_protects_its_account_from_any_action():
    account = account_of(person("TW1"))
    plan = plan_for([], snapshot(account), rejected=frozenset({"tw1"}))
    assert plan.actions == ()


def test_employee_ids_match_case_insensitively_like_ldap_uid():
    account = account_of(person("tw1"))
    assert plan_for([person("TW1")], snapshot(account)).actions == ()


# --- updates -------------------------------------------------------------------------------


def test_changed_name_updates_only_the_changed_attributes():
    before = person("TW1", name="Nguyễn Văn An")
    after = person("TW1", name="Nguyễn Văn Bình")
    action = only(plan_for([after], snapshot(account_of(before))))
    assert action.kind is Kind.UPDATE
    assert action.changes == (("cn", "Nguyễn Văn Bình"), ("displayName", "Nguyễn Văn Bình"),
                              ("givenName", "Bình"))


def test_email_not_given_keeps_the_directory_value():
    before = person("TW1", email="an@vss.gov.vn")
    assert plan_for([person("TW1", email=None)], snapshot(account_of(before))).actions == ()


def test_locked_person_still_gets_attribute_updates():
    p = person("TW1", status="sick_leave", email="new@vss.gov.vn")
    account = account_of(person("TW1", email="old@vss.gov.vn"), locked=True, clause="6.2.1",
                         reason="sick_leave")
    assert kinds(plan_for([p], snapshot(account))) == [("update", "TW1", "roster_changed", None)]


# --- groups (Art. 6 §1.1: province admin accounts) -----------------------------------------


def test_locked_admin_is_removed_from_the_province_admin_group_before_the_lock():
    admin = person("A1", unit_type="province", unit_code="BTE", role="admin")
    account = account_of(admin)
    group = Group(LAYOUT.province_group_dn("BTE"), "BTE", frozenset({account.dn, "cn=no-members"}))
    leaving = person("A1", unit_type="province", unit_code="BTE", role="admin",
                     status="terminated")
    plan = plan_for([leaving], snapshot(account, groups=[group]))
    assert [a.kind for a in plan.actions] == [Kind.GROUP_REMOVE, Kind.LOCK]
    assert plan.actions[0].member == account.dn


def test_group_members_outside_the_admin_ous_are_left_alone():
    group = Group(LAYOUT.province_group_dn("BTE"), "BTE",
                  frozenset({"cn=no-members,ou=groups,dc=bhxh,dc=gov,dc=vn",
                             "uid=someone,ou=system,dc=bhxh,dc=gov,dc=vn"}))
    assert plan_for([], snapshot(groups=[group])).actions == ()


def test_active_admin_missing_from_the_group_is_added_back():
    admin = person("A1", unit_type="province", unit_code="BTE", role="admin")
    group = Group(LAYOUT.province_group_dn("BTE"), "BTE", frozenset())
    assert kinds(plan_for([admin], snapshot(account_of(admin), groups=[group]))) == [
        ("group_add", "A1", "admin_active", None)]


def test_province_scope_never_plans_group_changes():
    p = person("B1", unit_type="province", unit_code="BTE")
    group = Group(LAYOUT.province_group_dn("BTE"), "BTE", frozenset())
    plan = plan_for([p], snapshot(groups=[group]), BTE)
    assert [a.kind for a in plan.actions] == [Kind.CREATE]


# --- plan as a value -----------------------------------------------------------------------


def test_plan_orders_revocations_before_grants_and_serialises():
    people = [person("N1"), person("L1", status="terminated")]
    plan = plan_for(people, snapshot(account_of(person("L1")), account_of(person("O1"))))
    assert [a.kind.value for a in plan.actions] == ["lock", "lock", "create"]
    data = plan.to_dict()
    assert data["counts"]["lock"] == 2 and data["counts"]["create"] == 1
    assert data["counts_by_clause"] == {"lock 6.2.1": 1, "lock 9.2": 1}
    assert {"action", "employee_id", "dn", "reason", "clause"} <= set(data["actions"][0])


# --- safety guard --------------------------------------------------------------------------


def _locks(n: int, managed: int) -> Plan:
    actions = tuple(Action(Kind.LOCK, f"uid=U{i},{LAYOUT.central_dn}", "terminated",
                           employee_id=f"U{i}", clause="6.2.1") for i in range(n))
    return Plan(actions, managed)


def test_guard_aborts_when_locks_exceed_the_count_and_says_by_how_much():
    with pytest.raises(SafetyAbort, match=r"locks 6 accounts.*MAX_LOCK_COUNT=5 \(over by 1\)"):
        check_guard(_locks(6, 1000), roster_rows=10, max_lock_count=5, max_lock_ratio=1.0,
                    allow_mass_lock=False)


def test_guard_aborts_when_locks_exceed_the_ratio_from_20_accounts():
    with pytest.raises(SafetyAbort, match=r"3 of 20 managed accounts \(15.0%\)"):
        check_guard(_locks(3, 20), roster_rows=10, max_lock_count=500, max_lock_ratio=0.1,
                    allow_mass_lock=False)


def test_guard_ratio_does_not_apply_below_20_accounts():
    check_guard(_locks(19, 19), roster_rows=1, max_lock_count=500, max_lock_ratio=0.1,
                allow_mass_lock=False)


def test_guard_passes_at_exactly_the_limits():
    check_guard(_locks(2, 20), roster_rows=1, max_lock_count=2, max_lock_ratio=0.1,
                allow_mass_lock=False)


def test_allow_mass_lock_overrides_the_guard():
    check_guard(_locks(600, 600), roster_rows=1, max_lock_count=500, max_lock_ratio=0.1,
                allow_mass_lock=True)


def test_empty_roster_always_trips_the_guard():
    with pytest.raises(SafetyAbort, match="no data rows"):
        check_guard(_locks(0, 0), roster_rows=0, max_lock_count=500, max_lock_ratio=0.1,
                    allow_mass_lock=True)


def test_rejected_admin_row_keeps_its_group_membership():
    admin = person("A1", unit_type="province", unit_code="BTE", role="admin")
    account = account_of(admin)
    group = Group(LAYOUT.province_group_dn("BTE"), "BTE", frozenset({account.dn}))
    plan = plan_for([], snapshot(account, groups=[group]), rejected=frozenset({"a1"}))
    assert plan.actions == ()


def test_second_entry_for_the_same_person_in_the_same_ou_is_locked_as_a_duplicate():
    p = person("TW1")
    extra = Account(dn=f"cn=copy,{LAYOUT.central_dn}", employee_id="TW1",
                    container=LAYOUT.central_dn, values=account_of(p).values)
    plan = plan_for([p], snapshot(extra, account_of(p)))
    assert [(a.kind, a.dn, a.reason, a.clause) for a in plan.actions] == [
        (Kind.LOCK, extra.dn, "duplicate_account", "9.2")]


def test_account_directly_under_ou_central_is_the_same_place_as_ou_people():
    p = person("TW1")
    flat = account_of(p, container=LAYOUT.central_area_dn)
    assert plan_for([p], snapshot(flat)).actions == ()
    assert kinds(plan_for([], snapshot(flat))) == [("lock", "TW1", "not_on_roster", "9.2")]


def test_new_accounts_go_under_ou_central_when_the_directory_has_no_ou_people_there():
    snap = Snapshot((), {}, frozenset({"BTE"}), frozenset({LAYOUT.central_dn.lower()}))
    action = only(plan_for([person("TW1")], snap))
    assert action.dn == f"uid=TW1,{LAYOUT.central_area_dn}"
    assert only(plan_for([person("V1", unit_type="vendor", unit_code="VNPT")], snap)).dn == \
        f"uid=V1,{LAYOUT.vendors_dn}"


def test_typo_in_a_province_code_is_rejected_not_read_as_a_transfer():
    before = person("B1", unit_type="province", unit_code="BTE")
    typo = person("B1", unit_type="province", unit_code="BTEE")
    plan = plan_for([typo], snapshot(account_of(before)), BTE)
    assert plan.actions == ()
    assert [(r.employee_id, "is not a known unit" in r.reason) for r in plan.rejected] == [
        ("B1", True)]


def test_unknown_province_row_with_nothing_to_do_here_is_only_out_of_scope():
    plan = plan_for([person("X1", unit_type="province", unit_code="ZZZ")], snapshot())
    assert plan.actions == () and plan.rejected == ()
    assert [o.employee_id for o in plan.out_of_scope] == ["X1"]


def test_the_it_centre_rejects_a_new_hire_whose_province_code_is_no_known_unit():
    """Issue 25 #2: BTT for BTE was out of scope for everyone, so no one reported it."""
    typo = person("BTE0072", unit_type="province", unit_code="BTT")
    plan = compute_plan([typo], snapshot(), IT, LAYOUT, known=KnownUnits())
    assert plan.out_of_scope == () and plan.actions == ()
    assert [(r.line, r.employee_id, r.reason) for r in plan.rejected] == [
        (typo.line, "BTE0072", "unit_code 'BTT' is not a known unit")]


def test_a_province_run_leaves_another_units_typo_to_the_it_centre():
    typo = person("BTE0072", unit_type="province", unit_code="BTT")
    plan = compute_plan([typo], snapshot(), BTE, LAYOUT, known=KnownUnits())
    assert plan.rejected == () and [o.employee_id for o in plan.out_of_scope] == ["BTE0072"]


def test_known_province_staff_stay_out_of_the_it_centres_scope():
    staff = person("B1", unit_type="province", unit_code="bte")
    plan = compute_plan([staff], snapshot(), IT, LAYOUT, known=KnownUnits())
    assert plan.rejected == () and len(plan.out_of_scope) == 1


def test_a_former_province_code_in_the_units_file_is_a_known_unit():
    row = person("T1", unit_type="province", unit_code="TVH")
    known = KnownUnits(provinces=frozenset({"btr", "tvh"}))
    plan = compute_plan([row], snapshot(), IT, LAYOUT, known=known)
    assert plan.rejected == () and len(plan.out_of_scope) == 1


@pytest.mark.parametrize(("unit_type", "code", "rejected"), [
    ("central", "TTCNTT", False), ("central", "TTCNNT", True),
    ("vendor", "VNPT", False), ("vendor", "VPNT", True)])
def test_with_a_units_file_central_and_vendor_codes_must_be_listed(unit_type, code, rejected):
    row = person("X1", unit_type=unit_type, unit_code=code)
    known = KnownUnits(central=frozenset({"ttcntt"}), vendors=frozenset({"vnpt"}))
    plan = compute_plan([row], snapshot(), IT, LAYOUT, known=known)
    assert bool(plan.rejected) is rejected
    assert (plan.actions == ()) is rejected


def test_without_a_units_file_any_central_or_vendor_code_is_accepted():
    row = person("X1", unit_type="vendor", unit_code="NEWCO")
    plan = compute_plan([row], snapshot(), IT, LAYOUT, known=KnownUnits())
    assert plan.rejected == () and kinds(plan) == [("create", "X1", "new_on_roster", None)]


def test_a_person_on_leave_without_an_account_is_counted_as_nothing_to_do():
    plan = plan_for([person("L1", status="maternity_leave"), person("L2")], snapshot())
    assert plan.without_account == 1 and kinds(plan) == [("create", "L2", "new_on_roster", None)]

"""Merged and renamed units in the planner (SPEC §10): a former code is the same unit,
never a transfer; province accounts wait for `connector reorganize`, in both scopes."""

from __future__ import annotations

from dataclasses import replace

from connector.core.actions import Kind
from connector.core.model import Group, Scope
from connector.core.plan import compute_plan
from tests.helpers import LAYOUT, account_of, person, snapshot

IT = Scope.parse("it-centre")
RENAMES = {"bte": "BTR", "tvh": "BTR", "khtc": "TCKT"}
PROVINCES = frozenset({"BTE", "BTR", "HCM"})


def test_a_renamed_department_updates_departmentnumber_as_reorganized_not_a_transfer():
    old = account_of(person("TW1", unit_code="KHTC"))
    plan = compute_plan([person("TW1", unit_code="TCKT")], snapshot(old), IT, LAYOUT,
                        renames=RENAMES)
    (action,) = plan.actions
    assert (action.kind, action.reason, dict(action.changes)) == \
        (Kind.UPDATE, "reorganized", {"departmentNumber": "TCKT"})
    without = compute_plan([person("TW1", unit_code="TCKT")], snapshot(old), IT, LAYOUT)
    assert ("lock", "6.2.2") in {(a.kind.value, a.clause) for a in without.actions}


def test_the_old_province_neither_locks_nor_orphans_its_merged_staff():
    old = account_of(person("B1", unit_type="province", unit_code="BTE"))
    scope = Scope.parse("province:BTE")
    row = person("B1", unit_type="province", unit_code="BTR")
    plan = compute_plan([row], snapshot(old, provinces=PROVINCES), scope, LAYOUT,
                        renames=RENAMES)
    assert plan.actions == ()
    assert [(a.employee_id, a.from_code, a.to_code) for a in plan.awaiting] == \
        [("B1", "BTE", "BTR")]


def test_the_new_province_does_not_issue_a_second_account_before_the_move():
    scope = Scope.parse("province:BTR")
    row = person("B1", unit_type="province", unit_code="BTR")
    snap = replace(snapshot(provinces=PROVINCES), former_keys=frozenset({"b1"}))
    plan = compute_plan([row], snap, scope, LAYOUT, renames=RENAMES)
    assert plan.actions == () and [a.employee_id for a in plan.awaiting] == ["B1"]
    after_move = compute_plan([row], snapshot(provinces=PROVINCES), scope, LAYOUT,
                              renames=RENAMES)
    assert [a.kind for a in after_move.actions] == [Kind.CREATE]  # a genuine new hire


def test_the_it_centre_leaves_a_merged_province_admin_for_the_move():
    admin = person("BA1", unit_type="province", unit_code="BTE", role="admin")
    row = person("BA1", unit_type="province", unit_code="BTR", role="admin")
    account = account_of(admin)
    group = Group(LAYOUT.province_group_dn("BTE"), "BTE", frozenset({account.dn}))
    plan = compute_plan([row], snapshot(account, groups=[group], provinces=PROVINCES), IT,
                        LAYOUT, renames=RENAMES)
    assert plan.actions == ()  # no lock, no create, and the admin keeps the group
    assert [a.employee_id for a in plan.awaiting] == ["BA1"]

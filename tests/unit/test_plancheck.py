"""A plan file's action is sent only if the planner could have made it (SPEC §15)."""

from __future__ import annotations

import pytest

from connector.core.actions import Action, Kind
from connector.core.model import Scope
from connector.core.plancheck import Seen, action_refusal
from connector.core.policy import managed_containers
from tests.helpers import LAYOUT, PROVINCES

IT = Scope.parse("it-centre")
BTE = Scope.parse("province:BTE")
UNLOCKED = Seen(True, False, None, None, ())
LEAVE = Seen(True, True, "6.2.1", "unpaid_leave", ("bhxh-lock:6.2.1:unpaid_leave",))
TW1 = f"uid=TW1,{LAYOUT.central_dn}"
B1 = f"uid=BTE1,{LAYOUT.people_dn('BTE')}"


def refusal(action: Action, seen: Seen = UNLOCKED, scope: Scope = IT) -> str | None:
    return action_refusal(action, seen, scope, LAYOUT,
                          managed_containers(scope, LAYOUT, PROVINCES))


def update(dn: str = TW1, employee_id: str = "TW1", **changes: str | None) -> Action:
    return Action(Kind.UPDATE, dn, "roster_changed", employee_id=employee_id,
                  changes=tuple(changes.items()))


def test_what_the_planner_makes_passes():
    assert refusal(update(cn="Tên Mới", displayName="Tên Mới")) is None
    assert refusal(Action(Kind.LOCK, TW1, "violation", employee_id="TW1",
                          clause="6.2.3")) is None
    assert refusal(Action(Kind.UNLOCK, B1, "returned", employee_id="BTE1", clause="6.2.1"),
                   LEAVE, BTE) is None
    create = Action(Kind.CREATE, f"uid=N1,{LAYOUT.central_dn}", "new_on_roster",
                    employee_id="N1", changes=(("uid", "N1"), ("cn", "A"), ("sn", "A")))
    assert refusal(create, Seen(False, False, None, None, ())) is None


@pytest.mark.parametrize("name", ["userPassword", "pwdAccountLockedTime", "description",
                                  "pwdReset", "objectClass", "member", "seeAlso"])
def test_an_update_never_writes_outside_the_account_attributes(name):
    assert name in (refusal(update(**{name: "x"})) or "")


def test_a_move_is_never_applied_from_a_plan():
    assert "move" in (refusal(Action(Kind.MOVE, TW1, "reorganized", employee_id="TW1")) or "")


def test_an_action_outside_the_lane_is_refused():
    assert refusal(update(B1, "BTE1", cn="x")) is not None  # a province's staff for the IT
    hcm = f"uid=H1,{LAYOUT.people_dn('HCM')}"
    assert refusal(update(hcm, "H1", cn="x"), scope=BTE) is not None


def test_a_plan_never_places_a_misuse_hold():
    lock = Action(Kind.LOCK, TW1, "misuse", employee_id="TW1", clause="6.3")
    assert "6.3" in (refusal(lock) or "")


@pytest.mark.parametrize("seen", [
    Seen(True, True, "6.2.2", "transferred", ("bhxh-lock:6.2.2:transferred",)),
    Seen(True, True, "6.3", "misuse", ("bhxh-lock:6.3:misuse",)),
    UNLOCKED,
], ids=["sticky", "misuse", "not-locked"])
def test_a_plan_lifts_only_liftable_locks_it_saw(seen):
    unlock = Action(Kind.UNLOCK, B1, "returned", employee_id="BTE1", clause=seen.lock_clause)
    assert refusal(unlock, seen, BTE) is not None


def test_a_restore_needs_the_record_the_planner_saw():
    restore = Action(Kind.LOCK, TW1, "unpaid_leave", employee_id="TW1", clause="6.2.1",
                     restore=True)
    assert refusal(restore, UNLOCKED) is not None
    assert refusal(restore, LEAVE) is None
    other = Action(Kind.LOCK, TW1, "violation", employee_id="TW1", clause="6.2.3",
                   restore=True)
    assert refusal(other, LEAVE) is not None


@pytest.mark.parametrize("employee_id", ["BTE０００２", "BTE 1", "", "ᛒ1"])
def test_a_look_alike_employee_id_is_refused(employee_id):
    assert refusal(update(employee_id=employee_id, cn="x")) is not None


def test_a_create_names_its_entry_by_its_own_uid():
    create = Action(Kind.CREATE, f"uid=OTHER,{LAYOUT.central_dn}", "new_on_roster",
                    employee_id="N1", changes=(("uid", "N1"), ("cn", "A")))
    assert refusal(create, Seen(False, False, None, None, ())) is not None


def test_group_changes_only_for_the_province_s_own_admins():
    group = LAYOUT.province_group_dn("BTE")
    own = f"uid=A1,{LAYOUT.admins_dn('BTE')}"
    other = f"uid=A2,{LAYOUT.admins_dn('HCM')}"
    staff = f"uid=S1,{LAYOUT.people_dn('BTE')}"
    add = lambda member: Action(Kind.GROUP_ADD, group, "admin_active",  # noqa: E731
                                employee_id="A1", member=member)
    assert refusal(add(own)) is None
    assert refusal(add(other)) is not None and refusal(add(staff)) is not None
    assert refusal(add(own), scope=BTE) is not None


@pytest.mark.parametrize("held,wanted", [
    (("6.3", "misuse"), ("6.2.1", "unpaid_leave")),
    (("6.2.3", "violation"), ("6.2.1", "unpaid_leave")),
    (("6.2.2", "transferred"), ("9.2", "not_on_roster")),
], ids=["misuse-to-leave", "violation-to-leave", "transfer-to-orphan"])
def test_a_plan_never_downgrades_a_lock_record(held, wanted):
    clause, reason = held
    seen = Seen(True, True, clause, reason, (f"bhxh-lock:{clause}:{reason}",))
    for kind in (Kind.RELABEL, Kind.LOCK):
        action = Action(kind, B1, wanted[1], employee_id="BTE1", clause=wanted[0],
                        lock_values=seen.lock_values)
        assert "stronger" in (refusal(action, seen, BTE) or "")

"""Telling a change that reached the directory from one never sent (run recovery)."""

from __future__ import annotations

from connector.core.actions import Action, Kind
from connector.core.model import Account
from connector.core.reached import reached
from connector.service.journal import _action, _compact
from tests.helpers import LAYOUT

DN = f"uid=TW1,{LAYOUT.central_dn}"
RECORD = "bhxh-lock:6.2.1:unpaid_leave at=20261201T000000Z by=cn=x"


def account(*, locked=False, values=(), lock_values=(), lost=False) -> Account:
    return Account(DN, "TW1", LAYOUT.central_dn, dict(values), locked=locked,
                   lock_values=tuple(lock_values), lock_lost=lost)


def test_a_create_reached_when_the_entry_is_there():
    create = Action(Kind.CREATE, DN, "new_on_roster", employee_id="TW1")
    assert reached(create, account()) and not reached(create, None)


def test_an_update_reached_when_every_value_is_the_new_one():
    update = Action(Kind.UPDATE, DN, "roster_changed", employee_id="TW1",
                    changes=(("cn", "Mới"), ("mail", None)))
    assert reached(update, account(values={"cn": "Mới"}))
    assert not reached(update, account(values={"cn": "Cũ"}))
    assert not reached(update, account(values={"cn": "Mới", "mail": "a@b.vn"}))


def test_a_lock_reached_only_with_a_new_record_of_its_clause():
    lock = Action(Kind.LOCK, DN, "unpaid_leave", employee_id="TW1", clause="6.2.1")
    assert reached(lock, account(locked=True, lock_values=[RECORD]))
    assert not reached(lock, account())
    relabel = Action(Kind.RELABEL, DN, "violation", employee_id="TW1", clause="6.2.3",
                     lock_values=(RECORD,))
    assert not reached(relabel, account(locked=True, lock_values=[RECORD]))
    assert reached(relabel, account(locked=True, lock_values=["bhxh-lock:6.2.3:violation"]))


def test_an_unlock_reached_when_the_planned_record_is_gone():
    unlock = Action(Kind.UNLOCK, DN, "returned", employee_id="TW1", clause="6.2.1",
                    lock_values=(RECORD,))
    assert reached(unlock, account())
    assert not reached(unlock, account(locked=True, lock_values=[RECORD]))


def test_group_changes_reached_by_membership():
    member = f"uid=A1,{LAYOUT.admins_dn('BTE')}"
    add = Action(Kind.GROUP_ADD, LAYOUT.province_group_dn("BTE"), "admin_active",
                 member=member)
    assert reached(add, None, frozenset({member.lower()}))
    assert not reached(add, None, frozenset())
    assert not reached(add, None, None)


def test_the_journal_keeps_every_field_of_an_action():
    import json

    action = Action(Kind.RELABEL, DN, "violation", employee_id="TW1", clause="6.2.3",
                    changes=(("cn", "Tên"),), note="ghi chú", lock_values=(RECORD,))
    assert _action(json.loads(json.dumps(_compact(action)))) == action

"""Scope lanes on the write path, lock precedence, and DN comparison."""

from __future__ import annotations

import pytest

from connector.core.model import Scope, dn_key, parent_dn
from connector.core.policy import LockReason, should_relabel, unlock_refusal, write_refusal
from tests.helpers import LAYOUT

IT = Scope.parse("it-centre")
BTE = Scope.parse("province:bte")


@pytest.mark.parametrize(
    "scope,dn,allowed",
    [
        (BTE, f"uid=x,{LAYOUT.people_dn('BTE')}", True),
        (BTE, f"UID=x, OU=People,ou=bte,{LAYOUT.provinces_dn}", True),
        (BTE, f"uid=x,{LAYOUT.people_dn('HCM')}", False),
        (BTE, f"uid=x,{LAYOUT.admins_dn('BTE')}", False),
        (BTE, LAYOUT.people_dn("BTE"), False),  # the container itself, not an account in it
        (BTE, f"uid=x,{LAYOUT.central_dn}", False),
        (IT, f"uid=x,{LAYOUT.central_dn}", True),
        (IT, f"uid=x,{LAYOUT.people_dn('HCM')}", True),  # Art. 6 §3: any account, by hand
        (IT, f"uid=x,{LAYOUT.system_dn}", False),
        (IT, f"cn=x,{LAYOUT.policies_dn}", False),
    ],
)
def test_write_lanes(scope, dn, allowed):
    assert (write_refusal(scope, LAYOUT, dn) is None) is allowed


def test_group_writes_are_the_it_centre_s_and_only_for_province_admin_groups():
    group = LAYOUT.province_group_dn("BTE")
    member = f"uid=a,{LAYOUT.admins_dn('BTE')}"
    assert write_refusal(IT, LAYOUT, group, group=True, member=member) is None
    assert "does not manage groups" in write_refusal(BTE, LAYOUT, group, group=True)
    assert "not a province admin group" in write_refusal(IT, LAYOUT, LAYOUT.it_centre_group_dn,
                                                         group=True)
    assert "not a province account" in write_refusal(
        IT, LAYOUT, group, group=True, member=f"uid=a,{LAYOUT.central_dn}")


def test_scope_parsing_normalises_and_refuses_unsafe_codes():
    assert str(Scope.parse(" province:bte ")) == "province:BTE"
    for bad in ("province:", "province:B,TE", "provinces:BTE", "IT-centre"):
        with pytest.raises(ValueError):
            Scope.parse(bad)


@pytest.mark.parametrize(
    "current,reason,wanted,expected",
    [
        (None, None, LockReason("violation", "6.2.3"), False),   # unknown origin: keep
        ("7.7", "x", LockReason("violation", "6.2.3"), False),   # unknown clause: keep
        ("6.2.1", "sick_leave", LockReason("terminated", "6.2.1"), True),
        ("6.2.1", "sick_leave", LockReason("sick_leave", "6.2.1"), False),
        ("9.2", "not_on_roster", LockReason("terminated", "6.2.1"), True),
        ("6.2.1", "terminated", LockReason("not_on_roster", "9.2"), False),
        ("6.2.2", "transferred", LockReason("violation", "6.2.3"), True),
        ("6.2.3", "violation", LockReason("transferred", "6.2.2"), False),
        ("6.3", "misuse", LockReason("violation", "6.2.3"), False),
    ],
)
def test_lock_precedence(current, reason, wanted, expected):
    assert should_relabel(current, wanted, reason) is expected


def test_only_the_it_centre_lifts_a_misuse_hold():
    staff = f"uid=BTE1,{LAYOUT.people_dn('BTE')}"
    assert unlock_refusal(IT, LAYOUT, staff, "6.3") is None
    assert "only the IT Centre" in (unlock_refusal(BTE, LAYOUT, staff, "6.3") or "")
    assert unlock_refusal(BTE, LAYOUT, staff, "6.2.3") is None
    assert unlock_refusal(BTE, LAYOUT, staff, None) is None


@pytest.mark.parametrize("clause", ["6.2.1", "6.2.2", "6.2.3", "9.2", None])
def test_a_province_s_own_lock_is_lifted_by_that_province_only(clause):
    staff = f"uid=BTK00001,{LAYOUT.people_dn('BTK')}"
    assert "lifted by that province only" in (unlock_refusal(IT, LAYOUT, staff, clause) or "")


@pytest.mark.parametrize("container", [LAYOUT.central_dn, LAYOUT.vendors_dn,
                                       LAYOUT.admins_dn("BTE")])
def test_the_it_centre_lifts_the_locks_of_its_own_lane(container):
    assert unlock_refusal(IT, LAYOUT, f"uid=X1,{container}", "6.2.3") is None


def test_dn_comparison_ignores_case_and_spaces_but_respects_escapes():
    assert dn_key("UID=A , OU=People,dc=X") == dn_key("uid=a,ou=people,dc=x")
    assert dn_key(r"cn=a\,b,dc=x") != dn_key("cn=a,b,dc=x")
    assert parent_dn(r"cn=a\,b,ou=x,dc=y") == "ou=x,dc=y"
    assert parent_dn("dc=y") == ""

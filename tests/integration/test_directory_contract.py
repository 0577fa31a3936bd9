"""One contract, two directories: the real LDAP adapter (against slapd) and the
in-memory twin used by the fast service tests must behave the same."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connector.core.model import Scope
from connector.core.plan import Action, Kind
from connector.core.results import Outcome
from connector.core.tree import tree_entries
from connector.directory.ldap import LdapDirectory
from connector.directory.memory import MemoryDirectory
from connector.errors import ScopeViolation
from connector.settings import LdapSettings
from connector.testing.slapd import sample_units
from tests.helpers import LAYOUT

pytestmark = pytest.mark.integration
IT = Scope.parse("it-centre")
BTE = Scope.parse("province:BTE")


def ldap_directory(server, scope: Scope) -> LdapDirectory:
    settings = LdapSettings(url=server.url, bind_dn=server.root_dn,
                            bind_password=server.root_password, workers=2)
    return LdapDirectory(settings, LAYOUT, scope)


def memory_directory(scope: Scope) -> MemoryDirectory:
    directory = MemoryDirectory(LAYOUT, scope)
    directory.put(LAYOUT.base_dn, {"objectClass": ["dcObject"]})
    for dn, attributes in tree_entries(LAYOUT, sample_units()):
        directory.put(dn, attributes)
    return directory


@pytest.fixture(params=["ldap", "memory"])
def make(request, slapd) -> Iterator:
    made = []

    def factory(scope: Scope = IT):
        directory = ldap_directory(slapd, scope) if request.param == "ldap" else \
            memory_directory(scope)
        if request.param == "memory" and made:
            directory.entries = made[0].entries  # one shared store, like one server
        made.append(directory)
        return directory

    yield factory
    for directory in made:
        directory.close()


def apply(directory, *actions: Action) -> list[Outcome]:
    outcomes: list[Outcome] = []
    directory.apply(list(actions), outcomes.append)
    return outcomes


def create(employee_id: str, container: str = LAYOUT.central_dn, name: str = "Lê Văn Tám"):
    return Action(Kind.CREATE, f"uid={employee_id},{container}", "new_on_roster", employee_id,
                  changes=(("uid", employee_id), ("employeeNumber", employee_id), ("cn", name),
                           ("sn", name.split()[0]), ("employeeType", "central")))


def test_created_account_appears_in_the_snapshot_with_its_values(make):
    directory = make()
    assert all(o.ok for o in apply(directory, create("T1", name='Lê, "Tám" + Ánh')))
    (account,) = directory.snapshot(IT).accounts
    assert account.employee_id == "T1" and not account.locked
    assert account.values["cn"] == 'Lê, "Tám" + Ánh'
    assert account.container.lower() == LAYOUT.central_dn.lower()


def test_lock_records_reason_and_clause_and_unlock_removes_them(make):
    directory = make()
    apply(directory, create("T1"))
    dn = f"uid=T1,{LAYOUT.central_dn}"
    apply(directory, Action(Kind.LOCK, dn, "violation", "T1", "6.2.3", note="ghi chú"))
    (account,) = directory.snapshot(IT).accounts
    assert (account.locked, account.lock_reason, account.lock_clause) == (True, "violation",
                                                                         "6.2.3")
    apply(directory, Action(Kind.RELABEL, dn, "misuse", "T1", "6.3"))
    assert directory.snapshot(IT).accounts[0].lock_clause == "6.3"
    apply(directory, Action(Kind.UNLOCK, dn, "returned", "T1", "6.3"))
    (account,) = directory.snapshot(IT).accounts
    assert (account.locked, account.lock_reason, account.lock_clause) == (False, None, None)


def test_a_lock_without_its_attribute_is_still_locked_and_restore_adds_only_the_attribute(
        make):
    """SPEC §2: the record is the truth. A password reset drops pwdAccountLockedTime; the
    account still reads as locked (lock_lost), and a restore puts the attribute back and
    leaves the record exactly as it was."""
    directory = make()
    apply(directory, create("T1"))
    dn = f"uid=T1,{LAYOUT.central_dn}"
    apply(directory, Action(Kind.LOCK, dn, "misuse", "T1", "6.3", note="phiếu 7"))
    record = _descriptions(directory, dn)
    _drop_lock_attribute(directory, dn)
    (account,) = directory.snapshot(IT).accounts
    assert (account.locked, account.lock_lost, account.lock_clause) == (True, True, "6.3")
    restore = Action(Kind.LOCK, dn, "misuse", "T1", "6.3", restore=True)
    assert all(o.ok for o in apply(directory, restore, restore))  # twice: still fine
    (account,) = directory.snapshot(IT).accounts
    assert (account.locked, account.lock_lost) == (True, False)
    assert _descriptions(directory, dn) == record


def _descriptions(directory, dn: str) -> list[str]:
    if isinstance(directory, MemoryDirectory):
        return sorted((directory.get(dn) or {}).get("description", []))
    entries = list(directory._search(dn, "*", ["description"], scope="base"))
    return sorted(v for _, values in entries for v in values.get("description", []))


def _drop_lock_attribute(directory, dn: str) -> None:
    if isinstance(directory, MemoryDirectory):
        del (directory.get(dn) or {})["pwdAccountLockedTime"]
        return
    import ldap3

    directory._conn().modify(dn, {"pwdAccountLockedTime": [(ldap3.MODIFY_REPLACE, [])]})


def test_a_province_snapshot_knows_its_own_admins_ids_but_not_their_accounts(make):
    directory = make(IT)
    apply(directory, create("A1", LAYOUT.admins_dn("BTE")), create("H1", LAYOUT.admins_dn("HCM")))
    snapshot = make(BTE).snapshot(BTE)
    assert snapshot.admin_keys == {"a1"} and snapshot.accounts == ()


def test_group_membership_changes_are_idempotent(make):
    directory = make()
    member = f"uid=A1,{LAYOUT.admins_dn('BTE')}"
    apply(directory, create("A1", LAYOUT.admins_dn("BTE")))
    group = LAYOUT.province_group_dn("BTE")
    add = Action(Kind.GROUP_ADD, group, "admin_active", "A1", member=member)
    assert all(o.ok for o in apply(directory, add, add))
    assert member.lower() in {m.lower() for m in directory.snapshot(IT).groups["BTE"].members}
    remove = Action(Kind.GROUP_REMOVE, group, "admin_inactive", "A1", member=member)
    assert all(o.ok for o in apply(directory, remove, remove))
    assert member.lower() not in {m.lower() for m in directory.snapshot(IT).groups["BTE"].members}


def test_snapshot_reads_only_the_scope_s_ous(make):
    directory = make()
    apply(directory, create("T1"))
    province = make(BTE)
    assert province.snapshot(BTE).accounts == ()
    assert province.snapshot(BTE).provinces >= {"BTE", "HCM"}


def test_write_outside_the_scope_is_refused_before_it_is_sent(make):
    province = make(BTE)
    outcomes = apply(province, create("T1"))
    assert "refused before sending" in (outcomes[0].error or "")
    with pytest.raises(ScopeViolation):
        province.apply_one(create("T2"))
    assert make().snapshot(IT).accounts == ()


def test_failed_operation_is_reported_and_the_rest_applied(make):
    directory = make()
    outcomes = apply(directory, create("T1"), create("T1"), create("T2"))
    assert sorted(o.ok for o in outcomes) == [False, True, True]
    assert {a.employee_id for a in directory.snapshot(IT).accounts} == {"T1", "T2"}


def test_find_accounts_searches_by_uid_with_an_escaped_filter(make):
    directory = make()
    apply(directory, create("T1"))
    assert [a.employee_id for a in directory.find_accounts("T1", [LAYOUT.central_dn])] == ["T1"]
    assert directory.find_accounts("*", [LAYOUT.central_dn]) == []


def test_a_reconcile_writes_only_in_its_managed_ous_even_for_the_it_centre(make):
    directory = make()
    managed = (LAYOUT.central_dn, LAYOUT.vendors_dn, LAYOUT.admins_dn("BTE"))
    outcomes: list[Outcome] = []
    directory.apply([create("T1", LAYOUT.people_dn("BTE")), create("T2")], outcomes.append,
                    within=managed)
    errors = {o.action.employee_id: o.error for o in outcomes}
    assert "refused before sending" in (errors["T1"] or "") and errors["T2"] is None
    assert [a.employee_id for a in directory.snapshot(IT).accounts] == ["T2"]

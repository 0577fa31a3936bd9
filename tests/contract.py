"""One contract for every directory backend, in the manner of vdirsyncer's storage tests.

A backend's test module subclasses ``DirectoryContract`` and provides a ``make``
fixture: ``make(scope=IT)`` returns a fresh ``Directory`` on one shared store
(one server), holding the sample tree. The in-memory twin runs it in the unit
suite without slapd; the LDAP adapter runs it against a real slapd over both
send paths (``fast_wire`` on and off).
"""

from __future__ import annotations

import threading

import pytest

from connector.core.actions import Action, Kind
from connector.core.model import Scope
from connector.core.results import Outcome
from connector.directory.entries import create_attributes
from connector.errors import ScopeViolation
from tests.helpers import LAYOUT

IT = Scope.parse("it-centre")
BTE = Scope.parse("province:BTE")
CENTRAL = LAYOUT.central_dn


def create(employee_id: str, container: str = CENTRAL, name: str = "Lê Văn Tám",
           **extra: str) -> Action:
    values = {"uid": employee_id, "employeeNumber": employee_id, "cn": name,
              "sn": name.split()[0], "employeeType": "central", **extra}
    return Action(Kind.CREATE, f"uid={employee_id},{container}", "new_on_roster",
                  employee_id=employee_id, changes=tuple(values.items()))


def lock(employee_id: str, clause: str = "6.2.3", reason: str = "violation",
         container: str = CENTRAL, kind: Kind = Kind.LOCK, **extra: object) -> Action:
    return Action(kind, f"uid={employee_id},{container}", reason, employee_id=employee_id,
                  clause=clause, **extra)  # type: ignore[arg-type]


def apply(directory, *actions: Action, **kwargs) -> list[Outcome]:
    outcomes: list[Outcome] = []
    directory.apply(list(actions), outcomes.append, **kwargs)
    return outcomes


def only(directory, scope: Scope = IT):
    (account,) = directory.snapshot(scope).accounts
    return account


def only_named(directory, employee_id: str) -> str | None:
    accounts = directory.find_accounts(employee_id, [CENTRAL])
    return accounts[0].values.get("cn") if accounts else None


def descriptions(directory, dn: str) -> list[str]:
    return sorted(v for _, values in directory._search(dn, "*", ["description"], scope="base")
                  for v in values.get("description", []))


class DirectoryContract:
    """Behaviours every backend must show; ``make`` comes from the subclass."""

    # -- creating and reading ------------------------------------------------------------

    def test_a_created_account_appears_in_the_snapshot_with_its_values(self, make):
        directory = make()
        assert all(o.ok for o in apply(directory, create("T1", name='Lê, "Tám" + Ánh')))
        account = only(directory)
        assert account.employee_id == "T1" and not account.locked
        assert account.values["cn"] == 'Lê, "Tám" + Ánh'
        assert account.container.lower() == CENTRAL.lower()

    def test_creating_a_different_existing_entry_fails_and_the_rest_is_applied(self, make):
        directory = make()
        apply(directory, create("T1"))
        outcomes = apply(directory, create("T1", name="Người Khác"), create("T2"))
        assert sorted(o.ok for o in outcomes) == [False, True]
        assert "entryAlreadyExists" in next(o.error for o in outcomes if not o.ok)
        assert {a.employee_id for a in directory.snapshot(IT).accounts} == {"T1", "T2"}
        assert only_named(directory, "T1") == "Lê Văn Tám"

    def test_creating_an_entry_that_is_already_there_exactly_is_a_success(self, make):
        """Replication, or a run cut off after the server committed, delivered it."""
        directory = make()
        apply(directory, create("T1"))
        (outcome,) = apply(directory, create("T1"))
        assert outcome.ok and len(directory.snapshot(IT).accounts) == 1

    def test_creating_under_a_missing_ou_fails_with_a_reason(self, make):
        (outcome,) = apply(make(), create("T1", f"ou=nowhere,{CENTRAL}"))
        assert not outcome.ok and "noSuchObject" in (outcome.error or "")

    def test_a_snapshot_reads_only_the_scope_s_ous(self, make):
        apply(make(), create("T1"))
        province = make(BTE)
        assert province.snapshot(BTE).accounts == ()
        assert province.snapshot(BTE).provinces >= {"BTE", "HCM"}

    def test_the_it_centre_snapshot_sees_central_vendors_and_admins(self, make):
        directory = make()
        apply(directory, create("T1"), create("V1", LAYOUT.vendors_dn),
              create("A1", LAYOUT.admins_dn("BTE")), create("B1", LAYOUT.people_dn("BTE")))
        ids = {a.employee_id for a in directory.snapshot(IT).accounts}
        assert ids == {"T1", "V1", "A1"}

    def test_the_it_centre_reads_province_admins_only_from_the_provinces_admins_ous(self, make):
        """One subtree search finds every ``ou=admins`` DN; one a province made under
        its own people is the province's, not the IT Centre's."""
        directory = make()
        fake = f"ou=admins,{LAYOUT.people_dn('BTE')}"
        deeper = f"ou=team,{LAYOUT.admins_dn('HCM')}"
        for dn in (fake, deeper):
            directory.add_entry(dn, {"objectClass": ["organizationalUnit"],
                                     "ou": [dn.split(",")[0][3:]]})
        apply(directory, create("T1"), create("H1", LAYOUT.admins_dn("HCM")),
              create("A1", LAYOUT.admins_dn("BTE")))
        for action in (create("X1", fake), create("D1", deeper)):  # outside any lane
            directory.add_entry(action.dn, create_attributes(action))
        ids = [a.employee_id for a in directory.snapshot(IT).accounts]
        assert sorted(ids) == ["A1", "D1", "H1", "T1"]
        assert ids[0] == "T1" and ids.index("A1") < ids.index("H1")  # per OU, in order

    def test_a_province_snapshot_knows_its_own_admins_ids_but_not_their_accounts(self, make):
        apply(make(), create("A1", LAYOUT.admins_dn("BTE")), create("H1", LAYOUT.admins_dn("HCM")))
        snapshot = make(BTE).snapshot(BTE)
        assert snapshot.admin_keys == {"a1"} and snapshot.accounts == ()

    def test_the_it_centre_snapshot_lists_the_province_admin_groups(self, make):
        groups = make().snapshot(IT).groups
        assert {"BTE", "HCM"} <= set(groups)
        assert groups["BTE"].dn.lower() == LAYOUT.province_group_dn("BTE").lower()

    def test_find_accounts_matches_uid_case_insensitively_with_an_escaped_filter(self, make):
        directory = make()
        apply(directory, create("T1"))
        assert [a.employee_id for a in directory.find_accounts("t1", [CENTRAL])] == ["T1"]
        assert directory.find_accounts("*", [CENTRAL]) == []
        assert directory.find_accounts("T1", [LAYOUT.vendors_dn]) == []

    def test_exists_tells_present_from_absent_entries(self, make):
        directory = make()
        assert directory.exists(CENTRAL) and not directory.exists(f"uid=T9,{CENTRAL}")

    def test_first_account_is_none_in_an_empty_ou_and_a_dn_otherwise(self, make):
        directory = make()
        assert directory.first_account(CENTRAL) is None
        apply(directory, create("T1"), create("T2"))
        assert (directory.first_account(CENTRAL) or "").lower() in {
            f"uid=t1,{CENTRAL}".lower(), f"uid=t2,{CENTRAL}".lower()}

    def test_a_search_of_a_missing_ou_yields_nothing(self, make):
        directory = make()
        assert directory.first_account(f"ou=nowhere,{CENTRAL}") is None
        assert directory.find_accounts("T1", [f"ou=nowhere,{CENTRAL}"]) == []

    def test_add_entry_creates_structure_for_bootstrap(self, make):
        directory = make()
        directory.add_entry(f"ou=extra,{CENTRAL}", {"objectClass": ["organizationalUnit"],
                                                    "ou": ["extra"]})
        assert directory.exists(f"ou=extra,{CENTRAL}")

    # -- updating --------------------------------------------------------------------------

    def test_an_update_replaces_the_changed_attributes_only(self, make):
        directory = make()
        apply(directory, create("T1", mail="a@vss.gov.vn"))
        dn = f"uid=T1,{CENTRAL}"
        apply(directory, Action(Kind.UPDATE, dn, "roster_changed", employee_id="T1",
                                changes=(("cn", "Lê Văn Tám Mới"), ("mail", None))))
        account = only(directory)
        assert account.values["cn"] == "Lê Văn Tám Mới" and "mail" not in account.values
        assert account.values["sn"] == "Lê"

    # -- locks -----------------------------------------------------------------------------

    def test_a_lock_records_reason_and_clause_and_unlock_removes_them(self, make):
        directory = make()
        apply(directory, create("T1"))
        apply(directory, lock("T1", note="ghi chú"))
        account = only(directory)
        assert (account.locked, account.lock_reason, account.lock_clause) == \
            (True, "violation", "6.2.3")
        apply(directory, lock("T1", clause="6.2.3", reason="returned", kind=Kind.UNLOCK,
                              lock_values=account.lock_values))
        account = only(directory)
        assert (account.locked, account.lock_reason, account.lock_clause) == (False, None, None)

    def test_a_lock_and_an_unlock_keep_the_entry_s_other_descriptions(self, make):
        directory = make()
        apply(directory, create("T1", description="Ghi chú của phòng"))
        dn = f"uid=T1,{CENTRAL}"
        apply(directory, lock("T1"))
        assert "Ghi chú của phòng" in descriptions(directory, dn)
        apply(directory, lock("T1", reason="returned", kind=Kind.UNLOCK,
                              lock_values=only(directory).lock_values))
        assert descriptions(directory, dn) == ["Ghi chú của phòng"]

    def test_a_relabel_replaces_the_record_and_keeps_the_lock(self, make):
        directory = make()
        apply(directory, create("T1"))
        apply(directory, lock("T1"))
        apply(directory, lock("T1", clause="6.3", reason="misuse", kind=Kind.RELABEL,
                              lock_values=only(directory).lock_values))
        account = only(directory)
        assert (account.locked, account.lock_clause, account.lock_lost) == (True, "6.3", False)
        records = [d for d in descriptions(directory, f"uid=T1,{CENTRAL}")
                   if d.startswith("bhxh-lock:")]
        assert len(records) == 1 and records[0].startswith("bhxh-lock:6.3:misuse")

    def test_the_record_says_who_locked_and_when(self, make):
        directory = make()
        apply(directory, create("T1"))
        apply(directory, lock("T1", note="phiếu 12"))
        (record,) = [d for d in descriptions(directory, f"uid=T1,{CENTRAL}")
                     if d.startswith("bhxh-lock:")]
        assert f"by={directory.actor}" in record and " at=" in record
        assert record.endswith("note=phiếu 12")

    def test_a_lock_without_its_attribute_still_reads_as_locked(self, make):
        directory = make()
        apply(directory, create("T1"))
        apply(directory, lock("T1", clause="6.3", reason="misuse"))
        self.drop_lock_attribute(directory, f"uid=T1,{CENTRAL}")
        account = only(directory)
        assert (account.locked, account.lock_lost, account.lock_clause) == (True, True, "6.3")

    def test_a_restore_adds_only_the_attribute_and_leaves_the_record(self, make):
        directory = make()
        dn = f"uid=T1,{CENTRAL}"
        apply(directory, create("T1"))
        apply(directory, lock("T1", clause="6.3", reason="misuse", note="phiếu 7"))
        record = descriptions(directory, dn)
        self.drop_lock_attribute(directory, dn)
        restore = lock("T1", clause="6.3", reason="misuse", restore=True)
        assert all(o.ok for o in apply(directory, restore, restore))  # twice: still fine
        account = only(directory)
        assert (account.locked, account.lock_lost) == (True, False)
        assert descriptions(directory, dn) == record

    def test_the_snapshot_lists_exactly_the_lock_record_values(self, make):
        directory = make()
        apply(directory, create("T1", description="khác"))
        apply(directory, lock("T1"))
        (value,) = only(directory).lock_values
        assert value.startswith("bhxh-lock:6.2.3:violation")

    def test_an_unlock_whose_record_changed_meanwhile_fails_and_keeps_the_hold(self, make):
        directory = make()
        apply(directory, create("T1"))
        apply(directory, lock("T1", clause="6.2.1", reason="leave"))
        planned = only(directory).lock_values  # what the run saw when it planned
        apply(directory, lock("T1", clause="6.3", reason="misuse", kind=Kind.RELABEL,
                              lock_values=planned))  # a hold placed by hand meanwhile
        (outcome,) = apply(directory, lock("T1", clause="6.2.1", reason="returned",
                                           kind=Kind.UNLOCK, lock_values=planned))
        assert not outcome.ok and "lock record changed" in (outcome.error or "")
        account = only(directory)
        assert (account.locked, account.lock_clause, account.lock_lost) == (True, "6.3", False)

    def test_a_restore_whose_record_was_lifted_meanwhile_puts_back_nothing(self, make):
        directory = make()
        dn = f"uid=T1,{CENTRAL}"
        apply(directory, create("T1"))
        apply(directory, lock("T1", clause="6.2.3", reason="violation"))
        self.drop_lock_attribute(directory, dn)
        planned = only(directory).lock_values  # the run sees the record, plans a restore
        apply(directory, lock("T1", reason="returned", kind=Kind.UNLOCK, lock_values=planned))
        (outcome,) = apply(directory, lock("T1", clause="6.2.3", reason="violation",
                                           restore=True, lock_values=planned))
        assert not outcome.ok and "not put back" in (outcome.error or "")
        assert not only(directory).locked
        apply(directory, lock("T1"))  # with the record still there, a restore works
        self.drop_lock_attribute(directory, dn)
        (outcome,) = apply(directory, lock("T1", restore=True,
                                           lock_values=only(directory).lock_values))
        assert outcome.ok and only(directory).locked and not only(directory).lock_lost

    def test_a_relabel_whose_record_changed_meanwhile_fails(self, make):
        directory = make()
        apply(directory, create("T1"))
        apply(directory, lock("T1", clause="6.2.1", reason="leave"))
        planned = only(directory).lock_values
        apply(directory, lock("T1", clause="6.3", reason="misuse", kind=Kind.RELABEL,
                              lock_values=planned))
        (outcome,) = apply(directory, lock("T1", kind=Kind.RELABEL, lock_values=planned))
        assert not outcome.ok
        assert only(directory).lock_clause == "6.3"

    # -- groups ----------------------------------------------------------------------------

    def test_group_membership_changes_are_idempotent(self, make):
        directory = make()
        member = f"uid=A1,{LAYOUT.admins_dn('BTE')}"
        apply(directory, create("A1", LAYOUT.admins_dn("BTE")))
        group = LAYOUT.province_group_dn("BTE")
        add = Action(Kind.GROUP_ADD, group, "admin_active", employee_id="A1", member=member)
        assert all(o.ok for o in apply(directory, add, add))
        members = directory.group_members(group) or set()
        assert member.lower() in {m.lower() for m in members}
        remove = Action(Kind.GROUP_REMOVE, group, "admin_inactive", employee_id="A1",
                        member=member)
        assert all(o.ok for o in apply(directory, remove, remove))
        members = directory.snapshot(IT).groups["BTE"].members
        assert member.lower() not in {m.lower() for m in members}

    def test_group_members_of_a_missing_group_is_none(self, make):
        assert make().group_members(f"cn=nowhere,{LAYOUT.groups_dn}") is None

    # -- the write path --------------------------------------------------------------------

    def test_a_write_outside_the_scope_is_refused_before_it_is_sent(self, make):
        province = make(BTE)
        (outcome,) = apply(province, create("T1"))
        assert "refused before sending" in (outcome.error or "")
        with pytest.raises(ScopeViolation):
            province.apply_one(create("T2"))
        assert make().snapshot(IT).accounts == ()

    def test_a_province_may_not_change_groups(self, make):
        member = f"uid=A1,{LAYOUT.admins_dn('BTE')}"
        add = Action(Kind.GROUP_ADD, LAYOUT.province_group_dn("BTE"), "admin_active",
                     employee_id="A1", member=member)
        (outcome,) = apply(make(BTE), add)
        assert "does not manage groups" in (outcome.error or "")

    def test_a_reconcile_writes_only_in_its_managed_ous_even_for_the_it_centre(self, make):
        directory = make()
        managed = (CENTRAL, LAYOUT.vendors_dn, LAYOUT.admins_dn("BTE"))
        outcomes = apply(directory, create("T1", LAYOUT.people_dn("BTE")), create("T2"),
                         within=managed)
        errors = {o.action.employee_id: o.error for o in outcomes}
        assert "refused before sending" in (errors["T1"] or "") and errors["T2"] is None
        assert [a.employee_id for a in directory.snapshot(IT).accounts] == ["T2"]

    def test_a_stop_request_sends_nothing_more(self, make):
        directory = make()
        stop = threading.Event()
        stop.set()
        assert apply(directory, create("T1"), create("T2"), stop=stop) == []
        assert directory.snapshot(IT).accounts == ()

    def test_revocations_are_applied_before_grants(self, make):
        directory = make()
        apply(directory, create("T1"), create("T2"))
        outcomes = apply(directory, create("T3"), lock("T1"),
                         lock("T2", reason="returned", kind=Kind.UNLOCK))
        assert [o.action.kind for o in outcomes] == [Kind.LOCK, Kind.CREATE, Kind.UNLOCK]

    def test_unlocking_an_account_that_is_not_locked_is_harmless(self, make):
        directory = make()
        apply(directory, create("T1"))
        (outcome,) = apply(directory, lock("T1", reason="returned", kind=Kind.UNLOCK))
        assert outcome.ok and not only(directory).locked

    # -- what a subclass provides ----------------------------------------------------------

    def drop_lock_attribute(self, directory, dn: str) -> None:
        """Remove pwdAccountLockedTime behind the connector's back, as ppolicy does on a
        password change."""
        raise NotImplementedError

"""The daemon does not repeat work it has done (issue 11), against a real slapd with
syncprov (which maintains ``contextCSN``), bound as the delegated identities.

A run whose roster bytes, day and ``contextCSN`` are those of an earlier run that found
nothing to do skips the directory read; any write by anyone, a changed roster, a new
day, or the ``full_read_every``-th run reads in full, and then its plan is exactly
the plan of a fresh one-shot run.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from connector.core.model import Scope
from connector.directory.ldap import LdapDirectory
from connector.service.reconcile import Request, RunMemo, reconcile
from connector.settings import load_settings
from connector.testing.delegation import install_delegation
from connector.testing.slapd import SYNCPROV_LDIF, SlapdServer, sample_units
from tests.helpers import LAYOUT, roster_csv, row

pytestmark = pytest.mark.integration

PEOPLE = [row("TW1"), row("TW2"), row("V1", unit_type="vendor", unit_code="VNPT"),
          row("BA1", unit_type="province", unit_code="BTE", role="admin"),
          row("B1", unit_type="province", unit_code="BTE")]
DAY = dt.date(2026, 12, 1)


@pytest.fixture
def world(tmp_path):
    server = SlapdServer(units=sample_units())
    server.start()
    try:
        server.ldapmodify_config(SYNCPROV_LDIF)
        identity = install_delegation(server, sample_units())["it-centre"]
        settings = load_settings(None, scope="it-centre",
                                 audit={"path": str(tmp_path / "audit.jsonl")},
                                 state={"dir": str(tmp_path / "state")},
                                 ldap={"url": server.url, "bind_dn": identity.dn,
                                       "bind_password": identity.password},
                                 schedule={"full_read_every": 4})
        roster = tmp_path / "roster.csv"
        roster.write_text(roster_csv(PEOPLE), encoding="utf-8")
        yield server, settings, roster
    finally:
        server.stop()


def run(settings, roster: Path, memo: RunMemo | None, day: dt.date = DAY,
        dry_run: bool = False):
    def connect() -> LdapDirectory:
        return LdapDirectory(settings.ldap, settings.layout_value, Scope.parse("it-centre"))
    return reconcile(settings, connect,
                     Request(roster_path=roster, today=day, dry_run=dry_run), memo=memo)


def fresh_plan(settings, roster: Path) -> list[dict[str, object]]:
    """What a one-shot run would do now (a dry run: nothing is written)."""
    return [a.to_dict() for a in run(settings, roster, None, dry_run=True).plan.actions]


def quiet(settings, roster: Path, memo: RunMemo) -> None:
    """Run until the memo skips a read: the directory is in step and remembered so."""
    for _ in range(4):
        if skipped(run(settings, roster, memo)):
            return
    raise AssertionError("never quiet")


def skipped(result) -> bool:
    return "snapshot" not in result.timings


def test_a_quiet_directory_and_roster_skip_the_read_until_anything_changes(world):
    server, settings, roster = world
    memo = RunMemo()
    first = run(settings, roster, memo)
    assert first.plan.counts()["create"] == 4 and not skipped(first)
    assert not skipped(second := run(settings, roster, memo)) and not second.plan.actions
    third = run(settings, roster, memo)
    assert skipped(third) and third.exit_code == 0 and third.plan.managed == 4
    assert memo.roster.hits == 2  # parsed once for the first three runs

    server.modify_as_root(f"dn: uid=TW1,{LAYOUT.central_dn}\nchangetype: modify\n"
                          "replace: cn\ncn: Someone Else\n")
    expected = fresh_plan(settings, roster)
    fourth = run(settings, roster, memo)
    assert not skipped(fourth)
    assert [a.to_dict() for a in fourth.plan.actions] == expected
    assert [a["action"] for a in expected] == ["update"]


@pytest.mark.parametrize("write", [
    f"dn: uid=TW2,{LAYOUT.central_dn}\nchangetype: modify\nadd: pwdAccountLockedTime\n"
    "pwdAccountLockedTime: 000001010000Z\n",
    f"dn: uid=X9,{LAYOUT.central_dn}\nchangetype: add\nobjectClass: inetOrgPerson\n"
    "uid: X9\ncn: Stranger\nsn: Stranger\n",
    f"dn: uid=V1,{LAYOUT.vendors_dn}\nchangetype: delete\n",
    f"dn: {LAYOUT.province_group_dn('BTE')}\nchangetype: modify\ndelete: member\n"
    f"member: uid=BA1,{LAYOUT.admins_dn('BTE')}\n",
    # a write outside the managed OUs: contextCSN covers the whole database
    f"dn: {LAYOUT.people_dn('HCM')}\nchangetype: modify\nreplace: description\n"
    "description: touched\n",
], ids=["lock-by-hand", "stray-entry", "hard-delete", "group-member", "elsewhere"])
def test_any_outside_write_forces_a_full_read_whose_plan_is_a_fresh_runs(world, write):
    server, settings, roster = world
    memo = RunMemo()
    quiet(settings, roster, memo)
    server.modify_as_root(write)
    expected = fresh_plan(settings, roster)
    with_memo = run(settings, roster, memo)
    assert not skipped(with_memo)
    assert [a.to_dict() for a in with_memo.plan.actions] == expected


def test_a_new_roster_a_new_day_and_the_nth_run_read_in_full(world):
    _, settings, roster = world
    memo = RunMemo()
    run(settings, roster, memo)
    run(settings, roster, memo)
    assert skipped(run(settings, roster, memo))
    assert not skipped(run(settings, roster, memo, DAY + dt.timedelta(days=1)))
    run(settings, roster, memo)
    roster.write_text(roster_csv(PEOPLE) + "\n", encoding="utf-8")  # same rows, new bytes
    assert not skipped(run(settings, roster, memo))
    kinds = [skipped(run(settings, roster, memo)) for _ in range(8)]
    # full_read_every=4: never more than three skips in a row
    assert "True, True, True, True" not in ", ".join(map(str, kinds)) and any(kinds)


def test_the_one_shot_reconcile_and_a_server_without_syncprov_never_skip(tmp_path):
    with SlapdServer(units=sample_units()) as server:
        identity = install_delegation(server, sample_units())["it-centre"]
        settings = load_settings(None, scope="it-centre",
                                 audit={"path": str(tmp_path / "audit.jsonl")},
                                 state={"dir": str(tmp_path / "state")},
                                 ldap={"url": server.url, "bind_dn": identity.dn,
                                       "bind_password": identity.password})
        roster = tmp_path / "roster.csv"
        roster.write_text(roster_csv(PEOPLE), encoding="utf-8")
        memo = RunMemo()
        results = [run(settings, roster, memo) for _ in range(4)]
        assert not any(skipped(r) for r in results)
        assert not skipped(run(settings, roster, None))

"""``reconcile --only ID``: one person now, nobody else touched (whole-tree comparison)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import connector_env
from tests.helpers import LAYOUT, roster_csv, row, run_cli, tree

pytestmark = pytest.mark.integration

PEOPLE = [row("TW1"), row("TW2"), row("TW3"), row("V1", unit_type="vendor", unit_code="VNPT"),
          row("BA1", unit_type="province", unit_code="BTE", role="admin")]


def test_only_plans_and_applies_for_the_ids_given_and_touches_nobody_else(slapd, tmp_path):
    env = connector_env(slapd, tmp_path)
    roster = tmp_path / "roster.csv"
    roster.write_text(roster_csv(PEOPLE), encoding="utf-8")
    assert run_cli(["reconcile"], env).returncode == 0
    # the roster moves on: a new hire, a termination, someone gone, a bad row, an admin leaving
    changed = [row("TW1", "Tên Mới"), row("TW2", status="terminated"), row("N1", "Người Mới"),
               row("BAD", status="holiday"), row("V1", unit_type="vendor", unit_code="VNPT"),
               row("BA1", unit_type="province", unit_code="BTE", role="admin",
                   status="terminated")]
    roster.write_text(roster_csv(changed), encoding="utf-8")
    full = json.loads(run_cli(["reconcile", "--dry-run", "--json"], env).stdout)
    assert {a["employee_id"] for a in full["actions"]} >= {"TW1", "TW2", "TW3", "N1", "BA1"}

    before = tree(slapd)
    result = run_cli(["reconcile", "--only", "N1", "--json"], env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [(a["action"], a["employee_id"]) for a in data["actions"]] == [("create", "N1")]
    assert data["rejected"] == [] and data["summary"]["only"] == ["N1"]
    after = tree(slapd)
    new = f"dn: uid=n1,{LAYOUT.central_dn}".lower()
    assert set(after) - set(before) == {new}
    assert {dn: b for dn, b in after.items() if dn != new} == before

    before = after
    result = run_cli(["reconcile", "--only", "tw2", "--only", "NOBODY"], env)
    assert result.returncode == 1  # an id that is nowhere is reported
    assert "NOBODY: neither on the roster nor in the managed OUs" in result.stdout
    after = tree(slapd)
    changed_dns = {dn for dn in after if after[dn] != before.get(dn)}
    assert changed_dns == {f"dn: uid=tw2,{LAYOUT.central_dn}".lower()}
    assert "pwdAccountLockedTime" in after[f"dn: uid=tw2,{LAYOUT.central_dn}".lower()]


def test_only_an_orphan_locks_that_orphan_and_the_guard_still_applies(slapd, tmp_path):
    env = connector_env(slapd, tmp_path)
    roster = tmp_path / "roster.csv"
    roster.write_text(roster_csv(PEOPLE), encoding="utf-8")
    assert run_cli(["reconcile"], env).returncode == 0
    roster.write_text(roster_csv(PEOPLE[:1]), encoding="utf-8")  # four are gone
    before = tree(slapd)
    guarded = run_cli(["reconcile", "--only", "TW3", "--only", "TW2"],
                      {**env, "CONNECTOR_SAFETY__MAX_LOCK_COUNT": "1"})
    assert guarded.returncode == 3 and tree(slapd) == before
    result = run_cli(["reconcile", "--only", "TW3", "--json"], env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [(a["action"], a["employee_id"], a["reason"]) for a in data["actions"]] == [
        ("lock", "TW3", "not_on_roster")]
    after = tree(slapd)
    assert {dn for dn in after if after[dn] != before[dn]} == {
        f"dn: uid=tw3,{LAYOUT.central_dn}".lower()}

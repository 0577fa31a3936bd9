"""Merged provinces (SPEC §10), the whole story against a real slapd: Bến Tre (BTE) is
absorbed by a new province BTR. Before the move both connectors leave BTE's people alone
(no transfer lock, no second account); `connector reorganize` moves every account with
modrdn, keeping its password, lock and lock record; after it the new province's
connector finds its people in place. No lock, duplicate or orphan at any point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connector.core.acl import acl_ldif
from connector.sources.units import load_units
from connector.testing.delegation import Identity, add_service_account, install_delegation
from connector.testing.slapd import sample_units
from tests.conftest import connector_env
from tests.helpers import LAYOUT, ldap_entry, roster_csv, row, run_cli

pytestmark = pytest.mark.integration

MERGED = """
[[province]]
code = "BTR"
name = "Bảo hiểm xã hội tỉnh Bến Tre mới"
formerly = ["BTE"]

[[province]]
code = "HCM"
name = "Bảo hiểm xã hội Thành phố Hồ Chí Minh"

[[province]]
code = "HNI"
name = "Bảo hiểm xã hội Thành phố Hà Nội"

[[province]]
code = "DNG"
name = "Bảo hiểm xã hội Thành phố Đà Nẵng"

[[province]]
code = "CTO"
name = "Bảo hiểm xã hội Thành phố Cần Thơ"
"""


def env_for(server, identity: Identity, tmp_path: Path, **extra: str) -> dict[str, str]:
    return connector_env(server, tmp_path, CONNECTOR_LDAP__BIND_DN=identity.dn,
                         CONNECTOR_LDAP__BIND_PASSWORD=identity.password,
                         CONNECTOR_SCOPE=identity.scope, **extra)


def staff(code: str) -> list[dict[str, str]]:
    return [row("B1", "Trương Văn Lợi", unit_type="province", unit_code=code),
            row("B2", "Huỳnh Thị Duyên", unit_type="province", unit_code=code,
                status="terminated" if code == "BTR" else "active"),
            row("B3", "Lâm Quang Vinh", unit_type="province", unit_code=code),
            row("BA1", "Nguyễn Thị Như", unit_type="province", unit_code=code, role="admin")]


def accounts(server) -> dict[str, str]:
    text = server.search(LAYOUT.base_dn, "(objectClass=inetOrgPerson)", ["uid"])
    found: dict[str, str] = {}
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        uid = next((x[5:] for x in lines if x.startswith("uid: ")), None)
        if uid is not None:
            assert uid not in found, f"{uid} twice"
            found[uid] = lines[0][4:]
    return found


def run(server, identity, tmp_path, rows, *args: str) -> dict:
    (tmp_path / "roster.csv").write_text(roster_csv(rows), encoding="utf-8")
    result = run_cli(["reconcile", "--json", *args], env_for(server, identity, tmp_path))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return json.loads(result.stdout)


def test_a_merged_province_moves_without_a_lock_a_duplicate_or_an_orphan(slapd, tmp_path):
    server = slapd
    ids = install_delegation(server, sample_units())
    # BTE's staff and admin, one under a 6.3 hold, one with a password of their own
    run(server, ids["it-centre"], tmp_path, staff("BTE"))
    run(server, ids["province:BTE"], tmp_path, staff("BTE"))
    hold = run_cli(["lock", "B1", "--reason", "misuse"], env_for(server, ids["it-centre"],
                                                                  tmp_path))
    assert hold.returncode == 0, hold.stderr
    people_bte, people_btr = LAYOUT.people_dn("BTE"), LAYOUT.people_dn("BTR")
    server.set_password(f"uid=B3,{people_bte}", "Mật-khẩu-B3-2026")
    held_before = ldap_entry(server, f"uid=B1,{people_bte}")
    units_file = tmp_path / "merged.toml"
    units_file.write_text(MERGED, encoding="utf-8")
    before = accounts(server)

    # the day the merger is announced: rosters say BTR, the tree does not have it yet
    for scope in ("province:BTE", "it-centre"):
        data = run(server, ids[scope], tmp_path, staff("BTR"), "--units", str(units_file))
        assert not [a for a in data["actions"] if a["action"] in ("lock", "create",
                                                                   "group_remove")], scope
        assert data["summary"]["awaiting_reorganize"] >= 1, scope
    assert accounts(server) == before

    # the operator reorganizes: dry run first, then for real, then once more
    operator = connector_env(server, tmp_path)
    dry = run_cli(["reorganize", "--units", str(units_file), "--dry-run", "--json"], operator)
    assert dry.returncode == 0, dry.stderr
    assert len(json.loads(dry.stdout)["moves"]) == 4 and accounts(server) == before
    moved = run_cli(["reorganize", "--units", str(units_file), "--json"], operator)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    report = json.loads(moved.stdout)
    assert {m["employee_id"] for m in report["moves"] if m["outcome"] == "ok"} == \
        {"B1", "B2", "B3", "BA1"}
    assert people_bte in report["emptied"]
    after = accounts(server)
    assert after["B1"].lower() == f"uid=B1,{people_btr}".lower()
    assert after["BA1"].lower() == f"uid=BA1,{LAYOUT.admins_dn('BTR')}".lower()
    held_after = ldap_entry(server, f"uid=B1,{people_btr}")
    assert held_after["pwdAccountLockedTime"] == held_before["pwdAccountLockedTime"]
    assert held_after["description"] == held_before["description"]  # the 6.3 record
    assert held_after["departmentNumber"] == ["BTR"]
    assert server.can_bind(f"uid=B3,{people_btr}", "Mật-khẩu-B3-2026")  # the same entry
    group_btr = server.search(LAYOUT.province_group_dn("BTR"), attributes=["member"])
    assert f"uid=BA1,{LAYOUT.admins_dn('BTR')}".lower() in group_btr.lower()
    again = run_cli(["reorganize", "--units", str(units_file), "--json"], operator)
    assert json.loads(again.stdout)["moves"] == []
    lines = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    moves = [x for x in lines if x["action"] == "move" and not x["dry_run"]]
    assert {x["from_dn"].lower() for x in moves} >= {f"uid=B1,{people_bte}".lower()}

    # the new province gets its rules and its connector; BTE no longer has any
    merged = load_units(units_file)
    server.ldapmodify_config(acl_ldif(server.layout, merged, operator_dn=server.external_dn))
    assert "BTE" not in acl_ldif(server.layout, merged)  # no rule names the old province
    btr = add_service_account(server, "connector-btr", LAYOUT.province_group_dn("BTR"),
                              "province:BTR")
    after_move = run(server, btr, tmp_path, staff("BTR"), "--units", str(units_file))
    kinds = {(a["employee_id"], a["action"]) for a in after_move["actions"]}
    assert ("B2", "lock") in kinds  # a real status change after the merger still locks
    assert not {k for k in kinds if k[1] in ("create", "unlock")}
    assert after_move["summary"]["held"] == 1  # B1's hold kept
    it = run(server, ids["it-centre"], tmp_path, staff("BTR"), "--units", str(units_file))
    assert not [a for a in it["actions"] if a["action"] in ("lock", "create", "group_remove")]
    assert set(accounts(server)) == set(before)  # no duplicate, no orphan


def test_the_operator_over_ldapi_moves_a_province_larger_than_the_default_size_limit(
        slapd, tmp_path):
    """The operator runs reorganize as the README says, SASL EXTERNAL over ldapi under
    the ACLs of `bootstrap --print-acl`: their olcLimits lift slapd's 500-entry limit
    for the operator too, so a province of 520 people moves whole."""
    install_delegation(slapd, sample_units())
    people = LAYOUT.people_dn("BTE")
    slapd.ldapadd([(f"uid=R{i:04d},{people}", {"objectClass": ["inetOrgPerson"],
                                               "uid": [f"R{i:04d}"], "cn": ["Lê Văn Rạng"],
                                               "sn": ["Lê"], "departmentNumber": ["BTE"]})
                   for i in range(520)])
    units_file = tmp_path / "merged.toml"
    units_file.write_text(MERGED, encoding="utf-8")
    operator = {"CONNECTOR_LDAP__URL": slapd.ldapi_url,
                "CONNECTOR_AUDIT__PATH": str(tmp_path / "audit.jsonl"),
                "CONNECTOR_STATE__DIR": str(tmp_path / "state")}
    moved = run_cli(["reorganize", "--units", str(units_file), "--json"], operator)
    assert moved.returncode == 0, moved.stdout[-1500:] + moved.stderr
    report = json.loads(moved.stdout)
    assert sum(m["outcome"] == "ok" for m in report["moves"]) == 520

"""Review and approve (SPEC §9) against a real slapd: a plan file made, the directory
changed by someone else, ``connector apply`` sending exactly the actions that still
hold and skipping the stale ones; refusals change nothing (whole-tree comparisons)."""

from __future__ import annotations

import hashlib
import json
import stat

import pytest

from tests.conftest import connector_env
from tests.helpers import LAYOUT, roster_csv, row, run_cli, tree

pytestmark = pytest.mark.integration

PEOPLE = [row("TW1"), row("TW2"), row("TW3"), row("V1", unit_type="vendor", unit_code="VNPT")]


def central(uid: str) -> str:
    return f"uid={uid},{LAYOUT.central_dn}"


@pytest.fixture
def planned(slapd, tmp_path):
    env = connector_env(slapd, tmp_path)
    roster = tmp_path / "roster.csv"
    roster.write_text(roster_csv(PEOPLE), encoding="utf-8")
    assert run_cli(["reconcile"], env).returncode == 0
    roster.write_text(roster_csv([row("TW1", "Tên Mới"), row("TW2", status="terminated"),
                                  row("N1"), row("N2"),
                                  row("V1", unit_type="vendor", unit_code="VNPT")]),
                      encoding="utf-8")
    plan = tmp_path / "plan.json"
    made = run_cli(["reconcile", "--dry-run", "--plan-out", str(plan)], env)
    assert made.returncode == 0, made.stderr
    return slapd, env, plan


def test_apply_sends_what_still_holds_and_skips_exactly_the_stale_actions(planned, tmp_path):
    server, env, plan = planned
    assert stat.S_IMODE(plan.stat().st_mode) == 0o600
    document = json.loads(plan.read_text())
    assert document["format"] == "connector-plan/1" and document["scope"] == "it-centre"
    assert len(document["roster"]["sha256"]) == 64 and document["roster"]["rows"] == 5
    kinds = {(a["action"], a["employee_id"]): a["expect"] for a in document["actions"]}
    assert set(kinds) == {("update", "TW1"), ("lock", "TW2"), ("lock", "TW3"),
                          ("create", "N1"), ("create", "N2")}
    assert kinds[("update", "TW1")]["values"]["cn"] == "Nguyễn Văn An"
    assert kinds[("create", "N1")]["exists"] is False
    assert kinds[("lock", "TW3")]["exists"] and not kinds[("lock", "TW3")]["locked"]

    # meanwhile, someone else: renames TW1, creates N2 by hand, locks TW3 by hand
    server.modify_as_root(f"dn: {central('TW1')}\nchangetype: modify\nreplace: cn\n"
                          "cn: Đổi Tay\n")
    server.ldapadd([(central("N2"), {"objectClass": ["inetOrgPerson"], "uid": ["N2"],
                                     "cn": ["Tay"], "sn": ["Tay"]})])
    server.modify_as_root(f"dn: {central('TW3')}\nchangetype: modify\n"
                          "add: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n")
    before = tree(server)

    result = run_cli(["apply", str(plan), "--json"], env)
    assert result.returncode == 1, result.stderr  # some actions were skipped
    data = json.loads(result.stdout)
    outcomes = {(a["action"], a["employee_id"]): a["outcome"] for a in data["actions"]}
    assert outcomes == {("update", "TW1"): "skipped", ("create", "N2"): "skipped",
                        ("lock", "TW3"): "skipped", ("lock", "TW2"): "ok",
                        ("create", "N1"): "ok"}
    reasons = {a["employee_id"]: a["error"] for a in data["actions"] if a["error"]}
    assert "cn changed" in reasons["TW1"] and "exists now" in reasons["N2"]
    assert "locked now" in reasons["TW3"]
    after = tree(server)
    changed = {dn for dn in after if after[dn] != before.get(dn)}
    assert changed == {f"dn: {central('TW2')}".lower(), f"dn: {central('N1')}".lower()}
    audit = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    applied = [x for x in audit if x.get("plan_id") == document["plan_id"]
               and x["action"] != "plan"]
    assert sorted((x["employee_id"], x["outcome"]) for x in applied) == [
        ("N1", "ok"), ("N2", "skipped"), ("TW1", "skipped"), ("TW2", "ok"), ("TW3", "skipped")]
    assert all(x["run_id"] != document["plan_id"] for x in applied)

    again = run_cli(["apply", str(plan)], env)
    assert again.returncode == 2 and "already applied" in again.stderr
    assert tree(server) == after


@pytest.mark.parametrize("damage,message", [
    (lambda d: "not json at all", "not a valid plan file"),
    (lambda d: json.dumps({k: v for k, v in d.items() if k != "actions"}), "actions"),
    (lambda d: json.dumps({**d, "format": "connector-plan/9"}), "format"),
    (lambda d: json.dumps({**d, "base_dn": "dc=example,dc=org"}), "base DN"),
    (lambda d: json.dumps({**d, "created": "2099-01-01T00:00:00+07:00"}), "records no plan"),
    (lambda d: json.dumps({**d, "plan_id": "20991231T000000-feedbeef"}), "records no plan"),
    (lambda d: json.dumps({**d, "summary": {**d["summary"], "managed_accounts": 10**6}}),
     "records no plan"),
    (lambda d: json.dumps(d, indent=2), "records no plan"),
], ids=["not-json", "no-actions", "format", "foreign-base", "created", "plan-id",
        "managed-accounts", "reformatted"])
def test_a_damaged_or_edited_plan_is_refused_and_changes_nothing(planned, damage, message):
    server, env, plan = planned
    plan.write_text(damage(json.loads(plan.read_text())), encoding="utf-8")
    before = tree(server)
    result = run_cli(["apply", str(plan)], env)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert tree(server) == before


def test_a_plan_older_than_the_limit_is_refused_and_changes_nothing(planned):
    server, env, plan = planned
    before = tree(server)
    result = run_cli(["apply", str(plan)], {**env, "CONNECTOR_PLAN__MAX_AGE_HOURS": "0.000001"})
    assert result.returncode == 2 and "hours old" in result.stderr, result.stderr
    assert tree(server) == before


def test_a_plan_records_its_digest_in_the_audit_trail(planned, tmp_path):
    _, _, plan = planned
    document = json.loads(plan.read_text())
    lines = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    (line,) = [x for x in lines if x["action"] == "plan"]
    assert line["plan_id"] == document["plan_id"] and line["reason"] == str(plan)
    assert line["note"] == hashlib.sha256(plan.read_bytes()).hexdigest()


def test_a_tripped_guard_saves_the_plan_and_apply_approves_exactly_it(slapd, tmp_path):
    env = connector_env(slapd, tmp_path, CONNECTOR_SAFETY__MAX_LOCK_COUNT="1")
    roster = tmp_path / "roster.csv"
    roster.write_text(roster_csv(PEOPLE), encoding="utf-8")
    assert run_cli(["reconcile"], env).returncode == 0
    roster.write_text(roster_csv(PEOPLE[:1]), encoding="utf-8")  # three would be locked
    before = tree(slapd)
    tripped = run_cli(["reconcile"], env)
    assert tripped.returncode == 3 and tree(slapd) == before
    (pending,) = (tmp_path / "state").glob("pending-it-centre-*.json")
    assert f"connector apply {pending} --allow-mass-lock" in tripped.stderr
    assert run_cli(["apply", str(pending)], env).returncode == 3  # the guard still applies
    assert tree(slapd) == before
    approved = run_cli(["apply", str(pending), "--allow-mass-lock", "--json"], env)
    assert approved.returncode == 0, approved.stderr
    locked = sorted(a["employee_id"] for a in json.loads(approved.stdout)["actions"]
                    if a["outcome"] == "ok")
    assert locked == ["TW2", "TW3", "V1"]
    assert all("pwdAccountLockedTime" in tree(slapd)[f"dn: {dn}".lower()]
               for dn in (central("TW2"), central("TW3"), f"uid=V1,{LAYOUT.vendors_dn}"))

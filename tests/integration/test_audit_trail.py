"""The audit trail an auditor can trust (SPEC §12), against a real slapd with the
delegated identities: chained lines shared by two scopes, the head anchored on each
identity's entry, ``audit verify`` finding every kind of tampering, rotation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connector.testing.delegation import install_delegation
from connector.testing.slapd import sample_units
from tests.conftest import connector_env
from tests.helpers import ldap_entry, roster_csv, row, run_cli

pytestmark = pytest.mark.integration


@pytest.fixture
def trail(slapd, tmp_path):
    identities = install_delegation(slapd, sample_units())

    def env(scope: str) -> dict[str, str]:
        identity = identities[scope]
        return connector_env(slapd, tmp_path, CONNECTOR_SCOPE=scope,
                             CONNECTOR_LDAP__BIND_DN=identity.dn,
                             CONNECTOR_LDAP__BIND_PASSWORD=identity.password)
    (tmp_path / "roster.csv").write_text(roster_csv(
        [row("TW1"), row("TW2"), row("B1", unit_type="province", unit_code="BTE"),
         row("B2", unit_type="province", unit_code="BTE")]), encoding="utf-8")
    for scope in ("it-centre", "province:BTE", "it-centre"):
        assert run_cli(["reconcile", "--dry-run"], env(scope)).returncode == 0
    for scope in ("it-centre", "province:BTE"):
        assert run_cli(["reconcile"], env(scope)).returncode == 0
    return slapd, env, identities, tmp_path / "audit.jsonl"


def verify(env: dict[str, str], *paths: Path) -> tuple[int, dict]:
    result = run_cli(["audit", "verify", "--json", *map(str, paths)], env)
    return result.returncode, json.loads(result.stdout) if result.stdout else {}


def lines(audit: Path) -> list[str]:
    return audit.read_text(encoding="utf-8").splitlines()


def test_two_scopes_share_one_unbroken_chain_and_each_anchors_its_head(trail):
    server, env, identities, audit = trail
    records = [json.loads(x) for x in lines(audit)]
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    assert records[0]["prev"] == "0" * 64
    assert {r["scope"] for r in records} == {"it-centre", "province:BTE"}
    for scope in ("it-centre", "province:BTE"):
        code, report = verify(env(scope))
        assert code == 0 and report["ok"] and report["lines"] == len(records), report
        anchors = [v for v in ldap_entry(server, identities[scope].dn).get("description", [])
                   if v.startswith("bhxh-audit-head:")]
        assert len(anchors) == 1 and int(anchors[0].split(":")[1]) == report["anchor_seq"]
    it_lines = [r for r in records if r["scope"] == "it-centre"]
    assert verify(env("it-centre"))[1]["anchor_seq"] == it_lines[-1]["seq"]


def _edit(text: list[str]) -> list[str]:
    text[2] = text[2].replace('"dry_run": true', '"dry_run": false')
    return text


@pytest.mark.parametrize("tamper,problem", [
    (_edit, "edited"),
    (lambda t: t[:3] + t[4:], "removed"),
    (lambda t: [*t[:3], t[5], *t[3:]], "seq 6 follows seq 3"),
    (lambda t: [*t[:3], t[4], t[3], *t[5:]], "seq 5 follows seq 3"),
    (lambda t: t[:-2], "before the head anchored"),
    (lambda t: [], "before the head anchored"),
], ids=["edited", "removed", "inserted", "reordered", "tail-removed", "emptied"])
def test_verify_names_the_first_line_where_the_trail_was_tampered_with(trail, tamper,
                                                                      problem):
    _, env, _, audit = trail
    text = tamper(lines(audit))
    audit.write_text("".join(x + "\n" for x in text), encoding="utf-8")
    code, report = verify(env("province:BTE"))
    assert code == 1 and not report["ok"], report
    assert problem in report["first_break"]["problem"], report


def test_a_rotated_trail_continues_the_chain_and_verifies_as_a_set(trail):
    _, env, _, audit = trail
    old = audit.with_name("audit.jsonl.1")
    audit.rename(old)  # logrotate's move
    roster = audit.with_name("roster.csv")
    roster.write_text(roster.read_text(encoding="utf-8") + "TW3,Lê Văn Ba,,central,TTCNTT,"
                      "user,active,\n", encoding="utf-8")
    assert run_cli(["reconcile"], env("it-centre")).returncode == 0
    before, after = json.loads(lines(old)[-1]), json.loads(lines(audit)[0])
    assert after["seq"] == before["seq"] + 1  # the chain goes on from the anchored head
    assert verify(env("it-centre"), old, audit)[0] == 0
    assert verify(env("it-centre"), audit)[0] == 0  # the new file alone, from its anchor


def test_an_unreadable_trail_is_exit_2(trail, tmp_path):
    _, env, _, _ = trail
    result = run_cli(["audit", "verify", str(tmp_path / "nowhere.jsonl")], env("it-centre"))
    assert result.returncode == 2 and "cannot read the audit trail" in result.stderr

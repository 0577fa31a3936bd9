"""End to end through the real CLI against a real slapd: every SPEC §1 rule."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from connector.core import lockinfo
from connector.testing.slapd import SlapdServer
from tests.conftest import connector_env
from tests.helpers import LAYOUT, ldap_entry, roster_csv, row, run_cli

entry = ldap_entry

pytestmark = pytest.mark.integration

C = LAYOUT.central_dn
V = LAYOUT.vendors_dn


def dn_central(i: str) -> str:
    return f"uid={i},{C}"


def reconcile(server: SlapdServer, tmp_path: Path, rows, *args: str, **env: str):
    (tmp_path / "roster.csv").write_text(roster_csv(rows), encoding="utf-8")
    return run_cli(["reconcile", *args], connector_env(server, tmp_path, **env))


def locked(server: SlapdServer, dn: str) -> tuple[str, str | None] | None:
    """(reason, clause) as an administrator reads them with ldapsearch, or None."""
    values = entry(server, dn)
    if "pwdAccountLockedTime" not in values:
        return None
    (record,) = [lockinfo.parse(v) for v in values.get("description", [])
                 if lockinfo.is_lock_value(v)]
    assert record is not None
    return record.reason, record.clause


def audit(tmp_path: Path) -> list[dict]:
    path = tmp_path / "audit.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.container
def test_initial_run_creates_accounts_and_second_run_changes_nothing(slapd, tmp_path):
    rows = [row("TW1", "Nguyễn Văn An", email="an@vss.gov.vn", field="CNTT"),
            row("NCC1", "Đặng Quốc Bảo", unit_type="vendor", unit_code="VNPT"),
            row("BTEA", "Nguyễn Thị Như", unit_type="province", unit_code="BTE", role="admin")]
    first = reconcile(slapd, tmp_path, rows)
    assert first.returncode == 0, first.stderr
    values = entry(slapd, dn_central("TW1"))
    assert values["cn"] == ["Nguyễn Văn An"] and values["displayName"] == ["Nguyễn Văn An"]
    assert values["sn"] == ["Nguyễn"] and values["givenName"] == ["An"]
    assert values["employeeNumber"] == ["TW1"] and values["employeeType"] == ["central"]
    assert values["departmentNumber"] == ["TTCNTT"] and values["businessCategory"] == ["CNTT"]
    assert values["mail"] == ["an@vss.gov.vn"]
    assert entry(slapd, f"uid=NCC1,{V}")["employeeType"] == ["vendor"]
    group = entry(slapd, LAYOUT.province_group_dn("BTE"))
    assert f"uid=BTEA,{LAYOUT.admins_dn('BTE')}" in group["member"]
    second = reconcile(slapd, tmp_path, rows, "--json")
    assert second.returncode == 0
    data = json.loads(second.stdout)
    assert data["actions"] == [] and data["summary"]["planned"]["create"] == 0


@pytest.mark.parametrize(
    "status,unit_type,unit_code,clause",
    [("maternity_leave", "central", "TTCNTT", "6.2.1"),
     ("sick_leave", "central", "TTCNTT", "6.2.1"),
     ("unpaid_leave", "central", "TTCNTT", "6.2.1"),
     ("terminated", "central", "TTCNTT", "6.2.1"),
     ("transferred", "central", "TTCNTT", "6.2.2"),
     ("violation", "central", "TTCNTT", "6.2.3"),
     ("maternity_leave", "vendor", "VNPT", "6.2.4"),
     ("terminated", "vendor", "VNPT", "6.2.4")],
)
@pytest.mark.container
def test_status_locks_with_its_clause_and_the_bind_really_fails(
        slapd, tmp_path, status, unit_type, unit_code, clause):
    dn = f"uid=P1,{C if unit_type == 'central' else V}"
    assert reconcile(slapd, tmp_path, [row("P1", unit_type=unit_type,
                                           unit_code=unit_code)]).returncode == 0
    password = secrets.token_urlsafe(12)
    slapd.set_password(dn, password)
    assert slapd.can_bind(dn, password)
    result = reconcile(slapd, tmp_path, [row("P1", unit_type=unit_type, unit_code=unit_code,
                                             status=status)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert locked(slapd, dn) == (status, clause)
    assert not slapd.can_bind(dn, password)
    line = [x for x in audit(tmp_path) if x["action"] == "lock"][-1]
    assert (line["employee_id"], line["reason"], line["clause"], line["outcome"]) == (
        "P1", status, clause, "ok")


@pytest.mark.container
def test_return_from_leave_unlocks_and_the_bind_works_again(slapd, tmp_path):
    reconcile(slapd, tmp_path, [row("P1")])
    slapd.set_password(dn_central("P1"), "pw-P1-return")
    reconcile(slapd, tmp_path, [row("P1", status="maternity_leave")])
    assert not slapd.can_bind(dn_central("P1"), "pw-P1-return")
    result = reconcile(slapd, tmp_path, [row("P1")])
    assert result.returncode == 0
    assert locked(slapd, dn_central("P1")) is None
    assert not any(lockinfo.is_lock_value(v)
                   for v in entry(slapd, dn_central("P1")).get("description", []))
    assert slapd.can_bind(dn_central("P1"), "pw-P1-return")
    assert [x["reason"] for x in audit(tmp_path) if x["action"] == "unlock"] == ["returned"]


@pytest.mark.parametrize("status,clause", [("violation", "6.2.3"), ("transferred", "6.2.2")])
def test_sticky_locks_survive_a_return_to_active_even_without_local_state(
        slapd, tmp_path, status, clause):
    reconcile(slapd, tmp_path, [row("P1")])
    reconcile(slapd, tmp_path, [row("P1", status=status)])
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    result = reconcile(slapd, fresh, [row("P1")], "--json")
    assert json.loads(result.stdout)["held"][0]["clause"] == clause
    assert locked(slapd, dn_central("P1")) == (status, clause)


def test_change_of_field_locks_as_transfer(slapd, tmp_path):
    reconcile(slapd, tmp_path, [row("P1", field="Thu")])
    reconcile(slapd, tmp_path, [row("P1", field="Sổ thẻ")])
    assert locked(slapd, dn_central("P1")) == ("transferred", "6.2.2")
    assert entry(slapd, dn_central("P1"))["businessCategory"] == ["Sổ thẻ"]


def test_orphan_in_a_managed_ou_is_locked_not_deleted(slapd, tmp_path):
    reconcile(slapd, tmp_path, [row("P1"), row("P2")])
    result = reconcile(slapd, tmp_path, [row("P1")])
    assert result.returncode == 0
    assert locked(slapd, dn_central("P2")) == ("not_on_roster", "9.2")
    reconcile(slapd, tmp_path, [row("P1"), row("P2")])
    assert locked(slapd, dn_central("P2")) is None


def test_orphan_created_by_hand_is_locked_and_keeps_its_own_description(slapd, tmp_path):
    slapd.ldapadd([(dn_central("HAND"), {"objectClass": ["inetOrgPerson"], "uid": ["HAND"],
                                         "cn": ["Hand Made"], "sn": ["Made"],
                                         "description": ["Tài khoản tạm"]})])
    reconcile(slapd, tmp_path, [row("P1")])
    assert locked(slapd, dn_central("HAND")) == ("not_on_roster", "9.2")
    assert "Tài khoản tạm" in entry(slapd, dn_central("HAND"))["description"]
    reconcile(slapd, tmp_path, [row("P1"), row("HAND", "Hand Made")])
    assert entry(slapd, dn_central("HAND"))["description"] == ["Tài khoản tạm"]


def test_dry_run_prints_every_action_and_writes_nothing(slapd, tmp_path):
    reconcile(slapd, tmp_path, [row("P1"), row("P2")])
    before = slapd.search(LAYOUT.base_dn)
    result = reconcile(slapd, tmp_path, [row("P1", status="terminated"), row("P3")], "--dry-run")
    assert result.returncode == 0
    assert slapd.search(LAYOUT.base_dn) == before
    for needle in ("lock", "P1", "terminated", "6.2.1", "P2", "not_on_roster", "9.2",
                   "create", "P3", "DRY RUN"):
        assert needle in result.stdout
    assert all(x["dry_run"] for x in audit(tmp_path)[-3:])


def test_safety_guard_aborts_with_exit_3_and_changes_nothing(slapd, tmp_path):
    rows = [row(f"P{i}") for i in range(25)]
    reconcile(slapd, tmp_path, rows)
    before = slapd.search(LAYOUT.base_dn)
    result = reconcile(slapd, tmp_path, rows[:20])
    assert result.returncode == 3
    assert "MAX_LOCK_RATIO" in result.stdout and "--allow-mass-lock" in result.stdout
    assert slapd.search(LAYOUT.base_dn) == before
    forced = reconcile(slapd, tmp_path, rows[:20], "--allow-mass-lock")
    assert forced.returncode == 0
    assert locked(slapd, dn_central("P24")) == ("not_on_roster", "9.2")


def test_guard_count_limit_comes_from_the_environment(slapd, tmp_path):
    reconcile(slapd, tmp_path, [row("P1"), row("P2")])
    result = reconcile(slapd, tmp_path, [row("P1", status="terminated"),
                                         row("P2", status="terminated")],
                       CONNECTOR_SAFETY__MAX_LOCK_COUNT="1")
    assert result.returncode == 3 and "MAX_LOCK_COUNT=1" in result.stdout


def test_empty_roster_exits_3_and_unreadable_roster_exits_2(slapd, tmp_path):
    reconcile(slapd, tmp_path, [row("P1")])
    before = slapd.search(LAYOUT.base_dn)
    assert reconcile(slapd, tmp_path, []).returncode == 3
    (tmp_path / "bad.csv").write_bytes(b"\xff\xfe\x00garbage")
    bad = run_cli(["reconcile", "--roster", str(tmp_path / "bad.csv")],
                  connector_env(slapd, tmp_path))
    assert bad.returncode == 2 and "not UTF-8" in bad.stderr and "Traceback" not in bad.stderr
    missing = run_cli(["reconcile", "--roster", str(tmp_path / "none.csv")],
                      connector_env(slapd, tmp_path))
    assert missing.returncode == 2 and "not found" in missing.stderr
    assert slapd.search(LAYOUT.base_dn) == before


def test_rejected_rows_leave_their_accounts_exactly_as_they_are(slapd, tmp_path):
    reconcile(slapd, tmp_path, [row("P1"), row("P2"), row("P3")])
    before = slapd.search(LAYOUT.central_dn)
    result = reconcile(slapd, tmp_path, [row("P1", status="terminatd"), row("P2"), row("P2"),
                                         row("P3", "Lê Văn Ba", unit_type="nowhere")], "--json")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert {(r["employee_id"], r["line"]) for r in data["rejected"]} == {
        ("P1", 2), ("P2", 3), ("P2", 4), ("P3", 5)}
    assert data["actions"] == []
    assert slapd.search(LAYOUT.central_dn) == before


@pytest.mark.container
def test_names_with_ldap_special_characters_and_diacritics_round_trip(slapd, tmp_path):
    names = {"S1": 'Lê, Văn "Tám" + Bảy', "S2": "Trần \\ <Thị> ; = Ánh", "S3": "#Đỗ Hữu Phước*",
             "S4": "Nguyễn  Thị   Ngọc Ánh"}
    rows = [row(i, f"  {n} ") for i, n in names.items()]
    assert reconcile(slapd, tmp_path, rows).returncode == 0
    for employee_id, name in names.items():
        values = entry(slapd, dn_central(employee_id))
        assert values["cn"] == [name] and values["displayName"] == [name]
    assert reconcile(slapd, tmp_path, rows, "--json").stdout.count('"action"') == 0


def test_decomposed_unicode_in_the_roster_does_not_look_like_a_change(slapd, tmp_path):
    import unicodedata

    reconcile(slapd, tmp_path, [row("P1", "Nguyễn Thị Ánh")])
    nfd = unicodedata.normalize("NFD", "Nguyễn Thị Ánh")
    result = reconcile(slapd, tmp_path, [row("P1", nfd)], "--json")
    assert json.loads(result.stdout)["actions"] == []


def test_json_output_is_one_document_with_summary_actions_and_rejected(slapd, tmp_path):
    result = reconcile(slapd, tmp_path, [row("P1"), row("P2", status="x")], "--json")
    data = json.loads(result.stdout)
    assert set(data) >= {"summary", "actions", "rejected"}
    assert data["actions"][0]["employee_id"] == "P1" and data["actions"][0]["outcome"] == "ok"
    assert data["summary"]["rejected_rows"] == 1 and result.returncode == 1


def test_unreachable_directory_exits_4_with_one_line(tmp_path):
    (tmp_path / "roster.csv").write_text(roster_csv([row("P1")]))
    env = {"CONNECTOR_LDAP__URL": "ldap://127.0.0.1:1", "CONNECTOR_LDAP__BIND_DN": "cn=x",
           "CONNECTOR_LDAP__BIND_PASSWORD": "pw", "CONNECTOR_ROSTER__PATH":
           str(tmp_path / "roster.csv"), "CONNECTOR_STATE__DIR": str(tmp_path / "s")}
    result = run_cli(["reconcile"], env)
    assert result.returncode == 4
    assert "unreachable" in result.stderr and "Traceback" not in result.stderr


def test_failover_uses_the_first_url_that_answers(slapd, tmp_path):
    result = reconcile(slapd, tmp_path, [row("P1")],
                       CONNECTOR_LDAP__URL=f"ldap://127.0.0.1:1/,{slapd.url}/")
    assert result.returncode == 0, result.stderr
    assert locked(slapd, dn_central("P1")) is None


def test_wrong_password_is_a_configuration_error_that_never_echoes_it(slapd, tmp_path):
    result = reconcile(slapd, tmp_path, [row("P1")],
                       CONNECTOR_LDAP__BIND_PASSWORD="Wrong-Secret-123")
    assert result.returncode == 2 and "invalid credentials" in result.stderr
    assert "Wrong-Secret-123" not in result.stdout + result.stderr


@pytest.mark.container
def test_no_secret_in_stdout_stderr_or_audit(slapd, tmp_path):
    rows = [row("P1"), row("P2", status="terminated")]
    outputs = [reconcile(slapd, tmp_path, rows, "--dry-run"),
               reconcile(slapd, tmp_path, rows),
               run_cli(["-v", "reconcile", "--json"], connector_env(slapd, tmp_path)),
               run_cli(["lock", "P1", "--reason", "violation"], connector_env(slapd, tmp_path))]
    text = "".join(o.stdout + o.stderr for o in outputs)
    text += (tmp_path / "audit.jsonl").read_text()
    assert slapd.root_password not in text
    assert len(audit(tmp_path)) >= 2


def test_ldapi_without_a_bind_dn_uses_sasl_external(slapd, tmp_path):
    (tmp_path / "roster.csv").write_text(roster_csv([row("E1")]))
    env = {"CONNECTOR_LDAP__URL": slapd.ldapi_url, "CONNECTOR_ROSTER__PATH":
           str(tmp_path / "roster.csv"), "CONNECTOR_AUDIT__PATH": str(tmp_path / "audit.jsonl"),
           "CONNECTOR_STATE__DIR": str(tmp_path / "state")}
    result = run_cli(["reconcile"], env)
    assert result.returncode == 0, result.stderr
    assert locked(slapd, dn_central("E1")) is None
    assert audit(tmp_path)[0]["actor"] == slapd.external_dn


def test_a_tree_without_ou_people_under_central_and_vendors_is_used_as_it_is(tmp_path):
    """Directories built by hand may keep staff straight under ou=central / ou=vendors."""
    with SlapdServer() as server:
        base = LAYOUT.base_dn
        server.ldapadd([(f"ou={name},{base}", {"objectClass": ["organizationalUnit"],
                                                "ou": [name]})
                        for name in ("central", "vendors", "provinces")])
        server.ldapadd([(f"uid=OLD,ou=central,{base}", {"objectClass": ["inetOrgPerson"],
                                                         "uid": ["OLD"], "cn": ["Cũ"],
                                                         "sn": ["Cũ"]})])
        result = reconcile(server, tmp_path, [row("NEW", "Lê Mới"),
                                              row("V1", unit_type="vendor", unit_code="VNPT")])
        assert result.returncode == 0, result.stdout + result.stderr
        assert entry(server, f"uid=NEW,ou=central,{base}")["cn"] == ["Lê Mới"]
        assert entry(server, f"uid=V1,ou=vendors,{base}")["employeeType"] == ["vendor"]
        assert locked(server, f"uid=OLD,ou=central,{base}") == ("not_on_roster", "9.2")
        again = reconcile(server, tmp_path, [row("NEW", "Lê Mới"),
                                             row("V1", unit_type="vendor", unit_code="VNPT")],
                          "--json")
        assert json.loads(again.stdout)["actions"] == []


def test_a_one_shot_run_leaves_its_log_file_audit_and_json_whole(slapd, tmp_path):
    """The process exits without tearing its heap down: everything it wrote must be on
    disk and on stdout first (the log file's queue drained, the audit closed)."""
    log = tmp_path / "connector.log"
    result = reconcile(slapd, tmp_path, [row("TW1"), row("TW2")], "--json",
                       CONNECTOR_LOG__FILE=str(log), CONNECTOR_LOG__JSON="true")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [a["outcome"] for a in report["actions"]] == ["ok", "ok"]
    lines = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines()]
    assert "finished" in lines[-1]["message"] and report["run_id"] in lines[-1]["message"]
    assert sorted(a["employee_id"] for a in audit(tmp_path)) == ["TW1", "TW2"]  # in parallel

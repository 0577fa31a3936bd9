"""Issue 25, the mistakes that used to pass as success, each against a real slapd
bound as the delegated identities: a scope that names no province, a wrong base DN,
missing managed OUs, a check that did not look at the roster, a TOML typo reported
as an environment variable, a sealed CSV whose last field carried a CR."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pyrage
import pytest
from pyrage import x25519

from connector.testing.delegation import install_delegation
from connector.testing.slapd import sample_units
from tests.conftest import connector_env
from tests.helpers import roster_csv, row, run_cli, tree

pytestmark = pytest.mark.integration


@pytest.fixture
def office(slapd, tmp_path):
    identities = install_delegation(slapd, sample_units())
    (tmp_path / "roster.csv").write_text(roster_csv(
        [row("BTE0001", unit_type="province", unit_code="BTE"), row("TW1")]), encoding="utf-8")

    def env(scope: str = "province:BTE", **extra: str) -> dict[str, str]:
        identity = identities.get(scope, identities["province:BTE"])
        return connector_env(slapd, tmp_path, CONNECTOR_SCOPE=scope,
                             CONNECTOR_LDAP__BIND_DN=identity.dn,
                             CONNECTOR_LDAP__BIND_PASSWORD=identity.password, **extra)
    return slapd, env, tmp_path


@pytest.mark.parametrize("command", [["reconcile"], ["daemon"], ["check"]])
def test_a_scope_that_names_no_province_is_exit_2_with_the_reason(office, command):
    """Before: `--scope province:BTR` (for BTE) said "nothing to do", exit 0, forever."""
    server, env, _ = office
    before = tree(server)
    result = run_cli(command, env("province:BTR"), timeout=30)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "scope province:BTR names no province" in result.stderr
    assert tree(server) == before


def test_a_scope_missing_from_the_units_file_is_exit_2(office, tmp_path):
    _, env, _ = office
    units = tmp_path / "units.toml"
    units.write_text('[[province]]\ncode = "HCM"\nname = "TP. Hồ Chí Minh"\n', encoding="utf-8")
    result = run_cli(["reconcile"], env(CONNECTOR_UNITS__PATH=str(units)))
    assert result.returncode == 2 and "no BTE in the units file" in result.stderr


def test_a_wrong_base_dn_stops_before_planning_instead_of_re_issuing_everyone(office):
    """Before: 66 creates planned, 66 adds sent and refused (no global superior)."""
    server, env, _ = office
    before = tree(server)
    result = run_cli(["reconcile", "--json"], env("it-centre",
                                                  CONNECTOR_LDAP__BASE_DN="dc=vss,dc=gov,dc=vn"))
    assert result.returncode == 2
    assert "the base DN dc=vss,dc=gov,dc=vn does not exist" in result.stderr
    assert "CONNECTOR_LDAP__BASE_DN" in result.stderr
    assert tree(server) == before


def test_a_malformed_base_dn_fails_at_settings_validation(office):
    _, env, _ = office
    result = run_cli(["reconcile"], env(CONNECTOR_LDAP__BASE_DN="dc=bhxh dc=vn"))
    assert result.returncode == 2 and "is not a DN" in result.stderr


def test_missing_managed_ous_stop_the_run_and_name_bootstrap(office):
    server, env, _ = office
    server.modify_as_root("dn: ou=people,ou=BTE,ou=provinces,dc=bhxh,dc=gov,dc=vn\n"
                          "changetype: delete\n")
    result = run_cli(["reconcile"], env())
    assert result.returncode == 2 and "connector bootstrap" in result.stderr


def test_check_reports_the_roster_and_what_it_sampled(office, tmp_path):
    """Before: check passed with a missing roster and probed 3 of 6 groups silently."""
    _, env, _ = office
    good = run_cli(["check"], env("it-centre"))
    assert good.returncode == 0, good.stdout + good.stderr
    assert "roster: [ok]" in good.stdout and "2 rows" in good.stdout
    assert "province groups: 3 of" in good.stdout
    (tmp_path / "roster.csv").unlink()
    missing = run_cli(["check"], env("it-centre"))
    assert missing.returncode != 0 and "roster: [WRONG]" in missing.stdout


def test_a_typo_in_the_settings_file_names_the_file_the_table_and_the_closest_key(office,
                                                                                   tmp_path):
    _, env, _ = office
    config = tmp_path / "connector.toml"
    config.write_text('[ldap]\nbind_pasword_file = "/run/secret"\n', encoding="utf-8")
    result = run_cli(["--config", str(config), "check"], env())
    assert result.returncode == 2
    assert (f"configuration file {config}: [ldap] key 'bind_pasword_file' is not a setting; "
            "did you mean 'bind_password_file'?") in result.stderr
    assert "Extra inputs" not in result.stderr


def test_both_forms_of_the_bind_password_are_refused(office, tmp_path):
    _, env, _ = office
    (tmp_path / "secret").write_text("x\n", encoding="utf-8")
    result = run_cli(["check"], env(CONNECTOR_LDAP__BIND_PASSWORD_FILE=str(tmp_path / "secret")))
    assert result.returncode == 2 and "not both" in result.stderr


def test_the_sealed_csv_s_last_line_gives_a_password_that_binds(slapd, tmp_path):
    """Before: CRLF endings, so `tail -1 | awk -F,` kept a CR and the bind failed."""
    officer = x25519.Identity.generate()
    units = tmp_path / "units.toml"
    source = (Path(__file__).resolve().parents[2] / "config" / "units.toml").read_text("utf-8")
    units.write_text(source.replace('code = "TTCNTT"', f'code = "TTCNTT"\nrecipient = '
                                    f'"{officer.to_public()}"'), encoding="utf-8")
    (tmp_path / "roster.csv").write_text(roster_csv([row("TW1")]), encoding="utf-8")
    env = connector_env(slapd, tmp_path, CONNECTOR_UNITS__PATH=str(units),
                        CONNECTOR_CREDENTIALS__ISSUE="true",
                        CONNECTOR_CREDENTIALS__DIR=str(tmp_path / "sealed"))
    assert run_cli(["reconcile"], env).returncode == 0
    (sealed,) = (tmp_path / "sealed").glob("*.csv.age")
    plain = pyrage.decrypt(sealed.read_bytes(), [officer])
    assert b"\r" not in plain
    last = subprocess.run("tail -1 | awk -F, '{print $NF}'", shell=True, input=plain,
                          capture_output=True, check=True).stdout.decode().rstrip("\n")
    bound = subprocess.run(["ldapwhoami", "-x", "-H", slapd.url, "-D",
                            "uid=TW1,ou=people,ou=central,dc=bhxh,dc=gov,dc=vn", "-w", last],
                           capture_output=True, text=True, check=False)
    assert bound.returncode == 0, bound.stderr


def test_the_it_centre_rejects_a_new_hire_with_a_mistyped_province_code(office, tmp_path):
    """Before: BTE0072 with unit_code BTT was out_of_scope for every run; no account,
    no report. Now the IT Centre's run rejects it (exit 1), and Bến Tre's is not failed."""
    server, env, _ = office
    (tmp_path / "roster.csv").write_text(roster_csv(
        [row("BTE0001", unit_type="province", unit_code="BTE"), row("TW1"),
         row("BTE0072", unit_type="province", unit_code="BTT")]), encoding="utf-8")
    before = tree(server)
    result = run_cli(["reconcile", "--dry-run", "--json"], env("it-centre"))
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert [(r["employee_id"], r["reason"]) for r in report["rejected"]] == [
        ("BTE0072", "unit_code 'BTT' is not a known unit")]
    assert "BTE0072" not in [o["employee_id"] for o in report["out_of_scope"]]
    province = run_cli(["reconcile", "--dry-run", "--json"], env("province:BTE"))
    assert province.returncode == 0, province.stderr
    assert json.loads(province.stdout)["rejected"] == []
    people = {dn: entry for dn, entry in tree(server).items() if "ou=system" not in dn}
    assert people == {dn: entry for dn, entry in before.items() if "ou=system" not in dn}


@pytest.mark.parametrize(("zone", "offset"), [("Asia/Ho_Chi_Minh", "+07:00"),
                                              ("Europe/Paris", ("+01:00", "+02:00"))])
def test_times_a_person_reads_are_in_the_schedule_time_zone(office, tmp_path, zone, offset):
    """Issue 25 #12. Before: reports, plan files and audit `ts` were in the machine's
    zone (UTC here) while the daemon's log and the README showed +07:00."""
    _, env, _ = office
    plan, report = tmp_path / "plan.json", tmp_path / "report.html"
    result = run_cli(["reconcile", "--dry-run", "--plan-out", str(plan), "--report",
                      str(report)], {**env("it-centre", CONNECTOR_SCHEDULE__TIMEZONE=zone),
                                     "TZ": "UTC"})
    assert result.returncode == 0, result.stderr
    offsets = offset if isinstance(offset, tuple) else (offset,)
    assert json.loads(plan.read_text())["created"].endswith(offsets)
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert audit and all(line["ts"].endswith(offsets) for line in audit)
    assert any(o in report.read_text(encoding="utf-8") for o in offsets)


@pytest.mark.parametrize("args", [["status", "--scope", "province:BTE"],
                                  ["--scope", "province:BTE", "status"],
                                  ["daemon", "--scope", "province:BTE", "--help"]])
def test_scope_is_accepted_after_the_command_and_before_it(tmp_path, args):
    """Issue 25 #16: `status` and `daemon` took no --scope; now every command that acts
    for a scope takes it, after the command or before it."""
    result = run_cli(args, {"CONNECTOR_STATE__DIR": str(tmp_path)})
    assert result.returncode in (0, 1), result.stderr
    if "--help" not in args:
        assert "no status yet for scope province:BTE" in result.stdout


def test_apply_logs_its_run_id_and_its_real_duration(office, tmp_path):
    """Issue 25 #14. Before: run_id `-` in the log lines and `in 0.00s` for a 0.53 s run."""
    _, env, _ = office
    plan = tmp_path / "plan.json"
    assert run_cli(["reconcile", "--dry-run", "--plan-out", str(plan)],
                   env("it-centre")).returncode == 0
    result = run_cli(["apply", str(plan)], env("it-centre"))
    assert result.returncode == 0, result.stderr
    run_id = result.stdout.split()[1]
    assert f"INFO    {run_id} plan " in result.stderr and " INFO    - " not in result.stderr
    assert f"apply of plan {json.loads(plan.read_text())['plan_id']} ({plan})" in result.stdout
    assert "in 0.00s" not in result.stdout and "--dry-run" not in result.stdout


def test_show_prints_a_plan_file_as_the_dry_run_table_for_the_reviewer(office, tmp_path):
    """Issue 25 #15: `connector show PLAN` (and --report), so that nobody reads JSON."""
    server, env, _ = office
    plan, report = tmp_path / "plan.json", tmp_path / "plan.html"
    dry = run_cli(["reconcile", "--dry-run", "--plan-out", str(plan)], env("it-centre"))
    assert dry.returncode == 0, dry.stderr
    before = tree(server)
    shown = run_cli(["show", str(plan), "--report", str(report)], {
        k: v for k, v in env("it-centre").items() if "BIND" not in k})  # binds nowhere
    assert shown.returncode == 0, shown.stderr
    plan_id = json.loads(plan.read_text())["plan_id"]
    assert f"Plan {plan_id} · scope it-centre" in shown.stdout
    assert "create     TW1" in shown.stdout or "create  TW1" in shown.stdout
    assert "Plan: create 1" in shown.stdout and "would take it now" in shown.stdout
    assert str(tmp_path / "roster.csv") in shown.stdout
    assert "TW1" in report.read_text(encoding="utf-8")
    assert tree(server) == before
    assert run_cli(["apply", str(plan)], env("it-centre")).returncode == 0
    again = run_cli(["show", str(plan)], env("it-centre"))
    assert "`connector apply` would refuse it: plan " in again.stdout
    assert "was already applied" in again.stdout


def test_a_not_on_roster_lock_in_the_report_names_the_person_from_the_directory(office,
                                                                              tmp_path):
    """Issue 25 #13. Before: the row of a person no longer on the roster had an empty
    name and unit, and its chart bar was `?`."""
    _, env, _ = office
    assert run_cli(["reconcile"], env("it-centre")).returncode == 0
    (tmp_path / "roster.csv").write_text(roster_csv(
        [row("BTE0001", unit_type="province", unit_code="BTE")]), encoding="utf-8")
    report = tmp_path / "r.html"
    result = run_cli(["reconcile", "--dry-run", "--report", str(report)], env("it-centre"))
    assert result.returncode == 0, result.stderr
    html = report.read_text(encoding="utf-8")
    table = html.split('id="actions"', 1)[1].split("</table>", 1)[0]
    assert "<td>TW1</td><td>Nguyễn Văn An</td><td>đơn vị trung ương TTCNTT</td><td>khóa</td>" \
        "<td>không còn trong danh sách</td><td>9.2</td>" in table
    assert ">?<" not in html.split('id="chart"', 1)[1].split("</svg>", 1)[0]

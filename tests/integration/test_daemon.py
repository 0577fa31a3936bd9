"""The daemon as a real process against a real slapd: schedule, stop, run lock, recovery."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from connector.testing.slapd import SlapdServer, free_port
from tests.conftest import connector_env
from tests.helpers import LAYOUT, roster_csv, row, run_cli

pytestmark = pytest.mark.integration
STOP_BOUND_SECONDS = 10  # the bound the README states for a clean stop


def start_daemon(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    full.update(env)
    with log.open("ab") as handle:
        return subprocess.Popen([sys.executable, "-m", "connector", "daemon"], env=full,
                                stdout=handle, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)


def wait_for(predicate, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def audit_lines(tmp_path: Path) -> list[dict]:
    """The audit lines written so far. Read while the daemon writes: a read may see the
    last line half copied, so only lines ended by a newline count (as a log shipper
    tailing the file does)."""
    path = tmp_path / "audit.jsonl"
    if not path.exists():
        return []
    text = path.read_text()
    return [json.loads(x) for x in text[:text.rfind("\n") + 1].splitlines() if x.strip()]


def stop(process: subprocess.Popen[bytes]) -> tuple[int, float]:
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=STOP_BOUND_SECONDS + 5)
    return code, time.monotonic() - started


@pytest.fixture
def daemon_env(slapd: SlapdServer, tmp_path: Path) -> dict[str, str]:
    (tmp_path / "roster.csv").write_text(roster_csv([row("D1")]), encoding="utf-8")
    return connector_env(slapd, tmp_path, CONNECTOR_SCHEDULE__INTERVAL_SECONDS="1")


@pytest.mark.container
def test_daemon_picks_up_roster_changes_and_stops_cleanly_on_sigterm(slapd, tmp_path,
                                                                      daemon_env):
    process = start_daemon(daemon_env, tmp_path / "daemon.log")
    try:
        wait_for(lambda: any(x["employee_id"] == "D1" for x in audit_lines(tmp_path)),
                 what="the first run to create D1")
        (tmp_path / "roster.csv").write_text(
            roster_csv([row("D1", status="terminated"), row("D2")]), encoding="utf-8")
        wait_for(lambda: {("lock", "D1"), ("create", "D2")} <= {
            (x["action"], x["employee_id"]) for x in audit_lines(tmp_path)},
            what="the next runs to pick up the change")
    finally:
        code, seconds = stop(process)
    assert code == 0, (tmp_path / "daemon.log").read_text()
    assert seconds < STOP_BOUND_SECONDS
    assert "stopped cleanly" in (tmp_path / "daemon.log").read_text()
    lines = audit_lines(tmp_path)  # every line parses: the log is consistent
    assert all(x["outcome"] == "ok" for x in lines)
    status = run_cli(["status", "--json"], daemon_env)
    data = json.loads(status.stdout)
    assert data["last_outcome"] == "ok" and data["last_exit_code"] == 0
    assert data["scope"] == "it-centre" and data["last_success"]


@pytest.mark.container
def test_daemon_survives_a_directory_outage_and_recovers(slapd, tmp_path, daemon_env):
    process = start_daemon(daemon_env, tmp_path / "daemon.log")
    try:
        wait_for(lambda: any(x["employee_id"] == "D1" for x in audit_lines(tmp_path)),
                 what="the first run")
        slapd.pause()
        wait_for(lambda: "unreachable" in (tmp_path / "daemon.log").read_text(),
                 what="the failed run to be logged")
        assert process.poll() is None, "the daemon died with the directory"
        (tmp_path / "roster.csv").write_text(roster_csv([row("D1"), row("D3")]),
                                             encoding="utf-8")
        slapd.resume()
        wait_for(lambda: any(x["employee_id"] == "D3" for x in audit_lines(tmp_path)),
                 what="the run after the outage")
    finally:
        code, _ = stop(process)
    assert code == 0


def test_bad_roster_and_tripped_guard_are_logged_and_the_daemon_keeps_going(slapd, tmp_path,
                                                                             daemon_env):
    (tmp_path / "roster.csv").write_bytes(b"\xff\xfe not utf-8")
    process = start_daemon(daemon_env, tmp_path / "daemon.log")
    try:
        wait_for(lambda: "not UTF-8" in (tmp_path / "daemon.log").read_text(),
                 what="the bad roster to be reported")
        (tmp_path / "roster.csv").write_text(roster_csv([row("D1")]), encoding="utf-8")
        wait_for(lambda: any(x["employee_id"] == "D1" for x in audit_lines(tmp_path)),
                 what="recovery once the roster is fixed")
        assert process.poll() is None
    finally:
        code, _ = stop(process)
    assert code == 0


def test_second_reconcile_during_a_run_waits_or_exits_5_with_no_wait(slapd, tmp_path,
                                                                      daemon_env):
    from connector.service.runlock import run_lock
    from connector.settings import load_settings

    (tmp_path / "roster.csv").write_text(roster_csv([row("D1")]), encoding="utf-8")
    settings = load_settings(None, state={"dir": str(tmp_path / "state")})
    held = run_lock(settings, wait=False)
    held.__enter__()
    try:
        refused = run_cli(["reconcile", "--no-wait"], daemon_env)
        assert refused.returncode == 5 and "in progress" in refused.stderr
        waiting = subprocess.Popen([sys.executable, "-m", "connector", "reconcile"],
                                   env={**{k: v for k, v in os.environ.items()
                                           if not k.startswith("CONNECTOR_")}, **daemon_env},
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   stdin=subprocess.DEVNULL)
        time.sleep(1.5)
        assert waiting.poll() is None, "reconcile should wait for the lock"
    finally:
        held.__exit__(None, None, None)
    waiting.communicate(timeout=30)
    assert waiting.returncode == 0
    assert any(x["employee_id"] == "D1" for x in audit_lines(tmp_path))


def test_lock_of_a_killed_process_is_released(slapd, tmp_path, daemon_env):
    process = start_daemon(daemon_env, tmp_path / "daemon.log")
    wait_for(lambda: any(x["employee_id"] == "D1" for x in audit_lines(tmp_path)),
             what="the first run")
    process.kill()
    process.wait()
    assert run_cli(["reconcile", "--no-wait"], daemon_env).returncode == 0


@pytest.mark.container
def test_metrics_endpoint_serves_runs_actions_and_last_success(slapd, tmp_path, daemon_env):
    port = free_port()
    env = {**daemon_env, "CONNECTOR_METRICS__PORT": str(port)}
    process = start_daemon(env, tmp_path / "daemon.log")
    try:
        wait_for(lambda: any(x["employee_id"] == "D1" for x in audit_lines(tmp_path)),
                 what="the first run")

        def scraped() -> str:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    return r.read().decode()
            except OSError:
                return ""

        wait_for(lambda: 'connector_runs_total{outcome="ok",scope="it-centre"}' in scraped(),
                 what="metrics of a finished run")
        text = scraped()
        assert 'connector_actions_total{action="create",clause="",outcome="ok",scope="it-centre"}' \
            in text
        assert "connector_last_success_timestamp_seconds" in text
        assert "connector_run_duration_seconds_bucket" in text
    finally:
        code, _ = stop(process)
    assert code == 0


def test_json_logs_carry_the_run_id_and_never_the_password(slapd, tmp_path, daemon_env):
    env = {**daemon_env, "CONNECTOR_LOG__JSON": "true", "CONNECTOR_LOG__FILE":
           str(tmp_path / "connector.log")}
    process = start_daemon(env, tmp_path / "daemon.log")
    try:
        wait_for(lambda: any(x["employee_id"] == "D1" for x in audit_lines(tmp_path)),
                 what="the first run")
    finally:
        stop(process)
    records = [json.loads(x) for x in (tmp_path / "daemon.log").read_text().splitlines()
               if x.startswith("{")]
    run_ids = {r["run_id"] for r in records if "roster" in r["message"]}
    assert run_ids and "-" not in run_ids
    # one flat object per line, the shape log shippers index
    assert all({"ts", "level", "message", "run_id", "scope", "logger"} <= set(r) and
               not any(isinstance(v, dict) for v in r.values()) for r in records)
    assert {r["scope"] for r in records} == {"it-centre"}
    everything = (tmp_path / "daemon.log").read_text() + (tmp_path / "connector.log").read_text()
    assert slapd.root_password not in everything
    assert "snapshot" in (tmp_path / "connector.log").read_text()  # the file sink got the run


def test_a_slapd_killed_in_the_middle_of_a_daemon_run_is_survived_and_converged(
        slapd, tmp_path, daemon_env):
    """SIGKILL of slapd while the daemon applies 3,000 creates: that run is cut off
    (exit 4, logged as transient), the daemon keeps ticking, and after the restart the
    next tick creates the rest, each account exactly once."""
    people = 3000
    (tmp_path / "roster.csv").write_text(roster_csv([row(f"K{i:05d}") for i in range(people)]),
                                         encoding="utf-8")
    env = dict(daemon_env, CONNECTOR_SAFETY__MAX_LOCK_COUNT="100000")
    process = start_daemon(env, tmp_path / "daemon.log")
    try:
        wait_for(lambda: len(audit_lines(tmp_path)) >= 300, what="the run to be applying")
        assert slapd.process is not None
        slapd.process.kill()
        slapd.process.wait()
        slapd.process = None
        wait_for(lambda: "transient" in (tmp_path / "daemon.log").read_text(),
                 what="the cut-off run to be logged as transient")
        assert process.poll() is None, "the daemon died with the directory"
        slapd.resume()
        wait_for(lambda: len({x["employee_id"] for x in audit_lines(tmp_path)
                              if x["outcome"] == "ok"}) >= people - 50
                 and '"last_exit_code": 0' in _status_text(tmp_path),
                 timeout=90, what="a later tick to converge")
    finally:
        code, _ = stop(process)
    assert code == 0
    found = [line for line in slapd.search(LAYOUT.central_dn, "(uid=K*)", ["uid"]).splitlines()
             if line.startswith("uid: ")]
    assert len(found) == len(set(found)) == people


def _status_text(tmp_path: Path) -> str:
    state = tmp_path / "state"
    return "".join(p.read_text() for p in state.glob("status-*.json")) if state.exists() else ""


def test_status_says_running_then_stopped_by_sigterm_and_when(slapd, tmp_path, daemon_env):
    """Issue 25 #11. Before: after SIGTERM, `connector status` still named the pid as
    the daemon's, with no word that it had stopped."""
    process = start_daemon(daemon_env, tmp_path / "daemon.log")
    try:
        wait_for(lambda: any(x["employee_id"] == "D1" for x in audit_lines(tmp_path)),
                 what="the first run")
        running = run_cli(["status"], daemon_env).stdout
        assert f"running (pid {process.pid}, since " in running, running
    finally:
        code, _ = stop(process)
    assert code == 0
    stopped = run_cli(["status"], daemon_env).stdout
    assert "Daemon for scope it-centre: stopped at " in stopped and "(SIGTERM)" in stopped
    data = json.loads(run_cli(["status", "--json"], daemon_env).stdout)
    assert data["running"] is False and data["state"] == "stopped"
    assert data["stopped_by"] == "SIGTERM" and data["stopped_at"].endswith("+07:00")


def test_status_of_a_killed_daemon_says_its_pid_is_gone(slapd, tmp_path, daemon_env):
    process = start_daemon(daemon_env, tmp_path / "daemon.log")
    try:
        wait_for(lambda: any(x["employee_id"] == "D1" for x in audit_lines(tmp_path)),
                 what="the first run")
    finally:
        process.kill()
        process.wait(timeout=10)
    shown = run_cli(["status"], daemon_env).stdout
    assert f"not running: pid {process.pid} is gone" in shown, shown
    assert json.loads(run_cli(["status", "--json"], daemon_env).stdout)["running"] is False


def test_the_daemon_log_names_people_and_says_a_rejected_row_once_per_roster(
        slapd, tmp_path, daemon_env):
    """Issue 25 #9. Before: a lock or a rejected row was only a count, and `roster
    columns ignored: position` came back at every tick."""
    header = ("employee_id", "full_name", "unit_type", "unit_code", "status", "position")
    rows = [row("D1"), row("D2"), {**row("BAD1"), "status": "on_holiday"}]
    (tmp_path / "roster.csv").write_text(roster_csv(rows, header), encoding="utf-8")
    log = tmp_path / "daemon.log"
    process = start_daemon(daemon_env, log)
    try:
        wait_for(lambda: log.read_text().count("finished in") >= 3, what="three runs")
        first = log.read_text()
        (tmp_path / "roster.csv").write_text(roster_csv(
            [*rows[:1], {**row("D2"), "status": "terminated"}, rows[2]], header),
            encoding="utf-8")
        wait_for(lambda: "lock D2" in log.read_text(), what="the run after the change")
        wait_for(lambda: log.read_text().count("finished in") >= first.count("finished in") + 2,
                 what="two more runs")
    finally:
        stop(process)
    text = log.read_text()
    assert first.count("roster columns ignored: position") == 1
    assert first.count("rejected row: line 4: BAD1: unknown status 'on_holiday'") == 1
    assert text.count("rejected row: line 4: BAD1") == 2  # once more for the new content
    created = [line for line in first.splitlines() if "create D1 (new_on_roster" in line]
    assert len(created) == 1 and re.search(r"INFO +\d{8}T\d{6}-[0-9a-f]{8} create D1", created[0])
    assert re.search(r"lock D2 \(terminated, clause 6\.2\.1\): ok, uid=D2,", text)

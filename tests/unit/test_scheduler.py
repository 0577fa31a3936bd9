"""The daemon's schedule: cron in the configured zone, or a fixed interval."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from connector.app.daemon import Daemon, read_status, status_path
from connector.settings import load_settings


def daemon(tmp_path, **schedule) -> Daemon:
    settings = load_settings(None, schedule=schedule, state={"dir": str(tmp_path)})
    return Daemon(settings, lambda: None)  # type: ignore[arg-type,return-value]


def test_cron_fires_in_the_configured_time_zone(tmp_path):
    trigger = daemon(tmp_path, cron="30 7 * * *").trigger()
    start = datetime(2026, 11, 25, 0, 0, tzinfo=ZoneInfo("UTC"))
    fire = trigger.get_next_fire_time(None, start)
    assert fire.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%H:%M") == "07:30"
    assert fire.astimezone(ZoneInfo("UTC")).strftime("%H:%M") == "00:30"


def test_interval_overrides_cron(tmp_path):
    trigger = daemon(tmp_path, interval_seconds=90).trigger()
    assert trigger.interval.total_seconds() == 90


def test_a_failed_run_is_recorded_in_the_status_file_and_does_not_raise(tmp_path):
    roster = tmp_path / "missing.csv"
    settings = load_settings(None, roster={"path": str(roster)}, state={"dir": str(tmp_path)},
                             audit={"path": str(tmp_path / "audit.jsonl")})

    def connect():
        raise AssertionError("not reached: the roster is read first")

    runner = Daemon(settings, connect)
    assert runner.run_once() == 2
    status = read_status(settings)
    assert status is not None and status_path(settings).exists()
    assert status["last_outcome"] == "config_error" and "not found" in status["last_error"]
    assert "last_success" not in status

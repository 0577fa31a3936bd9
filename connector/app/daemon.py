"""``connector daemon``: reconcile on a schedule until SIGTERM/SIGINT.

The only module that imports APScheduler. One run at a time (``max_instances=1``
plus the cross-process run lock), missed runs coalesced, every failure logged
and retried on the next tick. A stop request lets the in-flight operation
finish, stops the run between operations, flushes the audit log, exits 0.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from loguru import logger

from connector.core.results import RunResult
from connector.errors import ConnectorError, ExitCode, Permanent, RunLocked, Transient
from connector.outputs.files import write_atomically
from connector.service.reconcile import DirectoryFactory, Request, RunMemo, new_run_id, reconcile
from connector.service.runlock import run_lock
from connector.settings import Settings


def status_path(settings: Settings) -> Path:
    name = str(settings.scope_value).replace(":", "_")
    return settings.state.dir / f"status-{name}.json"


def read_status(settings: Settings) -> dict[str, Any] | None:
    path = status_path(settings)
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data


def is_alive(pid: object) -> bool:
    """Whether ``pid`` is a live connector process: a pid the status file names may be
    gone (killed, crashed, rebooted) or reused by another program since."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's: say so only if it is the connector
        pass
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc to ask: trust the signal
    return b"connector" in command


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def _write_status(settings: Settings, data: dict[str, Any]) -> None:
    """Through a fresh temporary name, mode 0600 (a link planted at a fixed name is
    never followed, SPEC §15)."""
    write_atomically(status_path(settings),
                     json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8"))


class Daemon:
    def __init__(self, settings: Settings, connect: DirectoryFactory) -> None:
        self.settings = settings
        self.connect = connect
        self.stop = threading.Event()
        self.runs = 0
        #: the parsed roster and the last quiet run, kept between runs (issue 11)
        self.memo = RunMemo()
        self.status: dict[str, Any] = read_status(settings) or {}
        self.metrics: Any = None
        #: set by ``serve``: schedule one early retry after a cut-off run
        self.retry: Callable[[], None] | None = None
        if settings.metrics.port:
            from connector.app.metrics import Metrics

            self.metrics = Metrics()
            self.metrics.serve(settings.metrics.port, settings.metrics.address)
            logger.info("metrics on http://{}:{}/metrics", settings.metrics.address,
                        settings.metrics.port)

    def run_once(self) -> int:
        """One scheduled run; never raises (a failure waits for the next tick)."""
        if self.stop.is_set():
            return 0
        run_id = new_run_id()
        started = time.time()
        result: RunResult | None = None
        error: str | None = None
        try:
            with run_lock(self.settings, wait=False):
                result = reconcile(self.settings, self.connect,
                                   Request(run_id=run_id), stop=self.stop, memo=self.memo)
            code = result.exit_code
            error = result.error
            if code == ExitCode.UNAVAILABLE:
                logger.warning("run {} cut off, transient: {}; the next run converges", run_id,
                               error)
        except RunLocked as exc:
            code, error = exc.exit_code, str(exc)
            logger.warning("run {} skipped: {}", run_id, exc)
        except Transient as exc:
            code, error = exc.exit_code, str(exc)
            logger.warning("run {} failed, transient: {}; retrying at the next scheduled time",
                           run_id, exc)
        except Permanent as exc:
            code, error = exc.exit_code, str(exc)
            logger.error("run {} failed and NEEDS ATTENTION (retrying will not help until the "
                         "settings, the roster or the ACLs are fixed): {}", run_id, exc)
        except ConnectorError as exc:
            code, error = exc.exit_code, str(exc)
            logger.error("run {} failed: {}; retrying at the next scheduled time", run_id, exc)
        except Exception as exc:  # a bug must not kill the service; it is logged in full
            code, error = 1, f"internal error: {type(exc).__name__}: {exc}"
            logger.opt(exception=exc).error("run {} crashed", run_id)
        finished = time.time()
        self.runs += 1
        outcome = ExitCode(code).outcome if code in set(ExitCode) else "failed"
        summary = result.to_dict()["summary"] if result is not None else {}
        self.status.update({
            "scope": str(self.settings.scope_value),
            "last_run_id": run_id,
            "last_started": datetime.fromtimestamp(started).astimezone().isoformat(
                timespec="seconds"),
            "last_finished": datetime.fromtimestamp(finished).astimezone().isoformat(
                timespec="seconds"),
            "last_outcome": outcome,
            "last_exit_code": code,
            "last_error": error,
            "last_summary": summary,
            "runs_since_start": self.runs,
            "pid": os.getpid(),
        })
        if code in (ExitCode.OK, ExitCode.PARTIAL):
            self.status["last_success"] = self.status["last_finished"]
        self._notify(result, run_id, code, error)
        _write_status(self.settings, self.status)
        if self.metrics is not None:
            self.metrics.observe(str(self.settings.scope_value), result, outcome,
                                 finished - started, finished)
        if code == ExitCode.UNAVAILABLE and self.retry is not None and not self.stop.is_set():
            self.retry()
        return code

    def _notify(self, result: RunResult | None, run_id: str, code: int,
                error: str | None) -> None:
        """The run's notices; a failure once when failures begin and once when runs
        succeed again (the status file keeps which, across restarts)."""
        if code == RunLocked.exit_code or not self.settings.notify.enabled:
            return  # a skipped tick is neither a failure nor a recovery
        from connector.core.notices import FAILURE_CODES
        from connector.service.notify import failure_result, notify_run

        failing = bool(self.status.get("failing"))
        told = result if result is not None else failure_result(self.settings, run_id, code,
                                                                error or "-")
        self.status["notifications_waiting"] = notify_run(self.settings, told,
                                                          failing_before=failing)
        self.status["failing"] = code in FAILURE_CODES

    def trigger(self) -> IntervalTrigger | CronTrigger:
        schedule = self.settings.schedule
        zone = ZoneInfo(schedule.timezone)
        if schedule.interval_seconds:
            return IntervalTrigger(seconds=schedule.interval_seconds, timezone=zone)
        return CronTrigger.from_crontab(schedule.cron, timezone=zone)

    def serve(self) -> int:
        schedule = self.settings.schedule
        scheduler = BackgroundScheduler(timezone=ZoneInfo(schedule.timezone))
        kwargs: dict[str, Any] = {}
        if schedule.run_at_start:
            kwargs["next_run_time"] = datetime.now(ZoneInfo(schedule.timezone))
        scheduler.add_job(self.run_once, self.trigger(), id="reconcile", max_instances=1,
                          coalesce=True, misfire_grace_time=schedule.misfire_grace_seconds,
                          **kwargs)

        def on_error(event: JobExecutionEvent) -> None:
            logger.error("scheduled run raised: {}", event.exception)

        scheduler.add_listener(on_error, EVENT_JOB_ERROR)

        def retry() -> None:
            """A run cut off by an outage is retried after RETRY_SECONDS rather than a full
            cron period (one pending retry at a time; the schedule itself is unchanged)."""
            if not schedule.retry_seconds:
                return
            when = datetime.now(ZoneInfo(schedule.timezone)) + timedelta(
                seconds=schedule.retry_seconds)
            scheduler.add_job(self.run_once, "date", run_date=when, id="retry",
                              replace_existing=True, max_instances=1)
            logger.info("retrying at {} ({} s)", when.isoformat(timespec="seconds"),
                        schedule.retry_seconds)

        self.retry = retry

        how = ["stopped"]

        def on_signal(signum: int, _frame: object) -> None:
            how[0] = signal.Signals(signum).name
            logger.info("received {}; finishing the current operation and stopping", how[0])
            self.stop.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        self._state(state="running", since=_now(), pid=os.getpid(), stopped_at=None,
                    stopped_by=None)
        scheduler.start()
        job = scheduler.get_job("reconcile")
        logger.info("daemon started for scope {}; {}; next run at {}", self.settings.scope_value,
                    f"every {schedule.interval_seconds}s" if schedule.interval_seconds
                    else f"cron '{schedule.cron}' ({schedule.timezone})",
                    job.next_run_time if job else "-")
        try:
            while not self.stop.wait(1.0):
                pass
        except BaseException as exc:
            how[0] = f"error: {type(exc).__name__}: {exc}"
            raise
        finally:
            scheduler.shutdown(wait=True)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._state(state="stopped", stopped_at=_now(), stopped_by=how[0])
        logger.info("daemon stopped cleanly after {} runs ({})", self.runs, how[0])
        return 0

    def _state(self, **fields: Any) -> None:
        """Whether the daemon runs, since when, and how it stopped (issue 25 #11)."""
        self.status.update(fields, scope=str(self.settings.scope_value))
        try:
            _write_status(self.settings, self.status)
        except OSError as exc:
            logger.warning("cannot write the status file: {}", exc)


def run_daemon(settings: Settings, connect: DirectoryFactory, *, once: bool = False) -> int:
    """The daemon; a scope, base DN or OU that does not exist stops it at start (exit
    2): a typo must not look like a healthy daemon with nothing to do, forever. A
    directory that does not answer yet is the first run's business (exit 4, retried)."""
    from connector.directory.preflight import check_layout
    from connector.errors import DirectoryUnavailable
    from connector.sources.units import load_units

    try:
        directory = connect()
    except DirectoryUnavailable as exc:
        logger.warning("the directory does not answer yet ({}); the first run retries", exc)
    else:
        try:
            check_layout(directory, settings.scope_value, settings.layout_value,
                         load_units(settings.units.path) if settings.units.path else None)
        finally:
            directory.close()
    daemon = Daemon(settings, connect)
    if once:
        code = daemon.run_once()
        daemon._state(state="stopped", stopped_at=_now(), stopped_by="--once: one run")
        return code
    return daemon.serve()

"""One reconcile run, and the manual lock/unlock: the composition of the adapters.

read roster → snapshot the scope's OUs (the daemon: only what changed) → plan (pure)
→ safety guard → apply (or print, in dry-run) → audit every change.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import gc
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from loguru import logger

from connector.core.actions import Action, Plan
from connector.core.guard import check_guard
from connector.core.model import Scope, Snapshot
from connector.core.plan import compute_plan, restrict, unknown_ids
from connector.core.results import Outcome, RosterResult, RunResult
from connector.directory.base import Directory
from connector.errors import (
    ConfigError,
    DirectoryUnavailable,
    ExitCode,
    SafetyAbort,
)
from connector.outputs.audit import AuditLog
from connector.service.approve import pending_path, plan_document, save_plan
from connector.service.credentials import Issuer
from connector.service.journal import journal, recover
from connector.settings import Settings
from connector.sources.files import read_regular_file
from connector.sources.roster import RosterCache, read_roster, settle
from connector.sources.units import load_units

DirectoryFactory = Callable[[], Directory]
Progress = Callable[[int, int], None]


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


@contextmanager
def collection_paused() -> Iterator[None]:
    """No cyclic garbage collection while a run builds its objects.

    A national run makes ~500,000 long-lived objects (rows, entries, actions), and each
    full collection pass walks all of them: the passes cost as much as the work itself
    (a province at 100,000 rows, in process: 2.2-2.7 s with them, 1.2-1.4 s without).
    What a run builds holds no cycles; the few that arise (an exception's traceback)
    wait for the next pass after the run."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def reconcile(
    settings: Settings,
    connect: DirectoryFactory,
    *,
    dry_run: bool = False,
    allow_mass_lock: bool = False,
    roster_path: Path | None = None,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    run_id: str | None = None,
    today: dt.date | None = None,
    memo: RunMemo | None = None,
    only: Sequence[str] = (),
    plan_out: Path | None = None,
) -> RunResult:
    """One run. Raises ConfigError/RosterUnreadable (2) and DirectoryUnavailable (4) before
    any write; returns a result whose exit code says the rest (0, 1, 3, 4)."""
    started = time.monotonic()
    scope = settings.scope_value
    result = RunResult(run_id or new_run_id(), str(scope), settings.ldap.bind_dn or "", dry_run)
    path = roster_path or settings.roster.path
    if path is None:
        raise ConfigError("no roster: pass --roster PATH or set CONNECTOR_ROSTER__PATH")
    with logger.contextualize(run_id=result.run_id), collection_paused():
        mark = time.monotonic()
        # a bad units file is a configuration error, reported before any bind
        units = load_units(settings.units.path) if settings.units.path else None
        absorbed = units.merged_provinces.get(scope.code or "", ()) if units else ()
        # a missing or unreadable roster file is refused before any bind
        data = read_regular_file(Path(path))
        cache = memo.roster if memo else None
        # The roster is parsed on a second thread while the directory is read: the read
        # is mostly waiting on slapd, the parse is all CPU (measured at 100,000 rows,
        # Bến Tre 1.62-1.91 s against 2.02-2.31 s in turn, the IT Centre 5.2-6.3 s
        # against 5.9-6.7 s). Not while connecting: the bind's imports are CPU too.
        try:
            directory = connect()
        except Exception:
            # a roster that cannot be used (exit 2) is told before an unreachable
            # directory (4), as when the two were read in turn
            read_roster(path, settings.roster.sheet, cache, scope=scope, data=data)
            raise
        mark = _lap(result, "connect", mark)
        recover(settings, directory)
        logger.info("bound as {} ({:.2f}s): reading the directory, the roster beside it",
                    directory.actor, result.timings["connect"])
        reading = _Beside(read_roster, path, settings.roster.sheet, cache, scope=scope,
                          data=data)
        try:
            result.actor = directory.actor
            zone = settings.schedule.timezone
            day = today or dt.datetime.now(ZoneInfo(zone)).date()
            stamp = directory.change_stamp() if memo is not None else None
            # the daemon's memo keys on the roster's bytes: it waits for the roster first
            roster = _roster_read(result, reading, path) if memo is not None else None
            kept = memo.unchanged(stamp, day, settings.schedule.full_read_every) \
                if memo is not None else None
            if kept is not None:
                plan = kept
                result.directory_read = "skipped"
                logger.info("nothing changed since the last run that found nothing to do "
                            "(same roster bytes, same day, directory contextCSN {}): the "
                            "directory read and the plan are skipped", stamp)
            else:
                try:
                    if memo is not None:
                        snapshot = memo.read(directory, stamp, scope, absorbed,
                                             settings.schedule.full_read_every)
                        result.directory_read = memo.last_read
                    else:
                        snapshot = directory.snapshot(scope, absorbed)
                except BaseException:
                    reading.result()  # as above: an unreadable roster is told first
                    raise
                mark = _lap(result, "snapshot", mark)
                logger.info("snapshot ({} read): {} accounts in the OUs of {} ({:.2f}s)",
                            result.directory_read, len(snapshot.accounts), scope,
                            result.timings["snapshot"])
                if roster is None:
                    roster = _roster_read(result, reading, path)
                    mark = time.monotonic()
                # the rows set aside as another scope's that name accounts here: judged now
                roster = result.roster = settle(roster, snapshot.account_keys)
                plan = compute_plan(roster.people, snapshot, scope, settings.layout_value,
                                    roster.rejected_keys, roster.incomplete, today=day,
                                    zone=zone, renames=units.renames if units else None,
                                    unchecked=roster.unchecked)
                if only:
                    result.only = list(only)
                    result.only_unknown = unknown_ids(
                        only, roster.people, snapshot,
                        roster.rejected_keys | {row.key for row in roster.unchecked})
                    plan = restrict(plan, frozenset(i.casefold() for i in only))
                    for employee_id in result.only_unknown:
                        logger.warning("--only {}: neither on the roster nor in the OUs of {}",
                                       employee_id, scope)
            assert roster is not None  # read before the memo's check or after the snapshot
            if plan.awaiting:
                logger.info("{} people await `connector reorganize` (their unit was merged "
                            "or renamed): neither locked nor re-issued", len(plan.awaiting))
            result.plan = plan
            mark = _lap(result, "plan", mark)
            planned = {kind: n for kind, n in plan.counts().items() if n}
            logger.info("plan: {}", ", ".join(f"{k} {n}" for k, n in planned.items()) or
                        "nothing to do")
            if plan.orphan_locks_suspended:
                logger.warning("no account is locked as not_on_roster in this run: {}",
                               plan.orphan_locks_suspended)
            for action in plan.restored:
                logger.warning("lock of {} ({}, clause {}) had been removed outside the "
                               "connector: the lock record is still on the entry, putting it "
                               "back", action.dn, action.reason, action.clause or "-")
            seen = snapshot if kept is None else None
            if plan_out is not None and seen is not None:
                save_plan(plan_out, plan_document(result, plan, seen, settings, Path(path)),
                          settings)
            try:
                check_guard(plan, roster_rows=roster.rows,
                            max_lock_count=settings.safety.max_lock_count,
                            max_lock_ratio=settings.safety.max_lock_ratio,
                            min_unit_size=settings.safety.min_unit_size,
                            allow_mass_lock=allow_mass_lock)
            except SafetyAbort as exc:
                result.error, result.exit_code = str(exc), exc.exit_code
                if not dry_run and seen is not None and plan.actions:
                    pending = save_plan(pending_path(settings, result.run_id),
                                        plan_document(result, plan, seen, settings, Path(path)),
                                        settings)
                    result.error += (f"; the plan is saved as {pending}: review it, then "
                                     f"approve exactly it with `connector apply {pending} "
                                     "--allow-mass-lock`")
                logger.error("{}", result.error)
                return result
            audit = AuditLog(settings.audit.path, run_id=result.run_id, actor=directory.actor,
                             scope=str(scope))
            try:
                audit.prepare(len(plan.actions))
                if dry_run:
                    for action in plan.actions:
                        audit.record(action, dry_run=True)
                else:
                    issuer = Issuer(settings, units, result.run_id) \
                        if settings.credentials.issue else None
                    if issuer is not None:
                        issuer.prepare(plan.actions, plan.containers)
                    with journal(settings, audit, plan.actions, issue=issuer is not None):
                        try:
                            _apply(plan, directory, audit, result, stop, progress,
                                   issuer.after_create if issuer else None)
                            if issuer is not None and not (stop and stop.is_set()):
                                issuer.catch_up(directory, audit)
                        finally:
                            if issuer is not None:
                                _seal(issuer, result)
                _lap(result, "apply", mark)
            finally:
                audit.close()
            if memo is not None:
                quiet = not plan.actions and not dry_run and result.exit_code == ExitCode.OK
                memo.after(stamp if quiet else None, day, plan)
        finally:
            directory.close()
            reading.wait()  # the daemon's next run reuses the roster cache this one fills
            result.duration = time.monotonic() - started
        if result.exit_code == 0 and (result.rejected or result.failed or
                                      not roster.complete or result.only_unknown):
            result.exit_code = ExitCode.PARTIAL
        logger.info("run {} finished in {:.2f}s with exit code {}", result.run_id,
                    result.duration, result.exit_code)
    return result


class RunMemo:
    """What the daemon keeps between runs so as not to repeat work it has done: the
    parsed roster while its bytes are the same, the last snapshot with the directory's
    ``contextCSN`` from just before it was read, and the plan of the last run that
    found nothing to do.

    * Roster bytes, day and ``contextCSN`` all the same as after a run that found
      nothing to do: the read and the plan are skipped (the same entries would plan
      the same nothing).
    * ``contextCSN`` moved: only the entries changed since are read in full, plus every
      DN (``Directory.refreshed``), once a full read has shown that this identity's
      filters see ``entryCSN``.
    * A full read at least every ``full_read_every`` runs, on any doubt, and wherever
      the directory keeps no ``contextCSN`` (no syncprov). The one-shot ``reconcile``
      has no memo: it always reads in full.
    """

    def __init__(self) -> None:
        self.roster = RosterCache()
        self._quiet: tuple[bytes | None, str, dt.date] | None = None
        self._plan: Plan | None = None
        #: runs since the last full read (skipped or incremental)
        self._since_full = 0
        #: (snapshot, the stamp read just before it, scope and absorbed provinces)
        self._read: tuple[Snapshot, str, tuple[str, ...]] | None = None
        #: whether this identity's filters see entryCSN (None: not known yet)
        self._refreshable: bool | None = None
        self.last_read = "full"

    def unchanged(self, stamp: str | None, day: dt.date, full_read_every: int) -> Plan | None:
        """The remembered empty plan if nothing it depends on changed, else None."""
        if (stamp is None or self._quiet is None or self._plan is None
                or self._quiet != (self.roster.digest, stamp, day)
                or self._since_full + 1 >= full_read_every):
            return None
        self._since_full += 1
        return self._plan

    def read(self, directory: Directory, stamp: str | None, scope: Scope,
             absorbed: Sequence[str], full_read_every: int) -> Snapshot:
        """The directory as a full read would give it now: refreshed from the last read
        where that is sound, else read in full (``last_read`` says which)."""
        key = (str(scope), *absorbed)
        kept = self._read
        if (stamp is not None and kept is not None and kept[2] == key and self._refreshable
                and self._since_full + 1 < full_read_every
                # a provider new to the stamp may deliver changes older than it
                and _server_ids(stamp) <= _server_ids(kept[1])):
            snapshot = directory.refreshed(kept[0], kept[1], scope, absorbed)
            if snapshot is not None:
                self._since_full += 1
                self._read, self.last_read = (snapshot, stamp, key), "incremental"
                return snapshot
        snapshot = directory.snapshot(scope, absorbed)
        self._since_full, self.last_read = 0, "full"
        self._read = (snapshot, stamp, key) if stamp is not None else None
        if stamp is not None and self._refreshable is None:
            self._refreshable = directory.can_refresh(snapshot)
        return snapshot

    def after(self, stamp: str | None, day: dt.date, plan: Plan) -> None:
        """Remember a run that found nothing to do (``stamp`` given), forget otherwise."""
        if stamp is None:
            self._quiet, self._plan = None, None
        else:
            self._quiet, self._plan = (self.roster.digest, stamp, day), plan


class _Beside:
    """A call run on its own thread, in the caller's logging context (a new thread
    starts with empty context variables, and every log line of a run carries its id)."""

    def __init__(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.seconds = 0.0
        self._value: Any = None
        self._error: BaseException | None = None
        context = contextvars.copy_context()
        self._thread = threading.Thread(target=context.run, args=(self._run, call, args,
                                                                   kwargs),
                                        name="roster", daemon=True)
        self._thread.start()

    def _run(self, call: Callable[..., Any], args: tuple[Any, ...],
             kwargs: dict[str, Any]) -> None:
        started = time.monotonic()
        try:
            self._value = call(*args, **kwargs)
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc
        finally:
            self.seconds = time.monotonic() - started

    def wait(self) -> None:
        self._thread.join()

    def result(self) -> Any:
        """The call's value, once it has returned; its exception, raised here."""
        self.wait()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        return self._value


def _roster_read(result: RunResult, reading: _Beside, path: Path | str) -> RosterResult:
    roster: RosterResult = reading.result()
    result.roster = roster
    result.timings["roster"] = reading.seconds
    logger.info("roster {}: {} rows, {} valid, {} rejected ({:.2f}s)", path, roster.rows,
                roster.valid, len(roster.rejected), reading.seconds)
    if roster.ignored_columns:
        logger.warning("roster columns ignored: {}", ", ".join(roster.ignored_columns))
    return roster


def _server_ids(stamp: str) -> set[str]:
    """The serverIDs of a contextCSN (a CSN is ``time#count#sid#mod``)."""
    return {csn.split("#")[2] if csn.count("#") >= 2 else csn for csn in stamp.split()}


def _lap(result: RunResult, phase: str, since: float) -> float:
    now = time.monotonic()
    result.timings[phase] = now - since
    return now


def _seal(issuer: Issuer, result: RunResult) -> None:
    """Write the run's sealed credential files and say what was and was not issued."""
    files = issuer.finish()
    result.credentials_issued = issuer.issued
    result.credentials_withheld = dict(issuer.withheld)
    result.credential_files = [str(path) for path in files]
    for path in files:
        logger.info("initial passwords sealed in {}", path)
    if issuer.withheld:
        logger.warning("{} accounts created without a password: their unit names no "
                       "recipient in the units file ({})", sum(issuer.withheld.values()),
                       ", ".join(f"{code or '?'}: {n}" for code, n in
                                 sorted(issuer.withheld.items())))


def _apply(
    plan: Plan,
    directory: Directory,
    audit: AuditLog,
    result: RunResult,
    stop: threading.Event | None,
    progress: Progress | None,
    after_create: Callable[[Directory, Action], Action] | None = None,
) -> None:
    total = len(plan.actions)

    def on_outcome(outcome: Outcome) -> None:
        result.outcomes.append(outcome)
        audit.record(outcome.action, dry_run=False, error=outcome.error)
        if outcome.error:
            logger.warning("{} {} failed: {}", outcome.action.kind.value, outcome.action.dn,
                           outcome.error)
        if progress is not None:
            progress(len(result.outcomes), total)

    try:
        directory.apply(plan.actions, on_outcome, stop, within=plan.containers,
                        after_create=after_create)
    except DirectoryUnavailable as exc:
        result.error, result.exit_code = f"run cut off: {exc}", exc.exit_code
        logger.error("{}", result.error)
        return
    if stop is not None and stop.is_set() and len(result.outcomes) < total:
        result.error = (f"stopped on request after {len(result.outcomes)} of {total} actions; "
                        "the next run converges")
        result.exit_code = DirectoryUnavailable.exit_code
        logger.warning("{}", result.error)

"""One reconcile run, as its steps: read (the roster beside the directory), plan, guard,
apply, seal, record.

read roster → snapshot the scope's OUs (the daemon: only what changed) → plan (pure)
→ safety guard → apply (or audit as a dry run) → seal the credentials → the result.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from loguru import logger

from connector.core.actions import Action, Plan
from connector.core.guard import check_guard
from connector.core.model import KnownUnits, Snapshot
from connector.core.only import restrict, unknown_ids
from connector.core.plan import compute_plan
from connector.core.results import Outcome, RosterResult, RunResult
from connector.core.units import Units
from connector.directory.base import Directory
from connector.directory.preflight import check_layout
from connector.errors import ConfigError, DirectoryUnavailable, ExitCode, SafetyAbort
from connector.outputs.audit import AuditLog
from connector.service.anchor import close_trail
from connector.service.concurrency import Beside, collection_paused
from connector.service.credentials import Issuer, report_sealed
from connector.service.journal import journal, recover
from connector.service.memo import RunMemo
from connector.service.revert import reverted_by
from connector.service.runid import new_run_id
from connector.service.told import tell_outcome, tell_rows
from connector.settings import Settings
from connector.sources.duplicates import settle
from connector.sources.files import read_regular_file
from connector.sources.roster import read_roster
from connector.sources.units import load_units

DirectoryFactory = Callable[[], Directory]
Progress = Callable[[int, int], None]

__all__ = ["DirectoryFactory", "Progress", "Request", "RunMemo", "new_run_id", "reconcile"]


@dataclass(frozen=True)
class Request:
    """What one run is asked to do (the command line's flags)."""

    dry_run: bool = False
    allow_mass_lock: bool = False
    roster_path: Path | None = None
    run_id: str | None = None
    today: dt.date | None = None
    only: Sequence[str] = ()
    plan_out: Path | None = None
    #: SPEC §13: apply a roster whose run was reverted
    allow_reverted_roster: bool = False


def reconcile(settings: Settings, connect: DirectoryFactory, request: Request = Request(), *,
              stop: threading.Event | None = None, progress: Progress | None = None,
              memo: RunMemo | None = None) -> RunResult:
    """One run. Raises ConfigError/RosterUnreadable (2) and DirectoryUnavailable (4) before
    any write; returns a result whose exit code says the rest (0, 1, 3, 4)."""
    run = _Run(settings, request, memo)
    with logger.contextualize(run_id=run.result.run_id), collection_paused():
        run.start(connect)
        try:
            plan = run.read_and_plan()
            if run.guard(plan):
                run.apply(plan, stop, progress)
                run.remember(plan)
        finally:
            run.finish()
    return run.result


class _Run:
    """The state one run carries from step to step."""

    def __init__(self, settings: Settings, request: Request, memo: RunMemo | None) -> None:
        self.settings, self.request, self.memo = settings, request, memo
        self.scope = settings.scope_value
        self.started = self.mark = time.monotonic()
        self.result = RunResult(request.run_id or new_run_id(), str(self.scope),
                                settings.ldap.bind_dn or "", request.dry_run)
        path = request.roster_path or settings.roster.path
        if path is None:
            raise ConfigError("no roster: pass --roster PATH or set CONNECTOR_ROSTER__PATH")
        self.path = Path(path)
        self.units: Units | None = None
        self.roster: RosterResult | None = None
        self.seen: Snapshot | None = None  # the snapshot read in full, for a plan file
        self.stamp: str | None = None
        self.day = dt.date.today()
        self.roster_sha256: str | None = None
        #: SPEC §13: the run whose revert was applied, if this roster is the one it had
        self.reverted: str | None = None

    # -- read -------------------------------------------------------------------------------

    def start(self, connect: DirectoryFactory) -> None:
        """Refuse a bad units file or roster before any bind, connect, recover an
        interrupted run's audit, and start parsing the roster beside the directory read.

        The roster is parsed on a second thread while the directory is read: the read is
        mostly waiting on slapd, the parse is all CPU (measured at 100,000 rows, Bến Tre
        1.62-1.91 s against 2.02-2.31 s in turn, the IT Centre 5.2-6.3 s against 5.9-6.7
        s). Not while connecting: the bind's imports are CPU too."""
        settings = self.settings
        self.units = load_units(settings.units.path) if settings.units.path else None
        data = read_regular_file(self.path)
        self.roster_sha256 = hashlib.sha256(data).hexdigest()
        self.result.roster_path, self.result.roster_sha256 = str(self.path), self.roster_sha256
        self.reverted = reverted_by(settings.audit.path, str(self.scope), self.roster_sha256)
        cache = self.memo.roster if self.memo else None
        try:
            self.directory = connect()
        except Exception:
            # a roster that cannot be used (exit 2) is told before an unreachable
            # directory (4), as when the two were read in turn
            read_roster(self.path, settings.roster.sheet, cache, scope=self.scope, data=data)
            raise
        self._lap("connect")
        try:
            if self.memo is None or not self.memo.layout_checked:
                check_layout(self.directory, self.scope, settings.layout_value, self.units)
                if self.memo is not None:
                    self.memo.layout_checked = True
            recover(settings, self.directory)
        except BaseException:
            self.directory.close()
            raise
        logger.info("bound as {} ({:.2f}s): reading the directory, the roster beside it",
                    self.directory.actor, self.result.timings["connect"])
        self.reading = Beside(read_roster, self.path, settings.roster.sheet, cache,
                              scope=self.scope, data=data)
        self.result.actor = self.directory.actor

    def _roster(self) -> RosterResult:
        roster: RosterResult = self.reading.result()
        self.roster = self.result.roster = roster
        self.result.timings["roster"] = self.reading.seconds
        logger.info("roster {}: {} rows, {} valid, {} rejected ({:.2f}s)", self.path,
                    roster.rows, roster.valid, len(roster.rejected), self.reading.seconds)
        if roster.ignored_columns and self.memo is None:  # the daemon's: once (told.py)
            logger.warning("roster columns ignored: {}", ", ".join(roster.ignored_columns))
        return roster

    def _snapshot(self, absorbed: Sequence[str]) -> Snapshot:
        memo, directory = self.memo, self.directory
        try:
            if memo is not None:
                snapshot = memo.read(directory, self.stamp, self.scope, absorbed,
                                     self.settings.schedule.full_read_every)
                self.result.directory_read = memo.last_read
            else:
                snapshot = directory.snapshot(self.scope, absorbed)
        except BaseException:
            self.reading.result()  # as in start(): an unreadable roster is told first
            raise
        self._lap("snapshot")
        logger.info("snapshot ({} read): {} accounts in the OUs of {} ({:.2f}s)",
                    self.result.directory_read, len(snapshot.accounts), self.scope,
                    self.result.timings["snapshot"])
        return snapshot

    # -- plan -------------------------------------------------------------------------------

    def read_and_plan(self) -> Plan:
        """The plan: remembered by the daemon if nothing it depends on changed, else
        made from the snapshot and the roster."""
        settings, memo = self.settings, self.memo
        zone = settings.schedule.timezone
        self.day = self.request.today or dt.datetime.now(ZoneInfo(zone)).date()
        if memo is not None:  # the memo keys on the roster's bytes: the roster first
            self.stamp = self.directory.change_stamp()
            self._roster()
            kept = memo.unchanged(self.stamp, self.day, settings.schedule.full_read_every)
            if kept is not None:
                self.result.directory_read = "skipped"
                logger.info("nothing changed since the last run that found nothing to do "
                            "(same roster bytes, same day, directory contextCSN {}): the "
                            "directory read and the plan are skipped", self.stamp)
                return self._planned(kept)
        units = self.units
        absorbed = units.merged_provinces.get(self.scope.code or "", ()) if units else ()
        snapshot = self.seen = self._snapshot(absorbed)
        self.result.seen = snapshot
        roster = self.roster or self._roster()
        self.mark = time.monotonic()
        # the rows set aside as another scope's that name accounts here: judged now
        roster = self.roster = self.result.roster = settle(roster, snapshot.account_keys)
        plan = compute_plan(roster.people, snapshot, self.scope, settings.layout_value,
                            roster.rejected_keys, roster.incomplete, today=self.day,
                            zone=zone, renames=units.renames if units else None,
                            unchecked=roster.unchecked,
                            known=units.known if units else KnownUnits())
        only = self.request.only
        if only:
            self.result.only = list(only)
            self.result.only_unknown = unknown_ids(
                only, roster.people, snapshot,
                roster.rejected_keys | {row.key for row in roster.unchecked})
            plan = restrict(plan, frozenset(i.casefold() for i in only))
            for employee_id in self.result.only_unknown:
                logger.warning("--only {}: neither on the roster nor in the OUs of {}",
                               employee_id, self.scope)
        return self._planned(plan)

    def _planned(self, plan: Plan) -> Plan:
        self.result.plan = plan
        self._lap("plan")
        if self.memo is not None:  # the daemon names rows once per roster content
            self.memo.told = tell_rows(self.result, self.memo.told)
        planned = {kind: n for kind, n in plan.counts().items() if n}
        logger.info("plan: {}", ", ".join(f"{k} {n}" for k, n in planned.items()) or
                    "nothing to do")
        if plan.rejected:  # the roster line above counted only what a row alone shows
            logger.warning("plan: {} more {} rejected (first: line {}: {})", len(plan.rejected),
                           "row" if len(plan.rejected) == 1 else "rows",
                           plan.rejected[0].line, plan.rejected[0].reason)
        if plan.awaiting:
            logger.info("{} people await `connector reorganize` (their unit was merged "
                        "or renamed): neither locked nor re-issued", len(plan.awaiting))
        if plan.orphan_locks_suspended:
            logger.warning("no account is locked as not_on_roster in this run: {}",
                           plan.orphan_locks_suspended)
        for action in plan.restored:
            logger.warning("lock of {} ({}, clause {}) had been removed outside the "
                           "connector: the lock record is still on the entry, putting it "
                           "back", action.dn, action.reason, action.clause or "-")
        return plan

    # -- guard ------------------------------------------------------------------------------

    def guard(self, plan: Plan) -> bool:
        """Write the plan file asked for; True if the guard lets the plan through, else
        the result says why and a real run saves the plan for ``connector apply``."""
        settings, result, seen = self.settings, self.result, self.seen
        assert self.roster is not None
        if self.reverted is not None and not self.request.allow_reverted_roster:
            result.error = (f"this roster (sha256 {self.roster_sha256}) is the one run "
                            f"{self.reverted} was given, and that run was reverted: it is not "
                            "applied again; nothing was changed. Fix the roster, or run with "
                            "--allow-reverted-roster if it is right after all")
            result.exit_code = ExitCode.GUARD
            logger.error("{}", result.error)
            return False
        if self.request.plan_out is not None and seen is not None:
            # plan files (their pydantic models) are imported by a run that writes one
            from connector.service.approve import plan_document, save_plan

            save_plan(self.request.plan_out,
                      plan_document(result, plan, seen, settings, self.path), settings,
                      self.directory.latest_anchor)
        try:
            check_guard(plan, roster_rows=self.roster.rows,
                        max_lock_count=settings.safety.max_lock_count,
                        max_lock_ratio=settings.safety.max_lock_ratio,
                        min_unit_size=settings.safety.min_unit_size,
                        allow_mass_lock=self.request.allow_mass_lock)
        except SafetyAbort as exc:
            result.error, result.exit_code = str(exc), exc.exit_code
            if not self.request.dry_run and seen is not None and plan.actions:
                from connector.service.approve import pending_path, plan_document, save_plan

                pending = save_plan(pending_path(settings, result.run_id),
                                    plan_document(result, plan, seen, settings, self.path),
                                    settings, self.directory.latest_anchor)
                result.pending_plan = str(pending)
                result.error += (f"; the plan is saved as {pending}: review it, then "
                                 f"approve exactly it with `connector apply {pending} "
                                 "--allow-mass-lock`")
            logger.error("{}", result.error)
            return False
        return True

    # -- apply and seal ---------------------------------------------------------------------

    def apply(self, plan: Plan, stop: threading.Event | None,
              progress: Progress | None) -> None:
        """Audit proven first; a dry run only audits; a real run journals, applies and
        seals (SPEC §15)."""
        settings, result = self.settings, self.result
        audit = AuditLog(settings.audit.path, run_id=result.run_id,
                         actor=self.directory.actor, scope=str(self.scope),
                         anchor=self.directory.latest_anchor, roster_sha256=self.roster_sha256)
        try:
            audit.prepare(len(plan.actions))
            if self.request.dry_run:
                for action in plan.actions:
                    audit.record(action, dry_run=True)
            else:
                issuer = Issuer(settings, self.units, result.run_id) \
                    if settings.credentials.issue else None
                if issuer is not None:
                    issuer.prepare(plan.actions, plan.containers)
                with journal(settings, audit, plan.actions, issue=issuer is not None):
                    try:
                        _send(plan, self.directory, audit, result, stop, progress,
                              issuer.after_create if issuer else None,
                              name_each=self.memo is not None)
                        if issuer is not None and not (stop and stop.is_set()):
                            issuer.catch_up(self.directory, audit)
                    finally:
                        if issuer is not None:
                            report_sealed(issuer, result)
            self._lap("apply")
        finally:
            audit.close()

    # -- record -----------------------------------------------------------------------------

    def remember(self, plan: Plan) -> None:
        if self.memo is not None:
            quiet = not plan.actions and not self.request.dry_run and \
                self.result.exit_code == ExitCode.OK
            self.memo.after(self.stamp if quiet else None, self.day, plan)

    def finish(self) -> None:
        result = self.result
        try:
            result.audit_lines_waiting = close_trail(self.directory, self.settings)
        finally:
            self.directory.close()
        self.reading.wait()  # the daemon's next run reuses the roster cache this one fills
        result.duration = time.monotonic() - self.started
        roster = self.roster
        if result.exit_code == 0 and roster is not None and (
                result.rejected or result.failed or not roster.complete
                or result.only_unknown):
            result.exit_code = ExitCode.PARTIAL
        logger.info("run {} finished in {:.2f}s with exit code {}", result.run_id,
                    result.duration, result.exit_code)

    def _lap(self, phase: str) -> None:
        now = time.monotonic()
        self.result.timings[phase] = now - self.mark
        self.mark = now


def _send(plan: Plan, directory: Directory, audit: AuditLog, result: RunResult,
          stop: threading.Event | None, progress: Progress | None,
          after_create: Callable[[Directory, Action], Action] | None = None,
          name_each: bool = False) -> None:
    """The plan's actions, each outcome audited as it comes; a lost link or a stop
    request ends the run with exit 4 (the next run converges)."""
    total = len(plan.actions)

    def on_outcome(outcome: Outcome) -> None:
        result.outcomes.append(outcome)
        audit.record(outcome.action, dry_run=False, error=outcome.error)
        if outcome.error:
            logger.warning("{} {} failed: {}", outcome.action.kind.value, outcome.action.dn,
                           outcome.error)
        elif name_each:
            tell_outcome(outcome)
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

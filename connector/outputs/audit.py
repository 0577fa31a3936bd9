"""The audit log (SPEC §6): JSON Lines, one object per change planned or applied.

Proven writable before a run changes anything, written in whole lines, and kept
complete across a crash with the run's journal (``service.journal``), so that a
run cut off half-way leaves a log that says exactly what was done (SPEC §15).
Kept apart from the operational log. No secret can reach it: lines are built
from actions, DNs and LDAP result texts only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import resource
import stat
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from json.encoder import encode_basestring as _text
from pathlib import Path
from typing import Any, NamedTuple

from loguru import logger

from connector.core.actions import Action, Kind
from connector.core.chain import ZERO, chained, head_of
from connector.errors import AuditError

#: the local UTC offset's timezone, by offset in seconds (looked up per call: an offset
#: can change within a run, at a daylight-saving switch)
_ZONES: dict[int, dt.timezone] = {}


def now_iso() -> str:
    """Local time to the millisecond, with its offset (``datetime.now().astimezone()``,
    without its per-call timezone construction)."""
    seconds = time.time()
    offset = time.localtime(seconds).tm_gmtoff
    zone = _ZONES.get(offset)
    if zone is None:
        zone = _ZONES[offset] = dt.timezone(dt.timedelta(seconds=offset))
    return dt.datetime.fromtimestamp(seconds, zone).isoformat(timespec="milliseconds")


def _value(text: str | None) -> str:
    return "null" if text is None else _text(text)


def _changes(changes: Sequence[tuple[str, str | None]]) -> str:
    if not changes:
        return "null"
    return "{" + ", ".join([f"{_text(name)}: {'null' if value is None else _text(value)}"
                            for name, value in dict(changes).items()]) + "}"


def _before(action: Action) -> str:
    """SPEC §13's ``before`` as JSON text: ``null`` for a create (most lines of a
    provisioning run) without building anything."""
    if action.kind is Kind.CREATE:
        return "null"
    return json.dumps(action.before_dict(), ensure_ascii=False)


#: ``(seq, sha256)`` of the last line this process wrote to any audit log: what the run
#: anchors in the directory at its end (``service.anchor``)
_LAST: list[tuple[int, str]] = []
_LAST_LOCK = threading.Lock()


def last_head() -> tuple[int, str] | None:
    """The head this process last wrote, once (taken: the next run starts afresh)."""
    with _LAST_LOCK:
        return _LAST.pop() if _LAST else None


#: bytes a line may take, for the space an audit must have before a run writes to it
LINE_BUDGET = 640
#: lines kept in memory before one write: a crash loses none of them (the run's
#: journal brings back the lines of changes that reached the directory, SPEC §15)
BATCH = 256


class AuditLog:
    """Appends whole lines: built as text, written in batches by one ``write(2)`` each
    under an exclusive ``flock`` (two processes sharing the file never interleave), a
    short write cut back so that no half line is ever left for the next run to append
    to. ``prepare`` proves the file writable before a run changes anything."""

    def __init__(self, path: Path | str, *, run_id: str, actor: str, scope: str,
                 plan_id: str | None = None,
                 anchor: Callable[[], tuple[int, str] | None] | None = None,
                 roster_sha256: str | None = None) -> None:
        self.path = Path(path)
        #: ``connector apply``: the run_id of the run that made the plan (SPEC §6)
        self.plan_id = plan_id
        self.run_id = run_id
        self.actor = actor
        self.scope = scope
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._pending: list[str] = []
        #: where a new or emptied file continues the chain (SPEC §12): the head last
        #: anchored in the directory, asked for only when the file is empty
        self._anchor = anchor
        #: ``(seq, sha256)`` of the last line this log wrote (None: none yet)
        self.head: tuple[int, str] | None = None
        #: the roster the run was given (SPEC §13: a reverted roster is not applied again)
        self.roster_sha256 = roster_sha256
        self._head = (f', "run_id": {_text(run_id)}, "actor": {_text(actor)}, '
                      f'"scope": {_text(scope)}, "roster_sha256": {_value(roster_sha256)}, ')
        self._tail = "}" if plan_id is None else f', "plan_id": {_text(plan_id)}}}'

    # -- opening ---------------------------------------------------------------------------

    def prepare(self, lines: int = 1) -> None:
        """Open the file and prove it can take ``lines`` more lines (a directory, a
        device, a file this user cannot write, a full disk, a file-size limit: AuditError,
        exit 2), before the caller writes anything anywhere."""
        with self._lock:
            fd = self._opened()
        needed = max(lines, 1) * LINE_BUDGET
        try:
            info = os.fstat(fd)
            space = os.fstatvfs(fd)
        except OSError as exc:
            raise AuditError(f"cannot use the audit log {self.path}: {exc.strerror}") from None
        free = space.f_bavail * space.f_frsize
        if free < needed:
            raise AuditError(f"the audit log {self.path} has {free} bytes free on its file "
                             f"system, fewer than the {needed} this run's {lines} lines need")
        soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
        if soft != resource.RLIM_INFINITY and info.st_size + needed > soft:
            raise AuditError(f"the file size limit (ulimit -f: {soft} bytes) leaves the audit "
                             f"log {self.path} ({info.st_size} bytes) no room for this run's "
                             f"{lines} lines")

    def _opened(self) -> int:
        if self._fd is not None:
            return self._fd
        try:
            if self.path.parent != Path() and not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, mode=0o700)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                         0o600)
        except OSError as exc:
            raise AuditError(f"cannot open the audit log {self.path}: "
                             f"{exc.strerror or exc}") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise AuditError(f"the audit log {self.path} is not a regular file")
        self._fd = fd
        self._trim(fd)
        return fd

    def _trim(self, fd: int) -> None:
        """A half line left at the end (a process cut off inside a write that the
        kernel took only in part) is not a line: cut it, so the next line starts whole."""
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            size = os.fstat(fd).st_size
            if size == 0:
                return
            tail = os.pread(fd, min(size, 65536), max(size - 65536, 0))
            if tail.endswith(b"\n"):
                return
            cut = tail.rfind(b"\n")
            keep = size - len(tail) + cut + 1 if cut >= 0 else (
                0 if size <= 65536 else size)
            if keep != size:
                os.ftruncate(fd, keep)
                logger.warning("audit log {}: cut {} bytes of a half-written last line",
                               self.path, size - keep)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    # -- writing ---------------------------------------------------------------------------

    def record(
        self, action: Action, *, dry_run: bool, error: str | None = None,
        outcome: str | None = None, note: str | None = None,
    ) -> None:
        """One line: ts, run_id, actor, scope, the action's fields (``Action.to_dict``),
        dry_run, outcome, error (and plan_id), as ``json.dumps`` would write them.

        Written as text, not through a dict and ``json.dumps``: the applying thread
        writes one per change, and at 33 µs a line the audit took a quarter of the
        client's CPU in a provisioning run (now 19 µs, the clock and the flush 7 of it)."""
        text = (f'{{"ts": "{now_iso()}"{self._head}"action": {_text(action.kind.value)}, '
                f'"employee_id": {_value(action.employee_id)}, "dn": {_text(action.dn)}, '
                f'"reason": {_value(action.reason)}, "clause": {_value(action.clause)}, '
                f'"changes": {_changes(action.changes)}, "member": {_value(action.member)}, '
                f'"note": {_value(note or action.note)}, "from_dn": {_value(action.from_dn)}, '
                f'"reverts": {_value(action.reverts)}, "before": {_before(action)}, '
                f'"dry_run": {"true" if dry_run else "false"}, '
                f'"outcome": {_text(outcome or ("failed" if error else "ok"))}, '
                f'"error": {_value(error)}{self._tail}\n')
        with self._lock:
            self._pending.append(text)
            if len(self._pending) >= BATCH:
                self._write()

    def record_plan(self, plan_id: str, sha256: str, written_to: str,
                    reverts: str | None = None) -> None:
        """The line that makes a plan file applicable (SPEC §15): action ``plan``, the
        SHA-256 of the file's bytes in ``note``, ``plan_id``. ``apply`` refuses a file
        whose digest no such line shows."""
        fields = {"ts": now_iso(), "run_id": self.run_id, "actor": self.actor,
                  "scope": self.scope, "roster_sha256": self.roster_sha256, "action": "plan",
                  "employee_id": None, "dn": None, "reason": written_to, "clause": None,
                  "changes": None, "member": None, "note": sha256, "from_dn": None,
                  "reverts": reverts, "before": None, "dry_run": False, "outcome": "ok",
                  "error": None, "plan_id": plan_id}
        with self._lock:
            self._pending.append(json.dumps(fields, ensure_ascii=False) + "\n")
            self._write()

    def flush(self) -> None:
        with self._lock:
            self._write()

    def _write(self) -> None:
        """The pending lines in one write, whole or not at all (lock held)."""
        if not self._pending:
            return
        fd = self._opened()
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            start = os.fstat(fd).st_size
            seq, prev = self._last_head(fd, start)
            data, seq, prev = chained(self._pending, seq, prev)
            self._pending.clear()
            try:
                written = os.write(fd, data)
            except OSError as exc:
                written, reason = -1, exc.strerror or str(exc)
            else:
                reason = "the file system took only part of it"
            if written != len(data):
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, start)
                raise AuditError(f"cannot write to the audit log {self.path}: {reason}; "
                                 "no further change is sent, and the next run writes the "
                                 "lines of the changes already made")
            self.head = (seq, prev)
            with _LAST_LOCK:
                _LAST[:] = [self.head]
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _last_head(self, fd: int, size: int) -> tuple[int, str]:
        """``(seq, sha256)`` of the file's last line (lock held): one small read per
        batch. An empty file continues from the anchored head; a file whose last line
        predates the chain starts it at its line count."""
        if size == 0:
            anchored = self._anchor() if self._anchor is not None else None
            return anchored or (0, ZERO)
        tail = os.pread(fd, min(size, 65536), max(size - 65536, 0)).rstrip(b"\n")
        last = tail[tail.rfind(b"\n") + 1:]
        digest = hashlib.sha256(last).hexdigest()
        head = head_of(last)
        if head is not None:
            return head[0], digest
        with open(self.path, "rb") as handle:
            return sum(1 for _ in handle), digest

    def close(self) -> None:
        """Write what is pending and make it durable (the run's journal is dropped only
        after this)."""
        with self._lock:
            try:
                self._write()
                if self._fd is not None:
                    os.fsync(self._fd)
            finally:
                if self._fd is not None:
                    os.close(self._fd)
                    self._fd = None


class PlanTrail(NamedTuple):
    """What the audit trail says of one plan_id."""

    #: SHA-256 of every file written under this plan_id → when its line was written
    digests: dict[str, str]
    #: a line of a real (not dry) change carries this plan_id: it was applied
    applied: bool


def plan_trail(path: Path, plan_id: str, scope: str) -> PlanTrail:
    """One streaming pass over the trail; only lines naming the plan_id are parsed. A
    digest counts only from a line of the plan's own scope; a plan counts as applied
    from any real change of that plan_id, made by ``apply`` (``plan_id``) or by the run
    that wrote it (``run_id``: a ``reconcile --plan-out`` that was not a dry run)."""
    digests: dict[str, str] = {}
    applied = False
    for fields in lines_naming(path, json.dumps(plan_id, ensure_ascii=False)):
        if plan_id not in (fields.get("plan_id"), fields.get("run_id")):
            continue
        if fields.get("action") == "plan":
            if fields.get("plan_id") == plan_id and fields.get("scope") == scope:
                digests[str(fields.get("note"))] = str(fields.get("ts"))
        elif fields.get("dry_run") is False:
            applied = True
    return PlanTrail(digests, applied)


def lines_naming(path: Path, marker: str) -> Iterator[dict[str, Any]]:
    """The audit lines whose text holds ``marker``, parsed, in order: one streaming
    pass; only those lines are parsed (a missing file has none)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if marker not in line:
                    continue
                try:
                    fields = json.loads(line)
                except ValueError:
                    continue
                if isinstance(fields, dict):
                    yield fields
    except FileNotFoundError:
        return

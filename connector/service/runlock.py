"""One run at a time per scope, across processes (a daemon and a one-shot reconcile).

An OS file lock (``flock``): the kernel releases it when the holding process dies, so
a crash never leaves a stale lock behind. The lock file is opened with ``O_NOFOLLOW``
and never truncated, mode 0600 (SPEC §15): a link planted at its name is refused, not
followed to overwrite whatever it points at.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import time
from collections.abc import Iterator

from loguru import logger

from connector.errors import ConfigError, RunLocked
from connector.settings import Settings

POLL = 0.1


def lock_path(settings: Settings) -> str:
    name = re.sub(r"[^A-Za-z0-9_-]", "_", str(settings.scope_value))
    try:
        settings.state.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ConfigError(f"CONNECTOR_STATE__DIR: cannot create {settings.state.dir}: "
                          f"{exc.strerror}") from None
    return str(settings.state.dir / f"run-{name}.lock")


def _open(path: str) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise ConfigError(f"CONNECTOR_STATE__DIR: cannot use the run lock {path}: "
                          f"{exc.strerror} (a link there is refused)") from None


def _try(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def run_lock(settings: Settings, *, wait: bool = True, timeout: float = -1) -> Iterator[None]:
    """Hold the scope's run lock; wait for it, or raise RunLocked (exit 5) at once."""
    path = lock_path(settings)
    fd = _open(path)
    try:
        if not _try(fd):
            if not wait:
                raise RunLocked(
                    f"another run for scope {settings.scope_value} is in progress (lock "
                    f"{path}); exiting without changes (drop --no-wait to wait for it)")
            logger.info("another run for scope {} is in progress; waiting for it",
                        settings.scope_value)
            deadline = None if timeout < 0 else time.monotonic() + timeout
            while not _try(fd):
                if deadline is not None and time.monotonic() >= deadline:
                    raise RunLocked(f"timed out waiting for the run lock {path}")
                time.sleep(POLL)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock

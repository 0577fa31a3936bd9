"""One run at a time per scope, across processes (a daemon and a one-shot reconcile).

An OS file lock (``filelock``): the kernel releases it when the holding
process dies, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

from filelock import FileLock, Timeout
from loguru import logger

from connector.errors import ConfigError, RunLocked
from connector.settings import Settings


def lock_path(settings: Settings) -> str:
    name = re.sub(r"[^A-Za-z0-9_-]", "_", str(settings.scope_value))
    try:
        settings.state.dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"CONNECTOR_STATE__DIR: cannot create {settings.state.dir}: "
                          f"{exc.strerror}") from None
    return str(settings.state.dir / f"run-{name}.lock")


@contextlib.contextmanager
def run_lock(settings: Settings, *, wait: bool = True, timeout: float = -1) -> Iterator[None]:
    """Hold the scope's run lock; wait for it, or raise RunLocked (exit 5) at once."""
    path = lock_path(settings)
    lock = FileLock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if not wait:
            raise RunLocked(
                f"another run for scope {settings.scope_value} is in progress (lock {path}); "
                "exiting without changes (drop --no-wait to wait for it)"
            ) from None
        logger.info("another run for scope {} is in progress; waiting for it", settings.scope_value)
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            raise RunLocked(f"timed out waiting for the run lock {path}") from None
    except OSError as exc:  # after Timeout, which is an OSError too
        raise ConfigError(f"CONNECTOR_STATE__DIR: cannot use the run lock {path}: "
                          f"{exc.strerror}") from None
    try:
        yield
    finally:
        lock.release()

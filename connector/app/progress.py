"""Progress of a long apply: a bar on a terminal, a log line every tenth otherwise."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from loguru import logger


class ApplyProgress:
    """A progress bar on stderr for long applies (only on a terminal, never with --json)."""

    def __init__(self, as_json: bool) -> None:
        self.enabled = not as_json and sys.stderr.isatty()
        self._bar: Any = None
        self._task: Any = None
        self._last_logged = 0

    def __enter__(self) -> Callable[[int, int], None]:
        return self.update

    def update(self, done: int, total: int) -> None:
        if total < 50:
            return
        if self.enabled:
            if self._bar is None:
                from rich.console import Console
                from rich.progress import (
                    BarColumn,
                    MofNCompleteColumn,
                    Progress,
                    TimeRemainingColumn,
                )

                self._bar = Progress("applying", BarColumn(), MofNCompleteColumn(),
                                     TimeRemainingColumn(), console=Console(stderr=True),
                                     transient=True)
                self._bar.start()
                self._task = self._bar.add_task("apply", total=total)
            self._bar.update(self._task, completed=done)
        elif done == total or done - self._last_logged >= max(100, total // 10):
            self._last_logged = done
            logger.info("applied {}/{} actions", done, total)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

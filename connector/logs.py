"""Operational logging, configured only at the entry points.

loguru with ``diagnose=False`` (it would otherwise print local variables,
secrets included), standard ``logging`` from ldap3 and APScheduler routed into
it, and a last-line redaction of the bind secret. The audit log is separate.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from loguru import logger

TEXT_FORMAT = (
    "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> <level>{level: <7}</level> "
    "<cyan>{extra[run_id]}</cyan> {message}"
)
FILE_FORMAT = "{time:YYYY-MM-DDTHH:mm:ss.SSSZZ} {level: <7} {extra[run_id]} {message}"


class _Intercept(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.opt(depth=6, exception=None).log(level, "{}: {}", record.name, record.getMessage())


def setup_logging(
    level: str = "INFO",
    *,
    json_lines: bool = False,
    file: Path | None = None,
    rotation: str = "10 MB",
    retention: str = "14 days",
    secrets: Iterable[str] = (),
) -> None:
    hidden = [s for s in secrets if s]

    def redact(record: Any) -> None:
        record["extra"].setdefault("run_id", "-")
        for secret in hidden:
            if secret in record["message"]:
                record["message"] = record["message"].replace(secret, "***")

    logger.remove()
    logger.configure(patcher=redact, extra={"run_id": "-"})
    if json_lines:
        logger.add(sys.stderr, level=level, serialize=True, diagnose=False, backtrace=False)
    else:
        logger.add(sys.stderr, level=level, format=TEXT_FORMAT, diagnose=False, backtrace=False,
                   colorize=None)
    if file is not None:
        logger.add(str(file), level=level, format=FILE_FORMAT, rotation=rotation,
                   retention=retention, serialize=json_lines, diagnose=False, backtrace=False,
                   enqueue=True)
    logging.basicConfig(handlers=[_Intercept()], level=logging.WARNING, force=True)
    for name in ("ldap3", "apscheduler"):
        logging.getLogger(name).setLevel(logging.DEBUG if level in ("TRACE", "DEBUG")
                                         else logging.WARNING)

"""Operational logging, configured only at the entry points.

loguru with ``diagnose=False`` (it would otherwise print local variables,
secrets included), standard ``logging`` from ldap3 and APScheduler routed into
it, and a last-line redaction of the bind secret. The audit log is separate.
"""

from __future__ import annotations

import json
import logging
import os
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


#: extra keys that are the log line's own, not an event field
_OWN = frozenset({"run_id", "scope", "_json"})


def flat_json(record: Any) -> str:
    """One log record as one flat JSON object, the shape log shippers (Loki,
    Elasticsearch, journald's JSON) index: ts, level, message, run_id, scope, logger,
    then the event's own fields. An exception is its type and text, never a traceback
    with local variables."""
    extra = record["extra"]
    doc: dict[str, object] = {
        "ts": record["time"].isoformat(timespec="milliseconds"),
        "level": record["level"].name,
        "message": record["message"],
        "run_id": extra.get("run_id", "-"),
        "scope": extra.get("scope"),
        "logger": record["name"],
    }
    doc.update({key: value for key, value in extra.items() if key not in _OWN})
    if record["exception"] is not None and record["exception"].type is not None:
        doc["exception"] = f"{record['exception'].type.__name__}: {record['exception'].value}"
    return json.dumps(doc, ensure_ascii=False, default=str)


def _json_format(_record: Any) -> str:
    return "{extra[_json]}\n"


def _private(path: str, flags: int) -> int:
    """The log file holds personal data: created 0600, its directory 0700 (SPEC §15)."""
    return os.open(path, flags | os.O_CLOEXEC, 0o600)


#: whether ``setup_logging`` has run in this process (loguru's own default sink prints
#: local variables with a traceback: it must never be the one that writes)
CONFIGURED = [False]


def ensure_logging() -> None:
    """The safe defaults, if nothing has set logging up yet (an error raised before
    the command's settings were read)."""
    if not CONFIGURED[0]:
        setup_logging("INFO")


def setup_logging(
    level: str = "INFO",
    *,
    json_lines: bool = False,
    file: Path | None = None,
    rotation: str = "10 MB",
    retention: str = "14 days",
    secrets: Iterable[str] = (),
    scope: str | None = None,
) -> None:
    hidden = [s for s in secrets if s]

    def redact(record: Any) -> None:
        record["extra"].setdefault("run_id", "-")
        for secret in hidden:
            if secret in record["message"]:
                record["message"] = record["message"].replace(secret, "***")
        if json_lines:
            text = flat_json(record)
            for secret in hidden:
                text = text.replace(secret, "***")
            record["extra"]["_json"] = text

    CONFIGURED[0] = True
    logger.remove()
    logger.configure(patcher=redact, extra={"run_id": "-", "scope": scope})
    if json_lines:
        logger.add(sys.stderr, level=level, format=_json_format, diagnose=False,
                   backtrace=False, colorize=False)
    else:
        logger.add(sys.stderr, level=level, format=TEXT_FORMAT, diagnose=False, backtrace=False,
                   colorize=None)
    if file is not None:
        os.makedirs(os.path.dirname(os.path.abspath(file)), mode=0o700, exist_ok=True)
        logger.add(str(file), level=level, format=_json_format if json_lines else FILE_FORMAT,
                   rotation=rotation, retention=retention, diagnose=False, backtrace=False,
                   enqueue=True, opener=_private)
    logging.basicConfig(handlers=[_Intercept()], level=logging.WARNING, force=True)
    for name in ("ldap3", "apscheduler"):
        logging.getLogger(name).setLevel(logging.DEBUG if level in ("TRACE", "DEBUG")
                                         else logging.WARNING)

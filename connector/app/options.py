"""What every command shares: the settings and logging set up from the flags, the
connection, the options ``--config`` and ``--report``, and how a run is shown."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from connector.app.logs import setup_logging
from connector.outputs.jsonstream import write_json

if TYPE_CHECKING:
    from connector.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


def report_option(func: F) -> F:
    """``--report PATH``, the same on reconcile and apply (SPEC §9)."""
    return click.option(
        "--report", "report", type=click.Path(dir_okay=False, path_type=Path), default=None,
        help="Also write a report of the run for review: .html (self-contained), .csv "
             "(Excel-friendly) or .xlsx (CONNECTOR_REPORT__LANGUAGE).")(func)


def scope_option(func: F) -> F:
    """``--scope``, after the command as before it (``connector --scope S status``)."""
    return click.option("--scope", default=None,
                        help="Override CONNECTOR_SCOPE (it-centre | province:CODE).")(func)


def config_option(func: F) -> F:
    return click.option(
        "--config", "config", type=click.Path(dir_okay=False, path_type=Path),
        help="TOML settings file (default: $CONNECTOR_CONFIG).", default=None,
        expose_value=True,
    )(func)


def load(ctx: click.Context, config: Path | None, **overrides: Any) -> Settings:
    from connector.settings import load_settings

    root = ctx.find_root()
    path = config or root.params.get("config")
    if overrides.get("scope") is None and root.params.get("scope"):
        overrides["scope"] = root.params["scope"]  # `connector --scope S command`
    settings = load_settings(path, **overrides)
    use_timezone(settings.schedule.timezone)
    level = "DEBUG" if root.params.get("verbose") else settings.log.level
    secret = settings.ldap.bind_password.get_secret_value() if settings.ldap.bind_password else ""
    setup_logging(level, json_lines=settings.log.json_lines, file=settings.log.file,
                  rotation=settings.log.rotation, retention=settings.log.retention,
                  secrets=[secret], scope=str(settings.scope_value))
    ctx.obj = settings
    return settings


def use_timezone(name: str) -> None:
    """Every time a person reads (reports, status, plan files, audit ``ts``, logs,
    notifications) is local time in CONNECTOR_SCHEDULE__TIMEZONE (SPEC §16): the
    process's own zone is set to it once, so that no writer can forget."""
    import time

    if not Path("/usr/share/zoneinfo", name).is_file():  # no system tz database entry:
        from datetime import datetime
        from zoneinfo import ZoneInfo

        offset = datetime.now(ZoneInfo(name)).utcoffset()
        minutes = int(offset.total_seconds() // 60) if offset else 0
        sign = "-" if minutes >= 0 else "+"  # POSIX TZ offsets are west-positive
        name = f"<{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}>" \
            f"{sign}{abs(minutes) // 60}:{abs(minutes) % 60:02d}"
    os.environ["TZ"] = name
    time.tzset()


def connect(settings: Settings) -> Any:
    from connector.directory.ldap import LdapDirectory

    settings.require_bind()
    return LdapDirectory(settings.ldap, settings.layout_value, settings.scope_value)


def print_json(document: dict[str, object]) -> None:
    write_json(document, sys.stdout)


def write_report(result: Any, path: Path, settings: Settings) -> None:
    from connector.outputs.report import write_report

    written = write_report(result, path, settings.report.language)
    click.echo(f"report written to {written}", err=True)


def show_run(result: Any, settings: Settings, report: Path | None, as_json: bool,
              notes: Sequence[str] = ()) -> None:
    """A run's report file, then its JSON document or its text (and ``notes``)."""
    from connector.core.render import run_report

    if report is not None:
        write_report(result, report, settings)
    if as_json:
        print_json(result.to_dict(lazy=True))
        return
    click.echo(run_report(result))
    for note in notes:
        click.echo(note)

"""The ``connector`` command line: the one place that maps errors to messages and
exit codes (0 ok · 1 rows rejected or operations failed · 2 usage/configuration
· 3 safety guard · 4 directory unreachable or run cut off · 5 run lock busy).
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from loguru import logger

from connector import __version__
from connector.app.logs import setup_logging
from connector.app.progress import ApplyProgress
from connector.core.results import Encoded
from connector.errors import EXIT_CODES_HELP, ConfigError, ConnectorError, ExitCode
from connector.settings import Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])

EPILOG = """\b
Configuration: a TOML file (--config or CONNECTOR_CONFIG) under CONNECTOR_*
environment variables (nested with __, e.g. CONNECTOR_LDAP__URL), under flags.
""" + EXIT_CODES_HELP


def _report_option(func: F) -> F:
    """``--report PATH``, the same on reconcile and apply (SPEC §9)."""
    return click.option(
        "--report", "report", type=click.Path(dir_okay=False, path_type=Path), default=None,
        help="Also write a report of the run for review: .html (self-contained), .csv "
             "(Excel-friendly) or .xlsx (CONNECTOR_REPORT__LANGUAGE).")(func)


def _config_option(func: F) -> F:
    return click.option(
        "--config", "config", type=click.Path(dir_okay=False, path_type=Path),
        help="TOML settings file (default: $CONNECTOR_CONFIG).", default=None,
        expose_value=True,
    )(func)


def _settings(ctx: click.Context, config: Path | None, **overrides: Any) -> Settings:
    root = ctx.find_root()
    path = config or root.params.get("config")
    settings = load_settings(path, **overrides)
    level = "DEBUG" if root.params.get("verbose") else settings.log.level
    secret = settings.ldap.bind_password.get_secret_value() if settings.ldap.bind_password else ""
    setup_logging(level, json_lines=settings.log.json_lines, file=settings.log.file,
                  rotation=settings.log.rotation, retention=settings.log.retention,
                  secrets=[secret], scope=str(settings.scope_value))
    ctx.obj = settings
    return settings


def _connect(settings: Settings) -> Any:
    from connector.directory.ldap import LdapDirectory

    settings.require_bind()
    return LdapDirectory(settings.ldap, settings.layout_value, settings.scope_value)


@click.group(epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"],
                                              "max_content_width": 100})
@click.version_option(__version__, prog_name="connector")
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="TOML settings file (default: $CONNECTOR_CONFIG).")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging on stderr.")
def cli(config: Path | None, verbose: bool) -> None:
    """Keep an LDAP directory in step with the HR roster under Decision 2366/QĐ-BHXH.

    Creates accounts for active people in this scope's OUs, locks them on leave,
    termination, transfer, violation or misuse (with the clause that says so), and
    never deletes. Start with `connector check`, then `connector reconcile --dry-run`.
    """


@cli.command(epilog=EPILOG)
@_config_option
@click.option("--dry-run", is_flag=True, help="Print the plan; write nothing to the directory.")
@click.option("--json", "as_json", is_flag=True,
              help="stdout is one JSON document (summary, actions, rejected rows).")
@click.option("--roster", type=click.Path(path_type=Path), default=None,
              help="Roster: CSV, or an .xlsx workbook (default: CONNECTOR_ROSTER__PATH).")
@click.option("--allow-mass-lock", is_flag=True,
              help="Override the safety guard on the number/share of locks.")
@click.option("--scope", default=None, help="Override CONNECTOR_SCOPE (it-centre | province:CODE).")
@click.option("--units", "units_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Units file with the former codes of merged or renamed units "
              "(default: CONNECTOR_UNITS__PATH).")
@click.option("--no-wait", is_flag=True,
              help="If another run holds the lock for this scope, exit 5 at once instead of "
                   "waiting.")
@click.option("--plan-out", "plan_out", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also write the plan as a plan file (SPEC §9); with "
              "--dry-run, this is how a plan is prepared for review and `connector apply`.")
@_report_option
@click.option("--only", "only", multiple=True, metavar="ID",
              help="Plan and apply only for this employee_id (repeatable): a new hire now, "
                   "without running the whole roster; nobody else is touched.")
@click.pass_context
def reconcile(ctx: click.Context, config: Path | None, dry_run: bool, as_json: bool,
              roster: Path | None, allow_mass_lock: bool, scope: str | None,
              units_path: Path | None, no_wait: bool, plan_out: Path | None,
              report: Path | None, only: tuple[str, ...]) -> None:
    """One run: read the roster, read the directory, plan, apply, audit.

    \b
    Examples:
      connector reconcile --dry-run --roster staff.csv
      connector reconcile --json > run.json
      connector reconcile --only BTE0042 --only BTE0043
      connector reconcile --dry-run --plan-out plan.json   # then: connector apply plan.json
    """
    from connector.service.reconcile import reconcile as run
    from connector.service.runlock import run_lock

    ctx.meta["json"] = as_json
    settings = _settings(ctx, config, scope=scope,
                         units={"path": str(units_path)} if units_path else None)
    with run_lock(settings, wait=not no_wait), ApplyProgress(as_json) as progress:
        result = run(settings, lambda: _connect(settings), dry_run=dry_run,
                     allow_mass_lock=allow_mass_lock, roster_path=roster, progress=progress,
                     only=only, plan_out=plan_out)
    _show_run(result, settings, report, as_json)
    ctx.exit(result.exit_code)


@cli.command("apply", epilog=EPILOG, short_help="Apply exactly a reviewed plan file.")
@_config_option
@click.argument("plan_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="stdout is one JSON document.")
@click.option("--allow-mass-lock", is_flag=True,
              help="The approval of a plan that the safety guard stopped.")
@click.option("--scope", default=None, help="Override CONNECTOR_SCOPE.")
@_report_option
@click.pass_context
def apply_command(ctx: click.Context, config: Path | None, plan_file: Path, as_json: bool,
                  allow_mass_lock: bool, scope: str | None, report: Path | None) -> None:
    """Apply the actions of a saved plan file, and nothing else (SPEC §9).

    Re-reads only the entries the plan touches and sends, in the plan's order,
    each action whose entry is still as the planner saw it; the others are not
    sent and are reported as skipped, with the reason (exit 1). Refused, with
    nothing changed (exit 2): a malformed plan, one of another scope or base
    DN, one older than CONNECTOR_PLAN__MAX_AGE_HOURS, one already applied.

    \b
    Examples:
      connector reconcile --dry-run --plan-out plan.json
      connector apply plan.json
      connector apply state/pending-province-BTE-<plan_id>.json --allow-mass-lock
    """
    from connector.service.approve import apply_plan
    from connector.service.reconcile import new_run_id
    from connector.service.runlock import run_lock

    ctx.meta["json"] = as_json
    settings = _settings(ctx, config, scope=scope)
    with run_lock(settings, wait=True):
        directory = _connect(settings)
        try:
            result = apply_plan(settings, directory, plan_file, new_run_id(),
                                allow_mass_lock=allow_mass_lock)
        finally:
            directory.close()
    _show_run(result, settings, report, as_json,
              [f"  skipped: {reason}" for reason in result.skipped.values()])
    ctx.exit(result.exit_code)


@cli.command(epilog=EPILOG, short_help="Lock an account by hand (misuse: Art. 6 §3 hold).")
@_config_option
@click.argument("employee_id")
@click.option("--reason", required=True,
              type=click.Choice(["misuse", "violation", "transferred", "terminated",
                                 "maternity_leave", "sick_leave", "unpaid_leave"]),
              help="misuse = Art. 6 §3 security hold (IT Centre only; reconcile never lifts "
                   "it); violation = 6.2.3; transferred = 6.2.2; the leave reasons = 6.2.1.")
@click.option("--note", default=None, help="Free text kept on the entry and in the audit log.")
@click.option("--scope", default=None, help="Override CONNECTOR_SCOPE.")
@click.pass_context
def lock(ctx: click.Context, config: Path | None, employee_id: str, reason: str,
         note: str | None, scope: str | None) -> None:
    """Lock an account by hand (Art. 6 §3 for misuse).

    A misuse lock is a security hold: reconcile never lifts it and only the IT
    Centre can unlock it. The reason and note are written on the entry and
    in the audit log.

    \b
    Examples:
      connector lock BTE0003 --reason misuse --note "ticket 4711"
      connector --config bte.toml lock BTE0042 --reason violation
    """
    from connector.service.manual import manual_lock

    settings = _settings(ctx, config, scope=scope)
    directory = _connect(settings)
    try:
        result = manual_lock(settings, directory, employee_id, reason, note)
    finally:
        directory.close()
    _manual_report(result)
    ctx.exit(result.exit_code)


@cli.command("reset-password", epilog=EPILOG,
             short_help="Issue a new sealed initial password (unlocked accounts only).")
@_config_option
@click.argument("employee_id")
@click.option("--note", default=None, help="Free text kept in the audit log (e.g. a ticket).")
@click.option("--scope", default=None, help="Override CONNECTOR_SCOPE.")
@click.pass_context
def reset_password_command(ctx: click.Context, config: Path | None, employee_id: str,
                           note: str | None, scope: str | None) -> None:
    """Issue a new initial password for an account of the scope (SPEC §11).

    The password is set with Password Modify (slapd hashes it) and pwdReset, so
    the holder must change it at the first login; it is sealed with age for the
    recipient the units file (CONNECTOR_UNITS__PATH) names for the account's
    unit, in CONNECTOR_CREDENTIALS__DIR/<run_id>-<unit>.csv.age, and shown
    nowhere. Refused (nothing changed) for a locked account (a password change
    would lift the lock), an account outside the scope, or a unit without a
    recipient.

    \b
    Examples:
      connector reset-password BTE0003 --note "ticket 4711"
      age -d -i officer.key <state>/credentials/<run_id>-BTE.csv.age
    """
    from connector.service.credentials import reset_password
    from connector.service.reconcile import new_run_id
    from connector.sources.units import load_units

    settings = _settings(ctx, config, scope=scope)
    units = load_units(settings.units.path) if settings.units.path else None
    directory = _connect(settings)
    try:
        path = reset_password(settings, directory, units, employee_id, new_run_id(), note)
    finally:
        directory.close()
    click.echo(f"new initial password for {employee_id} sealed in {path}")
    click.echo("the holder must change it at the first login")
    ctx.exit(0)


@cli.command(epilog=EPILOG, short_help="Lift a lock by hand (a 6.3 hold: IT Centre only).")
@_config_option
@click.argument("employee_id")
@click.option("--note", default=None, help="Free text kept in the audit log.")
@click.option("--scope", default=None, help="Override CONNECTOR_SCOPE.")
@click.pass_context
def unlock(ctx: click.Context, config: Path | None, employee_id: str, note: str | None,
           scope: str | None) -> None:
    """Lift a lock by hand, sticky ones included; a 6.3 hold only by the IT Centre.

    If the roster still demands the lock, the next reconcile puts it back.

    \b
    Examples:
      connector unlock TW0005 --note "violation cleared by decision 12/QD"
    """
    from connector.service.manual import manual_unlock

    settings = _settings(ctx, config, scope=scope)
    directory = _connect(settings)
    try:
        result = manual_unlock(settings, directory, employee_id, note)
    finally:
        directory.close()
    _manual_report(result)
    ctx.exit(result.exit_code)


def _manual_report(result: Any) -> None:
    for outcome in result.outcomes:
        action = outcome.action
        state = "ok" if outcome.ok else f"FAILED: {outcome.error}"
        click.echo(f"{action.kind.value} {action.dn} ({action.reason}, clause "
                   f"{action.clause or '-'}): {state}")
    click.echo(result.message if result.exit_code == 0 else "some operations failed")


@cli.command(epilog=EPILOG)
@_config_option
@click.option("--units", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Units file (default: the sample in config/units.toml).")
@click.option("--dry-run", is_flag=True, help="Show what would be created.")
@click.option("--print-acl", is_flag=True,
              help="Print the olcAccess/olcLimits LDIF that enforces the delegation, and exit.")
@click.option("--database", default="olcDatabase={1}mdb,cn=config", show_default=True,
              help="cn=config DN of the database, for --print-acl.")
@click.pass_context
def bootstrap(ctx: click.Context, config: Path | None, units: Path | None, dry_run: bool,
              print_acl: bool, database: str) -> None:
    """Create the OU tree, groups and provinces from a units file (idempotent).

    Run it as the directory operator. A second run changes nothing and says so.

    \b
    Examples:
      connector bootstrap --dry-run
      connector bootstrap --units /etc/connector/units.toml
      connector bootstrap --print-acl > acl.ldif
      ldapmodify -Y EXTERNAL -H ldapi:/// -f acl.ldif
    """
    from connector.resources import default_units
    from connector.service.bootstrap import bootstrap as run
    from connector.sources.units import load_units

    settings = _settings(ctx, config)
    loaded = load_units(units or default_units())
    if print_acl:
        from connector.core.acl import acl_ldif

        click.echo(acl_ldif(settings.layout_value, loaded, database), nl=False)
        return
    directory = _connect(settings)
    try:
        result = run(directory, settings.layout_value, loaded, dry_run=dry_run)
    finally:
        directory.close()
    for dn in result.planned:
        click.echo(f"would create {dn}")
    for dn in result.created:
        click.echo(f"created {dn}")
    for dn, error in result.failed:
        click.echo(f"FAILED {dn}: {error}")
    if not result.created and not result.planned and not result.failed:
        click.echo(f"nothing to do: all {len(result.existing)} entries exist")
    else:
        click.echo(f"{len(result.created)} created, {len(result.planned)} to create, "
                   f"{len(result.existing)} already there, {len(result.failed)} failed")
    ctx.exit(ExitCode.PARTIAL if result.failed else ExitCode.OK)


@cli.command(epilog=EPILOG, short_help="Move the accounts of merged or renamed provinces.")
@_config_option
@click.option("--units", "units_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Units file with `formerly = [...]` (default: "
              "CONNECTOR_UNITS__PATH, then the sample in config/units.toml).")
@click.option("--dry-run", is_flag=True, help="Show the moves; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="stdout is one JSON document.")
@click.pass_context
def reorganize(ctx: click.Context, config: Path | None, units_path: Path | None,
               dry_run: bool, as_json: bool) -> None:
    """As the directory operator: move every account of a province that was merged or
    renamed to the province that absorbed it (SPEC §10).

    Creates the new units' tree, moves each account with modrdn (the same entry: its
    password, lock and lock record kept), sets departmentNumber to the new code, moves
    admin group membership, and keeps the emptied old OUs. A second run changes nothing.

    \b
    Examples:
      connector reorganize --units merged.toml --dry-run
      connector reorganize --units merged.toml
    """
    from connector.resources import default_units
    from connector.service.reorganize import reorganize as run
    from connector.sources.units import load_units

    ctx.meta["json"] = as_json
    settings = _settings(ctx, config)
    units = load_units(units_path or settings.units.path or default_units())
    directory = _connect(settings)
    try:
        result = run(settings, directory, units, dry_run=dry_run)
    finally:
        directory.close()
    if as_json:
        _print_json(result.to_dict())
    else:
        for dn in result.tree.created or result.tree.planned:
            click.echo(f"{'would create' if dry_run else 'created'} {dn}")
        for outcome in result.moves:
            state = "" if outcome.ok else f": FAILED {outcome.error}"
            click.echo(f"{'would move' if dry_run else 'moved'} {outcome.action.from_dn} -> "
                       f"{outcome.action.dn}{state}")
        for dn in result.emptied:
            click.echo(f"{'would empty' if dry_run else 'emptied (kept)'} {dn}")
        click.echo(f"{len(result.moves)} account(s) {'to move' if dry_run else 'moved'}, "
                   f"{len(result.failed)} failed" if result.moves else "nothing to move")
    ctx.exit(ExitCode.PARTIAL if result.failed or result.tree.failed else ExitCode.OK)


@cli.command(epilog=EPILOG)
@_config_option
@click.option("--scope", default=None, help="Override CONNECTOR_SCOPE.")
@click.pass_context
def check(ctx: click.Context, config: Path | None, scope: str | None) -> None:
    """Validate settings, bind, and report what this identity can see and write.

    Write access is probed without changing anything. Exit 0 when the identity
    can write exactly where its scope needs to, 1 otherwise.

    \b
    Examples:
      CONNECTOR_SCOPE=province:BTE connector check
    """
    from connector.service.check import run_check

    settings = _settings(ctx, config, scope=scope)
    directory = _connect(settings)
    try:
        lines, ok = run_check(settings, directory)
    finally:
        directory.close()
    for line in lines:
        click.echo(line)
    ctx.exit(ExitCode.OK if ok else ExitCode.PARTIAL)


@cli.command(epilog=EPILOG)
@_config_option
@click.option("--once", is_flag=True, help="Run once now and exit (for testing a schedule).")
@click.pass_context
def daemon(ctx: click.Context, config: Path | None, once: bool) -> None:
    """Run reconcile on the schedule until SIGTERM/SIGINT, then stop cleanly (exit 0).

    \b
    Examples:
      CONNECTOR_SCHEDULE__CRON="0 * * * *" connector daemon
      CONNECTOR_SCHEDULE__INTERVAL_SECONDS=300 connector daemon
      connector daemon --once
    """
    from connector.app.daemon import run_daemon

    gc.enable()  # a long-lived process collects its cycles (each run pauses it itself)
    settings = _settings(ctx, config)
    settings.require_bind()
    if settings.roster.path is None:
        raise ConfigError("CONNECTOR_ROSTER__PATH is not set: the daemon needs a roster")
    ctx.exit(run_daemon(settings, lambda: _connect(settings), once=once))


@cli.command(epilog=EPILOG)
@_config_option
@click.option("--json", "as_json", is_flag=True, help="Print the status file as JSON.")
@click.pass_context
def status(ctx: click.Context, config: Path | None, as_json: bool) -> None:
    """Show the daemon's last run (from its status file)."""
    from connector.app.daemon import read_status

    settings = _settings(ctx, config)
    data = read_status(settings)
    if data is None:
        click.echo(f"no status yet in {settings.state.dir} (the daemon has not run)")
        ctx.exit(ExitCode.PARTIAL)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    from connector.core.render import status_report

    click.echo(status_report(data, settings.state.dir))


def _write_report(result: Any, path: Path, settings: Settings) -> None:
    from connector.outputs.report import write_report

    written = write_report(result, path, settings.report.language)
    click.echo(f"report written to {written}", err=True)


def _show_run(result: Any, settings: Settings, report: Path | None, as_json: bool,
              notes: Sequence[str] = ()) -> None:
    """A run's report file, then its JSON document or its text (and ``notes``)."""
    from connector.core.render import run_report

    if report is not None:
        _write_report(result, report, settings)
    if as_json:
        _print_json(result.to_dict(lazy=True))
        return
    click.echo(run_report(result))
    for note in notes:
        click.echo(note)


def _print_json(document: dict[str, object]) -> None:
    """One JSON document on stdout, streamed: the long lists come as iterators and are
    written item by item (one compact line each, through json's C encoder), so a
    100,000-row run is never held as dicts and as text at once."""
    out = sys.stdout
    encode = _item_encoder()
    parts: list[str] = ["{"]
    for index, (key, value) in enumerate(document.items()):
        parts.append(("," if index else "") + "\n  " + json.dumps(key) + ": ")
        if isinstance(value, Encoded):  # a whole list, encoded already
            parts.append("[\n    " + value + "\n  ]" if value else "[]")
        elif isinstance(value, Iterator):
            parts.append("[")
            count = 0
            for item in value:
                parts.append(("," if count else "") + "\n    " + encode(item))
                count += 1
                if len(parts) >= 4096:
                    out.write("".join(parts))
                    parts.clear()
            parts.append("\n  ]" if count else "]")
        else:
            parts.append(json.dumps(value, ensure_ascii=False, indent=2).replace("\n", "\n  "))
    parts.append("\n}\n")
    out.write("".join(parts))
    out.flush()


def _item_encoder() -> Callable[[object], str]:
    """One compact JSON text per item, from an encoder made once: ``json.dumps`` with
    any option builds a new encoder per call, which costs 4x the encoding itself."""
    from json import encoder

    make = getattr(encoder, "c_make_encoder", None)
    base = json.JSONEncoder(ensure_ascii=False)
    if make is None:  # no C speedups in this interpreter
        return base.encode
    # the arguments JSONEncoder.iterencode gives it for ensure_ascii=False, no indent
    fast = make(None, base.default, encoder.encode_basestring, None, ": ", ", ",
                False, False, True)
    return lambda item: "".join(fast(item, 0))


def main(argv: list[str] | None = None) -> None:
    """Entry point: one clear line and an exit code for every known error.

    A one-shot command runs without cyclic garbage collection (the daemon turns it back
    on): its life is one run, whose objects hold no cycles, and each collection pass
    walks all of them (see ``service.reconcile.collection_paused``)."""
    if argv is None:
        gc.disable()
    threading.current_thread().name = "main"
    setup_logging("INFO")  # safe defaults (no variable dumps) until the settings are read
    try:
        code = cli.main(args=argv, prog_name="connector", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(ExitCode.USAGE)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except ConnectorError as exc:
        logger.opt(exception=exc).debug("error detail")
        ctx_json = "--json" in (argv if argv is not None else sys.argv)
        if ctx_json:
            click.echo(json.dumps({"error": str(exc), "exit_code": exc.exit_code},
                                  ensure_ascii=False))
        click.echo(f"connector: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug: one line for the user, the traceback in the debug log
        logger.opt(exception=exc).debug("internal error")
        click.echo(f"connector: internal error: {type(exc).__name__}: {exc} (run with -v for "
                   "the traceback)", err=True)
        sys.exit(ExitCode.PARTIAL)
    code = code if isinstance(code, int) else 0
    if argv is None:  # the process's own entry point (console script, python -m)
        _leave(code)
    sys.exit(code)


def _leave(code: int) -> NoReturn:
    """Exit without tearing the heap down object by object: that costs ~0.15 s after a
    100,000-row run and saves nothing, since every file is closed and every connection
    unbound by now. What is buffered is flushed first: removing the sinks drains a
    log file's queue and closes it."""
    logger.remove()
    for stream in (sys.stdout, sys.stderr):
        # a closed pipe: nothing more can reach it anyway
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)

"""Commands that run the connector: ``reconcile``, ``apply``, ``daemon``, ``status``."""

from __future__ import annotations

import gc
import json
import time
from pathlib import Path

import click
from loguru import logger

from connector.app.cli import EPILOG
from connector.app.options import (
    config_option,
    connect,
    load,
    report_option,
    scope_option,
    show_run,
)
from connector.app.progress import ApplyProgress
from connector.errors import ConfigError, ExitCode


@click.command(epilog=EPILOG)
@config_option
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
@report_option
@click.option("--only", "only", multiple=True, metavar="ID",
              help="Plan and apply only for this employee_id (repeatable): a new hire now, "
                   "without running the whole roster; nobody else is touched.")
@click.option("--allow-reverted-roster", is_flag=True,
              help="Apply a roster whose run was reverted (`connector revert`), which is "
                   "otherwise refused with exit 3 until the roster changes.")
@click.pass_context
def reconcile(ctx: click.Context, config: Path | None, dry_run: bool, as_json: bool,
              roster: Path | None, allow_mass_lock: bool, scope: str | None,
              units_path: Path | None, no_wait: bool, plan_out: Path | None,
              report: Path | None, only: tuple[str, ...], allow_reverted_roster: bool) -> None:
    """One run: read the roster, read the directory, plan, apply, audit.

    \b
    Examples:
      connector reconcile --dry-run --roster staff.csv
      connector reconcile --json > run.json
      connector reconcile --only BTE0042 --only BTE0043
      connector reconcile --dry-run --plan-out plan.json   # then: connector apply plan.json
    """
    from connector.service.notify import notify_run, told_on_failure
    from connector.service.reconcile import Request
    from connector.service.reconcile import reconcile as run
    from connector.service.runlock import run_lock

    ctx.meta["json"] = as_json
    settings = load(ctx, config, scope=scope,
                    units={"path": str(units_path)} if units_path else None)
    with told_on_failure(settings), run_lock(settings, wait=not no_wait), \
            ApplyProgress(as_json) as progress:
        result = run(settings, lambda: connect(settings),
                     Request(dry_run=dry_run, allow_mass_lock=allow_mass_lock,
                             roster_path=roster, only=only, plan_out=plan_out,
                             allow_reverted_roster=allow_reverted_roster),
                     progress=progress)
    notify_run(settings, result, report=report)
    show_run(result, settings, report, as_json)
    ctx.exit(result.exit_code)


@click.command("apply", epilog=EPILOG, short_help="Apply exactly a reviewed plan file.")
@config_option
@click.argument("plan_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="stdout is one JSON document.")
@click.option("--allow-mass-lock", is_flag=True,
              help="The approval of a plan that the safety guard stopped.")
@click.option("--scope", default=None, help="Override CONNECTOR_SCOPE.")
@report_option
@click.pass_context
def apply_command(ctx: click.Context, config: Path | None, plan_file: Path, as_json: bool,
                  allow_mass_lock: bool, scope: str | None, report: Path | None) -> None:
    """Apply the actions of a saved plan file, and nothing else (SPEC §9).

    Re-reads only the entries the plan touches and sends, in the plan's order,
    each action whose entry is still as the planner saw it; the others are not
    sent and are reported as skipped, with the reason (exit 1). Refused, with
    nothing changed (exit 2): a malformed plan, one of another scope or base
    DN, one older than CONNECTOR_PLAN__MAX_AGE_HOURS, one already applied, one
    whose SHA-256 the audit trail does not show (edited after it was written),
    and one with any action the planner could not have made (SPEC §15).

    \b
    Examples:
      connector reconcile --dry-run --plan-out plan.json
      connector apply plan.json
      connector apply state/pending-province-BTE-<plan_id>.json --allow-mass-lock
    """
    from connector.service.approve import apply_plan
    from connector.service.notify import notify_run, told_on_failure
    from connector.service.runid import new_run_id
    from connector.service.runlock import run_lock

    ctx.meta["json"] = as_json
    settings = load(ctx, config, scope=scope)
    run_id = new_run_id()
    with logger.contextualize(run_id=run_id), told_on_failure(settings), \
            run_lock(settings, wait=True):
        started = time.monotonic()
        directory = connect(settings)
        try:
            result = apply_plan(settings, directory, plan_file, run_id,
                                allow_mass_lock=allow_mass_lock)
        finally:
            directory.close()
        result.duration = time.monotonic() - started
        result.plan_file = str(plan_file)
        logger.info("run {} finished in {:.2f}s with exit code {}", run_id, result.duration,
                    result.exit_code)
    notify_run(settings, result, report=report)
    show_run(result, settings, report, as_json,
              [f"  skipped: {reason}" for reason in result.skipped.values()])
    ctx.exit(result.exit_code)


@click.command(epilog=EPILOG)
@config_option
@click.option("--once", is_flag=True, help="Run once now and exit (for testing a schedule).")
@scope_option
@click.pass_context
def daemon(ctx: click.Context, config: Path | None, once: bool, scope: str | None) -> None:
    """Run reconcile on the schedule until SIGTERM/SIGINT, then stop cleanly (exit 0).

    \b
    Examples:
      CONNECTOR_SCHEDULE__CRON="0 * * * *" connector daemon
      CONNECTOR_SCHEDULE__INTERVAL_SECONDS=300 connector daemon
      connector daemon --once
    """
    from connector.app.daemon import run_daemon

    gc.enable()  # a long-lived process collects its cycles (each run pauses it itself)
    settings = load(ctx, config, scope=scope)
    settings.require_bind()
    if settings.roster.path is None:
        raise ConfigError("CONNECTOR_ROSTER__PATH is not set: the daemon needs a roster")
    ctx.exit(run_daemon(settings, lambda: connect(settings), once=once))


@click.command(epilog=EPILOG)
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the status file as JSON.")
@scope_option
@click.pass_context
def status(ctx: click.Context, config: Path | None, as_json: bool, scope: str | None) -> None:
    """Show the daemon's last run (from its status file)."""
    from connector.app.daemon import is_alive, read_status

    settings = load(ctx, config, scope=scope)
    data = read_status(settings)
    if data is not None:  # now, not as the file says: a killed daemon could not say so
        data["running"] = data.get("state") != "stopped" and is_alive(data.get("pid"))
    forwarding = settings.audit.syslog is not None
    if forwarding:  # now, not as of the daemon's last run: one-shot runs forward too
        from connector.outputs.forward import waiting

        lines_waiting = waiting(settings.audit.path, settings.state.dir)
    if data is None:
        click.echo(f"no status yet for scope {settings.scope_value} in {settings.state.dir} "
                   "(its daemon has not run)")
        if forwarding:
            click.echo(f"audit trail: {lines_waiting} lines wait for the syslog collector")
        if settings.notify.enabled:
            from connector.outputs.notify import waiting_count

            click.echo(f"notifications: {waiting_count(settings.state.dir)} messages wait in "
                       "the outbox")
        ctx.exit(ExitCode.PARTIAL)
    if forwarding:
        data["audit_lines_waiting"] = lines_waiting
    if settings.notify.enabled:
        from connector.outputs.notify import waiting_count

        data["notifications_waiting"] = waiting_count(settings.state.dir)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    from connector.core.render import status_report

    click.echo(status_report(data, settings.state.dir))

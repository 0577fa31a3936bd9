"""Commands on one account, by hand: ``lock``, ``unlock``, ``reset-password``."""

from __future__ import annotations

from pathlib import Path

import click

from connector.app.cli import EPILOG
from connector.app.options import (
    config_option,
    connect,
    load,
)
from connector.core.render import manual_text


@click.command(epilog=EPILOG, short_help="Lock an account by hand (misuse: Art. 6 §3 hold).")
@config_option
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

    settings = load(ctx, config, scope=scope)
    directory = connect(settings)
    try:
        result = manual_lock(settings, directory, employee_id, reason, note)
    finally:
        directory.close()
    click.echo(manual_text(result))
    ctx.exit(result.exit_code)


@click.command("reset-password", epilog=EPILOG,
             short_help="Issue a new sealed initial password (unlocked accounts only).")
@config_option
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
    from connector.service.runid import new_run_id
    from connector.sources.units import load_units

    settings = load(ctx, config, scope=scope)
    units = load_units(settings.units.path) if settings.units.path else None
    directory = connect(settings)
    try:
        path = reset_password(settings, directory, units, employee_id, new_run_id(), note)
    finally:
        directory.close()
    click.echo(f"new initial password for {employee_id} sealed in {path}")
    click.echo("the holder must change it at the first login")
    ctx.exit(0)


@click.command(epilog=EPILOG, short_help="Lift a lock by hand (a 6.3 hold: IT Centre only).")
@config_option
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

    settings = load(ctx, config, scope=scope)
    directory = connect(settings)
    try:
        result = manual_unlock(settings, directory, employee_id, note)
    finally:
        directory.close()
    click.echo(manual_text(result))
    ctx.exit(result.exit_code)

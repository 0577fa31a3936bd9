"""The directory operator's commands and the identity check: ``bootstrap``,
``reorganize``, ``check``."""

from __future__ import annotations

from pathlib import Path

import click

from connector.app.cli import EPILOG
from connector.app.options import (
    config_option,
    connect,
    load,
    print_json,
)
from connector.core.render import bootstrap_text, reorganize_text, verify_text
from connector.errors import ExitCode


@click.command(epilog=EPILOG)
@config_option
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

    settings = load(ctx, config)
    loaded = load_units(units or default_units())
    if print_acl:
        from connector.core.acl import acl_ldif

        click.echo(acl_ldif(settings.layout_value, loaded, database), nl=False)
        return
    directory = connect(settings)
    try:
        result = run(directory, settings.layout_value, loaded, dry_run=dry_run)
    finally:
        directory.close()
    click.echo(bootstrap_text(result))
    ctx.exit(ExitCode.PARTIAL if result.failed else ExitCode.OK)


@click.command(epilog=EPILOG, short_help="Move the accounts of merged or renamed provinces.")
@config_option
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
    settings = load(ctx, config)
    units = load_units(units_path or settings.units.path or default_units())
    directory = connect(settings)
    try:
        result = run(settings, directory, units, dry_run=dry_run)
    finally:
        directory.close()
    if as_json:
        print_json(result.to_dict())
    else:
        click.echo(reorganize_text(result))
    ctx.exit(ExitCode.PARTIAL if result.failed or result.tree.failed else ExitCode.OK)


@click.command(epilog=EPILOG)
@config_option
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

    settings = load(ctx, config, scope=scope)
    directory = connect(settings)
    try:
        lines, ok = run_check(settings, directory)
    finally:
        directory.close()
    for line in lines:
        click.echo(line)
    ctx.exit(ExitCode.OK if ok else ExitCode.PARTIAL)


@click.group("audit", epilog=EPILOG, short_help="Check the audit trail (chain and anchor).")
def audit() -> None:
    """The audit trail: chained lines, anchored in the directory (SPEC §12)."""


@audit.command("verify", epilog=EPILOG)
@config_option
@click.argument("paths", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="stdout is one JSON document.")
@click.option("--scope", default=None, help="Override CONNECTOR_SCOPE.")
@click.pass_context
def verify(ctx: click.Context, config: Path | None, paths: tuple[Path, ...], as_json: bool,
           scope: str | None) -> None:
    """Recompute the trail's chain and check it against this identity's anchor.

    PATHS: the trail, or a rotated set oldest first (default: CONNECTOR_AUDIT__PATH).
    Exit 0 when every line follows the one before it and the anchored head is there;
    1 naming the first line where it breaks (edited, removed, inserted, reordered,
    a seq gap, a file shorter than the anchor); 2 when a file cannot be read.

    \b
    Examples:
      connector audit verify
      connector audit verify /var/log/connector/audit.jsonl.1 /var/log/connector/audit.jsonl
    """
    from connector.service.auditcheck import verify_trail

    ctx.meta["json"] = as_json
    settings = load(ctx, config, scope=scope)
    directory = connect(settings)
    try:
        anchored = directory.read_anchor()
    finally:
        directory.close()
    report = verify_trail(list(paths) or [settings.audit.path], anchored)
    if as_json:
        print_json(report)
    else:
        click.echo(verify_text(report))
    ctx.exit(ExitCode.OK if report["ok"] else ExitCode.PARTIAL)

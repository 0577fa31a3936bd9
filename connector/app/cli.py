"""The ``connector`` command line: one group, the commands of ``app.runs``,
``app.accounts`` and ``app.admin``. Errors become messages and exit codes in
``app.entry`` (0 ok · 1 rows rejected or operations failed · 2 usage/configuration ·
3 safety guard · 4 directory unreachable or run cut off · 5 run lock busy).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import click

from connector import __version__
from connector.errors import EXIT_CODES_HELP

#: command name → where it is defined: a module is imported when its command runs (or
#: ``--help`` lists it), so that ``connector --version`` and each command pay only for
#: what they use (the daemon's scheduler, the report's templates, the workbook reader)
COMMANDS = {
    "reconcile": "runs:reconcile", "apply": "runs:apply_command", "daemon": "runs:daemon",
    "status": "runs:status", "lock": "accounts:lock", "unlock": "accounts:unlock",
    "reset-password": "accounts:reset_password_command", "bootstrap": "admin:bootstrap",
    "reorganize": "admin:reorganize", "check": "admin:check", "audit": "admin:audit",
    "revert": "revert:revert", "show": "show:show",
}

EPILOG = """\b
Configuration: a TOML file (--config or CONNECTOR_CONFIG) under CONNECTOR_*
environment variables (nested with __, e.g. CONNECTOR_LDAP__URL), under flags.
""" + EXIT_CODES_HELP


class LazyGroup(click.Group):
    """A group whose commands are imported by name on first use (click's documented
    lazy-loading pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, _, name = COMMANDS[cmd_name].partition(":")
        command = getattr(importlib.import_module(f"connector.app.{module}"), name)
        assert isinstance(command, click.Command) and command.name == cmd_name, cmd_name
        return command


@click.group(cls=LazyGroup, epilog=EPILOG,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="connector")
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="TOML settings file (default: $CONNECTOR_CONFIG).")
@click.option("--scope", default=None,
              help="Override CONNECTOR_SCOPE for the command (it may follow it too).")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging on stderr.")
def cli(config: Path | None, scope: str | None, verbose: bool) -> None:
    """Keep an LDAP directory in step with the HR roster under Decision 2366/QĐ-BHXH.

    Creates accounts for active people in this scope's OUs, locks them on leave,
    termination, transfer, violation or misuse (with the clause that says so), and
    never deletes. Start with `connector check`, then `connector reconcile --dry-run`.
    """
    from connector.app.logs import setup_logging

    setup_logging("INFO")  # safe defaults (no variable dumps) until the settings are read

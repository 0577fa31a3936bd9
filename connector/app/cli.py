"""The ``connector`` command line: one group, the commands of ``app.runs``,
``app.accounts`` and ``app.admin``. Errors become messages and exit codes in
``app.entry`` (0 ok · 1 rows rejected or operations failed · 2 usage/configuration ·
3 safety guard · 4 directory unreachable or run cut off · 5 run lock busy).
"""

from __future__ import annotations

from pathlib import Path

import click

from connector import __version__
from connector.app import accounts, admin, revert, runs, show
from connector.app.options import EPILOG


@click.group(epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"],
                                              "max_content_width": 100})
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


for command in (runs.reconcile, runs.apply_command, runs.daemon, runs.status, accounts.lock,
                accounts.unlock, accounts.reset_password_command, admin.bootstrap,
                admin.reorganize, admin.check, admin.audit, revert.revert, show.show):
    cli.add_command(command)

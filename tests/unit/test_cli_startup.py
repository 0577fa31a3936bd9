"""`connector --version` and `--help` answer without the weight of a run: the commands'
modules are imported on demand, and each command named in the group is there."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from connector.app.cli import COMMANDS, cli

PROBE = """
import sys
from connector.app.entry import main
try:
    main(["--version"])
except SystemExit:
    pass
print("imported:" + ",".join(m for m in ("pydantic", "pydantic_settings", "loguru", "ldap3",
                           "connector.settings", "connector.app.runs") if m in sys.modules))
"""


def test_the_version_answer_imports_no_settings_logging_or_ldap():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True).stdout.strip().splitlines()
    assert out[0].startswith("connector, version ")
    assert out[-1] == "imported:"


def test_every_command_the_group_names_is_found_and_listed_in_help():
    for name in COMMANDS:
        command = cli.get_command(None, name)  # type: ignore[arg-type]
        assert command is not None and command.name == name
    listing = CliRunner().invoke(cli, ["--help"]).output
    assert all(f"  {name} " in listing for name in COMMANDS), listing


def test_an_unknown_command_is_a_usage_error_that_names_it():
    result = CliRunner().invoke(cli, ["reconcil"])
    assert result.exit_code == 2 and "No such command 'reconcil'" in result.output

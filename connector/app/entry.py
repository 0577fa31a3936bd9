"""The process's entry point (the console script, ``python -m connector``): one clear
line and an exit code for every known error, and a quick exit."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import sys
import threading
from typing import NoReturn

import click

from connector.app.cli import cli
from connector.errors import ConnectorError, ExitCode


def main(argv: list[str] | None = None) -> None:
    """Entry point: one clear line and an exit code for every known error.

    A one-shot command runs without cyclic garbage collection (the daemon turns it back
    on): its life is one run, whose objects hold no cycles, and each collection pass
    walks all of them (see ``service.concurrency.collection_paused``)."""
    if argv is None:
        gc.disable()
    threading.current_thread().name = "main"
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
        _debug(exc, "error detail")
        ctx_json = "--json" in (argv if argv is not None else sys.argv)
        if ctx_json:
            click.echo(json.dumps({"error": str(exc), "exit_code": exc.exit_code},
                                  ensure_ascii=False))
        click.echo(f"connector: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug: one line for the user, the traceback in the debug log
        _debug(exc, "internal error")
        click.echo(f"connector: internal error: {type(exc).__name__}: {exc} (run with -v for "
                   "the traceback)", err=True)
        sys.exit(ExitCode.PARTIAL)
    code = code if isinstance(code, int) else 0
    if argv is None:  # the process's own entry point (console script, python -m)
        _leave(code)
    sys.exit(code)


def _debug(exc: BaseException, what: str) -> None:
    """The traceback, for ``-v``: logging is imported and set up on demand (a command
    sets it up from its settings; ``--version`` never needs it)."""
    from loguru import logger

    from connector.app.logs import ensure_logging

    ensure_logging()
    logger.opt(exception=exc).debug(what)


def _leave(code: int) -> NoReturn:
    """Exit without tearing the heap down object by object: that costs ~0.15 s after a
    100,000-row run and saves nothing, since every file is closed and every connection
    unbound by now. What is buffered is flushed first: removing the sinks drains a
    log file's queue and closes it."""
    if "loguru" in sys.modules:
        sys.modules["loguru"].logger.remove()
    for stream in (sys.stdout, sys.stderr):
        # a closed pipe: nothing more can reach it anyway
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)

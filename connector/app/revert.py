"""``connector revert RUN_ID``: write the plan that undoes a run (SPEC §13)."""

from __future__ import annotations

from pathlib import Path

import click

from connector.app.cli import EPILOG
from connector.app.options import config_option, connect, load, report_option, show_run


@click.command("revert", epilog=EPILOG, short_help="Write the plan that undoes a run.")
@config_option
@click.argument("run_id")
@click.option("--plan-out", "plan_out", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Where to write the plan (default: "
              "<STATE__DIR>/revert-<scope>-<RUN_ID>.json).")
@click.option("--json", "as_json", is_flag=True, help="stdout is one JSON document.")
@click.option("--scope", default=None, help="Override CONNECTOR_SCOPE.")
@report_option
@click.pass_context
def revert(ctx: click.Context, config: Path | None, run_id: str, plan_out: Path | None,
           as_json: bool, scope: str | None, report: Path | None) -> None:
    """Write the plan file that undoes run RUN_ID; change nothing in the directory.

    Reads the run's applied changes from the audit trail and the entries as they
    are now, and writes a plan (SPEC §9) that undoes them, last change first: a
    lock is lifted (only while the run's lock record is still there), a lifted
    lock is put back with its record, an update goes back to the old values, a
    created account is locked (reason `reverted`, clause 9.2: nothing is ever
    deleted), a group change is swapped. Review it, then `connector apply` it:
    someone's later change wins there (the action is skipped), and the guard
    and --allow-mass-lock apply as to any plan. Once it is applied, the roster
    that made the run is refused (exit 3) until it changes.

    Refused (exit 2, no plan written): an unknown run, another scope's run, a
    dry run, a run that wrote nothing.

    \b
    Examples:
      connector revert 20261207T101500-3f2a1c
      connector revert 20261207T101500-3f2a1c --report undo.html
      connector apply .connector-state/revert-it-centre-20261207T101500-3f2a1c.json
    """
    from connector.service.revert import write_revert

    ctx.meta["json"] = as_json
    settings = load(ctx, config, scope=scope)
    directory = connect(settings)
    try:
        done = write_revert(settings, directory, run_id, plan_out)
    finally:
        directory.close()
    notes = [f"  not undone: {reason}" for reason in done.left]
    notes.append(f"Revert plan for run {run_id} written to {done.path} "
                 f"({len(done.result.plan.actions) if done.result.plan else 0} actions): "
                 f"review it, then `connector apply {done.path}`")
    show_run(done.result, settings, report, as_json, notes)

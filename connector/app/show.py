"""``connector show PLAN``: a plan file as a reviewer reads it (like ``terraform show``),
so that nobody has to read the JSON to sign it off (SPEC §9)."""

from __future__ import annotations

from pathlib import Path

import click

from connector.app.cli import EPILOG
from connector.app.options import config_option, load, report_option, write_report


@click.command("show", epilog=EPILOG, short_help="Print a plan file as the dry-run table.")
@config_option
@click.argument("plan_file", type=click.Path(dir_okay=False, path_type=Path))
@report_option
@click.pass_context
def show(ctx: click.Context, config: Path | None, plan_file: Path,
         report: Path | None) -> None:
    """Print the plan file PLAN_FILE as the dry-run table; change nothing, bind nowhere.

    Shows who made it, when, from which roster (path and SHA-256), every action
    with its reason and clause, the counts, and whether `connector apply` would
    take it now (its digest in this scope's audit trail, not applied yet, not
    older than CONNECTOR_PLAN__MAX_AGE_HOURS). With --report, also writes the
    plan's report (.html, .csv, .xlsx) for sign-off.

    \b
    Examples:
      connector show plan.json
      connector show state/pending-province-BTE-<plan_id>.json --report plan.html
    """
    from connector.core.render import show_plan_text
    from connector.outputs.planfile import read_plan
    from connector.service.approve import apply_refusal, plan_result

    plan, sha256 = read_plan(plan_file)
    settings = load(ctx, config, scope=plan.scope)  # its own scope's trail says if it applies
    result = plan_result(plan)
    refusal = apply_refusal(plan, sha256, settings)
    verdict = (f"`connector apply {plan_file}` would take it now" if refusal is None
               else f"`connector apply` would refuse it: {refusal}")
    if report is not None:
        write_report(result, report, settings)
    click.echo(show_plan_text(result, plan.created, sha256, verdict))

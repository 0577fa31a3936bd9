"""What the log says of people, by name (issue 25 #9): a log a person acts on names
who was locked and which row was rejected, not only how many; and a daemon that
ticks every few minutes says a thing once, not at every tick."""

from __future__ import annotations

from loguru import logger

from connector.core.results import Outcome, RunResult

#: the most rejected rows named in one go (all of them are in --json and the report)
MOST_NAMED = 1000


def tell_rows(result: RunResult, told: object | None) -> object:
    """Log each rejected row and the roster's warnings, unless ``told`` shows that the
    same roster content with the same rejections was told already (the daemon's memo);
    returns what was told, for the memo to keep."""
    roster = result.roster
    if roster is None:  # a run that kept the last plan read no roster: nothing new
        return told
    rejected = result.rejected
    key = (result.roster_sha256, tuple((r.line, r.reason) for r in rejected))
    if key == told:
        return key
    if roster is not None and roster.ignored_columns:
        logger.warning("roster columns ignored: {}", ", ".join(roster.ignored_columns))
    for row in rejected[:MOST_NAMED]:
        logger.warning("rejected row: line {}: {}: {} (the account is left as it is)",
                       row.line, row.employee_id or "?", row.reason)
    if len(rejected) > MOST_NAMED:
        logger.warning("... and {} more rejected rows (all of them in --json and the report)",
                       len(rejected) - MOST_NAMED)
    return key


def tell_outcome(outcome: Outcome) -> None:
    """One applied action, at INFO, with who, what and the clause that says so."""
    action = outcome.action
    logger.info("{} {} ({}, clause {}): ok, {}", action.kind.value, action.employee_id or "-",
                action.reason, action.clause or "-", action.dn)

"""When a run tells people (SPEC §14): after the run, never changing its outcome.

The notices of the run (``core.notices``) go to the outbox, then everything waiting
is delivered; a relay that is down costs its connect timeout and the messages wait for
the next run. The daemon passes whether its earlier runs were failing, so that a
failure is told once when it begins and once when runs succeed again."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from loguru import logger

from connector.core.notices import FAILURE_CODES, notices
from connector.core.results import RunResult
from connector.errors import ConnectorError
from connector.service.runid import new_run_id
from connector.settings import Settings
from connector.sources.units import load_units


def notify_run(settings: Settings, result: RunResult, *, report: Path | None = None,
               failing_before: bool = False) -> int | None:
    """Queue and deliver the run's notices; the messages still waiting (None: no
    transport is set). Never raises: a notice is never worth a run."""
    config = settings.notify
    if not config.enabled:
        return None
    from connector.outputs.notify import Relay, outbox_of

    try:
        with tempfile.TemporaryDirectory(prefix="connector-notice-") as scratch:
            _queue(settings, result, report, failing_before, Path(scratch))
        relay = Relay(config.smtp_url, config.starttls, config.username,
                      config.password.get_secret_value() if config.password else None,
                      config.timeout, config.ca_file)
        done = outbox_of(settings.state.dir).deliver(relay)
    except Exception as exc:  # told, never fatal: a notice is never worth a run
        logger.warning("notifications not sent: {}: {}", type(exc).__name__, exc)
        return None
    for error in done.errors:
        logger.warning("{}; {} message(s) wait in the outbox for the next run", error,
                       done.waiting)
    if done.sent:
        logger.info("{} notification(s) delivered", done.sent)
    result.notifications_waiting = done.waiting
    return done.waiting


def _queue(settings: Settings, result: RunResult, report: Path | None,
           failing_before: bool, scratch: Path) -> None:
    from connector.outputs.notify import compose, outbox_of
    from connector.outputs.report import write_report

    config, language = settings.notify, settings.report.language
    html = report if report is not None and report.suffix.lower() in (".html", ".htm") \
        else None
    if html is None and result.outcomes:
        html = write_report(result, scratch / f"report-{result.run_id}.html", language)
    told = notices(result, language, config.events, report=str(html) if html else None,
                   failing_before=failing_before, contacts=_contacts(settings))
    outbox = outbox_of(settings.state.dir)
    for notice in told:
        to = list(notice.to) if notice.to is not None else config.recipients
        if config.smtp_url is not None and config.sender and to:
            outbox.put_mail(notice, compose(notice, config.sender, to, language),
                            config.sender, to)
        if config.webhook_url is not None:
            # the webhook names a file that stays: the report asked for, not the scratch one
            outbox.put_webhook(replace(notice, report=str(report) if report else None),
                               config.webhook_url)
        logger.debug("notice {} queued for run {}", notice.event, notice.run_id)


def _contacts(settings: Settings) -> dict[tuple[str, str], str]:
    if settings.units.path is None:
        return {}
    units = load_units(settings.units.path)
    return {(kind, unit.code.casefold()): unit.contact
            for kind, listed in (("province", units.provinces), ("central", units.central),
                                 ("vendor", units.vendors))
            for unit in listed if unit.contact}


def failure_result(settings: Settings, run_id: str, exit_code: int, error: str) -> RunResult:
    """A run that ended before it had a result (a bad roster, the directory down)."""
    result = RunResult(run_id, str(settings.scope_value), settings.ldap.bind_dn or "", False)
    result.exit_code, result.error = exit_code, error
    return result


@contextlib.contextmanager
def told_on_failure(settings: Settings) -> Iterator[None]:
    """A one-shot command that stops with exit 2 or 4 before it has a result says so
    (the ``failure`` event), then fails as it would have."""
    try:
        yield
    except ConnectorError as exc:
        if exc.exit_code in FAILURE_CODES:
            notify_run(settings, failure_result(settings, new_run_id(), exc.exit_code,
                                                str(exc)))
        raise

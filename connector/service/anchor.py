"""The end of a run's audit trail (SPEC §12): the head anchored in the directory
(replicated and on another host, it shows a removed tail or a deleted file) and the
lines forwarded to the syslog collector, when one is set."""

from __future__ import annotations

from loguru import logger

from connector.directory.base import Directory
from connector.errors import DirectoryError, NoSuchEntry
from connector.outputs.audit import last_head
from connector.outputs.forward import Collector, forward
from connector.settings import Settings


def close_trail(directory: Directory, settings: Settings) -> int | None:
    """Anchor the head, then forward what the collector has not taken: the lines
    still waiting (None: no collector set). Never fails the run."""
    try:
        anchor_head(directory)
    finally:
        waiting = forward_trail(settings)
    return waiting


def forward_trail(settings: Settings) -> int | None:
    """Forward the waiting audit lines (this run's and any an earlier run could not
    deliver); say in the run log what was sent and what still waits."""
    url = settings.audit.syslog
    if url is None:
        return None
    collector = Collector(url, settings.audit.syslog_timeout, settings.audit.syslog_ca_file)
    try:
        done = forward(settings.audit.path, settings.state.dir, collector)
    except OSError as exc:  # the state directory: the lines stay waiting, said
        logger.warning("audit lines not forwarded: {}", exc)
        return None
    if done.error:
        logger.warning("{}; {} audit lines wait for the next run", done.error, done.waiting)
    elif done.sent:
        logger.info("{} audit lines forwarded to {}", done.sent, url)
    return done.waiting


def anchor_head(directory: Directory) -> None:
    """Write the head this process last wrote, if it wrote any line; a refusal (an
    identity with no entry, ACLs from before SPEC §12) is said, never fatal."""
    head = last_head()
    if head is None:
        return
    seq, digest = head
    try:
        directory.write_anchor(seq, digest)
    except NoSuchEntry:  # bound as an identity with no entry (a rootDN): nowhere to anchor
        logger.debug("no entry for {}: the audit head is not anchored", directory.actor)
        return
    except DirectoryError as exc:
        logger.warning("the audit head (seq {}) could not be anchored on {}: {}; `connector "
                       "audit verify` cannot detect a removed tail until it is", seq,
                       directory.actor, exc)
        return
    logger.debug("audit head seq {} anchored on {}", seq, directory.actor)

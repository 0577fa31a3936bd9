"""The audit trail's head anchored in the directory at the end of a run (SPEC §12):
replicated and on another host, it shows a removed tail or a deleted file."""

from __future__ import annotations

from loguru import logger

from connector.directory.base import Directory
from connector.errors import DirectoryError, NoSuchEntry
from connector.outputs.audit import last_head


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

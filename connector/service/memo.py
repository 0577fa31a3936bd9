"""The daemon's memory between runs (``RunMemo``): what it need not read or plan again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from connector.core.actions import Plan
from connector.core.model import Scope, Snapshot
from connector.directory.base import Directory
from connector.sources.roster import RosterCache


class RunMemo:
    """What the daemon keeps between runs so as not to repeat work it has done: the
    parsed roster while its bytes are the same, the last snapshot with the directory's
    ``contextCSN`` from just before it was read, and the plan of the last run that
    found nothing to do.

    * Roster bytes, day and ``contextCSN`` all the same as after a run that found
      nothing to do: the read and the plan are skipped (the same entries would plan
      the same nothing).
    * ``contextCSN`` moved: only the entries changed since are read in full, plus every
      DN (``Directory.refreshed``), once a full read has shown that this identity's
      filters see ``entryCSN``.
    * A full read at least every ``full_read_every`` runs, on any doubt, and wherever
      the directory keeps no ``contextCSN`` (no syncprov). The one-shot ``reconcile``
      has no memo: it always reads in full.
    """

    def __init__(self) -> None:
        #: the base DN, the scope's province and its OUs were seen to exist (issue 25)
        self.layout_checked = False
        #: the roster content and rejections last named in the log (service.told)
        self.told: object | None = None
        self.roster = RosterCache()
        self._quiet: tuple[bytes | None, str, dt.date] | None = None
        self._plan: Plan | None = None
        #: runs since the last full read (skipped or incremental)
        self._since_full = 0
        #: (snapshot, the stamp read just before it, scope and absorbed provinces)
        self._read: tuple[Snapshot, str, tuple[str, ...]] | None = None
        #: whether this identity's filters see entryCSN (None: not known yet)
        self._refreshable: bool | None = None
        self.last_read = "full"

    def unchanged(self, stamp: str | None, day: dt.date, full_read_every: int) -> Plan | None:
        """The remembered empty plan if nothing it depends on changed, else None."""
        if (stamp is None or self._quiet is None or self._plan is None
                or self._quiet != (self.roster.digest, stamp, day)
                or self._since_full + 1 >= full_read_every):
            return None
        self._since_full += 1
        return self._plan

    def read(self, directory: Directory, stamp: str | None, scope: Scope,
             absorbed: Sequence[str], full_read_every: int) -> Snapshot:
        """The directory as a full read would give it now: refreshed from the last read
        where that is sound, else read in full (``last_read`` says which)."""
        key = (str(scope), *absorbed)
        kept = self._read
        if (stamp is not None and kept is not None and kept[2] == key and self._refreshable
                and self._since_full + 1 < full_read_every
                # a provider new to the stamp may deliver changes older than it
                and server_ids(stamp) <= server_ids(kept[1])):
            snapshot = directory.refreshed(kept[0], kept[1], scope, absorbed)
            if snapshot is not None:
                self._since_full += 1
                self._read, self.last_read = (snapshot, stamp, key), "incremental"
                return snapshot
        snapshot = directory.snapshot(scope, absorbed)
        self._since_full, self.last_read = 0, "full"
        self._read = (snapshot, stamp, key) if stamp is not None else None
        if stamp is not None and self._refreshable is None:
            self._refreshable = directory.can_refresh(snapshot)
        return snapshot

    def after(self, stamp: str | None, day: dt.date, plan: Plan) -> None:
        """Remember a run that found nothing to do (``stamp`` given), forget otherwise."""
        if stamp is None:
            self._quiet, self._plan = None, None
        else:
            self._quiet, self._plan = (self.roster.digest, stamp, day), plan


def server_ids(stamp: str) -> set[str]:
    """The serverIDs of a contextCSN (a CSN is ``time#count#sid#mod``)."""
    return {csn.split("#")[2] if csn.count("#") >= 2 else csn for csn in stamp.split()}

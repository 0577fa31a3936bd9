"""The audit trail's head on the connector's own identity entry (SPEC §12): read,
the highest of all identities (where a new or rotated file continues the chain),
and written in place of the previous head, keeping the entry's other values."""

from __future__ import annotations

from typing import Any

from connector.core.chain import anchor_value, parse_anchor
from connector.directory.entries import Modification
from connector.errors import NoSuchEntry


class AnchorMixin:
    """For ``Directory``: built on its ``_search``, ``_modify``, ``actor`` and ``layout``."""

    _search: Any
    _modify: Any
    actor: str
    layout: Any

    def read_anchor(self) -> tuple[int, str] | None:
        """The audit head this identity anchored on its own entry (SPEC §12), or None."""
        try:
            for _, values in self._search(self.actor, "*", ["description"], scope="base"):
                for value in values.get("description", []):
                    if (anchored := parse_anchor(value)) is not None:
                        return anchored
        except NoSuchEntry:
            return None
        return None

    def latest_anchor(self) -> tuple[int, str] | None:
        """The highest head any connector identity anchored (a trail shared by scopes:
        where a new or rotated file continues the chain)."""
        heads = []
        try:
            for _, values in self._search(self.layout.system_dn, "*", ["description"],
                                          scope="one"):
                heads += [a for v in values.get("description", [])
                          if (a := parse_anchor(v)) is not None]
        except NoSuchEntry:
            return self.read_anchor()
        return max(heads) if heads else None

    def write_anchor(self, seq: int, sha256: str) -> None:
        """Replace this identity's ``bhxh-audit-head:`` value, keeping its other
        ``description`` values (the ACLs let it write only that, on itself)."""
        old: list[str] = []
        for _, values in self._search(self.actor, "*", ["description"], scope="base"):
            old = [v for v in values.get("description", []) if parse_anchor(v) is not None]
        new = anchor_value(seq, sha256)
        if old == [new]:
            return
        mods: list[Modification] = [("delete", "description", tuple(old))] if old else []
        self._modify(self.actor, [*mods, ("add", "description", (new,))])

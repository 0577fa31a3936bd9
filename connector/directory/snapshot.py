"""Reading a scope's accounts (SPEC §2): the full snapshot, the incremental one the
daemon refreshes from entryCSN, and the few small reads around them (provinces,
groups, admins, absorbed provinces), the same for every backend.

The IT Centre's ``ou=admins`` OUs (one per province, 34 nationally) are read in one
subtree search of ``ou=provinces``, not one search each: back-mdb gives every
search a fixed cost under the delegation ACLs, which 34 small OUs paid 34 times.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from loguru import logger

from connector.core.acl import rdn_of
from connector.core.model import Account, Group, Scope, Snapshot, dn_key
from connector.core.policy import managed_containers
from connector.directory.entries import (
    SNAPSHOT_ATTRIBUTES,
    RawEntry,
    account_from_values,
    province_groups,
    with_own_province,
)

#: the lowest CSN there is (RFC 4533's syntax as OpenLDAP writes it): every entryCSN is
#: at least this
EARLIEST_CSN = "00000101000000.000000Z#000000#000#000000"


class SnapshotMixin:
    """For ``Directory``: built on its ``_search``, ``exists`` and ``layout``."""

    _search: Any
    exists: Any
    layout: Any

    def snapshot(self, scope: Scope, absorbed: Sequence[str] = ()) -> Snapshot:
        """The managed OUs' accounts (SPEC §2), its groups and, for a province, the ids
        under its own ``ou=admins`` and under the ``ou=people`` of the provinces it
        ``absorbed`` (SPEC §10)."""
        provinces = self._provinces(scope)
        accounts = [account_from_values(dn, values) for dn, values in
                    self._managed(scope, provinces, SNAPSHOT_ATTRIBUTES)]
        return self._completed(scope, absorbed, provinces, accounts)

    def refreshed(self, previous: Snapshot, since: str, scope: Scope,
                  absorbed: Sequence[str] = ()) -> Snapshot | None:
        """The snapshot a full read would give now, from ``previous`` (read when the
        directory's change stamp was ``since``) and the entries whose ``entryCSN`` is at
        least the oldest CSN of that stamp; None on any doubt, and the caller reads in
        full.

        The changed entries in full, then every entry's DN alone (what tells a deletion
        or a move); each listed DN takes its changed or its previous values, in the
        order a full read gives. A listed DN that is neither changed nor known, or
        another list of provinces, is a doubt. The small reads (provinces, groups,
        admins, absorbed provinces) are read in full as ever."""
        csns = since.split()
        if not csns:
            return None
        provinces = self._provinces(scope)
        if provinces != previous.provinces:
            return None
        known = {dn_key(account.dn): account for account in previous.accounts}
        changed = {dn_key(dn): values for dn, values in self._managed(
            scope, provinces, SNAPSHOT_ATTRIBUTES, changed_since=min(csns))}
        accounts: list[Account] = []
        for dn, _ in self._managed(scope, provinces, ["1.1"]):
            key = dn_key(dn)
            values = changed.get(key)
            account = account_from_values(dn, values) if values is not None \
                else known.get(key)
            if account is None:
                logger.info("incremental read: {} is new but not among the changed "
                            "entries: reading in full", dn)
                return None
            accounts.append(account)
        return self._completed(scope, absorbed, provinces, accounts)

    def can_refresh(self, snapshot: Snapshot) -> bool | None:
        """Whether this identity's filters see ``entryCSN``: an ACL without search on it
        makes ``(entryCSN>=…)`` match nothing, which would read as "nothing changed".
        Asked of one account of the snapshot (None: it has none to ask of)."""
        if not snapshot.accounts:
            return None
        account = snapshot.accounts[0]
        return any(True for _ in self._search(
            account.container, "inetOrgPerson", ["1.1"], scope="one", uid=account.employee_id,
            changed_since=EARLIEST_CSN))

    def _managed(self, scope: Scope, provinces: frozenset[str], attributes: Sequence[str],
                 changed_since: str | None = None) -> Iterator[RawEntry]:
        """The accounts of ``managed_containers``, in its order and each OU's entries in
        the server's order, as one search per OU would give them.

        The IT Centre's admins OUs: one subtree search of ``ou=provinces`` for the
        entries with the admins OUs' RDN in their DN (``(ou:dn:=admins)``). That is a
        superset (an ``ou=admins`` a province made under its own people matches too),
        so each entry is kept only if it lies under the admins OU of a province."""
        containers = managed_containers(scope, self.layout, provinces)
        rdn = self._admins_rdn(scope, provinces)
        admins: dict[str, list[RawEntry]] = {
            dn_key(self.layout.admins_dn(code)): [] for code in sorted(provinces)} \
            if rdn is not None else {}
        for container in containers:
            if dn_key(container) not in admins:
                yield from self._search(container, "inetOrgPerson", attributes,
                                        changed_since=changed_since)
        if rdn is None:
            return
        for dn, values in self._search(self.layout.provinces_dn, "inetOrgPerson", attributes,
                                       changed_since=changed_since, rdn=rdn):
            bucket = _container_of(dn_key(dn), admins)
            if bucket is not None:
                bucket.append((dn, values))
        for entries in admins.values():
            yield from entries

    def _admins_rdn(self, scope: Scope, provinces: frozenset[str]) -> str | None:
        """The RDN every province's admins OU starts with (``ou=admins``), when the
        layout gives them one and the IT Centre manages more than one; else None."""
        if not scope.is_it_centre or len(provinces) < 2:
            return None
        rdns = {rdn_of(self.layout.admins_dn(code)) for code in provinces}
        if len(rdns) != 1:
            return None
        attribute, value = rdns.pop()
        if not attribute or not value or any(c in value for c in "\\,+=\"<>;#*()"):
            return None
        return f"{attribute}={value}"

    def _provinces(self, scope: Scope) -> frozenset[str]:
        return with_own_province(frozenset(
            values["ou"][0] for _, values in self._search(
                self.layout.provinces_dn, "organizationalUnit", ["ou"], scope="one")
            if values.get("ou")), scope)

    def _completed(self, scope: Scope, absorbed: Sequence[str], provinces: frozenset[str],
                   accounts: list[Account]) -> Snapshot:
        """The snapshot around its accounts: groups, admins, absorbed provinces' ids."""
        layout = self.layout
        groups: dict[str, Group] = {}
        admin_keys: frozenset[str] = frozenset()
        if scope.is_it_centre:
            groups = province_groups(layout, provinces, self._search(
                layout.groups_dn, "groupOfNames", ["cn", "member"], scope="one"))
        elif scope.code is not None:
            admin_keys = frozenset(account_from_values(dn, values).key for dn, values in
                                   self._search(layout.admins_dn(scope.code), "inetOrgPerson",
                                                ["uid"]))
        former_keys = frozenset(
            account_from_values(dn, values).key for old in absorbed
            for dn, values in self._search(layout.people_dn(old), "inetOrgPerson", ["uid"]))
        return Snapshot(tuple(accounts), groups, provinces, self._missing_containers(scope),
                        admin_keys, former_keys)

    def _missing_containers(self, scope: Scope) -> frozenset[str]:
        """Preferred containers (``ou=people,ou=central``) absent from a directory whose
        area (``ou=central``) exists: new accounts then go straight into the area."""
        if not scope.is_it_centre:
            return frozenset()
        layout = self.layout
        return frozenset(
            dn_key(preferred)
            for preferred, area in ((layout.central_dn, layout.central_area_dn),
                                    (layout.vendors_dn, layout.vendors_area_dn))
            if dn_key(preferred) != dn_key(area) and not self.exists(preferred)
            and self.exists(area))


def _container_of(key: str, containers: dict[str, list[RawEntry]]) -> list[RawEntry] | None:
    """The bucket of the container ``key`` lies under (its nearest listed ancestor)."""
    at = key.find(",")
    while at != -1:
        bucket = containers.get(key[at + 1:])
        if bucket is not None:
            return bucket
        at = key.find(",", at + 1)
    return None

"""The one directory interface, in the manner of octoDNS's ``BaseProvider``.

``Directory`` owns everything that is the same for every backend: the scope
check on every write before it is sent, the snapshot built from raw entries,
the translation of actions into modifications, and the phased, parallel
apply. A backend implements a handful of ``_`` primitives (a search of raw
entries, add, modify, exists) and the two non-mutating probes ``check``
needs. ``ldap.LdapDirectory`` is the real server; ``memory.MemoryDirectory``
its in-memory twin. Both pass one contract suite (``tests/contract.py``).

How a lock is stored (SPEC §2): ``pwdAccountLockedTime: 000001010000Z`` (the
ppolicy overlay refuses binds while it is present) plus one ``description``
value ``bhxh-lock:<clause>:<reason> at=… by=… note=…`` (``core.lockinfo``)
that says why. An unlock removes both; other descriptions are left alone.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Literal

from connector.core.actions import Action, Kind
from connector.core.model import Account, Layout, Scope, dn_key
from connector.core.policy import write_refusal
from connector.core.results import Outcome
from connector.directory.anchor import AnchorMixin
from connector.directory.apply import apply_in_phases
from connector.directory.entries import (
    LOCK_KINDS,
    SNAPSHOT_ATTRIBUTES,
    Modification,
    RawEntry,
    account_from_values,
    create_attributes,
    modifications,
)
from connector.directory.snapshot import SnapshotMixin
from connector.errors import (
    AssertionFailed,
    DirectoryError,
    EntryExists,
    NoSuchEntry,
    NoSuchValue,
    ScopeViolation,
    ValueExists,
)

SearchScope = Literal["base", "one", "sub"]


def generalized_now() -> str:
    return datetime.now(UTC).strftime("%Y%m%d%H%M%SZ")


class Directory(SnapshotMixin, AnchorMixin, ABC):
    """What the service needs from a directory; backends fill in the ``_`` methods."""

    actor: str
    scope: Scope
    layout: Layout
    workers: int = 1
    #: where the backend is connected, for messages (the twin: "memory")
    url: object = "memory"

    # -- what a backend implements ---------------------------------------------------------

    @abstractmethod
    def _search(self, base: str, object_class: str, attributes: Sequence[str], *,
                scope: SearchScope = "sub", uid: str | None = None,
                limit: int | None = None, changed_since: str | None = None,
                rdn: str | None = None) -> Iterator[RawEntry]:
        """Entries of ``object_class`` (``*``: any) under ``base``; a missing base yields
        nothing. Raises DirectoryError if the server cut the answer short.
        ``changed_since``: only entries whose ``entryCSN`` is at least this CSN;
        ``rdn`` (``ou=admins``): only entries with that RDN somewhere in their DN."""

    @abstractmethod
    def _add(self, dn: str, attributes: Mapping[str, Sequence[str]]) -> None:
        """Create one entry; DirectoryError (refused) or DirectoryUnavailable (cut off)."""

    @abstractmethod
    def _password_modify(self, dn: str, password: str) -> None:
        """RFC 3062 Password Modify of ``dn`` to ``password`` (the server hashes it)."""

    @abstractmethod
    def _modify(self, dn: str, mods: Sequence[Modification],
                asserted: Sequence[str] = ()) -> None:
        """Change one entry; ValueExists / NoSuchValue when an add or delete meets the
        value (or its absence) already there. ``asserted``: ``description`` values the
        entry must still hold for the change to be made (RFC 4528), else
        AssertionFailed and nothing changed."""

    @abstractmethod
    def _move(self, dn: str, new_parent: str) -> None:
        """Give the entry a new superior, keeping its RDN (LDAP modrdn): the same entry,
        its password, lock and lock record kept."""

    @abstractmethod
    def exists(self, dn: str) -> bool: ...

    @abstractmethod
    def probe_write(self, dn: str, attribute: str, value: str) -> bool:
        """Whether this identity may change ``attribute`` of ``dn``, changing nothing."""

    @abstractmethod
    def probe_add(self, container: str) -> bool | None:
        """Whether this identity holds the create grant on ``container``, changing
        nothing (None: cannot tell)."""

    @abstractmethod
    def who_am_i(self) -> str: ...

    @abstractmethod
    def close(self) -> None:
        """Release connections."""

    # -- reading ---------------------------------------------------------------------------

    def read_accounts(self, containers: Iterable[str]) -> dict[str, Account]:
        """The accounts under these OUs, by normalised DN: one search per OU."""
        return {dn_key(dn): account_from_values(dn, values) for container in containers
                for dn, values in self._search(container, "inetOrgPerson",
                                               SNAPSHOT_ATTRIBUTES, scope="one")}

    def read_account(self, dn: str) -> Account | None:
        """One entry as an Account, or None if it is not there."""
        try:
            for found, values in self._search(dn, "inetOrgPerson", SNAPSHOT_ATTRIBUTES,
                                              scope="base"):
                return account_from_values(found, values)
        except NoSuchEntry:
            return None
        return None

    def change_stamp(self) -> str | None:
        """What changes whenever anything in the database changes: the suffix entry's
        ``contextCSN`` where syncprov maintains it (None where it does not, or where
        this identity may not read it: then nothing is ever skipped)."""
        try:
            entries = list(self._search(self.layout.base_dn, "*", ["contextCSN"], scope="base"))
        except DirectoryError:
            return None
        for _, values in entries:
            stamps = next((v for k, v in values.items() if k.lower() == "contextcsn"), [])
            if stamps:
                return " ".join(sorted(stamps))
        return None

    def find_accounts(self, employee_id: str, containers: Iterable[str]) -> list[Account]:
        return [account_from_values(dn, values) for container in containers
                for dn, values in self._search(container, "inetOrgPerson",
                                               SNAPSHOT_ATTRIBUTES, uid=employee_id)]

    def first_account(self, container: str) -> str | None:
        """The DN of one account under ``container`` (None if there is none)."""
        return next((dn for dn, _ in self._search(container, "inetOrgPerson", ["1.1"],
                                                  limit=1)), None)

    def group_members(self, dn: str) -> frozenset[str] | None:
        """The normalised ``member`` DNs of a group, or None if it cannot be read."""
        entries = list(self._search(dn, "groupOfNames", ["member"], scope="base"))
        if not entries:
            return None
        return frozenset(dn_key(member) for member in entries[0][1].get("member", []))

    def _holds(self, dn: str, attributes: Mapping[str, Sequence[str]]) -> bool:
        """Whether the entry at ``dn`` has exactly these values (object classes: at least
        these), i.e. is the entry a create would have made."""
        for _, values in self._search(dn, "*", ["*"], scope="base"):
            lower = {name.lower(): set(vals) for name, vals in values.items()}
            for name, wanted in attributes.items():
                have = lower.get(name.lower(), set())
                if name.lower() == "objectclass":
                    if {v.lower() for v in wanted} - {v.lower() for v in have}:
                        return False
                elif have != set(wanted):
                    return False
            return True
        return False

    # -- writing ---------------------------------------------------------------------------

    def move(self, dn: str, new_parent: str) -> str:
        """``reorganize`` (as the directory operator): move the entry, return its new DN."""
        self._move(dn, new_parent)
        return f"{dn.split(',', 1)[0]},{new_parent}"

    def modify(self, dn: str, mods: Sequence[Modification]) -> None:
        """An operator's modification (``reorganize``): no scope lane applies."""
        self._modify(dn, mods)

    def add_entry(self, dn: str, attributes: Mapping[str, Sequence[str]]) -> None:
        """Create a structural entry (``bootstrap``): no scope lane applies."""
        self._add(dn, attributes)

    def check(self, action: Action, within: Sequence[str] | None = None) -> None:
        """Every write is checked against the scope before it leaves the process."""
        group = action.kind in (Kind.GROUP_ADD, Kind.GROUP_REMOVE)
        refusal = write_refusal(self.scope, self.layout, action.dn, group=group,
                                member=action.member, within=within)
        if refusal is not None:
            raise ScopeViolation(f"refused before sending: {refusal}")

    def set_initial_password(self, dn: str, password: str,
                             within: Sequence[str] | None = None) -> None:
        """An initial password (SPEC §11): Password Modify, so that slapd hashes it with
        its own scheme, then ``pwdReset: TRUE`` so that the first bind must change it.
        Checked against the scope first, like every write."""
        self.check(Action(Kind.UPDATE, dn, "credential"), within)
        self._password_modify(dn, password)
        self._modify(dn, [("replace", "pwdReset", ("TRUE",))])

    def apply_one(self, action: Action, within: Sequence[str] | None = None) -> None:
        """Send one action; DirectoryError (the server said no) or DirectoryUnavailable
        (the connection is gone)."""
        self.check(action, within)
        if action.kind is Kind.CREATE:
            attributes = create_attributes(action)
            try:
                self._add(action.dn, attributes)
            except EntryExists:
                if not self._holds(action.dn, attributes):
                    raise
                # replication (or a run cut off after the server committed it) already
                # delivered exactly this entry: the create is done, not failed
            return
        try:
            # a restore leaves the record as it is, so it asserts the record instead:
            # lifted meanwhile, no lock without a reason is put back
            self._modify(action.dn, modifications(action, self.actor, generalized_now()),
                         action.lock_values if action.restore else ())
        except AssertionFailed:
            raise DirectoryError(
                f"{action.kind} {action.dn}: its lock record changed since it was read "
                "(lifted meanwhile): the lock was not put back") from None
        except (ValueExists, NoSuchValue):
            if action.kind in LOCK_KINDS and not action.restore:
                raise DirectoryError(
                    f"{action.kind} {action.dn}: its lock record changed since it was read "
                    "(a hold placed or lifted meanwhile): nothing was changed; the next run "
                    "plans from what is there now") from None
            if action.kind not in (Kind.GROUP_ADD, Kind.GROUP_REMOVE) and not action.restore:
                raise DirectoryError(f"{action.kind} {action.dn}: unexpected state") from None
            # already a member / already gone / locked again meanwhile: as wanted

    def apply(
        self,
        actions: Sequence[Action],
        on_outcome: Callable[[Outcome], None],
        stop: threading.Event | None = None,
        within: Sequence[str] | None = None,
        after_create: Callable[[Directory, Action], Action] | None = None,
    ) -> None:
        """Apply in phases; ``within``: the containers every write must fall in.
        ``after_create``: run on the same connection right after each create the server
        took (the initial credential, SPEC §11); it returns the action as reported."""

        def send(action: Action) -> Action | None:
            self.apply_one(action, within)
            if after_create is not None and action.kind is Kind.CREATE:
                return after_create(self, action)
            return None

        apply_in_phases(send, actions, on_outcome, stop, self.workers)


# ------------------------------------------------------------------ shared pure helpers

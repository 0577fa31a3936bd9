"""The in-memory twin of the LDAP adapter, for fast tests of the service and ``check``.

Same interface, same contract suite (``tests/contract.py``), no server. It
keeps LDAP's value semantics (adding a value that is there or deleting one
that is not is refused, a modify is all or nothing) and models the
delegation ACLs by the scope's lanes, so ``check``'s probes answer as the
generated ACLs would.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from connector.core.model import Layout, Scope, dn_key, parent_dn
from connector.core.policy import write_refusal
from connector.directory.base import Directory, SearchScope
from connector.directory.entries import Modification, RawEntry
from connector.errors import (
    AssertionFailed,
    DirectoryError,
    EntryExists,
    NoSuchEntry,
    NoSuchValue,
    ValueExists,
)


class MemoryDirectory(Directory):
    """A dict of entries keyed by normalised DN."""

    def __init__(self, layout: Layout, scope: Scope, actor: str = "cn=memory") -> None:
        self.layout = layout
        self.scope = scope
        self.actor = actor
        self.entries: dict[str, tuple[str, dict[str, list[str]]]] = {}
        self.fail: dict[str, str] = {}  # dn_key → error message, to test partial failure
        self.writes = 0

    def put(self, dn: str, attributes: Mapping[str, Sequence[str]]) -> None:
        self.entries[dn_key(dn)] = (dn, {k: list(v) for k, v in attributes.items()})

    def get(self, dn: str) -> dict[str, list[str]] | None:
        entry = self.entries.get(dn_key(dn))
        return entry[1] if entry else None

    # -- the backend primitives ----------------------------------------------------------

    def _search(self, base: str, object_class: str, attributes: Sequence[str], *,
                scope: SearchScope = "sub", uid: str | None = None,
                limit: int | None = None, changed_since: str | None = None,
                rdn: str | None = None) -> Iterator[RawEntry]:
        # the twin keeps no change sequence numbers: every entry counts as changed (its
        # change_stamp is None, so no incremental read ever asks)
        base_key = dn_key(base)
        if base_key not in self.entries:
            return
        found = 0
        for key, (dn, values) in sorted(self.entries.items()):
            inside = {"base": key == base_key, "one": parent_dn(key) == base_key,
                      "sub": key == base_key or key.endswith("," + base_key)}[scope]
            if not inside or not _has_class(values, object_class):
                continue
            if uid is not None and uid.casefold() not in {v.casefold()
                                                          for v in values.get("uid", [])}:
                continue
            if rdn is not None and rdn.lower() not in key.split(","):
                continue
            yield dn, _select(values, attributes)
            found += 1
            if limit and found >= limit:
                return

    def exists(self, dn: str) -> bool:
        return dn_key(dn) in self.entries

    def _add(self, dn: str, attributes: Mapping[str, Sequence[str]]) -> None:
        self._maybe_fail(dn)
        if dn_key(dn) in self.entries:
            raise EntryExists(f"add {dn}: entryAlreadyExists")
        if parent_dn(dn) and parent_dn(dn_key(dn)) not in self.entries:
            raise NoSuchEntry(f"add {dn}: noSuchObject")
        self.writes += 1
        self.put(dn, attributes)

    def _move(self, dn: str, new_parent: str) -> None:
        self._maybe_fail(dn)
        entry = self.entries.pop(dn_key(dn), None)
        if entry is None:
            raise NoSuchEntry(f"move {dn}: noSuchObject")
        if dn_key(new_parent) not in self.entries:
            self.entries[dn_key(dn)] = entry
            raise NoSuchEntry(f"move {dn}: noSuchObject (new superior)")
        new_dn = f"{dn.split(',', 1)[0]},{new_parent}"
        self.writes += 1
        self.put(new_dn, entry[1])

    def _password_modify(self, dn: str, password: str) -> None:
        """The twin keeps a marker, never the password: it stands in for slapd's hash."""
        self._maybe_fail(dn)
        values = self.get(dn)
        if values is None:
            raise NoSuchEntry(f"password modify {dn}: noSuchObject")
        self.writes += 1
        self.put(dn, {**values, "userPassword": [f"{{TWIN}}{len(password)}"]})

    def _modify(self, dn: str, mods: Sequence[Modification],
                asserted: Sequence[str] = ()) -> None:
        self._maybe_fail(dn)
        values = self.get(dn)
        if values is None:
            raise NoSuchEntry(f"modify {dn}: noSuchObject")
        held = {dn_key(v) for k, vals in values.items() if k.lower() == "description"
                for v in vals}
        if any(dn_key(v) not in held for v in asserted):
            raise AssertionFailed(f"modify {dn}: assertionFailed")
        changed = {name: list(vals) for name, vals in values.items()}
        for op, name, new in mods:
            key = next((k for k in changed if k.lower() == name.lower()), name)
            current = changed.get(key, [])
            folded = {dn_key(v) for v in current}
            if op == "replace":
                changed[key] = list(new)
            elif op == "add":
                if any(dn_key(v) in folded for v in new):
                    raise ValueExists(f"modify {dn}: attributeOrValueExists")
                changed[key] = current + list(new)
            elif not new:  # delete the whole attribute
                if not current:
                    raise NoSuchValue(f"modify {dn}: noSuchAttribute")
                changed[key] = []
            else:
                if any(dn_key(v) not in folded for v in new):
                    raise NoSuchValue(f"modify {dn}: noSuchAttribute")
                gone = {dn_key(v) for v in new}
                changed[key] = [v for v in current if dn_key(v) not in gone]
            if not changed[key]:
                del changed[key]
        self.writes += 1
        values.clear()
        values.update(changed)

    def _maybe_fail(self, dn: str) -> None:
        if dn_key(dn) in self.fail:
            raise DirectoryError(self.fail[dn_key(dn)])

    # -- check's probes, answered as the generated ACLs would ----------------------------

    def who_am_i(self) -> str:
        return self.actor

    def close(self) -> None:
        pass

    def probe_write(self, dn: str, attribute: str, value: str) -> bool:
        if attribute.lower() == "pwdpolicysubentry":
            return self.scope.is_it_centre
        if dn_key(dn) == dn_key(self.layout.it_centre_group_dn):
            return False
        group = dn_key(parent_dn(dn)) == dn_key(self.layout.groups_dn)
        return write_refusal(self.scope, self.layout, dn, group=group) is None

    def probe_add(self, container: str) -> bool | None:
        if not self.exists(container):
            return None
        return write_refusal(self.scope, self.layout, f"uid=probe,{container}") is None


def _has_class(values: Mapping[str, list[str]], name: str) -> bool:
    return name == "*" or name.lower() in {v.lower() for v in values.get("objectClass", [])}


def _select(values: Mapping[str, list[str]], attributes: Sequence[str]) -> dict[str, list[str]]:
    """The requested attributes, as a server returns them (all of them for ``*``)."""
    if "*" in attributes:
        return {k: list(v) for k, v in values.items()}
    wanted = {a.lower() for a in attributes}
    return {k: list(v) for k, v in values.items() if k.lower() in wanted}

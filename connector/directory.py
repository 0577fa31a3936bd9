"""The directory adapter: the only module that imports ldap3.

``LdapDirectory`` talks to a real OpenLDAP server; ``MemoryDirectory`` is its
in-memory twin for fast tests of the service. Both pass the same contract
tests (``tests/integration/test_directory_contract.py``).

How a lock is stored (SPEC §2): ``pwdAccountLockedTime: 000001010000Z`` (the
ppolicy overlay refuses binds while it is present) plus one ``description``
value ``bhxh-lock:<clause>:<reason> at=… by=… note=…`` (``connector.lockinfo``)
that says why. An unlock removes both; other descriptions are left alone.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from loguru import logger

from connector import ber, lockinfo
from connector.acl import rdn_of
from connector.errors import (
    ConfigError,
    DirectoryError,
    DirectoryUnavailable,
    ScopeViolation,
)
from connector.model import Account, Group, Layout, Scope, Snapshot, dn_key, parent_dn
from connector.plan import PERSON_ATTRIBUTES, Action, Kind
from connector.policy import managed_containers, write_refusal
from connector.settings import LdapSettings, LdapUrl

LOCKED_VALUE = "000001010000Z"
PERSON_CLASSES = ("top", "person", "organizationalPerson", "inetOrgPerson")
SNAPSHOT_ATTRIBUTES = (*PERSON_ATTRIBUTES, "pwdAccountLockedTime", "description")

#: Search results that mean "some entries were not returned".
TRUNCATED = frozenset({"sizeLimitExceeded", "timeLimitExceeded", "adminLimitExceeded"})

#: (operation, attribute, values): "replace" with no values removes the attribute.
Modification = tuple[str, str, tuple[str, ...]]


@dataclass(frozen=True)
class Outcome:
    action: Action
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class Directory(Protocol):
    """What the service needs from a directory."""

    actor: str

    def snapshot(self, scope: Scope) -> Snapshot: ...

    def apply(
        self,
        actions: Sequence[Action],
        on_outcome: Callable[[Outcome], None],
        stop: threading.Event | None = None,
        within: Sequence[str] | None = None,
    ) -> None: ...

    def find_accounts(self, employee_id: str, containers: Iterable[str]) -> list[Account]: ...

    def exists(self, dn: str) -> bool: ...

    def add_entry(self, dn: str, attributes: Mapping[str, Sequence[str]]) -> None: ...

    def close(self) -> None: ...


def generalized_now() -> str:
    return datetime.now(UTC).strftime("%Y%m%d%H%M%SZ")


#: Kinds whose modification depends on the lock values the entry holds now.
LOCK_KINDS = frozenset({Kind.LOCK, Kind.RELABEL, Kind.UNLOCK})


def modifications(
    action: Action, actor: str, now: str, lock_values: Sequence[str] = ()
) -> list[Modification]:
    """What an action changes on its entry, independent of the client library.

    ``lock_values``: the entry's current ``bhxh-lock:`` descriptions, replaced
    by a lock or relabel and removed by an unlock.
    """
    if action.kind is Kind.UPDATE:
        return [("replace", name, (value,) if value is not None else ())
                for name, value in action.changes]
    if action.restore:
        # only the attribute: the record stays as it is (a province may put back a 6.3
        # hold it may not rewrite); "add" fails if someone locked it meanwhile
        return [("add", "pwdAccountLockedTime", (LOCKED_VALUE,))]
    if action.kind in LOCK_KINDS:
        mods: list[Modification] = []
        if action.kind is Kind.LOCK:
            mods.append(("replace", "pwdAccountLockedTime", (LOCKED_VALUE,)))
        elif action.kind is Kind.UNLOCK:
            mods.append(("replace", "pwdAccountLockedTime", ()))
        if lock_values:
            mods.append(("delete", "description", tuple(lock_values)))
        if action.kind is not Kind.UNLOCK:
            record = lockinfo.LockRecord(action.reason, action.clause, now, actor, action.note)
            mods.append(("add", "description", (record.format(),)))
        return mods
    if action.kind is Kind.GROUP_ADD:
        return [("add", "member", (action.member or "",))]
    if action.kind is Kind.GROUP_REMOVE:
        return [("delete", "member", (action.member or "",))]
    raise ValueError(f"{action.kind} is not a modification")


def create_attributes(action: Action) -> dict[str, list[str]]:
    attributes = {name: [value] for name, value in action.changes if value is not None}
    attributes["objectClass"] = list(PERSON_CLASSES)
    return attributes


def phases(actions: Sequence[Action]) -> list[list[Action]]:
    """Actions grouped by kind, in plan order: each phase may run in parallel."""
    grouped: dict[Kind, list[Action]] = {}
    for action in actions:
        grouped.setdefault(action.kind, []).append(action)
    return [grouped[kind] for kind in Kind if kind in grouped]


class _ScopedWrites:
    """Every write is checked against the scope before it leaves the process."""

    scope: Scope
    layout: Layout
    workers: int = 1

    def apply_one(self, action: Action, within: Sequence[str] | None = None) -> None:
        raise NotImplementedError

    def apply(
        self,
        actions: Sequence[Action],
        on_outcome: Callable[[Outcome], None],
        stop: threading.Event | None = None,
        within: Sequence[str] | None = None,
    ) -> None:
        """Apply in phases; ``within``: the containers every write must fall in."""
        _apply_in_phases(lambda action: self.apply_one(action, within), actions, on_outcome,
                         stop, self.workers)

    def check(self, action: Action, within: Sequence[str] | None = None) -> None:
        group = action.kind in (Kind.GROUP_ADD, Kind.GROUP_REMOVE)
        refusal = write_refusal(self.scope, self.layout, action.dn, group=group,
                                member=action.member, within=within)
        if refusal is not None:
            raise ScopeViolation(f"refused before sending: {refusal}")


def account_from_values(dn: str, values: Mapping[str, list[str]]) -> Account:
    """Build an Account from attribute values (case-insensitive names)."""
    lower = {name.lower(): vals for name, vals in values.items()}

    def one(name: str) -> str | None:
        vals = lower.get(name.lower())
        if not vals:
            return None
        return vals[0] if len(vals) == 1 else "\n".join(vals)

    employee_id = one("uid") or one("employeeNumber") or dn.split(",", 1)[0].split("=", 1)[-1]
    person = {name: value for name in PERSON_ATTRIBUTES if (value := one(name)) is not None}
    record, _ = lockinfo.find(lower.get("description", []))
    attribute = one("pwdAccountLockedTime") is not None
    return Account(
        dn=dn,
        employee_id=employee_id.split("\n")[0],
        container=parent_dn(dn),
        values=person,
        locked=attribute or record is not None,
        lock_reason=record.reason if record else None,
        lock_clause=record.clause if record else None,
        lock_lost=record is not None and not attribute,
    )


def admin_keys_of(entries: Iterable[tuple[str, Mapping[str, list[str]]]]) -> frozenset[str]:
    """Id keys of the accounts under a province's ``ou=admins`` (read, never written)."""
    return frozenset(account_from_values(dn, values).key for dn, values in entries)


def _with_own_province(provinces: frozenset[str], scope: Scope) -> frozenset[str]:
    """A province always knows its own code, even if it may not list ou=provinces."""
    if scope.code is None or scope.code.casefold() in {p.casefold() for p in provinces}:
        return provinces
    return provinces | {scope.code}


def missing_containers(directory: Any, scope: Scope) -> frozenset[str]:
    """Preferred containers (``ou=people,ou=central``) absent from a directory whose area
    (``ou=central``) exists: new accounts then go straight into the area."""
    if not scope.is_it_centre:
        return frozenset()
    layout = directory.layout
    missing = set()
    for preferred, area in ((layout.central_dn, layout.central_area_dn),
                            (layout.vendors_dn, layout.vendors_area_dn)):
        if dn_key(preferred) != dn_key(area) and not directory.exists(preferred) \
                and directory.exists(area):
            missing.add(dn_key(preferred))
    return frozenset(missing)


def province_groups(
    layout: Layout,
    provinces: frozenset[str],
    entries: Iterable[tuple[str, Mapping[str, list[str]]]],
) -> dict[str, Group]:
    """``cn=province-admins-<CODE>`` entries keyed by the directory's own province code."""
    known = {code.casefold(): code for code in provinces}
    groups: dict[str, Group] = {}
    for dn, values in entries:
        code = _province_code(layout, (values.get("cn") or [""])[0])
        if code is not None and code.casefold() in known:
            canonical = known[code.casefold()]
            groups[canonical] = Group(dn, canonical, frozenset(values.get("member", [])))
    return groups


def _province_code(layout: Layout, group_rdn_value: str) -> str | None:
    prefix = layout.province_group.split("=", 1)[1].split("{code}", 1)[0]
    if group_rdn_value.lower().startswith(prefix.lower()):
        return group_rdn_value[len(prefix):]
    return None


# --------------------------------------------------------------------------- LDAP


class LdapDirectory(_ScopedWrites):
    """A real server, over ldap3; one connection per thread."""

    def __init__(self, settings: LdapSettings, layout: Layout, scope: Scope) -> None:
        self.external = not settings.bind_dn and all(u.scheme == "ldapi" for u in settings.urls)
        if not self.external and (not settings.bind_dn or settings.bind_password is None):
            raise ConfigError("CONNECTOR_LDAP__BIND_DN and a bind password are required")
        self.settings = settings
        self.layout = layout
        self.scope = scope
        self.workers = settings.workers
        self.actor = settings.bind_dn or "(SASL EXTERNAL)"
        self._local = threading.local()
        self._all: list[Any] = []
        self._lock = threading.Lock()
        self.url: LdapUrl | None = None
        self._conn()  # fail fast: unreachable or refused bind is reported before planning

    # -- connections -------------------------------------------------------------------------

    def _server(self, url: LdapUrl) -> Any:
        import ldap3

        tls = None
        if url.scheme == "ldaps" or self.settings.start_tls:
            tls = ldap3.Tls(
                validate=ssl.CERT_REQUIRED,
                ca_certs_file=str(self.settings.ca_file) if self.settings.ca_file else None,
            )
        if url.scheme == "ldapi":
            return ldap3.Server(f"ldapi://{url.host}", get_info=ldap3.NONE,
                                connect_timeout=int(self.settings.connect_timeout))
        return ldap3.Server(
            url.host,
            port=url.port or (636 if url.scheme == "ldaps" else 389),
            use_ssl=url.scheme == "ldaps",
            tls=tls,
            get_info=ldap3.NONE,
            connect_timeout=int(self.settings.connect_timeout),
        )

    def _open(self) -> Any:
        import ldap3
        from ldap3.core import exceptions as lx

        password = self.settings.bind_password
        if self.external:
            # an empty authorization identity: without it ldap3 leaves the bind "in progress"
            credentials: dict[str, Any] = {"authentication": ldap3.SASL,
                                           "sasl_mechanism": ldap3.EXTERNAL,
                                           "sasl_credentials": ""}
        else:
            assert password is not None
            credentials = {"user": self.actor, "password": password.get_secret_value()}
        urls = [self.url] if self.url is not None else list(self.settings.urls)
        failures: list[str] = []
        for url in urls:
            conn = ldap3.Connection(
                self._server(url),
                **credentials,
                client_strategy=ldap3.SYNC,
                raise_exceptions=True,
                receive_timeout=int(self.settings.operation_timeout),
                return_empty_attributes=False,
                check_names=False,
                read_only=False,
                auto_referrals=False,
            )
            try:
                conn.open()
                if self.settings.start_tls and url.scheme == "ldap" and not conn.start_tls():
                    raise DirectoryUnavailable(f"StartTLS failed on {url}")
                conn.bind()
            except lx.LDAPInvalidCredentialsResult:
                _quiet_unbind(conn)
                raise ConfigError(
                    f"the directory at {url} refused the bind as {self.actor}: invalid credentials"
                    " (check CONNECTOR_LDAP__BIND_DN and the password)"
                ) from None
            except lx.LDAPOperationResult as exc:
                _quiet_unbind(conn)
                raise ConfigError(
                    f"the directory at {url} refused the bind as {self.actor}: {_describe(exc)}"
                ) from None
            except (lx.LDAPException, OSError) as exc:
                _quiet_unbind(conn)
                reason = _describe(exc)
                if "CERTIFICATE_VERIFY_FAILED" in reason:
                    reason = ("the server's TLS certificate could not be verified (set "
                              "CONNECTOR_LDAP__CA_FILE to the CA that signed it): "
                              + reason.split("certificate verify failed:")[-1].split("(")[0]
                              .strip())
                failures.append(f"{url}: {reason}")
                logger.debug("cannot reach {}: {}", url, _describe(exc))
                continue
            self.url = url
            if self.external and self.actor == "(SASL EXTERNAL)":
                with contextlib.suppress(lx.LDAPException, OSError):
                    self.actor = str(conn.extend.standard.who_am_i() or "").removeprefix("dn:")
            _lean_search_entries(conn)
            with self._lock:
                self._all.append(conn)
            return conn
        raise DirectoryUnavailable("directory unreachable: " + "; ".join(failures))

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._local.conn = conn
        return conn

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                _quiet_unbind(conn)
            self._all.clear()
        self._local = threading.local()

    # -- reading -----------------------------------------------------------------------------

    def _search(
        self, base: str, search_filter: str, attributes: Sequence[str], subtree: bool = True
    ) -> Iterator[tuple[str, dict[str, list[str]]]]:
        """One paged search; yields (dn, {attribute: [str values]}). Missing base → nothing."""
        import ldap3
        from ldap3.core import exceptions as lx

        conn = self._conn()
        cookie: bytes | None = None
        seen = 0
        while True:
            try:
                conn.search(
                    base,
                    search_filter,
                    search_scope=ldap3.SUBTREE if subtree else ldap3.LEVEL,
                    attributes=list(attributes),
                    paged_size=self.settings.page_size,
                    paged_cookie=cookie,
                )
            except lx.LDAPNoSuchObjectResult:
                logger.warning("{} does not exist (run `connector bootstrap`?)", base)
                return
            except lx.LDAPOperationResult as exc:
                raise DirectoryError(f"search of {base} failed: {_describe(exc)}") from None
            except (lx.LDAPException, OSError) as exc:
                raise DirectoryUnavailable(f"search of {base} was cut off: {_describe(exc)}") \
                    from None
            for item in conn.response:
                if item.get("type") != "searchResEntry":
                    continue
                seen += 1
                raw = item["raw_attributes"]
                yield item["dn"], {
                    name: [v.decode("utf-8", "replace") for v in values]
                    for name, values in raw.items()
                }
            outcome = conn.result.get("description")
            if outcome in TRUNCATED:
                # ldap3 does not raise these: a silently short snapshot would hide accounts
                raise DirectoryError(
                    f"the server cut the search of {base} short after {seen} entries "
                    f"({outcome}): give {self.actor} unlimited size/time limits for its OUs "
                    "(the olcLimits of `connector bootstrap --print-acl`)")
            controls = conn.result.get("controls") or {}
            cookie = controls.get("1.2.840.113556.1.4.319", {}).get("value", {}).get("cookie")
            if not cookie:
                return

    def snapshot(self, scope: Scope) -> Snapshot:
        layout = self.layout
        provinces = frozenset(
            values["ou"][0]
            for dn, values in self._search(layout.provinces_dn, "(objectClass=organizationalUnit)",
                                           ["ou"], subtree=False)
            if values.get("ou")
        )
        provinces = _with_own_province(provinces, scope)
        accounts: list[Account] = []
        for container in managed_containers(scope, layout, provinces):
            for dn, values in self._search(container, "(objectClass=inetOrgPerson)",
                                           SNAPSHOT_ATTRIBUTES):
                accounts.append(account_from_values(dn, values))
        groups: dict[str, Group] = {}
        admin_keys: frozenset[str] = frozenset()
        if scope.is_it_centre:
            groups = province_groups(layout, provinces, self._search(
                layout.groups_dn, "(objectClass=groupOfNames)", ["cn", "member"], subtree=False))
        elif scope.code is not None:
            admin_keys = admin_keys_of(self._search(layout.admins_dn(scope.code),
                                                    "(objectClass=inetOrgPerson)", ["uid"]))
        return Snapshot(tuple(accounts), groups, provinces, missing_containers(self, scope),
                        admin_keys)

    def find_accounts(self, employee_id: str, containers: Iterable[str]) -> list[Account]:
        from ldap3.utils.conv import escape_filter_chars

        found: list[Account] = []
        search_filter = f"(&(objectClass=inetOrgPerson)(uid={escape_filter_chars(employee_id)}))"
        for container in containers:
            for dn, values in self._search(container, search_filter, SNAPSHOT_ATTRIBUTES):
                found.append(account_from_values(dn, values))
        return found

    def exists(self, dn: str) -> bool:
        import ldap3
        from ldap3.core import exceptions as lx

        try:
            self._conn().search(dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=["1.1"])
        except lx.LDAPNoSuchObjectResult:
            return False
        except lx.LDAPOperationResult as exc:
            raise DirectoryError(f"cannot read {dn}: {_describe(exc)}") from None
        except (lx.LDAPException, OSError) as exc:
            raise DirectoryUnavailable(f"cut off while reading {dn}: {_describe(exc)}") from None
        return True

    def _lock_values(self, dn: str) -> tuple[str, ...]:
        """The entry's lock descriptions as they are now (read just before changing them)."""
        import ldap3

        conn = self._conn()
        conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["description"])
        for item in conn.response:
            if item.get("type") == "searchResEntry":
                values = item["raw_attributes"].get("description", [])
                return lockinfo.find(v.decode("utf-8", "replace") for v in values)[1]
        return ()

    def who_am_i(self) -> str:
        """The authorization identity the server sees (RFC 4532)."""
        from ldap3.core import exceptions as lx

        try:
            identity = self._conn().extend.standard.who_am_i()
        except (lx.LDAPException, OSError) as exc:
            return f"unknown ({_describe(exc)})"
        return str(identity or "anonymous").removeprefix("dn:")

    def first_account(self, container: str) -> str | None:
        """The DN of one account under ``container`` (None if there is none)."""
        import ldap3
        from ldap3.core import exceptions as lx

        try:
            self._conn().search(container, "(objectClass=inetOrgPerson)", ldap3.SUBTREE,
                                attributes=["1.1"], size_limit=1)
        except lx.LDAPNoSuchObjectResult:  # (sizeLimitExceeded is not raised by ldap3)
            return None
        except lx.LDAPOperationResult as exc:
            raise DirectoryError(f"search of {container} failed: {_describe(exc)}") from None
        entries = [r for r in self._conn().response if r.get("type") == "searchResEntry"]
        return str(entries[0]["dn"]) if entries else None

    def probe_write(self, dn: str, attribute: str, value: str) -> bool:
        """Whether the ACLs let this identity change ``attribute`` of ``dn``, without
        changing anything: delete a value that is not there. slapd checks access on the
        whole modification first (insufficientAccessRights), then applies it
        (noSuchAttribute), and a failed modify leaves the entry as it was."""
        import ldap3
        from ldap3.core import exceptions as lx

        try:
            self._conn().modify(dn, {attribute: [(ldap3.MODIFY_DELETE, [value])]})
        except lx.LDAPNoSuchAttributeResult:
            return True
        except lx.LDAPInsufficientAccessRightsResult:
            return False
        except lx.LDAPOperationResult as exc:
            raise DirectoryError(f"probe of {attribute} on {dn}: {_describe(exc)}") from None
        return True

    def probe_add(self, container: str) -> bool | None:
        """Whether this identity holds the grant that lets it create accounts under
        ``container``, proven without changing anything, so that an empty OU can be
        verified too: add the value the container's RDN attribute already holds
        (``ou: people`` to ``ou=people,…``). slapd checks the ACLs first (the delegation
        gives the OU's group ``add`` on exactly that value, ``acl.probe_rule``), then
        refuses the duplicate value; nothing is written whatever the ACLs say.
        None: the answer was neither (the OU is missing, say)."""
        import ldap3
        from ldap3.core import exceptions as lx

        attribute, value = rdn_of(container)
        try:
            self._conn().modify(container, {attribute: [(ldap3.MODIFY_ADD, [value])]})
        except lx.LDAPAttributeOrValueExistsResult:
            return True
        except lx.LDAPInsufficientAccessRightsResult:
            return False
        except lx.LDAPOperationResult as exc:
            logger.debug("create probe of {}: {}", container, _describe(exc))
            return None
        except (lx.LDAPException, OSError) as exc:
            raise DirectoryUnavailable(f"cut off while probing {container}: "
                                       f"{_describe(exc)}") from None
        # the server took a value the entry already had: it changed nothing either way
        logger.warning("the server accepted a duplicate {} value on {}", attribute, container)
        return None

    def group_members(self, dn: str) -> frozenset[str] | None:
        """The normalised ``member`` DNs of a group, or None if it cannot be read."""
        entries = list(self._search(dn, "(objectClass=groupOfNames)", ["member"], subtree=True))
        if not entries:
            return None
        return frozenset(dn_key(m) for _, values in entries[:1]
                         for m in values.get("member", []))

    # -- writing -----------------------------------------------------------------------------

    def add_entry(self, dn: str, attributes: Mapping[str, Sequence[str]]) -> None:
        from ldap3.core import exceptions as lx

        try:
            self._conn().add(dn, attributes={k: list(v) for k, v in attributes.items()})
        except lx.LDAPOperationResult as exc:
            raise DirectoryError(f"add {dn}: {_describe(exc)}") from None
        except (lx.LDAPException, OSError) as exc:
            raise DirectoryUnavailable(f"cut off while adding {dn}: {_describe(exc)}") from None

    def apply_one(self, action: Action, within: Sequence[str] | None = None) -> None:
        """Send one action; raises DirectoryError (the server said no) or
        DirectoryUnavailable (the connection is gone)."""
        from ldap3.core import exceptions as lx

        self.check(action, within)
        conn = self._conn()
        try:
            if action.kind is Kind.CREATE:
                attributes = create_attributes(action)
                _send_encoded(conn, ber.add_request(action.dn, attributes),
                              {"type": "addRequest", "entry": action.dn,
                               "attributes": attributes, "controls": None})
                return
            current = self._lock_values(action.dn) if action.kind in LOCK_KINDS and \
                not action.restore else ()
            mods = modifications(action, self.actor, generalized_now(), current)
            request = {"type": "modifyRequest", "entry": action.dn, "changes": mods,
                       "controls": None}
            _send_encoded(conn, ber.modify_request(action.dn, mods), request)
        except (lx.LDAPAttributeOrValueExistsResult, lx.LDAPNoSuchAttributeResult):
            if action.kind not in (Kind.GROUP_ADD, Kind.GROUP_REMOVE) and not action.restore:
                raise DirectoryError(f"{action.kind} {action.dn}: unexpected state") from None
            # already a member / already gone / locked again meanwhile: as wanted
        except lx.LDAPOperationResult as exc:
            raise DirectoryError(_describe(exc)) from None
        except (lx.LDAPException, OSError) as exc:
            raise DirectoryUnavailable(f"cut off during {action.kind} {action.dn}: "
                                       f"{_describe(exc)}") from None


def _apply_in_phases(
    send: Callable[[Action], None],
    actions: Sequence[Action],
    on_outcome: Callable[[Outcome], None],
    stop: threading.Event | None,
    workers: int,
) -> None:
    """Phases run in order (revocations first); inside a phase, ``workers`` in parallel.

    A refused operation is reported and the run goes on; a lost connection or a
    stop request lets in-flight operations finish, then raises or returns.
    """
    unavailable: list[DirectoryUnavailable] = []

    def run(action: Action) -> Outcome:
        try:
            send(action)
        except DirectoryUnavailable as exc:
            unavailable.append(exc)
            return Outcome(action, str(exc))
        except (DirectoryError, ScopeViolation) as exc:
            return Outcome(action, str(exc))
        return Outcome(action)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="apply") as pool:
        for phase in phases(actions):
            pending: set[Future[Outcome]] = set()
            queue = iter(phase)
            exhausted = False
            while True:
                while not exhausted and len(pending) < workers * 2:
                    if unavailable or (stop is not None and stop.is_set()):
                        exhausted = True
                        break
                    action = next(queue, None)
                    if action is None:
                        exhausted = True
                        break
                    pending.add(pool.submit(run, action))
                if not pending:
                    break
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    on_outcome(future.result())
            if unavailable:
                raise unavailable[0]
            if stop is not None and stop.is_set():
                return


def _send_encoded(conn: Any, operation: bytes, request: dict[str, Any]) -> None:
    """Send a request encoded by ``connector.ber`` on an ldap3 connection, then wait
    for its result through ldap3's own response handling (errors raise as usual).

    This is ldap3's ``send`` without the generic pyasn1 encoding, which costs more
    CPU than slapd spends on the write; it relies on ldap3 2.9.1's connection
    internals (the version is pinned) and is covered by the contract tests.
    """
    from ldap3.core.exceptions import LDAPSocketSendError

    with conn.connection_lock:
        message_id = conn.server.next_message_id()
        conn.request = request
        conn.strategy._outstanding[message_id] = request
        try:
            conn.socket.sendall(ber.message(message_id, operation))
        except (OSError, AttributeError) as exc:
            conn.strategy._outstanding.pop(message_id, None)
            raise LDAPSocketSendError(f"socket sending error: {exc}") from None
        conn.post_send_single_response(message_id)


def _lean_search_entries(conn: Any) -> None:
    """Decode search entries to raw values only.

    ldap3 builds every entry twice (raw bytes and a formatted copy that goes
    through its config and schema lookups); the snapshot reads only the raw
    values, so the formatted copy is skipped. Other responses are untouched.
    """
    strategy = conn.strategy
    original = strategy.decode_response_fast

    def decode(message: dict[str, Any]) -> dict[str, Any]:
        if message["protocolOp"] != 4:  # not a searchResEntry
            return dict(original(message))
        payload = message["payload"]
        raw = {bytes(item[3][0][3]).decode("utf-8"): [bytes(v[3]) for v in item[3][1][3]]
               for item in payload[1][3]}
        return {"type": "searchResEntry", "raw_dn": payload[0][3],
                "dn": bytes(payload[0][3]).decode("utf-8"), "raw_attributes": raw,
                "attributes": raw}

    strategy.decode_response_fast = decode


def _quiet_unbind(conn: Any) -> None:
    with contextlib.suppress(Exception):
        conn.unbind()


def _describe(exc: BaseException) -> str:
    """An LDAP error as one line: result name and server message, never a password."""
    result = getattr(exc, "result", None)
    description = getattr(exc, "description", None)
    message = getattr(exc, "message", None)
    if description:
        text = str(description)
        if message:
            text += f": {message}"
        return text
    if result is not None:
        return str(result)
    return f"{type(exc).__name__}: {exc}".split("\n")[0]


# ------------------------------------------------------------------------- in memory


class MemoryDirectory(_ScopedWrites):
    """The in-memory twin: same contract, no server; for unit tests of the service."""

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

    def _children(self, base: str, subtree: bool) -> Iterator[tuple[str, dict[str, list[str]]]]:
        base_key = dn_key(base)
        for key, (dn, values) in sorted(self.entries.items()):
            inside = key.endswith("," + base_key) if subtree else parent_dn(key) == base_key
            if inside:
                yield dn, values

    @staticmethod
    def _has_class(values: Mapping[str, list[str]], name: str) -> bool:
        return name.lower() in {v.lower() for v in values.get("objectClass", [])}

    def snapshot(self, scope: Scope) -> Snapshot:
        layout = self.layout
        provinces = frozenset(
            values["ou"][0] for _, values in self._children(layout.provinces_dn, False)
            if values.get("ou")
        )
        provinces = _with_own_province(provinces, scope)
        accounts = [
            account_from_values(dn, values)
            for container in managed_containers(scope, layout, provinces)
            for dn, values in self._children(container, True)
            if self._has_class(values, "inetOrgPerson")
        ]
        groups: dict[str, Group] = {}
        admin_keys: frozenset[str] = frozenset()
        if scope.is_it_centre:
            groups = province_groups(layout, provinces, self._children(layout.groups_dn, False))
        elif scope.code is not None:
            admin_keys = admin_keys_of(
                (dn, values) for dn, values in self._children(layout.admins_dn(scope.code), True)
                if self._has_class(values, "inetOrgPerson"))
        return Snapshot(tuple(accounts), groups, provinces, missing_containers(self, scope),
                        admin_keys)

    def find_accounts(self, employee_id: str, containers: Iterable[str]) -> list[Account]:
        return [
            account_from_values(dn, values)
            for container in containers
            for dn, values in self._children(container, True)
            if self._has_class(values, "inetOrgPerson")
            and employee_id.casefold() in {v.casefold() for v in values.get("uid", [])}
        ]

    def exists(self, dn: str) -> bool:
        return dn_key(dn) in self.entries

    def add_entry(self, dn: str, attributes: Mapping[str, Sequence[str]]) -> None:
        if dn_key(dn) in self.entries:
            raise DirectoryError(f"add {dn}: entryAlreadyExists")
        if parent_dn(dn_key(dn)) not in self.entries and parent_dn(dn):
            raise DirectoryError(f"add {dn}: noSuchObject")
        self.put(dn, attributes)

    def apply_one(self, action: Action, within: Sequence[str] | None = None) -> None:
        self.check(action, within)
        if dn_key(action.dn) in self.fail:
            raise DirectoryError(self.fail[dn_key(action.dn)])
        self.writes += 1
        if action.kind is Kind.CREATE:
            self.add_entry(action.dn, create_attributes(action))
            return
        values = self.get(action.dn)
        if values is None:
            raise DirectoryError(f"{action.kind} {action.dn}: noSuchObject")
        if action.restore and values.get("pwdAccountLockedTime"):
            return  # locked again meanwhile, as a real server answers "value exists"
        current = lockinfo.find(values.get("description", []))[1]
        for op, name, new in modifications(action, self.actor, generalized_now(), current):
            existing = values.setdefault(name, [])
            if op == "replace":
                values[name] = list(new)
            elif op == "add":
                existing.extend(v for v in new if dn_key(v) not in {dn_key(c) for c in existing})
            else:
                values[name] = [c for c in existing if dn_key(c) not in {dn_key(v) for v in new}]
            if not values[name]:
                del values[name]

    def close(self) -> None:
        pass

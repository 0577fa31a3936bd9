"""The real server, over ldap3: the only module of the connector that imports ldap3.

Connections (one per thread, failover across URLs, TLS always verified), paged
searches, and the backend primitives of ``base.Directory``. Library errors are
mapped into the connector's error tree in one place, ``_ldap_errors``.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import ldap3
from ldap3.core import exceptions as lx
from ldap3.utils.conv import escape_filter_chars
from loguru import logger

from connector.core.acl import rdn_of
from connector.core.model import Layout, Scope
from connector.core.urls import LdapUrl
from connector.directory import ber, wire
from connector.directory.base import Directory, SearchScope
from connector.directory.entries import Modification, RawEntry
from connector.errors import (
    AccessRefused,
    AssertionFailed,
    ConfigError,
    DirectoryError,
    DirectoryUnavailable,
    EntryExists,
    NoSuchEntry,
    NoSuchValue,
    ValueExists,
)
from connector.settings import LdapSettings

#: Search results that mean "some entries were not returned".
TRUNCATED = frozenset({"sizeLimitExceeded", "timeLimitExceeded", "adminLimitExceeded"})
SCOPES = {"base": ldap3.BASE, "one": ldap3.LEVEL, "sub": ldap3.SUBTREE}
OPERATIONS = {"add": ldap3.MODIFY_ADD, "delete": ldap3.MODIFY_DELETE,
              "replace": ldap3.MODIFY_REPLACE}
PAGED_RESULTS = "1.2.840.113556.1.4.319"
#: result codes of a search the server cut short (sizeLimit, timeLimit, adminLimit)
TRUNCATED_CODES = (4, 3, 11)
RESULT_NAMES = {3: "timeLimitExceeded", 4: "sizeLimitExceeded", 11: "adminLimitExceeded",
                32: "noSuchObject", 50: "insufficientAccessRights", 53: "unwillingToPerform"}
#: ldap3 errors that are the request's fault, not the link's: re-running would not help
USAGE_ERRORS: tuple[type[Exception], ...] = (
    lx.LDAPInvalidFilterError, lx.LDAPInvalidDnError, lx.LDAPInvalidScopeError,
    lx.LDAPAttributeError, lx.LDAPObjectClassError, lx.LDAPControlError,
    lx.LDAPInvalidValueError, lx.LDAPChangeError, lx.LDAPKeyError,
)


@contextlib.contextmanager
def _ldap_errors(what: str) -> Iterator[None]:
    """ldap3's exceptions as the connector's: one map for every operation.

    The server said no → a DirectoryError (with the kinds the callers act on);
    the connection is gone → DirectoryUnavailable (exit 4, transient).
    """
    try:
        yield
    except lx.LDAPNoSuchObjectResult:
        raise NoSuchEntry(f"{what}: noSuchObject") from None
    except lx.LDAPEntryAlreadyExistsResult:
        raise EntryExists(f"{what}: entryAlreadyExists") from None
    except lx.LDAPAttributeOrValueExistsResult:
        raise ValueExists(f"{what}: attributeOrValueExists") from None
    except lx.LDAPNoSuchAttributeResult:
        raise NoSuchValue(f"{what}: noSuchAttribute") from None
    except lx.LDAPAssertionFailedResult:
        raise AssertionFailed(f"{what}: assertionFailed") from None
    except lx.LDAPInsufficientAccessRightsResult as exc:
        raise AccessRefused(f"{what}: {describe(exc)}") from None
    except (lx.LDAPOperationResult, *USAGE_ERRORS) as exc:
        raise DirectoryError(f"{what}: {describe(exc)}") from None
    except (lx.LDAPException, OSError) as exc:
        raise DirectoryUnavailable(f"cut off during {what}: {describe(exc)}") from None


class LdapDirectory(Directory):
    """A real server; one connection per thread."""

    def __init__(self, settings: LdapSettings, layout: Layout, scope: Scope) -> None:
        self.external = not settings.bind_dn and all(u.scheme == "ldapi" for u in settings.urls)
        if not self.external and (not settings.bind_dn or settings.bind_password is None):
            raise ConfigError("CONNECTOR_LDAP__BIND_DN and a bind password are required")
        self.settings = settings
        self.layout = layout
        self.scope = scope
        self.workers = settings.workers
        self.actor = settings.bind_dn or "(SASL EXTERNAL)"
        self.fast = settings.fast_wire
        self._local = threading.local()
        self._all: list[Any] = []
        self._lock = threading.Lock()
        self.url: LdapUrl | None = None
        self._conn()  # fail fast: unreachable or refused bind is reported before planning

    # -- connections ---------------------------------------------------------------------

    def _server(self, url: LdapUrl) -> Any:
        timeout = int(self.settings.connect_timeout)
        if url.scheme == "ldapi":
            return ldap3.Server(f"ldapi://{url.host}", get_info=ldap3.NONE,
                                connect_timeout=timeout)
        tls = None
        if url.scheme == "ldaps" or self.settings.start_tls:
            ca = str(self.settings.ca_file) if self.settings.ca_file else None
            tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=ca)
        return ldap3.Server(url.host, port=url.port or (636 if url.scheme == "ldaps" else 389),
                            use_ssl=url.scheme == "ldaps", tls=tls, get_info=ldap3.NONE,
                            connect_timeout=timeout)

    def _credentials(self) -> dict[str, Any]:
        if self.external:
            # an empty authorization identity: without it ldap3 leaves the bind "in progress"
            return {"authentication": ldap3.SASL, "sasl_mechanism": ldap3.EXTERNAL,
                    "sasl_credentials": ""}
        password = self.settings.bind_password
        assert password is not None
        return {"user": self.actor, "password": password.get_secret_value()}

    def _open(self) -> Any:
        urls = [self.url] if self.url is not None else list(self.settings.urls)
        failures: list[str] = []
        for url in urls:
            conn = ldap3.Connection(
                self._server(url), **self._credentials(), client_strategy=ldap3.SYNC,
                raise_exceptions=True, receive_timeout=int(self.settings.operation_timeout),
                return_empty_attributes=False, check_names=False, read_only=False,
                auto_referrals=False)
            failure = self._bind(conn, url)
            if failure is not None:
                failures.append(f"{url}: {failure}")
                continue
            self.url = url
            if self.external and self.actor == "(SASL EXTERNAL)":
                with contextlib.suppress(lx.LDAPException, OSError):
                    self.actor = str(conn.extend.standard.who_am_i() or "").removeprefix("dn:")
            if self.fast:
                wire.lean_search_entries(conn)
            with self._lock:
                self._all.append(conn)
            return conn
        raise DirectoryUnavailable("directory unreachable: " + "; ".join(failures))

    def _bind(self, conn: Any, url: LdapUrl) -> str | None:
        """Open and bind; None on success, the reason when this URL cannot be used (the
        next one is tried). A refused bind is a configuration error: no failover helps."""
        try:
            conn.open()
            if self.settings.start_tls and url.scheme == "ldap" and not conn.start_tls():
                raise DirectoryUnavailable(f"StartTLS failed on {url}")
            conn.bind()
        except lx.LDAPInvalidCredentialsResult:
            quiet_unbind(conn)
            raise ConfigError(
                f"the directory at {url} refused the bind as {self.actor}: invalid credentials"
                " (check CONNECTOR_LDAP__BIND_DN and the password)") from None
        except lx.LDAPOperationResult as exc:
            quiet_unbind(conn)
            raise ConfigError(f"the directory at {url} refused the bind as {self.actor}: "
                              f"{describe(exc)}") from None
        except (lx.LDAPException, OSError) as exc:
            quiet_unbind(conn)
            logger.debug("cannot reach {}: {}", url, describe(exc))
            reason = describe(exc)
            if "CERTIFICATE_VERIFY_FAILED" in reason:
                reason = ("the server's TLS certificate could not be verified (set "
                          "CONNECTOR_LDAP__CA_FILE to the CA that signed it): "
                          + reason.split("certificate verify failed:")[-1].split("(")[0].strip())
            return reason
        return None

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._local.conn = conn
        return conn

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                quiet_unbind(conn)
            self._all.clear()
        self._local = threading.local()

    # -- the backend primitives ----------------------------------------------------------

    def _search(self, base: str, object_class: str, attributes: Sequence[str], *,
                scope: SearchScope = "sub", uid: str | None = None,
                limit: int | None = None, changed_since: str | None = None,
                rdn: str | None = None) -> Iterator[RawEntry]:
        """One paged search (a missing base yields nothing); a search the server cut
        short raises, since ldap3 does not, and a short snapshot would hide accounts."""
        if self.fast:
            yield from self._fast_search(base, object_class, attributes, scope=scope, uid=uid,
                                         limit=limit, changed_since=changed_since, rdn=rdn)
            return
        search_filter = f"(objectClass={object_class})"
        if uid is not None or changed_since is not None or rdn is not None:
            search_filter = "(&" + search_filter + (
                f"(uid={escape_filter_chars(uid)})" if uid is not None else "") + (
                f"(entryCSN>={escape_filter_chars(changed_since)})"
                if changed_since is not None else "") + (
                "({}:dn:={})".format(*map(escape_filter_chars, rdn.split("=", 1)))
                if rdn is not None else "") + ")"
        conn = self._conn()
        cookie: bytes | None = None
        seen = 0
        while True:
            try:
                with _ldap_errors(f"search of {base}"):
                    # never through an alias (ldap3's default follows them), as the
                    # fast path: ou=provinces holds entries the provinces may write
                    conn.search(base, search_filter, search_scope=SCOPES[scope],
                                dereference_aliases=ldap3.DEREF_NEVER,
                                attributes=list(attributes), size_limit=limit or 0,
                                paged_size=None if limit else self.settings.page_size,
                                paged_cookie=cookie)
            except NoSuchEntry:
                if scope != "base":
                    logger.warning("{} does not exist (run `connector bootstrap`?)", base)
                return
            for item in conn.response:
                if item.get("type") == "searchResEntry":
                    seen += 1
                    yield item["dn"], {name: [v.decode("utf-8", "replace") for v in values]
                                       for name, values in item["raw_attributes"].items()}
            outcome = conn.result.get("description")
            if outcome in TRUNCATED and not (limit and outcome == "sizeLimitExceeded"):
                raise self._truncated(base, seen, outcome)
            controls = conn.result.get("controls") or {}
            cookie = controls.get(PAGED_RESULTS, {}).get("value", {}).get("cookie")
            if not cookie or limit:
                return

    def _truncated(self, base: str, seen: int, outcome: str) -> DirectoryError:
        return DirectoryError(
            f"the server cut the search of {base} short after {seen} entries "
            f"({outcome}): give {self.actor} unlimited size/time limits for its OUs "
            "(the olcLimits of `connector bootstrap --print-acl`)")

    def _fast_search(self, base: str, object_class: str, attributes: Sequence[str], *,
                     scope: SearchScope, uid: str | None, limit: int | None,
                     changed_since: str | None, rdn: str | None) -> Iterator[RawEntry]:
        """The same search, sent and read by ``wire`` (entries decoded straight to text);
        result codes are judged here as ``_ldap_errors`` judges ldap3's.

        Asked first in one piece: the connector identities have no size limit (the
        olcLimits of ``bootstrap --print-acl``), and back-mdb gives every paged search
        a fixed cost (≈40 ms under the delegation ACLs, measured: 34 paged searches of
        30-entry OUs 1.68 s, unpaged 0.34 s), while one stream lets the server send as
        the client decodes. Cut short by a limit, it is asked again page by page."""
        request = ber.search_request(
            base, scope, ber.search_filter(object_class, uid, changed_since, rdn), attributes,
            limit or 0)
        conn = self._conn()
        paged = False
        cookie = b""
        seen = 0
        while True:
            controls = ber.paged_control(self.settings.page_size, cookie) if paged else b""
            with _ldap_errors(f"search of {base}"):
                page = wire.search_page(conn, request, controls)
            name = RESULT_NAMES.get(page.code, str(page.code))
            if page.code == 32:  # noSuchObject
                if scope != "base":
                    logger.warning("{} does not exist (run `connector bootstrap`?)", base)
                return
            if page.code not in (0, *TRUNCATED_CODES):
                error = AccessRefused if page.code == 50 else DirectoryError
                raise error(f"search of {base}: {name}"
                            + (f" - {page.message}" if page.message else ""))
            if page.code in TRUNCATED_CODES and not paged and not limit:
                paged = True  # a server limit: page through it instead (nothing yielded yet)
                continue
            seen += len(page.entries)
            yield from page.entries
            if page.code in TRUNCATED_CODES and not (limit and page.code == 4):
                raise self._truncated(base, seen, name)
            cookie = page.cookie
            if not paged or not cookie or limit:
                return

    def exists(self, dn: str) -> bool:
        try:
            with _ldap_errors(f"reading {dn}"):
                self._conn().search(dn, "(objectClass=*)", search_scope=ldap3.BASE,
                                    attributes=["1.1"])
        except NoSuchEntry:
            return False
        return True

    def _add(self, dn: str, attributes: Mapping[str, Sequence[str]]) -> None:
        conn = self._conn()
        with _ldap_errors(f"add {dn}"):
            if self.fast:
                wire.send_add(conn, dn, attributes)
            else:
                conn.add(dn, attributes={k: list(v) for k, v in attributes.items()})

    def _move(self, dn: str, new_parent: str) -> None:
        with _ldap_errors(f"move {dn}"):
            self._conn().modify_dn(dn, dn.split(",", 1)[0], new_superior=new_parent)

    def _modify(self, dn: str, mods: Sequence[Modification],
                asserted: Sequence[str] = ()) -> None:
        conn = self._conn()
        with _ldap_errors(f"modify {dn}"):
            if self.fast:
                wire.send_modify(conn, dn, mods, ber.assertion_control(
                    "description", asserted) if asserted else b"")
            else:
                changes: dict[str, list[tuple[int, list[str]]]] = {}
                for op, name, values in mods:
                    changes.setdefault(name, []).append((OPERATIONS[op], list(values)))
                controls = [(ber.ASSERTION_OID, True, ber.assertion_filter(
                    "description", asserted))] if asserted else None
                conn.modify(dn, changes, controls=controls)

    def _password_modify(self, dn: str, password: str) -> None:
        conn = self._conn()
        with _ldap_errors(f"password modify {dn}"):
            conn.extend.standard.modify_password(user=dn, new_password=password)

    # -- check's probes --------------------------------------------------------------------

    def who_am_i(self) -> str:
        """The authorization identity the server sees (RFC 4532)."""
        try:
            with _ldap_errors("who am I"):
                identity = self._conn().extend.standard.who_am_i()
        except DirectoryError as exc:
            return f"unknown ({exc})"
        return str(identity or "anonymous").removeprefix("dn:")

    def probe_write(self, dn: str, attribute: str, value: str) -> bool:
        """Delete a value that is not there: slapd checks access on the whole modification
        first (insufficientAccessRights), then applies it (noSuchAttribute), and a failed
        modify leaves the entry as it was."""
        answer = self._probe(dn, ("delete", attribute, (value,)), NoSuchValue)
        if answer is None:
            raise DirectoryError(f"probe of {attribute} on {dn}: unexpected answer")
        return answer

    def probe_add(self, container: str) -> bool | None:
        """Add to the container the RDN value it already holds (``ou: people`` to
        ``ou=people,…``). slapd checks the ACLs first (the delegation grants the OU's
        group ``add`` on exactly that value, ``core.acl.probe_rule``), then refuses the
        duplicate: nothing is written whatever the ACLs say. (The No-Op control would be
        simpler, but on slapd 2.5.13's back-mdb the adds that follow one are lost.)"""
        attribute, value = rdn_of(container)
        return self._probe(container, ("add", attribute, (value,)), ValueExists)

    def _probe(self, dn: str, mod: Modification, allowed: type[DirectoryError]) -> bool | None:
        """A modification meant to be refused: ``allowed`` (the value check, reached only
        past the ACLs) means yes, insufficientAccessRights no, anything else None. A lost
        connection is raised as such (exit 4), never shown as an internal error."""
        try:
            self._modify(dn, [mod])
        except allowed:
            return True
        except AccessRefused:
            return False
        except DirectoryUnavailable:
            raise
        except DirectoryError as exc:
            logger.debug("probe of {}: {}", dn, exc)
            return None
        logger.warning("the server accepted the probe {} on {}", mod, dn)
        return True


def quiet_unbind(conn: Any) -> None:
    with contextlib.suppress(Exception):
        conn.unbind()


def describe(exc: BaseException) -> str:
    """An LDAP error as one line: result name and server message, never a password."""
    description = getattr(exc, "description", None)
    message = getattr(exc, "message", None)
    if description:
        return f"{description}: {message}" if message else str(description)
    result = getattr(exc, "result", None)
    if result is not None:
        return str(result)
    return f"{type(exc).__name__}: {exc}".split("\n")[0]

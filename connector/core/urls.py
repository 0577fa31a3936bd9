"""LDAP server URLs as operators type them (SPEC §5, ``CONNECTOR_LDAP__URL``)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class LdapUrl:
    scheme: str
    host: str
    port: int | None

    @property
    def is_loopback(self) -> bool:
        if self.scheme == "ldapi":
            return True
        if self.host in ("localhost", "localhost.localdomain"):
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def __str__(self) -> str:
        if self.scheme == "ldapi":
            return f"ldapi://{self.host}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}" + (f":{self.port}" if self.port else "")


def parse_ldap_urls(text: str) -> tuple[LdapUrl, ...]:
    """Accept URLs as users type them (``ldap://host:389/`` included); several for failover."""
    urls: list[LdapUrl] = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        parts = urlsplit(item)
        scheme = parts.scheme.lower()
        if scheme not in ("ldap", "ldaps", "ldapi"):
            raise ValueError(f"{item!r}: the scheme must be ldap://, ldaps:// or ldapi://")
        if scheme == "ldapi":
            path = unquote(parts.netloc) or parts.path or "/var/run/slapd/ldapi"
            urls.append(LdapUrl("ldapi", path, None))
            continue
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(f"{item!r}: a server URL takes no DN, query or fragment")
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"{item!r}: the port is not a number from 1 to 65535") from None
        if not parts.hostname:
            raise ValueError(f"{item!r}: no host name")
        urls.append(LdapUrl(scheme, parts.hostname, port))
    if not urls:
        raise ValueError("no LDAP URL given")
    return tuple(urls)


#: default ports: 514 for UDP (RFC 5426), 601 for TCP (RFC 3195's syslog-conn), 6514
#: for TLS (RFC 5425)
SYSLOG_PORTS = {"udp": 514, "tcp": 601, "tls": 6514}


def split_syslog_url(text: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of ``CONNECTOR_AUDIT__SYSLOG`` (``tcp://host:601``,
    ``udp://host``, ``tls://host:6514``); a malformed one raises ValueError, said at
    settings validation."""
    parts = urlsplit(text.strip())
    scheme = parts.scheme.lower()
    if scheme not in SYSLOG_PORTS:
        raise ValueError(f"{text!r}: the scheme must be tcp://, udp:// or tls://")
    try:
        port = parts.port or SYSLOG_PORTS[scheme]
    except ValueError:
        raise ValueError(f"{text!r}: the port is not a number from 1 to 65535") from None
    if not parts.hostname or parts.path not in ("", "/") or parts.query or parts.username:
        raise ValueError(f"{text!r}: give scheme://host[:port] and nothing more")
    return scheme, parts.hostname, port

"""Install the delegation on a throwaway server: the generated ACLs, and one
service account per connector identity (IT Centre, each province)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from connector.core.acl import acl_ldif
from connector.core.units import Units
from connector.testing.slapd import SlapdServer


@dataclass(frozen=True)
class Identity:
    dn: str
    password: str
    scope: str


def service_dn(server: SlapdServer, name: str) -> str:
    return f"cn={name},{server.layout.system_dn}"


def add_service_account(
    server: SlapdServer, name: str, group_dn: str | None, scope: str,
    password: str | None = None,
) -> Identity:
    """A bind identity under ou=system, member of ``group_dn`` (its authority)."""
    password = password or secrets.token_urlsafe(18)
    dn = service_dn(server, name)
    server.ldapadd([(dn, {"objectClass": ["top", "applicationProcess", "simpleSecurityObject"],
                          "cn": [name], "userPassword": [password],
                          "description": [f"connector identity for scope {scope}"]})])
    if group_dn:
        server.modify_as_root(f"dn: {group_dn}\nchangetype: modify\nadd: member\nmember: {dn}\n")
    return Identity(dn, password, scope)


def install_delegation(
    server: SlapdServer, units: Units, passwords: dict[str, str] | None = None
) -> dict[str, Identity]:
    """Load the ACLs of ``bootstrap --print-acl`` and create the connector identities.

    Returns identities keyed ``it-centre`` and ``province:<CODE>``; ``passwords``
    (same keys) fixes their secrets, otherwise random ones are made.
    """
    chosen = passwords or {}
    server.ldapmodify_config(acl_ldif(server.layout, units, operator_dn=server.external_dn))
    layout = server.layout
    identities = {"it-centre": add_service_account(server, "connector-it-centre",
                                                   layout.it_centre_group_dn, "it-centre",
                                                   chosen.get("it-centre"))}
    for unit in units.provinces:
        scope = f"province:{unit.code}"
        identities[scope] = add_service_account(server, f"connector-{unit.code.lower()}",
                                                layout.province_group_dn(unit.code), scope,
                                                chosen.get(scope))
    return identities

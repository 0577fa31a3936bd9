"""The SPEC §2 tree as data: which entries ``bootstrap`` makes, parents first."""

from __future__ import annotations

import base64
from collections.abc import Iterable

from connector.core.model import Layout
from connector.core.units import Units

Entry = tuple[str, dict[str, list[str]]]


def _ou(dn: str, description: str | None = None) -> Entry:
    value = dn.split(",", 1)[0].split("=", 1)[1]
    attributes = {"objectClass": ["top", "organizationalUnit"], "ou": [value]}
    if description:
        attributes["description"] = [description]
    return dn, attributes


def _containers(layout: Layout, rel: str) -> list[str]:
    """Every DN from the base down to ``rel`` (e.g. ou=central then ou=people,ou=central)."""
    parts = rel.split(",")
    return [",".join(parts[i:]) + "," + layout.base_dn for i in range(len(parts) - 1, -1, -1)]


def placeholder_member(layout: Layout) -> str:
    """groupOfNames needs a member; this DN names nobody and is never bound."""
    return f"cn=no-members,{layout.groups_dn}"


def tree_entries(layout: Layout, units: Units) -> list[Entry]:
    entries: list[Entry] = []
    seen: set[str] = set()

    def add(entry: Entry) -> None:
        if entry[0].lower() not in seen:
            seen.add(entry[0].lower())
            entries.append(entry)

    for rel, text in ((layout.central, "VSS central professional units"),
                      (layout.vendors, "service-provider units")):
        for dn in _containers(layout, rel):
            add(_ou(dn, None if dn.startswith("ou=people") else text))
    add(_ou(layout.provinces_dn, "provincial social security offices"))
    for unit in units.provinces:
        add(_ou(layout.province_dn(unit.code), unit.name))
        add(_ou(layout.people_dn(unit.code), f"staff of {unit.code}"))
        add(_ou(layout.admins_dn(unit.code), f"administrators of {unit.code}"))
    add(_ou(layout.groups_dn, "authorisation groups"))
    add(_ou(layout.system_dn, "service accounts the connectors bind as"))
    add((layout.it_centre_group_dn, {
        "objectClass": ["top", "groupOfNames"],
        "cn": [layout.it_centre_group.split("=", 1)[1]],
        "description": ["IT Centre: issues and locks central, vendor and province-admin accounts"],
        "member": [placeholder_member(layout)],
    }))
    for unit in units.provinces:
        dn = layout.province_group_dn(unit.code)
        add((dn, {
            "objectClass": ["top", "groupOfNames"],
            "cn": [dn.split(",", 1)[0].split("=", 1)[1]],
            "description": [f"administrators of {unit.name}"],
            "member": [placeholder_member(layout)],
        }))
    return entries


def base_entries(layout: Layout) -> list[Entry]:
    """The suffix entry and the ppolicy default policy (``pwdLockout: TRUE``, SPEC §2)."""
    first = layout.base_dn.split(",")[0]
    kind, value = first.split("=", 1)
    return [
        (layout.base_dn, {"objectClass": ["top", "dcObject", "organization"], kind: [value],
                          "o": ["Bảo hiểm xã hội Việt Nam"]}),
        (layout.policies_dn, {"objectClass": ["top", "organizationalUnit"],
                              "ou": [layout.policies.split("=", 1)[1]]}),
        (layout.default_policy_dn, {
            "objectClass": ["top", "organizationalRole", "pwdPolicy"],
            "cn": ["default"],
            "pwdAttribute": ["userPassword"],
            "pwdLockout": ["TRUE"],
            "pwdMaxFailure": ["0"],
            "pwdAllowUserChange": ["TRUE"],
            # SPEC §11: a password set by anyone but its holder must be changed at the
            # first bind (ppolicy sets pwdReset on such a change)
            "pwdMustChange": ["TRUE"],
        }),
    ]


def entries_ldif(entries: Iterable[Entry]) -> str:
    """Entries as LDIF for slapadd/ldapadd; non-ASCII or unsafe values are base64 (RFC 2849)."""
    out: list[str] = []
    for dn, attributes in entries:
        out.append(_ldif_line("dn", dn))
        for name, values in attributes.items():
            out.extend(_ldif_line(name, value) for value in values)
        out.append("")
    return "\n".join(out) + "\n"


def _ldif_line(name: str, value: str) -> str:
    safe = value.isascii() and value == value.strip() and not value.startswith((":", "<")) and \
        "\n" not in value and "\r" not in value and "\x00" not in value
    if safe:
        return f"{name}: {value}"
    return f"{name}:: {base64.b64encode(value.encode()).decode()}"

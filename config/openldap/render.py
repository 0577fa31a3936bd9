"""Render the OpenLDAP image's LDIF at build time, from the connector's own core.

    python3 render.py --units /src/config/units.toml --out /out

Writes ``base.ldif`` (suffix, ppolicy default policy, the SPEC §2 tree),
``acl.ldif`` (exactly what ``connector bootstrap --print-acl`` prints, with the
container's root as the ldapi operator) and one ``identities/<cn>.ldif`` per
connector identity (the IT Centre and every province), whose
``@PASSWORD_HASH@`` the entrypoint fills from a secret file on first start.
Nothing here runs when the container runs: the image itself has no Python.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from connector.core.acl import ROOT_PEERCRED, acl_ldif
from connector.core.model import Layout
from connector.core.tree import base_entries, entries_ldif, tree_entries
from connector.sources.units import load_units


def identity_ldif(layout: Layout, name: str, group_dn: str, scope: str) -> str:
    dn = f"cn={name},{layout.system_dn}"
    return (f"dn: {dn}\nchangetype: add\nobjectClass: top\nobjectClass: applicationProcess\n"
            f"objectClass: simpleSecurityObject\ncn: {name}\nuserPassword: @PASSWORD_HASH@\n"
            f"description: connector identity for scope {scope}\n\n"
            f"dn: {group_dn}\nchangetype: modify\nadd: member\nmember: {dn}\n-\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    layout, units = Layout(), load_units(args.units)
    (args.out / "identities").mkdir(parents=True, exist_ok=True)
    entries = base_entries(layout) + tree_entries(layout, units)
    (args.out / "base.ldif").write_text(entries_ldif(entries), encoding="utf-8")
    (args.out / "acl.ldif").write_text(acl_ldif(layout, units, operator_dn=ROOT_PEERCRED),
                                       encoding="utf-8")
    identities = {"connector-it-centre": (layout.it_centre_group_dn, "it-centre")}
    for unit in units.provinces:
        identities[f"connector-{unit.code.lower()}"] = (layout.province_group_dn(unit.code),
                                                        f"province:{unit.code}")
    for name, (group_dn, scope) in identities.items():
        (args.out / "identities" / f"{name}.ldif").write_text(
            identity_ldif(layout, name, group_dn, scope), encoding="utf-8")
    print(f"rendered {len(entries)} entries and {len(identities)} identities into {args.out}")


if __name__ == "__main__":
    main()

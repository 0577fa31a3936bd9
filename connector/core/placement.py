"""Where an account sits: its province (by container) and its unit for the
vanished-unit guard (SPEC §3)."""

from __future__ import annotations

from functools import lru_cache

from connector.core.model import Account, Layout, dn_key
from connector.core.policy import area_of


@lru_cache(maxsize=64)
def province_containers(layout: Layout, provinces: frozenset[str]) -> dict[str, str]:
    """Normalised ``ou=people`` and ``ou=admins`` DN of every province → its code: built
    once per plan, not once per account (34 provinces × 100,000 accounts otherwise)."""
    found: dict[str, str] = {}
    for code in provinces:
        found[dn_key(layout.people_dn(code))] = code
        found[dn_key(layout.admins_dn(code))] = code
    return found


def province_of(account: Account, layout: Layout, provinces: frozenset[str]) -> str | None:
    """The province whose ``ou=people`` or ``ou=admins`` holds the account."""
    return province_containers(layout, provinces).get(dn_key(account.container))


def unit_of(account: Account, layout: Layout, provinces: frozenset[str]) -> str:
    """The unit an account belongs to for the vanished-unit guard (SPEC §3): its
    province for province staff and admins, its ``departmentNumber`` elsewhere."""
    code = province_containers(layout, provinces).get(dn_key(account.container))
    if code is not None:
        return f"province {code}"
    area = "vendor" if area_of(layout, account.container) == dn_key(layout.vendors_area_dn) \
        else "central"
    return f"{area} unit {account.values.get('departmentNumber') or '(no departmentNumber)'}"

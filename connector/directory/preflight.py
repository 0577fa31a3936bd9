"""Before a run plans anything: the base DN, the scope's province and its managed OUs
exist on the server (issue 25). A typo there used to pass as a quiet success (a
province scope that names no province: "nothing to do" forever) or as a full
re-issue (a wrong base DN: every account planned again, every add refused)."""

from __future__ import annotations

from connector.core.model import Layout, Scope
from connector.core.units import Units
from connector.directory.base import Directory
from connector.errors import ConfigError


def check_layout(directory: Directory, scope: Scope, layout: Layout,
                 units: Units | None = None, *, ous: bool = True) -> None:
    """ConfigError (exit 2) naming what does not exist and the setting to check
    (``ous`` False: the managed OUs are left to ``connector check``'s own lines)."""
    if not directory.exists(layout.base_dn):
        raise ConfigError(f"the base DN {layout.base_dn} does not exist on the server (or "
                          f"{directory.actor} may not read it): check CONNECTOR_LDAP__BASE_DN; "
                          "nothing was planned")
    if scope.code is not None:
        code = scope.code
        known = units is None or code.casefold() in units.renames or any(
            u.code.casefold() == code.casefold() for u in units.provinces)  # or merged away
        if not known or not directory.exists(layout.province_dn(code)):
            where = "in the units file" if not known else f"under {layout.provinces_dn}"
            raise ConfigError(f"scope {scope} names no province: there is no {code} {where} "
                              "(a typo in CONNECTOR_SCOPE or --scope?); nothing was planned")
        wanted = [layout.people_dn(code)]
    else:
        wanted = [layout.central_area_dn, layout.vendors_area_dn, layout.provinces_dn]
    missing = [dn for dn in wanted if ous and not directory.exists(dn)]
    if missing:
        raise ConfigError(f"the managed OU(s) {', '.join(missing)} do not exist: run `connector "
                          "bootstrap` (as the directory operator) or check CONNECTOR_LDAP__BASE_DN "
                          "and the layout settings; nothing was planned")

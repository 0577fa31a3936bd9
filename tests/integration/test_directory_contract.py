"""The directory contract against the real LDAP adapter and a real slapd, over both send
paths: the fast encoded one and ldap3's own calls (``CONNECTOR_LDAP__FAST_WIRE=false``)."""

from __future__ import annotations

from collections.abc import Iterator

import ldap3
import pytest

from connector.core.model import Scope
from connector.directory.ldap import LdapDirectory
from connector.settings import LdapSettings
from tests.contract import IT, DirectoryContract
from tests.helpers import LAYOUT

pytestmark = pytest.mark.integration


@pytest.fixture(params=[True, False], ids=["fast-wire", "ldap3-calls"])
def make(request, slapd) -> Iterator:
    made: list[LdapDirectory] = []

    def factory(scope: Scope = IT) -> LdapDirectory:
        settings = LdapSettings(url=slapd.url, bind_dn=slapd.root_dn,
                                bind_password=slapd.root_password, workers=2,
                                fast_wire=request.param)
        directory = LdapDirectory(settings, LAYOUT, scope)
        made.append(directory)
        return directory

    yield factory
    for directory in made:
        directory.close()


class TestLdapDirectory(DirectoryContract):
    def drop_lock_attribute(self, directory, dn: str) -> None:
        directory._conn().modify(dn, {"pwdAccountLockedTime": [(ldap3.MODIFY_REPLACE, [])]})

    def test_a_search_never_follows_an_alias_a_province_planted(self, make):
        """ou=provinces holds entries the provinces write: an alias there to ou=central
        must not bring central accounts into a read, over either send path."""
        from tests.contract import apply, create

        directory = make()
        apply(directory, create("T1"))
        alias = f"cn=link,{LAYOUT.people_dn('BTE')}"
        directory.add_entry(alias, {"objectClass": ["alias", "extensibleObject"],
                                    "cn": ["link"], "aliasedObjectName": [LAYOUT.central_dn]})
        found = [dn for dn, _ in directory._search(LAYOUT.provinces_dn, "inetOrgPerson", ["uid"])]
        assert not any("t1" in dn.lower() for dn in found)
        assert {a.employee_id for a in directory.snapshot(IT).accounts} == {"T1"}

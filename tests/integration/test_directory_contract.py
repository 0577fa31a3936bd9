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

"""The directory contract against the in-memory twin: no slapd needed."""

from __future__ import annotations

import pytest

from connector.core.model import Scope
from connector.core.tree import tree_entries
from connector.directory.memory import MemoryDirectory
from connector.testing.slapd import sample_units
from tests.contract import IT, DirectoryContract
from tests.helpers import LAYOUT


@pytest.fixture
def make():
    store: dict = {}

    def factory(scope: Scope = IT) -> MemoryDirectory:
        directory = MemoryDirectory(LAYOUT, scope, actor="cn=memory")
        directory.entries = store  # one shared store, like one server
        if not store:
            directory.put(LAYOUT.base_dn, {"objectClass": ["dcObject"]})
            for dn, attributes in tree_entries(LAYOUT, sample_units()):
                directory.put(dn, attributes)
        return directory

    return factory


class TestMemoryDirectory(DirectoryContract):
    def drop_lock_attribute(self, directory, dn: str) -> None:
        (directory.get(dn) or {}).pop("pwdAccountLockedTime", None)

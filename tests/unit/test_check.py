"""``connector check`` over the in-memory twin: what passes, what fails, and why."""

from __future__ import annotations

from pathlib import Path

from connector.core.model import Scope
from connector.core.tree import tree_entries
from connector.directory.memory import MemoryDirectory
from connector.service.check import run_check
from connector.settings import load_settings
from connector.testing.slapd import sample_units
from tests.helpers import LAYOUT


def directory_for(scope: str, actor: str, member_of: str | None) -> MemoryDirectory:
    directory = MemoryDirectory(LAYOUT, Scope.parse(scope), actor=actor)
    directory.put(LAYOUT.base_dn, {"objectClass": ["dcObject"]})
    for dn, attributes in tree_entries(LAYOUT, sample_units()):
        directory.put(dn, attributes)
    if member_of is not None:
        (directory.get(member_of) or {}).setdefault("member", []).append(actor)
    return directory


def check(tmp_path: Path, scope: str, directory: MemoryDirectory) -> tuple[str, bool]:
    settings = load_settings(None, scope=scope, state={"dir": str(tmp_path)})
    lines, ok = run_check(settings, directory)
    return "\n".join(lines), ok


BTE_ID = f"cn=connector-bte,{LAYOUT.system_dn}"
HCM_ID = f"cn=connector-hcm,{LAYOUT.system_dn}"


def test_the_right_province_identity_passes_on_an_empty_ou(tmp_path):
    text, ok = check(tmp_path, "province:BTE",
                     directory_for("province:BTE", BTE_ID, LAYOUT.province_group_dn("BTE")))
    assert ok, text
    assert f"[ok] create under {LAYOUT.people_dn('BTE')}" in text and "check passed" in text


def test_an_identity_outside_the_province_group_fails_even_with_empty_ous(tmp_path):
    text, ok = check(tmp_path, "province:BTE",
                     directory_for("province:BTE", HCM_ID, LAYOUT.province_group_dn("HCM")))
    assert not ok
    assert "NOT a member of" in text and "check FAILED" in text and "check passed" not in text


def test_the_it_centre_passes_as_a_member_of_its_group(tmp_path):
    it = f"cn=connector-it-centre,{LAYOUT.system_dn}"
    text, ok = check(tmp_path, "it-centre",
                     directory_for("it-centre", it, LAYOUT.it_centre_group_dn))
    assert ok, text
    assert f"[ok] create under {LAYOUT.admins_dn('BTE')}" in text


def test_a_missing_managed_ou_fails_the_check(tmp_path):
    directory = directory_for("province:BTE", BTE_ID, LAYOUT.province_group_dn("BTE"))
    del directory.entries[next(k for k in directory.entries
                               if k == LAYOUT.people_dn("BTE").lower())]
    text, ok = check(tmp_path, "province:BTE", directory)
    assert not ok and "MISSING" in text and "cannot be verified" in text

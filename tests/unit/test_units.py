"""The units file, the tree it produces, and the ACLs generated from it."""

from __future__ import annotations

import pytest

from connector.core.acl import ROOT_PEERCRED, acl_ldif, acl_rules
from connector.core.model import Layout
from connector.core.tree import placeholder_member, tree_entries
from connector.core.units import parse_units
from connector.errors import UnitsError
from connector.sources.units import load_units

LAYOUT = Layout()


def units(*codes: str):
    return parse_units({"province": [{"code": c, "name": f"Tỉnh {c}"} for c in codes]})


def test_sample_units_file_loads_with_vietnamese_names():
    from connector.resources import default_units

    loaded = load_units(default_units())
    assert {"BTE", "HCM"} <= set(loaded.province_codes)
    assert dict((u.code, u.name) for u in loaded.provinces)["BTE"] == "Bảo hiểm xã hội tỉnh Bến Tre"


@pytest.mark.parametrize(
    "data,message",
    [
        ({"province": [{"code": "BTE", "name": "a"}, {"code": "bte", "name": "b"}]}, "duplicate"),
        ({"province": [{"code": "B,TE", "name": "a"}]}, "not a safe RDN value"),
        ({"province": [{"code": "B TE", "name": "a"}]}, "not a safe RDN value"),
        ({"province": [{"code": "Bến", "name": "a"}]}, "not a safe RDN value"),
        ({"province": [{"code": "BTE", "name": " "}]}, "has no name"),
        ({"province": []}, "no [[province]]"),
        ({"province": [{"code": "BTE", "name": "a"}], "region": []}, "unknown section"),
    ],
)
def test_invalid_units_are_refused_with_a_clear_error(data, message):
    with pytest.raises(UnitsError, match=message.replace("[", r"\[")):
        parse_units(data)


def test_units_file_errors_name_the_file(tmp_path):
    path = tmp_path / "units.toml"
    path.write_text("[[province]]\ncode = 'BTE'\nname = \n")
    with pytest.raises(UnitsError, match="not valid TOML"):
        load_units(path)
    with pytest.raises(UnitsError, match="not found"):
        load_units(tmp_path / "missing.toml")


def test_tree_lists_parents_before_children_and_one_rule_set_per_province():
    entries = tree_entries(LAYOUT, units("BTE", "HCM"))
    dns = [dn for dn, _ in entries]
    assert len(dns) == len(set(dns))
    for index, dn in enumerate(dns):
        parent = dn.split(",", 1)[1]
        assert parent == LAYOUT.base_dn or parent in dns[:index], dn
    assert f"ou=people,ou=BTE,{LAYOUT.provinces_dn}" in dns
    assert f"ou=admins,ou=HCM,{LAYOUT.provinces_dn}" in dns
    groups = {dn: attrs for dn, attrs in entries if dn.startswith("cn=")}
    assert set(groups) == {LAYOUT.it_centre_group_dn, LAYOUT.province_group_dn("BTE"),
                           LAYOUT.province_group_dn("HCM")}
    assert all(attrs["member"] == [placeholder_member(LAYOUT)] for attrs in groups.values())
    province = dict(entries)[LAYOUT.province_dn("BTE")]
    assert province["description"] == ["Tỉnh BTE"]


def test_acl_has_one_rule_set_per_province_in_first_match_order():
    rules = acl_rules(LAYOUT, units("BTE", "HCM"))
    assert rules[-1] == "to * by users read by * none"
    locked_password = next(i for i, r in enumerate(rules) if "attrs=userPassword filter=" in r)
    password = rules.index("to attrs=userPassword by self =wx by anonymous auth by * none")
    policy = next(i for i, r in enumerate(rules) if "attrs=pwdPolicySubentry" in r)
    restore = next(i for i, r in enumerate(rules) if "=arscxd" in r)
    hold = next(i for i, r in enumerate(rules) if "attrs=pwdAccountLockedTime,description" in r)
    bte = next(i for i, r in enumerate(rules) if "ou=people,ou=BTE" in r and "children by" in r)
    assert locked_password < password < policy < restore < hold < bte
    assert "(pwdAccountLockedTime=*)" in rules[locked_password]
    assert "(description=bhxh-lock:*)" in rules[locked_password]
    assert " by self" not in rules[locked_password]  # not even the holder
    # a province may add a lost hold's pwdAccountLockedTime back: add, never write
    restores = [r for r in rules if "=arscxd" in r]
    assert len(restores) == 2 and all("filter=(description=bhxh-lock:6.3:*)" in r
                                      for r in restores)
    bte_grant = f'member.exact="{LAYOUT.province_group_dn("BTE")}" '
    granted = [r for r in rules if bte_grant + "write" in r or bte_grant + "add" in r]
    assert [r.split(" by ")[0] for r in granted] == [
        f'to dn.children="{LAYOUT.people_dn("BTE")}" attrs=pwdReset',
        f'to dn.exact="{LAYOUT.people_dn("BTE")}" attrs=ou val="people"',
        f'to dn.exact="{LAYOUT.people_dn("BTE")}" attrs=children',
        f'to dn.children="{LAYOUT.people_dn("BTE")}"']
    # SPEC §11: the lane's identity writes (=w, never reads) its people's userPassword
    lane_password = [r for r in rules if bte_grant + "=w" in r]
    assert lane_password == [f'to dn.children="{LAYOUT.people_dn("BTE")}" attrs=userPassword '
                             f'by self =wx by group/groupOfNames/{bte_grant}=w '
                             "by anonymous auth by * none"]
    assert locked_password < rules.index(lane_password[0]) < password
    assert sum("cn=province-admins-HCM" in r for r in rules) == 7
    ldif = acl_ldif(LAYOUT, units("BTE"), "olcDatabase={2}mdb,cn=config")
    assert "dn: olcDatabase={2}mdb,cn=config" in ldif and "replace: olcLimits" in ldif
    # the operator (reorganize, bootstrap) reads whole OUs too
    assert f'olcLimits: {{0}}dn.exact="{ROOT_PEERCRED}" size.soft=unlimited' in ldif


def test_formerly_lists_the_codes_a_unit_absorbed():
    from pathlib import Path

    merged = load_units(Path(__file__).resolve().parents[2] / "config" /
                        "units-merged.example.toml")
    assert merged.renames == {"bte": "BTR", "tvh": "BTR"}
    assert merged.merged_provinces == {"BTR": ("BTE", "TVH")}


@pytest.mark.parametrize("formerly,message", [
    ('"BTE"', "formerly must be a list"),
    ('["B,TE"]', "formerly must be a list"),
    ('["HCM"]', "HCM as a former code, but that unit is still listed"),
])
def test_a_bad_formerly_is_refused(tmp_path, formerly, message):
    from connector.errors import UnitsError

    path = tmp_path / "units.toml"
    path.write_text(f'[[province]]\ncode = "BTR"\nname = "x"\nformerly = {formerly}\n\n'
                    '[[province]]\ncode = "HCM"\nname = "y"\n', encoding="utf-8")
    with pytest.raises(UnitsError, match=message):
        load_units(path)

"""One run end to end over the in-memory directory twin (fast, no server)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.core.model import Scope
from connector.core.plan import compute_plan
from connector.core.tree import tree_entries
from connector.directory.memory import MemoryDirectory
from connector.errors import DirectoryUnavailable, NotFound, PermissionRefused, RosterUnreadable
from connector.service.manual import manual_lock, manual_unlock
from connector.service.reconcile import Request, reconcile
from connector.settings import load_settings
from connector.sources.roster import parse_roster
from connector.testing.slapd import sample_units
from tests.helpers import LAYOUT, roster_csv, row


def memory(scope: str = "it-centre") -> MemoryDirectory:
    directory = MemoryDirectory(LAYOUT, Scope.parse(scope), actor="cn=test")
    directory.put(LAYOUT.base_dn, {"objectClass": ["dcObject"]})
    for dn, attributes in tree_entries(LAYOUT, sample_units()):
        directory.put(dn, attributes)
    return directory


def make_settings(tmp_path: Path, scope: str = "it-centre", **extra):
    return load_settings(None, scope=scope, audit={"path": str(tmp_path / "audit.jsonl")},
                         state={"dir": str(tmp_path / "state")}, **extra)


def write(tmp_path: Path, rows, name="roster.csv") -> Path:
    path = tmp_path / name
    path.write_text(roster_csv(rows), encoding="utf-8")
    return path


def test_second_run_with_nothing_changed_plans_nothing(tmp_path):
    directory = memory()
    roster = write(tmp_path, [row("TW1"), row("V1", unit_type="vendor", unit_code="VNPT"),
                              row("A1", unit_type="province", unit_code="BTE", role="admin")])
    settings = make_settings(tmp_path)
    first = reconcile(settings, lambda: directory, Request(roster_path=roster))
    assert first.exit_code == 0 and first.plan is not None
    assert first.plan.counts()["create"] == 3 and first.plan.counts()["group_add"] == 1
    second = reconcile(settings, lambda: directory, Request(roster_path=roster))
    assert second.plan is not None and second.plan.actions == ()


def test_dry_run_writes_nothing_but_audits_the_plan(tmp_path):
    directory = memory()
    roster = write(tmp_path, [row("TW1")])
    settings = make_settings(tmp_path)
    result = reconcile(settings, lambda: directory, Request(roster_path=roster, dry_run=True))
    assert directory.writes == 0
    lines = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [(x["action"], x["dry_run"]) for x in lines] == [("create", True)]
    assert result.to_dict()["actions"][0]["outcome"] == "planned"


def test_guard_abort_changes_nothing_and_exits_3(tmp_path):
    directory = memory()
    roster = write(tmp_path, [row(f"U{i}") for i in range(30)])
    settings = make_settings(tmp_path)
    reconcile(settings, lambda: directory, Request(roster_path=roster))
    writes = directory.writes
    shrunk = write(tmp_path, [row("U0")], "shrunk.csv")
    result = reconcile(settings, lambda: directory, Request(roster_path=shrunk))
    assert result.exit_code == 3 and "MAX_LOCK_RATIO" in (result.error or "")
    assert directory.writes == writes
    assert not (tmp_path / "audit.jsonl").read_text().count('"lock"')


def test_empty_roster_exits_3_and_changes_nothing(tmp_path):
    directory = memory()
    settings = make_settings(tmp_path)
    result = reconcile(settings, lambda: directory, Request(roster_path=write(tmp_path, [])))
    assert result.exit_code == 3 and directory.writes == 0


def test_unreadable_roster_raises_before_connecting(tmp_path):
    def connect():
        raise AssertionError("must not connect")

    with pytest.raises(RosterUnreadable):
        reconcile(make_settings(tmp_path), connect, Request(roster_path=tmp_path / "missing.csv"))


def test_a_roster_that_cannot_be_used_is_told_before_an_unreachable_directory(tmp_path):
    """Exit 2, not 4, as when the two were read in turn: the roster is what to fix."""
    def connect():
        raise DirectoryUnavailable("ldap://127.0.0.1:1 refused the connection")

    bad = tmp_path / "roster.csv"
    bad.write_text("employee_id,employee_id\nTW1,TW1\n", encoding="utf-8")
    with pytest.raises(RosterUnreadable, match="duplicate header"):
        reconcile(make_settings(tmp_path), connect, Request(roster_path=bad))


def test_a_roster_found_unusable_while_the_directory_is_read_writes_nothing(tmp_path):
    directory = memory()
    closed: list[bool] = []
    directory.close = lambda: closed.append(True)  # type: ignore[method-assign]
    bad = tmp_path / "roster.csv"
    bad.write_text("employee_id,employee_id\nTW1,TW1\n", encoding="utf-8")
    with pytest.raises(RosterUnreadable, match="duplicate header"):
        reconcile(make_settings(tmp_path), lambda: directory, Request(roster_path=bad))
    assert directory.writes == 0 and closed == [True]
    assert not (tmp_path / "audit.jsonl").exists()


def test_failed_operation_is_recorded_and_the_run_goes_on_with_exit_1(tmp_path):
    directory = memory()
    directory.fail[f"uid=tw1,{LAYOUT.central_dn}".lower()] = "insufficientAccessRights"
    roster = write(tmp_path, [row("TW1"), row("TW2")])
    result = reconcile(make_settings(tmp_path), lambda: directory, Request(roster_path=roster))
    assert result.exit_code == 1
    assert [o.action.employee_id for o in result.failed] == ["TW1"]
    assert directory.exists(f"uid=TW2,{LAYOUT.central_dn}")
    audit = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert {(x["employee_id"], x["outcome"]) for x in audit} == {("TW1", "failed"),
                                                                ("TW2", "ok")}


def test_rejected_rows_give_exit_1_and_leave_their_accounts(tmp_path):
    directory = memory()
    settings = make_settings(tmp_path)
    reconcile(settings, lambda: directory,
              Request(roster_path=write(tmp_path, [row("TW1"), row("TW2")])))
    bad = write(tmp_path, [row("TW1", status="typo"), row("TW2")], "bad.csv")
    result = reconcile(settings, lambda: directory, Request(roster_path=bad))
    assert result.exit_code == 1 and result.plan is not None and result.plan.actions == ()


def test_stop_request_ends_the_run_between_operations(tmp_path):
    directory = memory()
    stop = threading.Event()
    stop.set()
    roster = write(tmp_path, [row("TW1")])
    result = reconcile(make_settings(tmp_path), lambda: directory, Request(roster_path=roster),
                       stop=stop)
    assert result.exit_code == 4 and directory.writes == 0


def test_every_audit_line_carries_every_field(tmp_path):
    directory = memory()
    reconcile(make_settings(tmp_path), lambda: directory,
              Request(roster_path=write(tmp_path, [row("TW1")])))
    (line,) = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    for name in ("ts", "run_id", "actor", "scope", "action", "employee_id", "dn", "reason",
                 "clause", "dry_run", "outcome", "error"):
        assert name in line
    assert line["ts"][-6] in "+-" or line["ts"].endswith("Z")


# --- manual lock / unlock ------------------------------------------------------------------


def test_misuse_lock_is_a_hold_only_the_it_centre_lifts(tmp_path):
    directory = memory()
    settings = make_settings(tmp_path)
    reconcile(settings, lambda: directory, Request(roster_path=write(
        tmp_path, [row("B1", unit_type="province", unit_code="BTE")]), allow_mass_lock=True))
    directory.put(f"uid=B1,{LAYOUT.people_dn('BTE')}",
                  {"objectClass": ["inetOrgPerson"], "uid": ["B1"], "cn": ["B"], "sn": ["B"]})
    result = manual_lock(settings, directory, "B1", "misuse", "seen exporting data")
    assert result.exit_code == 0
    entry = directory.get(f"uid=B1,{LAYOUT.people_dn('BTE')}")
    assert entry is not None
    (value,) = entry["description"]
    assert value.startswith("bhxh-lock:6.3:misuse ") and value.endswith("note=seen exporting data")
    province = make_settings(tmp_path, scope="province:BTE")
    bte = memory("province:BTE")
    bte.entries = directory.entries
    with pytest.raises(PermissionRefused, match="only the IT Centre"):
        manual_unlock(province, bte, "B1")
    assert manual_unlock(settings, directory, "B1").exit_code == 0
    assert "pwdAccountLockedTime" not in directory.get(f"uid=B1,{LAYOUT.people_dn('BTE')}")
    assert "description" not in directory.get(f"uid=B1,{LAYOUT.people_dn('BTE')}")


def test_province_may_not_place_a_misuse_hold(tmp_path):
    with pytest.raises(PermissionRefused):
        manual_lock(make_settings(tmp_path, scope="province:BTE"), memory("province:BTE"),
                    "B1", "misuse")


def test_manual_lock_of_unknown_employee_is_not_found(tmp_path):
    with pytest.raises(NotFound):
        manual_lock(make_settings(tmp_path), memory(), "NOPE", "violation")


# --- properties ----------------------------------------------------------------------------

ids = st.sampled_from([f"E{i}" for i in range(8)])
statuses = st.sampled_from(["active", "active", "active", "maternity_leave", "terminated",
                            "transferred", "violation", "bogus"])
units = st.sampled_from([("central", "TTCNTT", "user"), ("central", "BTHU", "user"),
                         ("vendor", "VNPT", "user"), ("province", "BTE", "user"),
                         ("province", "BTE", "admin"), ("province", "HCM", "user")])
rows_strategy = st.lists(st.tuples(ids, statuses, units, st.sampled_from(["", "Thu", "Sổ"])),
                         max_size=10)


def _csv(rows) -> bytes:
    return roster_csv([row(i, unit_type=u[0], unit_code=u[1], role=u[2], status=s, field=f)
                       for i, s, u, f in rows]).encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=rows_strategy, second=rows_strategy,
       scope=st.sampled_from(["it-centre", "province:BTE"]))
def test_applying_a_plan_converges_and_never_touches_rejected_ids(first, second, scope):
    """Whatever the roster history: after one applied run the next plan is empty, and an
    account whose row is rejected is never locked, unlocked or changed."""
    directory = memory(scope)
    scope_value = Scope.parse(scope)
    for data in (_csv(first), _csv(second)):
        roster = parse_roster(data)
        before = directory.snapshot(scope_value)
        plan = compute_plan(roster.people, before, scope_value, LAYOUT, roster.rejected_keys)
        for action in plan.actions:
            assert (action.employee_id or "").casefold() not in roster.rejected_keys, action
            directory.apply_one(action)
        again = compute_plan(roster.people, directory.snapshot(scope_value), scope_value,
                             LAYOUT, roster.rejected_keys)
        assert again.actions == (), [a.to_dict() for a in again.actions]


def test_a_bad_units_file_is_refused_before_the_directory_is_contacted(tmp_path):
    from connector.errors import UnitsError

    (tmp_path / "units.toml").write_text("[[province]]\ncode = 'B,TE'\nname = 'x'\n")
    settings = make_settings(tmp_path, units={"path": str(tmp_path / "units.toml")})

    def connect():
        raise AssertionError("connected before the units file was read")

    with pytest.raises(UnitsError):
        reconcile(settings, connect, Request(roster_path=write(tmp_path, [row("TW1")])))

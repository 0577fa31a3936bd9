"""Effective dates (SPEC §3): issued early with pwdStartTime, pwdEndTime the day after the
last day, terminated once the end has passed, changes and removals as updates."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from connector.core.actions import Kind
from connector.core.desired import local_midnight
from connector.core.model import Scope
from connector.core.plan import compute_plan
from connector.sources.roster import parse_roster
from tests.helpers import LAYOUT, account_of, person, snapshot

IT = Scope.parse("it-centre")
TODAY = dt.date(2026, 12, 1)


def dated(start: str | None = None, end: str | None = None, **kwargs):
    return replace(person("TW1", **kwargs), start_date=start, end_date=end)


def plan(people, *accounts):
    return compute_plan(people, snapshot(*accounts), IT, LAYOUT, today=TODAY)


def test_local_midnight_is_converted_to_utc_in_the_configured_zone():
    assert local_midnight("2026-12-07", "Asia/Ho_Chi_Minh") == "20261206170000Z"
    assert local_midnight("2026-12-31", "Asia/Ho_Chi_Minh", days_after=1) == "20261231170000Z"
    assert local_midnight("2026-12-07", "UTC") == "20261207000000Z"


def test_a_hire_starting_next_week_gets_the_account_now_with_pwdstarttime():
    (action,) = plan([dated(start="2026-12-07")]).actions
    assert action.kind is Kind.CREATE
    assert dict(action.changes)["pwdStartTime"] == "20261206170000Z"


def test_a_future_end_date_sets_pwdendtime_to_the_day_after():
    (action,) = plan([dated(end="2026-12-31", unit_type="vendor", unit_code="VNPT")]).actions
    assert dict(action.changes)["pwdEndTime"] == "20261231170000Z"


@pytest.mark.parametrize("unit_type,code,clause", [("central", "TTCNTT", "6.2.1"),
                                                    ("vendor", "VNPT", "6.2.4")])
def test_once_the_end_date_has_passed_the_person_is_terminated(unit_type, code, clause):
    p = dated(end="2026-11-30", unit_type=unit_type, unit_code=code)
    account = account_of(replace(p, end_date=None))
    kinds = [(a.kind, a.reason, a.clause) for a in plan([p], account).actions]
    assert (Kind.LOCK, "terminated", clause) in kinds
    assert plan([replace(p, end_date="2026-12-01")], account).actions[0].kind is Kind.UPDATE


def test_an_ended_person_without_an_account_gets_none():
    assert plan([dated(end="2026-11-30")]).actions == ()


def test_a_changed_date_updates_and_an_emptied_cell_removes_it():
    p = dated(start="2026-12-07")
    account = account_of(p, overrides={"pwdStartTime": "20261206170000Z"})
    assert plan([p], account).actions == ()
    (moved,) = plan([replace(p, start_date="2026-12-14")], account).actions
    assert dict(moved.changes) == {"pwdStartTime": "20261213170000Z"}
    (cleared,) = plan([replace(p, start_date="")], account).actions
    assert dict(cleared.changes) == {"pwdStartTime": None}
    assert plan([replace(p, start_date=None)], account).actions == ()  # column absent: kept


HEADER = "employee_id,full_name,unit_type,unit_code,status,start_date,end_date\n"


@pytest.mark.parametrize("start,end,iso", [("2026-12-07", "", ("2026-12-07", "")),
                                           ("07/12/2026", "31/12/2026",
                                            ("2026-12-07", "2026-12-31"))])
def test_dates_are_read_in_both_forms(start, end, iso):
    (p,) = parse_roster(f"{HEADER}TW1,An,central,T,active,{start},{end}\n".encode()).people
    assert (p.start_date, p.end_date) == iso


@pytest.mark.parametrize("start,end,reason", [
    ("2026-02-30", "", "start_date '2026-02-30' is not a date"),
    ("", "12.07.2026", "end_date '12.07.2026' is not a date"),
    ("2026-12-07", "2026-12-01", "end_date 2026-12-01 is before start_date 2026-12-07"),
])
def test_a_bad_date_rejects_the_row(start, end, reason):
    result = parse_roster(f"{HEADER}TW1,An,central,T,active,{start},{end}\n".encode())
    assert result.people == () and reason in result.rejected[0].reason
    assert "tw1" in result.rejected_keys


def test_absent_date_columns_mean_not_given():
    (p,) = parse_roster(b"employee_id,full_name,unit_type,unit_code,status\n"
                        b"TW1,An,central,T,active\n").people
    assert (p.start_date, p.end_date) == (None, None)

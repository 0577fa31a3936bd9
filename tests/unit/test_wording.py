"""The Vietnamese report's words (issue 25 #13): every code a reviewer reads and every
reason a row is rejected for, in Vietnamese."""

from __future__ import annotations

import pytest

from connector.core.actions import Kind
from connector.core.model import Status, UnitType
from connector.core.policy import Reason
from connector.core.wording import CODES_VI, code_vi, rejection_vi, scope_vi
from connector.sources.roster import parse_roster
from tests.helpers import roster_csv, row


@pytest.mark.parametrize("code", [*(k.value for k in Kind), *(r.value for r in Reason),
                                  *(s.value for s in Status), *(u.value for u in UnitType),
                                  "planned", "ok", "failed", "skipped", "not_applied"])
def test_every_code_a_report_shows_has_vietnamese_words(code):
    assert code in CODES_VI and code_vi(code) != code


BAD_ROWS = [
    {"employee_id": ""}, {"employee_id": "ＴＷ1"}, {"full_name": ""}, {"full_name": "x" * 300},
    {"full_name": "A\u202eB"}, {"email": "not-mail"}, {"unit_type": "ministry"},
    {"unit_code": ""}, {"unit_code": "B T"}, {"status": "on_holiday"}, {"role": "boss"},
    {"role": "admin"},
]


@pytest.mark.parametrize("change", BAD_ROWS, ids=lambda c: repr(c)[:30])
def test_every_rejection_reason_the_roster_gives_is_translated(change):
    text = roster_csv([{**row("TW1"), **change}])
    rejected = parse_roster(text.encode("utf-8")).rejected
    assert rejected, change
    for reason in (r.reason for r in rejected):
        assert not rejection_vi(reason).endswith("(nguyên văn tiếng Anh)"), reason


def test_duplicates_short_rows_and_planner_reasons_are_translated():
    assert rejection_vi("duplicate employee_id (lines 3, 9)") == \
        "mã nhân viên bị trùng (các dòng 3, 9)"
    assert rejection_vi("has 4 fields, the header has 8") == "dòng có 4 cột, dòng tiêu đề có 8"
    assert rejection_vi("unit_code 'BTT' is not a known unit") == \
        "mã đơn vị 'BTT' không phải là đơn vị đã biết"


def test_an_unknown_reason_is_kept_and_marked_rather_than_dropped():
    assert rejection_vi("something new") == "something new (nguyên văn tiếng Anh)"


def test_scopes_read_as_their_units():
    assert scope_vi("province:BTE") == "BHXH tỉnh BTE (province:BTE)"

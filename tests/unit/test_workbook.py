"""Excel workbook rosters (SPEC §3): cells as the office sees them, sheet row numbers,
every CSV rule, and the sheet chosen by CONNECTOR_ROSTER__SHEET."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from openpyxl import Workbook

from connector.errors import RosterUnreadable
from connector.sources.roster import read_roster
from connector.sources.workbook import cell_text
from tests.helpers import HEADER

VIET = ["Mã nhân viên", "Họ và tên", "Thư điện tử", "Loại đơn vị", "Mã đơn vị", "Vai trò",
        "Trạng thái", "Lĩnh vực"]


def workbook(path: Path, rows: list[list[object]], *, sheets: dict[str, list[list[object]]]
             | None = None) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.title = "Danh sách cán bộ"
    for values in rows:
        sheet.append(values)
    for name, extra in (sheets or {}).items():
        other = book.create_sheet(name)
        for values in extra:
            other.append(values)
    book.save(path)
    return path


def test_a_workbook_with_vietnamese_headers_reads_like_the_csv(tmp_path):
    path = workbook(tmp_path / "Danh sách cán bộ.xlsx", [
        VIET,
        ["TW1", "Nguyễn Văn An", "an@vss.gov.vn", "trung ương", "TTCNTT", "người dùng",
         "đang làm việc", "Thu"],
        ["B1", "Lê Thị Bé", None, "tỉnh", "BTE", "quản trị", "nghỉ thai sản", None],
    ])
    result = read_roster(path)
    assert result.rejected == () and result.complete
    (tw1, b1) = result.people
    assert (tw1.employee_id, tw1.unit_type.value, tw1.status.value, tw1.email, tw1.line) == \
        ("TW1", "central", "active", "an@vss.gov.vn", 2)
    assert (b1.role.value if b1.role else None, b1.status.value, b1.email, b1.line) == \
        ("admin", "maternity_leave", None, 3)


def test_integer_ids_lose_no_digits_and_text_ids_keep_their_leading_zeros(tmp_path):
    path = workbook(tmp_path / "r.xlsx", [
        list(HEADER),
        [12345, "Nguyễn Văn An", None, "central", "TTCNTT", "user", "active", None],
        ["007", "Trần Thị Bình", None, "central", "TTCNTT", "user", "active", None],
    ])
    assert [p.employee_id for p in read_roster(path).people] == ["12345", "007"]


@pytest.mark.parametrize("cell,text", [
    (42.0, "42"), (3.5, "3.5"), (dt.date(2026, 12, 1), "2026-12-01"),
    (dt.datetime(2026, 12, 1), "2026-12-01"), (None, ""), ("  x ", "  x "), (True, "TRUE"),
])
def test_cells_read_as_the_text_the_office_sees(cell, text):
    assert cell_text(cell) == text


def test_rejected_rows_carry_the_sheet_row_number(tmp_path):
    path = workbook(tmp_path / "r.xlsx", [
        list(HEADER),
        ["TW1", "Nguyễn Văn An", None, "central", "TTCNTT", "user", "active", None],
        [None, None, None, None, None, None, None, None],
        ["TW2", "Trần Thị Bình", None, "central", "TTCNTT", "user", "nghỉ phép", None],
        ["TW1", "Kẻ Mạo Danh", None, "central", "TTCNTT", "user", "active", None],
    ])
    result = read_roster(path)
    assert sorted((r.line, r.employee_id) for r in result.rejected) == [
        (2, "TW1"), (4, "TW2"), (5, "TW1")]
    assert result.rows == 3


def test_a_row_without_an_id_makes_a_workbook_roster_incomplete(tmp_path):
    path = workbook(tmp_path / "r.xlsx", [
        list(HEADER), [None, "Vô Danh", None, "central", "TTCNTT", "user", "active", None]])
    result = read_roster(path)
    assert not result.complete and "line 2" in result.incomplete[0]


def test_the_sheet_is_chosen_by_name_and_an_unknown_one_is_unreadable(tmp_path):
    path = workbook(tmp_path / "r.xlsx", [["ghi chú"]], sheets={"Nhân sự": [
        list(HEADER), ["TW1", "Nguyễn Văn An", None, "central", "TTCNTT", "user", "active",
                       None]]})
    assert [p.employee_id for p in read_roster(path, "Nhân sự").people] == ["TW1"]
    with pytest.raises(RosterUnreadable, match="no sheet 'Nhan su'"):
        read_roster(path, "Nhan su")
    with pytest.raises(RosterUnreadable, match="required column"):
        read_roster(path)  # the first sheet is not the roster


@pytest.mark.parametrize("content", [b"employee_id,full_name\nTW1,An\n", b"", b"PK\x03\x04junk"])
def test_a_file_named_xlsx_that_is_not_a_workbook_is_unreadable(tmp_path, content):
    path = tmp_path / "roster.xlsx"
    path.write_bytes(content)
    with pytest.raises(RosterUnreadable):
        read_roster(path)


def test_an_empty_first_row_is_no_header(tmp_path):
    path = workbook(tmp_path / "r.xlsx", [[None], list(HEADER)])
    with pytest.raises(RosterUnreadable, match="no header"):
        read_roster(path)


def test_the_shipped_sample_workbook_reads_exactly_like_the_sample_csv():
    root = Path(__file__).resolve().parents[2] / "config"
    csv_roster = read_roster(root / "sample-roster.csv")
    book = read_roster(root / "sample-roster.xlsx")
    assert book.people == csv_roster.people and book.rejected == csv_roster.rejected

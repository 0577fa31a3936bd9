"""Roster reading (SPEC §3): what is accepted, what is rejected and why."""

from __future__ import annotations

import unicodedata

import pytest

from connector.core.model import Role, Scope, Status, UnitType
from connector.errors import RosterUnreadable
from connector.sources.duplicates import settle
from connector.sources.roster import parse_roster, read_roster
from tests.helpers import roster_csv, row


def parse(text: str):
    return parse_roster(text.encode("utf-8"))


def test_valid_row_becomes_a_person_with_family_and_given_names():
    result = parse(roster_csv([row("TW1", "Nguyễn Thị Bích Ngọc", email="n@vss.gov.vn",
                                   field="Thu")]))
    (p,) = result.people
    assert (p.employee_id, p.family_name, p.given_name) == ("TW1", "Nguyễn", "Ngọc")
    assert p.unit_type is UnitType.CENTRAL and p.status is Status.ACTIVE and p.role is Role.USER
    assert (p.email, p.field, p.line) == ("n@vss.gov.vn", "Thu", 2)


def test_bom_and_crlf_are_accepted():
    text = roster_csv([row("TW1"), row("TW2")]).replace("\n", "\r\n")
    result = parse_roster(b"\xef\xbb\xbf" + text.encode())
    assert [p.employee_id for p in result.people] == ["TW1", "TW2"]
    assert result.rejected == ()


def test_special_characters_in_names_are_kept_exactly_and_outer_spaces_trimmed():
    name = 'Lê, "Văn" + Tám \\ <x> ; = # *'
    result = parse(roster_csv([row("TW1", f"   {name}  ")]))
    assert result.people[0].full_name == name


def test_decomposed_vietnamese_is_normalised_to_nfc():
    composed = "Nguyễn Thị Ánh"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    result = parse(roster_csv([row("TW1", decomposed)]))
    assert result.people[0].full_name == composed


@pytest.mark.parametrize(
    "changes,reason",
    [
        ({"employee_id": ""}, "employee_id is empty"),
        ({"employee_id": "a b"}, "employee_id may contain only"),
        ({"employee_id": "x,y"}, "employee_id may contain only"),
        ({"full_name": "  "}, "full_name is empty"),
        ({"unit_type": "ministry"}, "unknown unit_type"),
        ({"status": "on_holiday"}, "unknown status"),
        ({"role": "root"}, "unknown role"),
        ({"role": "admin", "unit_type": "central"}, "role=admin is only for unit_type=province"),
        ({"email": "not-an-address"}, "is not an e-mail address"),
        ({"unit_code": "B T E"}, "unit_code"),
        ({"unit_code": ""}, "unit_code is empty"),
    ],
)
def test_invalid_row_is_rejected_with_line_number_and_reason(changes, reason):
    bad = {**row("TW2"), **changes}
    result = parse(roster_csv([row("TW1"), bad]))
    assert [p.employee_id for p in result.people] == ["TW1"]
    (rejected,) = result.rejected
    assert rejected.line == 3
    assert reason in rejected.reason


def test_every_row_of_a_duplicated_id_is_rejected_case_insensitively():
    result = parse(roster_csv([row("TW1"), row("TW2"), row("tw1")]))
    assert [p.employee_id for p in result.people] == ["TW2"]
    assert [(r.line, r.employee_id) for r in result.rejected] == [(2, "TW1"), (4, "tw1")]
    assert "duplicate employee_id (lines 2, 4)" in result.rejected[0].reason
    assert result.rejected_keys == {"tw1"}


def test_duplicate_of_an_invalid_row_still_rejects_the_valid_one():
    result = parse(roster_csv([row("TW1"), row("TW1", status="bogus")]))
    assert result.people == ()
    assert len(result.rejected) == 2


def test_wrong_field_count_is_rejected_with_the_line():
    text = roster_csv([row("TW1")]) + "TW2,Only Two\n"
    result = parse(text)
    assert result.rejected[0].line == 3 and "fields" in result.rejected[0].reason
    assert result.rejected_keys == {"tw2"}


def test_quoted_newline_keeps_line_numbers_of_following_rows():
    text = roster_csv([row("TW1")]) + '"TW2","Name\nSplit",,central,X,user,active,\n' + \
        "TW3,Lê An,,central,X,user,bogus,\n"
    result = parse(text)
    assert {r.employee_id: r.line for r in result.rejected} == {"TW2": 3, "TW3": 5}


def test_optional_columns_may_be_absent_and_mean_not_given():
    header = ("employee_id", "full_name", "unit_type", "unit_code", "status")
    result = parse(roster_csv([row("TW1")], header=header))
    (p,) = result.people
    assert (p.email, p.role, p.field) == (None, None, None)


def test_blank_lines_are_skipped_and_not_counted():
    result = parse(roster_csv([row("TW1")]) + "\n,,,,,,,\n")
    assert result.rows == 1 and result.rejected == ()


def test_header_only_roster_is_empty_not_unreadable():
    result = parse(roster_csv([]))
    assert result.empty and result.people == ()


@pytest.mark.parametrize(
    "data,message",
    [
        (b"", "no header"),
        (b"employee_id,full_name\nTW1,An\n", r"required column\(s\) missing"),
        (b"\xff\xfeemployee_id", "not UTF-8"),
        (b"employee_id,employee_id,full_name,unit_type,unit_code,status\n", "duplicate header"),
    ],
)
def test_unreadable_roster_raises(data, message):
    with pytest.raises(RosterUnreadable, match=message):
        parse_roster(data)


def test_missing_roster_file_is_unreadable(tmp_path):
    with pytest.raises(RosterUnreadable, match="not found"):
        read_roster(tmp_path / "nope.csv")


def test_header_names_are_matched_ignoring_case_and_spaces():
    text = " Employee_ID ,FULL_NAME,unit_type,unit_code,status\nTW1,Lê An,central,X,active\n"
    assert [p.employee_id for p in parse(text).people] == ["TW1"]


def test_unknown_columns_are_reported_as_ignored():
    text = "employee_id,full_name,unit_type,unit_code,status,phone\nTW1,Lê An,central,X,active,1\n"
    assert parse(text).ignored_columns == ("phone",)


# --- properties ----------------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

names = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1,
                max_size=60).filter(lambda t: t.strip())


@settings(max_examples=300)
@given(name=names)
def test_any_printable_name_round_trips_trimmed_and_nfc(name):
    result = parse(roster_csv([row("TW1", name)]))
    (p,) = result.people
    assert p.full_name == unicodedata.normalize("NFC", name).strip()
    assert p.family_name == p.full_name.split()[0] and p.given_name == p.full_name.split()[-1]


@settings(max_examples=300)
@given(data=st.binary(max_size=400))
def test_arbitrary_bytes_never_crash_the_reader(data):
    try:
        result = parse_roster(b"employee_id,full_name,unit_type,unit_code,status\n" + data)
    except RosterUnreadable:
        return
    assert result.rows == len(result.people) + len(result.rejected)


# ---------------------------------------------------------------- damaged files (SPEC §3)

GOOD = roster_csv([row("TW1", "Nguyễn Văn An"), row("TW2", "Trần Thị Bình"),
                   row("TW3", "Lê Văn Cường")])


def test_a_file_cut_inside_a_quoted_field_is_unreadable_and_names_the_line():
    cut = GOOD + 'TW4,"Đỗ Hữu'
    with pytest.raises(RosterUnreadable, match=r"ends inside a quoted field opened on line 5"):
        parse(cut)


def test_a_file_cut_inside_a_quoted_field_after_a_newline_is_unreadable():
    with pytest.raises(RosterUnreadable, match="line 3"):
        parse(roster_csv([row("TW1")]) + 'TW2,"Đỗ Hữu\nTW3,Lê,,central,TTCNTT,user,active,\n')


def test_a_file_cut_at_a_line_end_is_complete():
    result = parse(GOOD)
    assert result.complete and [p.employee_id for p in result.people] == ["TW1", "TW2", "TW3"]


def test_a_stray_quote_that_swallows_rows_makes_the_roster_incomplete():
    lines = GOOD.splitlines(keepends=True)
    lines[2] = lines[2].replace("Trần Thị Bình", '"Trần Thị Bình')  # opened, closed later
    lines.append('TW9,"x",,central,TTCNTT,user,active,\n')
    result = parse("".join(lines))
    assert not result.complete
    assert "lines 3-" in result.incomplete[0]
    assert "tw2" in result.rejected_keys  # the damaged row's own id stays protected
    assert [p.employee_id for p in result.people] == ["TW1"]


def test_a_quote_in_the_middle_of_an_unquoted_name_is_kept_literally():
    result = parse(roster_csv([row("TW1")]) + 'TW2,Nguy"en Van,,central,TTCNTT,user,active,\n')
    assert result.complete and result.people[1].full_name == 'Nguy"en Van'


def test_text_after_a_closing_quote_rejects_the_row_instead_of_guessing():
    result = parse(roster_csv([row("TW1")]) + 'TW2,"Nguyen" Van,,central,TTCNTT,user,active,\n')
    (rejected,) = result.rejected
    assert rejected.line == 3 and rejected.employee_id == "TW2"
    assert "unreadable row" in rejected.reason and result.complete


def test_a_field_over_the_size_limit_rejects_the_row_but_protects_its_id():
    huge = "Ng" * 600_000
    result = parse(roster_csv([row("TW1"), row("TW2", huge), row("TW3")]))
    (rejected,) = result.rejected
    assert (rejected.line, rejected.employee_id) == (3, "TW2")
    assert "field larger than field limit" in rejected.reason
    assert "tw2" in result.rejected_keys and result.complete
    assert [p.employee_id for p in result.people] == ["TW1", "TW3"]


def test_an_oversized_first_cell_cannot_be_tied_to_an_id_and_suspends_orphan_locks():
    result = parse(roster_csv([row("TW1")]) + "X" * 200_000 + ",a,,central,T,user,active,\n")
    assert result.rejected[0].employee_id is None
    assert not result.complete and "cannot be tied" in result.incomplete[0]


def test_a_row_without_an_id_makes_the_roster_incomplete():
    result = parse(roster_csv([row("TW1"), row("", "Vô Danh")]))
    assert result.rejected[0].reason == "employee_id is empty"
    assert not result.complete and "line 3" in result.incomplete[0]


def test_a_nul_byte_rejects_its_row_and_keeps_the_id_of_the_row():
    text = roster_csv([row("TW1"), row("TW2", "Nguyễn\x00Văn"), row("TW3")])
    result = parse(text)
    (rejected,) = result.rejected
    assert rejected.employee_id == "TW2" and "control characters" in rejected.reason
    assert result.complete
    in_id = parse(roster_csv([row("TW1"), row("TW\x002")]))
    assert in_id.people[0].employee_id == "TW1" and not in_id.complete


def test_a_quoted_line_break_inside_a_name_makes_the_roster_incomplete():
    result = parse(roster_csv([row("TW1"), row("TW2", "Nguyễn\nVăn"), row("TW3")]))
    assert [p.employee_id for p in result.people] == ["TW1", "TW3"]
    assert result.rejected[0].line == 3 and "tw2" in result.rejected_keys
    assert not result.complete and "lines 3-4" in result.incomplete[0]


def test_utf16_is_refused_with_a_hint():
    with pytest.raises(RosterUnreadable, match="UTF-16"):
        parse_roster(GOOD.encode("utf-16"))


def test_one_cp1258_name_in_a_utf8_file_is_unreadable_with_its_line():
    data = GOOD.encode() + "TW4,Tra\u0300n Văn,,central,TTCNTT,user,active,\n".encode("cp1258")
    with pytest.raises(RosterUnreadable, match=r"not UTF-8.*line 5"):
        parse_roster(data)


def test_a_fifo_is_refused_at_once_without_blocking(tmp_path):
    import os

    fifo = tmp_path / "roster.csv"
    os.mkfifo(fifo)
    with pytest.raises(RosterUnreadable, match="FIFO"):
        read_roster(fifo)  # would block forever in open() if it were opened blocking


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_device_is_refused_even_through_a_csv_symlink(tmp_path, device):
    link = tmp_path / "roster.csv"
    link.symlink_to(device)
    with pytest.raises(RosterUnreadable, match="a device"):
        read_roster(link)


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(RosterUnreadable, match="a directory"):
        read_roster(tmp_path)


# ---------------------------------------------------------------- Vietnamese (SPEC §3)

VIET_HEADER = ("Mã nhân viên,Họ và tên,Thư điện tử,Loại đơn vị,Mã đơn vị,Vai trò,Trạng thái,"
               "Lĩnh vực\n")


def test_vietnamese_headers_and_values_read_as_the_canonical_codes():
    text = VIET_HEADER + (
        "TW1,Nguyễn Văn An,,Trung ương,TTCNTT,Người dùng,Đang làm việc,Thu\n"
        "B1,Lê Thị Bé,,  TỈNH ,BTE,quan tri,nghỉ thai sản,\n"
        "V1,Đặng Văn Cường,,nha cung cap,VNPT,,Ốm đau dài ngày,\n"
        "B2,Trần Văn Đức,,tỉnh,BTE,,nghi viec,\n")
    result = parse(text)
    assert result.rejected == () and result.complete
    got = {p.employee_id: (p.unit_type.value, p.role.value if p.role else None, p.status.value)
           for p in result.people}
    assert got == {"TW1": ("central", "user", "active"), "B1": ("province", "admin",
                                                                "maternity_leave"),
                   "V1": ("vendor", None, "sick_leave"), "B2": ("province", None, "terminated")}


@pytest.mark.parametrize("header", ["Mã NV", "mã cán bộ", " MA NHAN VIEN "])
def test_every_listed_form_of_a_column_name_is_accepted(header):
    text = roster_csv([row("TW1")]).replace("employee_id", header, 1)
    assert parse(text).people[0].employee_id == "TW1"


def test_a_vietnamese_word_not_in_the_table_is_rejected_with_its_line():
    text = VIET_HEADER + "TW1,Nguyễn Văn An,,trung ương,TTCNTT,,nghỉ phép,\n"
    (rejected,) = parse(text).rejected
    assert rejected.line == 2 and "unknown status 'nghỉ phép'" in rejected.reason


def test_the_table_lists_exactly_the_spec_forms():
    from connector.core.vietnamese import COLUMN_NAMES, VALUES

    assert COLUMN_NAMES["status"] == ("Trạng thái", "Tình trạng")
    assert VALUES["status"]["sick_leave"] == ("ốm đau dài ngày", "nghỉ ốm")
    assert VALUES["status"]["terminated"] == ("chấm dứt", "nghỉ việc")


@pytest.mark.parametrize("employee_id", ["BTE０００２", "ΒΤΕ0002", "TW1é", "\u017fMITH"])
def test_a_look_alike_employee_id_is_a_rejected_row_that_protects_nothing(employee_id):
    for scope in (None, "province:BTE"):
        text = roster_csv([row(employee_id, unit_type="province", unit_code="BTE"),
                           row("BTE0002", unit_type="province", unit_code="BTE")])
        data = text.encode("utf-8")
        result = settle(parse_roster(data, scope=Scope.parse(scope)), frozenset()) if scope \
            else parse(text)
        assert [p.employee_id for p in result.people] == ["BTE0002"]
        assert len(result.rejected) == 1 and "ASCII" in result.rejected[0].reason
        assert "bte0002" not in result.rejected_keys
        assert result.complete  # orphans are still locked: nothing else is protected


@pytest.mark.parametrize("mark", ["\u202e", "\u202a", "\u2066", "\u2069"])
def test_a_name_with_bidirectional_controls_is_rejected(mark):
    result = parse(roster_csv([row("TW1", f"Nguyễn {mark}nA"), row("TW2")]))
    assert [p.employee_id for p in result.people] == ["TW2"]
    assert "bidirectional" in result.rejected[0].reason


@pytest.mark.parametrize("look_alike,real", [("\u017fmith", "smith"), ("\u017fim", "sim")])
def test_a_look_alike_that_casefolds_onto_a_real_id_neither_duplicates_nor_protects_it(
        look_alike, real):
    result = parse(roster_csv([row(look_alike), row(real)]))
    assert [p.employee_id for p in result.people] == [real]
    assert real not in result.rejected_keys

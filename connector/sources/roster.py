"""The roster (SPEC §3): read the HR CSV, validate each row, never guess.

A row that fails validation is rejected with its line number and reason; the
planner then leaves that employee's account exactly as it is. An unreadable
file raises :class:`RosterUnreadable` (exit 2) before anything is planned.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import sys
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from connector.core.model import Person, Rejected, Role, Status, UnitType, id_key
from connector.core.results import RosterResult
from connector.core.vietnamese import canonical_column, canonical_value
from connector.errors import RosterUnreadable
from connector.sources.files import decode_text, read_regular_file

REQUIRED_COLUMNS = ("employee_id", "full_name", "unit_type", "unit_code", "status")
OPTIONAL_COLUMNS = ("email", "role", "field", "start_date", "end_date")
KNOWN_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

_ID = re.compile(r"^[^\W][\w.-]*$")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: RFC 5322 dot-atom local part (no quoted forms, no parentheses) @ a dotted domain name
_EMAIL = re.compile(r"^[\w!#$%&'*+/=?^`{|}~-]+(?:\.[\w!#$%&'*+/=?^`{|}~-]+)*"
                    r"@[^\W_](?:[\w-]*[^\W_])?(?:\.[^\W_](?:[\w-]*[^\W_])?)+$")
MAX_ID = 64
MAX_TEXT = 256


class RosterCache:
    """The daemon's last parsed roster, reused while the file's bytes are the same.

    Keyed by the SHA-256 of the content (not the mtime, which a copy can keep or a
    touch can change): hashing 10 MB costs ~20 ms, parsing it ~1.3 s.
    """

    def __init__(self) -> None:
        self._key: tuple[str, str | None, bytes] | None = None
        self._roster: RosterResult | None = None
        self.hits = 0

    def get(self, file: Path, sheet: str | None, data: bytes) -> RosterResult | None:
        key = (str(file), sheet, hashlib.sha256(data).digest())
        if key == self._key and self._roster is not None:
            self.hits += 1
            return self._roster
        self._key, self._roster = key, None
        return None

    def put(self, roster: RosterResult) -> None:
        self._roster = roster

    @property
    def digest(self) -> bytes | None:
        """The SHA-256 of the roster last read (None before the first)."""
        return self._key[2] if self._key else None


def read_roster(path: Path | str, sheet: str | None = None,
                cache: RosterCache | None = None) -> RosterResult:
    """Read and validate a roster file; raise RosterUnreadable if it cannot be used.
    A name ending in ``.xlsx`` is a workbook (``sources.workbook``), anything else CSV."""
    file = Path(path)
    data = read_regular_file(file)
    if cache is not None:
        kept = cache.get(file, sheet, data)
        if kept is not None:
            return kept
        roster = _parse_file(file, sheet, data)
        cache.put(roster)
        return roster
    return _parse_file(file, sheet, data)


def _parse_file(file: Path, sheet: str | None, data: bytes) -> RosterResult:
    if file.name.lower().endswith(".xlsx"):
        from connector.sources.workbook import workbook_rows

        return parse_rows(workbook_rows(data, str(file), sheet), source=str(file))
    return parse_roster(data, source=str(file))


def parse_rows(rows: Iterator[tuple[int, list[str]]], source: str) -> RosterResult:
    """A roster given as (line, cells) rows, the first the header: a workbook's sheet.
    Every rule of the CSV reader applies, row by row."""
    first = next(rows, None)
    if first is None or not any(cell.strip() for cell in first[1]):
        raise RosterUnreadable(f"{source} has no header row (the first row is empty)")
    header = _check_header([cell for cell in first[1]], source)
    reader = _Rows(header, _Lines(""))
    for line, cells in rows:
        while cells and not cells[-1].strip() and len(cells) > len(header):
            cells.pop()  # trailing empty cells of a wider sheet
        if any(cell.strip() for cell in cells):
            reader._record(line, line, cells + [""] * (len(header) - len(cells)))
    return _result(header, reader)


class _Lines:
    """The file's physical lines, split the way ``csv`` splits them; built only when a
    damaged row needs its raw text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._lines: list[str] | None = None

    def __getitem__(self, line: int) -> str:
        if self._lines is None:
            self._lines = io.StringIO(self.text, newline="").readlines()
        return self._lines[line - 1] if 0 < line <= len(self._lines) else ""


def _salvage_id(raw_line: str, index: int) -> str | None:
    """The employee_id of a row whose fields cannot all be read, when its first cells
    still give one: parse a short prefix of the line, and trust only a cell that ends
    before the prefix does."""
    prefix = raw_line[:4096].replace("\x00", "\ufffd")
    try:
        cells = next(csv.reader([prefix], strict=False), [])
    except csv.Error:
        return None
    whole = len(cells) if len(prefix) == len(raw_line) else len(cells) - 1
    if index >= whole:
        return None
    return _tied_id(cells[index])


def _tied_id(raw: str) -> str | None:
    """The id a row names, if it names one that could be an account's ``uid``."""
    value = _clean(raw)
    return value if value and len(value) <= MAX_ID and _ID.match(value) else None


def parse_roster(data: bytes, source: str = "roster") -> RosterResult:
    """Header, rows, then duplicates: each step can only reject, never guess."""
    text = decode_text(data, source)
    if not text.strip():
        raise RosterUnreadable(f"{source} has no header row (the file is empty)")
    # strict: a quote in the wrong place is an unreadable row, never a guess, and a
    # file that ends inside a quoted field is reported instead of swallowed
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header = _read_header(reader, source)
    rows = _Rows(header, _Lines(text))
    rows.read(reader, source)
    return _result(header, rows)


def _result(header: list[str], rows: _Rows) -> RosterResult:
    people, rejected = _resolve_duplicates(rows.parsed)
    return RosterResult(
        people=tuple(people),
        rejected=tuple(rejected),
        columns=tuple(header),
        rows=rows.count,
        ignored_columns=tuple(name for name in header if name not in KNOWN_COLUMNS),
        rejected_keys=frozenset(id_key(r.employee_id) for r in rejected if r.employee_id),
        incomplete=tuple(rows.incomplete),
    )


def _read_header(reader: Any, source: str) -> list[str]:
    try:
        header_row = next(reader)
    except csv.Error as exc:
        raise RosterUnreadable(f"{source}: header cannot be parsed: {exc}") from None
    if reader.line_num > 1:
        raise RosterUnreadable(f"{source}: the header row spans lines 1-{reader.line_num} "
                               "(a quoted column name holds a line break)")
    return _check_header(header_row, source)


def _check_header(header_row: list[str], source: str) -> list[str]:
    # a second BOM (a file saved twice with one) would hide the first column name
    header = [canonical_column(unicodedata.normalize("NFC", name).replace("\ufeff", ""))
              for name in header_row]
    duplicates = sorted({name for name in header if header.count(name) > 1 and name})
    if duplicates:
        raise RosterUnreadable(f"{source}: duplicate header column(s): {', '.join(duplicates)}")
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise RosterUnreadable(
            f"{source}: required column(s) missing from the header: {', '.join(missing)}"
            f" (header is: {', '.join(header) or 'empty'})"
        )
    return header


#: (line, employee_id as the row gives it, the Person or the reason it is rejected)
Parsed = tuple[int, str | None, Person | str]


class _Rows:
    """The data rows, one record at a time, with where each began and ended."""

    def __init__(self, header: list[str], physical: _Lines) -> None:
        self.header = header
        self.id_index = header.index("employee_id")
        self.physical = physical
        self.parsed: list[Parsed] = []
        self.incomplete: list[str] = []
        self.count = 0

    def read(self, reader: Any, source: str) -> None:
        line = reader.line_num + 1
        while True:
            start = line
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                if str(exc) == "unexpected end of data":
                    raise RosterUnreadable(
                        f"{source}: the file ends inside a quoted field opened on line {start} "
                        "(a copy cut short, or a stray '\"'); nothing was read as the roster"
                    ) from None
                line = reader.line_num + 1
                self._unreadable(start, line - 1, exc)
                continue
            line = reader.line_num + 1
            if record and (record[0].strip() or any(cell.strip() for cell in record)):
                # else a blank line
                self._record(start, line - 1, record)

    def _unreadable(self, start: int, end: int, exc: csv.Error) -> None:
        self.count += 1
        row_id = _salvage_id(self.physical[start], self.id_index)
        self.parsed.append((start, row_id, f"unreadable row: {exc}"))
        if end > start:
            self.incomplete.append(_spans(start, end))
        if row_id is None:
            self.incomplete.append(f"line {start}: the unreadable row cannot be tied to one "
                                   "employee_id")

    def _record(self, start: int, end: int, record: list[str]) -> None:
        self.count += 1
        if end > start:
            self.incomplete.append(_spans(start, end))
        raw_id = record[self.id_index] if len(record) > self.id_index else ""
        row_id = _clean(raw_id) or None
        if row_id is None or len(row_id) > MAX_ID or not _ID.match(row_id):
            self.incomplete.append(f"line {start}: the row cannot be tied to one employee_id")
        if len(record) != len(self.header):
            self.parsed.append(
                (start, row_id, f"has {len(record)} fields, the header has {len(self.header)}"))
            return
        self.parsed.append((start, row_id, _person(dict(zip(self.header, record, strict=True)),
                                                   start)))


def _resolve_duplicates(parsed: list[Parsed]) -> tuple[list[Person], list[Rejected]]:
    """Every row of an employee_id that appears twice is rejected (case-insensitively)."""
    keys = [id_key(row_id) if row_id else "" for _, row_id, _ in parsed]
    first: dict[str, int] = {}
    repeated: dict[str, list[int]] = {}  # only ids seen twice get a list
    for (start, row_id, _), key in zip(parsed, keys, strict=True):
        if row_id:
            seen = first.setdefault(key, start)
            if seen != start:
                repeated.setdefault(key, [seen]).append(start)
    people: list[Person] = []
    rejected: list[Rejected] = []
    for (start, row_id, outcome), key in zip(parsed, keys, strict=True):
        lines = repeated.get(key, ()) if row_id and repeated else ()
        if len(lines) > 1:
            others = ", ".join(str(n) for n in lines)
            rejected.append(Rejected(start, row_id, f"duplicate employee_id (lines {others})"))
        elif isinstance(outcome, str):
            rejected.append(Rejected(start, row_id, outcome))
        else:
            people.append(outcome)
    return people, rejected


def _spans(first: int, last: int) -> str:
    return (f"lines {first}-{last} are one record (a quoted field holds a line break: "
            "a stray '\"' swallows the rows after it)")


def _clean(value: str | None) -> str:
    if not value:
        return ""
    if value.isascii():  # NFC changes nothing in ASCII; most cells are
        return value.strip()
    return unicodedata.normalize("NFC", value).strip()


#: Unicode categories Cc (C0 and C1 controls) and Cs (surrogates), as one class
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _bad_chars(value: str) -> bool:
    return _CONTROL.search(value) is not None


def _person(values: dict[str, str], line: int) -> Person | str:
    """Validate one row: a Person, or the reason it is rejected."""
    employee_id = _clean(values.get("employee_id"))
    if not employee_id:
        return "employee_id is empty"
    if len(employee_id) > MAX_ID or not _ID.match(employee_id):
        return "employee_id may contain only letters, digits, '.', '_' and '-' (64 at most)"

    full_name = _clean(values.get("full_name"))
    if not full_name:
        return "full_name is empty"
    if len(full_name) > MAX_TEXT:
        return f"full_name is longer than {MAX_TEXT} characters"
    if _bad_chars(full_name):
        return "full_name contains control characters"
    words = full_name.split()

    categories = _categories(values.get("unit_type") or "", values.get("unit_code") or "",
                             values.get("status") or "", values.get("role") or "")
    if isinstance(categories, str):
        return categories
    unit_type, unit_code, status, role = categories

    email = _clean(values.get("email")) or None
    if email is not None and (len(email) > MAX_TEXT or not _EMAIL.match(email)):
        return f"email {email!r} is not an e-mail address"

    work_field = _clean(values.get("field")) or None
    if work_field is not None and (len(work_field) > MAX_TEXT or _bad_chars(work_field)):
        return "field is too long or contains control characters"

    dates: dict[str, str | None] = {}
    for column in ("start_date", "end_date"):
        if column in values:
            parsed = parse_date(_clean(values[column]))
            if parsed is None:
                return (f"{column} {_clean(values[column])!r} is not a date "
                        "(YYYY-MM-DD or DD/MM/YYYY)")
            dates[column] = parsed
    start, end = dates.get("start_date"), dates.get("end_date")
    if start and end and end < start:
        return f"end_date {end} is before start_date {start}"

    return Person(
        employee_id=employee_id,
        full_name=full_name,
        # names and fields repeat across a national roster: one copy of each
        family_name=sys.intern(words[0]),
        given_name=sys.intern(words[-1]),
        unit_type=unit_type,
        unit_code=unit_code,
        status=status,
        line=line,
        email=email,
        role=role,
        field=sys.intern(work_field) if work_field else work_field,
        start_date=start,
        end_date=end,
    )


Categories = tuple[UnitType, str, Status, Role | None]


@lru_cache(maxsize=4096)
def _categories(unit_type_cell: str, unit_code_cell: str, status_cell: str,
                role_cell: str) -> Categories | str:
    """The row's unit type, unit code, status and role, or why they are rejected.

    A national roster holds a few hundred distinct combinations of these four
    cells across 100,000 rows: each is validated once (the cache is bounded).
    """
    unit_type_text = canonical_value("unit_type", _clean(unit_type_cell))
    try:
        unit_type = UnitType(unit_type_text)
    except ValueError:
        return f"unknown unit_type {unit_type_text!r} (central, province, vendor)"

    unit_code = _clean(unit_code_cell)
    if not unit_code:
        return "unit_code is empty"
    if not _CODE.match(unit_code):
        return f"unit_code {unit_code!r} may contain only letters, digits, '.', '_' and '-'"

    status_text = canonical_value("status", _clean(status_cell))
    try:
        status = Status(status_text)
    except ValueError:
        allowed = ", ".join(s.value for s in Status)
        return f"unknown status {status_text!r} ({allowed})"

    role: Role | None = None
    role_text = canonical_value("role", _clean(role_cell))
    if role_text:
        try:
            role = Role(role_text)
        except ValueError:
            return f"unknown role {role_text!r} (user, admin)"
        if role is Role.ADMIN and unit_type is not UnitType.PROVINCE:
            return "role=admin is only for unit_type=province"
    return unit_type, unit_code, status, role


def parse_date(text: str) -> str | None:
    """``YYYY-MM-DD`` or ``DD/MM/YYYY`` as an ISO date; "" for an empty cell; None when
    the text is no real date."""
    if not text:
        return ""
    try:
        if len(text) == 10 and text[4] == "-" and text[7] == "-":
            return dt.date.fromisoformat(text).isoformat()
        day, month, year = text.split("/")
        if len(day) <= 2 and len(month) <= 2 and len(year) == 4:
            return dt.date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None
    return None

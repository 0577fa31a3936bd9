"""The roster (SPEC §3): read the HR CSV, validate each row, never guess.

A row that fails validation is rejected with its line number and reason; the
planner then leaves that employee's account exactly as it is. An unreadable
file raises :class:`RosterUnreadable` (exit 2) before anything is planned.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterator
from operator import itemgetter
from pathlib import Path
from typing import Any

from connector.core.actions import Unchecked
from connector.core.model import (
    EMPLOYEE_ID,
    Role,
    Scope,
    UnitType,
    id_key,
)
from connector.core.policy import plainly_elsewhere
from connector.core.results import RosterResult
from connector.core.vietnamese import canonical_column, canonical_value
from connector.errors import RosterUnreadable
from connector.sources.duplicates import Parsed, resolve_duplicates
from connector.sources.files import decode_text, read_regular_file
from connector.sources.rowcheck import MAX_ID, UNIT_CODE, clean, person_of

REQUIRED_COLUMNS = ("employee_id", "full_name", "unit_type", "unit_code", "status")
OPTIONAL_COLUMNS = ("email", "role", "field", "start_date", "end_date")
KNOWN_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

#: what ties a row to one id, look-alike or not (a row that cannot be tied to one makes
#: the roster incomplete); ``EMPLOYEE_ID`` is what a valid one is (ASCII only)
_ID = re.compile(r"^[^\W][\w.-]*$")


class RosterCache:
    """The daemon's last parsed roster, reused while the file's bytes are the same.

    Keyed by the SHA-256 of the content (not the mtime, which a copy can keep or a
    touch can change): hashing 10 MB costs ~20 ms, parsing it ~1.3 s.
    """

    def __init__(self) -> None:
        self._key: tuple[str, str | None, str, bytes] | None = None
        self._roster: RosterResult | None = None
        self.hits = 0

    def get(self, file: Path, sheet: str | None, data: bytes,
            scope: Scope | None = None) -> RosterResult | None:
        key = (str(file), sheet, str(scope), hashlib.sha256(data).digest())
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
        return self._key[3] if self._key else None


def read_roster(path: Path | str, sheet: str | None = None,
                cache: RosterCache | None = None, scope: Scope | None = None,
                data: bytes | None = None) -> RosterResult:
    """Read and validate a roster file; raise RosterUnreadable if it cannot be used.
    A name ending in ``.xlsx`` is a workbook (``sources.workbook``), anything else CSV.

    With a province ``scope``, rows whose unit plainly names another scope's person
    are kept :class:`Unchecked` (their ids still count for duplicates); ``settle``
    validates those that turn out to name this scope's accounts. The IT Centre's
    scope judges every row, as without one. ``data``: the file's bytes, if the caller
    has read them already (with ``read_regular_file``)."""
    file = Path(path)
    if data is None:
        data = read_regular_file(file)
    if cache is not None:
        kept = cache.get(file, sheet, data, scope)
        if kept is not None:
            return kept
        roster = _parse_file(file, sheet, data, scope)
        cache.put(roster)
        return roster
    return _parse_file(file, sheet, data, scope)


def _parse_file(file: Path, sheet: str | None, data: bytes, scope: Scope | None) -> RosterResult:
    if file.name.lower().endswith(".xlsx"):
        from connector.sources.workbook import workbook_rows

        return parse_rows(workbook_rows(data, str(file), sheet), source=str(file), scope=scope)
    return parse_roster(data, source=str(file), scope=scope)


def parse_rows(rows: Iterator[tuple[int, list[str]]], source: str,
               scope: Scope | None = None) -> RosterResult:
    """A roster given as (line, cells) rows, the first the header: a workbook's sheet.
    Every rule of the CSV reader applies, row by row."""
    first = next(rows, None)
    if first is None or not any(cell.strip() for cell in first[1]):
        raise RosterUnreadable(f"{source} has no header row (the first row is empty)")
    header = _check_header([cell for cell in first[1]], source)
    reader = _Rows(header, _Lines(""), scope)
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
    value = clean(raw)
    return value if value and len(value) <= MAX_ID and _ID.match(value) else None


def parse_roster(data: bytes, source: str = "roster", scope: Scope | None = None) -> RosterResult:
    """Header, rows, then duplicates: each step can only reject, never guess."""
    text = decode_text(data, source)
    if not text.strip():
        raise RosterUnreadable(f"{source} has no header row (the file is empty)")
    # strict: a quote in the wrong place is an unreadable row, never a guess, and a
    # file that ends inside a quoted field is reported instead of swallowed
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header = _read_header(reader, source)
    rows = _Rows(header, _Lines(text), scope)
    rows.read(reader, source)
    return _result(header, rows)


def _result(header: list[str], rows: _Rows) -> RosterResult:
    people, rejected, unchecked = resolve_duplicates(rows.parsed, rows.unchecked)
    return RosterResult(
        people=tuple(people),
        rejected=tuple(rejected),
        columns=tuple(header),
        rows=rows.count + len(rows.unchecked),
        ignored_columns=tuple(name for name in header if name not in KNOWN_COLUMNS),
        # a look-alike id (a Kelvin sign folds to "k") protects nobody's account
        rejected_keys=frozenset(id_key(r.employee_id) for r in rejected
                                if r.employee_id and r.employee_id.isascii()),
        incomplete=tuple(rows.incomplete),
        unchecked=tuple(unchecked),
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


class _Rows:
    """The data rows, one record at a time, with where each began and ended."""

    def __init__(self, header: list[str], physical: _Lines, scope: Scope | None = None) -> None:
        self.header = header
        self.id_index = header.index("employee_id")
        self.physical = physical
        self.parsed: list[Parsed] = []
        self.unchecked: list[Unchecked] = []
        self.incomplete: list[str] = []
        self.count = 0
        self.start = 0
        # the IT Centre judges every row: it sees the national roster's quality whole
        self.scope = scope if scope is not None and not scope.is_it_centre else None
        self._unit_cells = (header.index("unit_type"), header.index("unit_code"),
                            header.index("role") if "role" in header else None)
        #: (unit_type, unit_code, role) cells → their canonical values when they name
        #: another scope's person, else None: a few hundred combinations nationally
        self._sieve: dict[tuple[str, ...], tuple[str, str, str | None] | None] = {}

    def read(self, reader: Any, source: str) -> None:
        start = reader.line_num + 1
        rows = self._plain_rows if self.scope is None else self._sieved_rows
        while True:
            try:
                rows(reader, start)
                return
            except csv.Error as exc:
                if str(exc) == "unexpected end of data":
                    raise RosterUnreadable(
                        f"{source}: the file ends inside a quoted field opened on line "
                        f"{self.start} (a copy cut short, or a stray '\"'); nothing was "
                        "read as the roster") from None
                self._unreadable(self.start, reader.line_num, exc)
                start = reader.line_num + 1

    def _plain_rows(self, reader: Any, start: int) -> None:
        """Every record to ``_record``; ``self.start``: where the one being read began."""
        self.start = start
        for record in reader:
            end = reader.line_num
            if record and (record[0].strip() or any(cell.strip() for cell in record)):
                self._record(start, end, record)  # else a blank line
            start = self.start = end + 1

    def _sieved_rows(self, reader: Any, start: int) -> None:
        """The fast lane of a scoped read, one loop with no call per row: a one-line,
        full-width row with a plain id whose unit cells name another scope's person is
        set aside unjudged; any other row goes to ``_record``. ``self.start``: where
        the record being read began (for ``read``, if the reader raises)."""
        scope, sieve, width = self.scope, self._sieve, len(self.header)
        id_at, (type_at, code_at, role_at) = self.id_index, self._unit_cells
        # the unit cells in one C call (a roster without a role column: two of them)
        unit_cells = itemgetter(type_at, code_at) if role_at is None else \
            itemgetter(type_at, code_at, role_at)
        set_aside, plain_id = self.unchecked.append, EMPLOYEE_ID.match
        new, unchecked = tuple.__new__, Unchecked  # Unchecked._make, less its frame
        assert scope is not None
        self.start = start
        try:
            for record in reader:
                end = reader.line_num
                if end == start and len(record) == width:
                    cells = unit_cells(record)
                    unit = sieve.get(cells, _UNSEEN)
                    if unit is _UNSEEN:
                        unit = sieve[cells] = _elsewhere(scope, *cells)
                    if unit is not None:
                        row_id = record[id_at]
                        # ASCII isalnum() implies the id pattern; anything else is
                        # stripped, then held to it (a fullwidth digit fails: judged later)
                        if not (row_id.isalnum() and row_id.isascii()):
                            row_id = row_id.strip() if row_id.isascii() else clean(row_id)
                            if not (row_id.isascii() and plain_id(row_id)):
                                row_id = ""
                        if row_id and len(row_id) <= MAX_ID:
                            set_aside(new(unchecked, (row_id, start, *unit, record)))
                            start = end + 1
                            continue
                if record and (record[0].strip() or any(cell.strip() for cell in record)):
                    self.start = start
                    self._record(start, end, record)  # else a blank line
                start = end + 1
        finally:  # where the record being read began, for read() if the reader raised
            self.start = start

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
        row_id = clean(raw_id) or None
        if row_id is None or len(row_id) > MAX_ID or not _ID.match(row_id):
            self.incomplete.append(f"line {start}: the row cannot be tied to one employee_id")
        if len(record) != len(self.header):
            self.parsed.append(
                (start, row_id, f"has {len(record)} fields, the header has {len(self.header)}"))
            return
        self.parsed.append((start, row_id, person_of(dict(zip(self.header, record, strict=True)),
                                                   start)))


#: the sieve's answer for unit cells it has not judged yet (compared by identity)
_UNSEEN: tuple[str, str, str | None] = ("", "", None)


def _elsewhere(scope: Scope, unit_type_cell: str, unit_code_cell: str,
               role_cell: str = "") -> tuple[str, str, str | None] | None:
    """The canonical unit type, code and role of a row whose unit plainly names another
    scope's person; None when the row is (or may be) this scope's, or its unit cells are
    not valid (then it is validated, and rejected, as any row)."""
    try:
        unit_type = UnitType(canonical_value("unit_type", clean(unit_type_cell)))
        role_text = canonical_value("role", clean(role_cell))
        role = Role(role_text) if role_text else None
    except ValueError:
        return None
    unit_code = clean(unit_code_cell)
    if not UNIT_CODE.match(unit_code) or (role is Role.ADMIN and
                                          unit_type is not UnitType.PROVINCE):
        return None
    if not plainly_elsewhere(scope, unit_type, unit_code, role):
        return None
    return unit_type.value, unit_code, role.value if role else None


def _spans(first: int, last: int) -> str:
    return (f"lines {first}-{last} are one record (a quoted field holds a line break: "
            "a stray '\"' swallows the rows after it)")

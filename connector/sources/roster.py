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
from collections.abc import Set as AbstractSet
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from connector.core.actions import Unchecked
from connector.core.model import (
    EMPLOYEE_ID,
    Person,
    Rejected,
    Role,
    Scope,
    Status,
    UnitType,
    id_key,
)
from connector.core.policy import plainly_elsewhere
from connector.core.results import RosterResult
from connector.core.vietnamese import canonical_column, canonical_value
from connector.errors import RosterUnreadable
from connector.sources.files import decode_text, read_regular_file

REQUIRED_COLUMNS = ("employee_id", "full_name", "unit_type", "unit_code", "status")
OPTIONAL_COLUMNS = ("email", "role", "field", "start_date", "end_date")
KNOWN_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

#: what ties a row to one id, look-alike or not (a row that cannot be tied to one makes
#: the roster incomplete); ``EMPLOYEE_ID`` is what a valid one is (ASCII only)
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


def settle(roster: RosterResult, keys: AbstractSet[str]) -> RosterResult:
    """The roster with its unchecked rows whose ids are in ``keys`` (this scope's
    accounts, former accounts) validated in full, as if they had never been set aside:
    a damaged row elsewhere must not read as a transfer of someone here."""
    if not keys or not roster.unchecked:
        return roster
    fold = str.casefold  # id_key, without a call per row: ~90,000 rows for a province
    mine = [row for row in roster.unchecked if fold(row[0]) in keys]
    if not mine:
        return roster
    header = list(roster.columns)
    people, rejected = list(roster.people), list(roster.rejected)
    for row in mine:
        outcome = _person(dict(zip(header, row.cells, strict=True)), row.line)
        if isinstance(outcome, str):
            rejected.append(Rejected(row.line, row.employee_id, outcome))
        else:
            people.append(outcome)
    rejected.sort(key=lambda r: r.line)
    return replace(
        roster, people=tuple(people), rejected=tuple(rejected),
        unchecked=tuple(row for row in roster.unchecked if row.key not in keys),
        rejected_keys=roster.rejected_keys | {id_key(r.employee_id) for r in rejected
                                              if r.employee_id and r.employee_id.isascii()})


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
    value = _clean(raw)
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
    people, rejected, unchecked = _resolve_duplicates(rows.parsed, rows.unchecked)
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
Parsed = tuple[int, str | None, Person | str]


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
        self._sieve: dict[tuple[str, str, str], tuple[str, str, str | None] | None] = {}

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
        set_aside, plain_id, make = self.unchecked.append, EMPLOYEE_ID.match, Unchecked._make
        assert scope is not None
        self.start = start
        for record in reader:
            end = reader.line_num
            if end == start and len(record) == width:
                cells = (record[type_at], record[code_at],
                         record[role_at] if role_at is not None else "")
                unit = sieve.get(cells, _UNSEEN)
                if unit is _UNSEEN:
                    unit = sieve[cells] = _elsewhere(scope, *cells)
                if unit is not None:
                    row_id = record[id_at]
                    row_id = row_id.strip() if row_id.isascii() else _clean(row_id)
                    # ASCII isalnum() implies the id pattern; anything else (a fullwidth
                    # digit) takes the long way, to be rejected
                    if row_id and len(row_id) <= MAX_ID and row_id.isascii() and (
                            row_id.isalnum() or plain_id(row_id)):
                        set_aside(make((row_id, start, *unit, record)))
                        start = self.start = end + 1
                        continue
            if record and (record[0].strip() or any(cell.strip() for cell in record)):
                self._record(start, end, record)  # else a blank line
            start = self.start = end + 1

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


#: the sieve's answer for unit cells it has not judged yet (compared by identity)
_UNSEEN: tuple[str, str, str | None] = ("", "", None)


def _elsewhere(scope: Scope, unit_type_cell: str, unit_code_cell: str,
               role_cell: str) -> tuple[str, str, str | None] | None:
    """The canonical unit type, code and role of a row whose unit plainly names another
    scope's person; None when the row is (or may be) this scope's, or its unit cells are
    not valid (then it is validated, and rejected, as any row)."""
    try:
        unit_type = UnitType(canonical_value("unit_type", _clean(unit_type_cell)))
        role_text = canonical_value("role", _clean(role_cell))
        role = Role(role_text) if role_text else None
    except ValueError:
        return None
    unit_code = _clean(unit_code_cell)
    if not _CODE.match(unit_code) or (role is Role.ADMIN and unit_type is not UnitType.PROVINCE):
        return None
    if not plainly_elsewhere(scope, unit_type, unit_code, role):
        return None
    return unit_type.value, unit_code, role.value if role else None


def _resolve_duplicates(parsed: list[Parsed], unchecked: list[Unchecked]
                        ) -> tuple[list[Person], list[Rejected], list[Unchecked]]:
    """Every row of an employee_id that appears twice is rejected (case-insensitively),
    also where one of the rows was set aside as another scope's."""
    first: dict[str, int] = {}
    repeated: dict[str, list[int]] = {}  # only ids seen twice get a list
    seen = first.setdefault
    for start, row_id, _ in parsed:  # a look-alike id is no duplicate of a real one
        if row_id and row_id.isascii() and seen(key := id_key(row_id), start) != start:
            repeated.setdefault(key, [first[key]]).append(start)
    for row in unchecked:
        if seen(key := id_key(row.employee_id), row.line) != row.line:
            repeated.setdefault(key, [first[key]]).append(row.line)
    people: list[Person] = []
    rejected: list[Rejected] = []
    for start, row_id, outcome in parsed:
        lines = repeated.get(id_key(row_id), ()) if row_id and repeated and \
            row_id.isascii() else ()
        if lines:
            rejected.append(_duplicate(start, row_id, lines))
        elif isinstance(outcome, str):
            rejected.append(Rejected(start, row_id, outcome))
        else:
            people.append(outcome)
    if repeated:
        for row in unchecked:
            if row.key in repeated:
                rejected.append(_duplicate(row.line, row.employee_id, repeated[row.key]))
        rejected.sort(key=lambda r: r.line)
        unchecked = [row for row in unchecked if row.key not in repeated]
    return people, rejected, unchecked


def _duplicate(line: int, employee_id: str | None, lines: list[int]) -> Rejected:
    others = ", ".join(str(n) for n in sorted(lines))
    return Rejected(line, employee_id, f"duplicate employee_id (lines {others})")


def _spans(first: int, last: int) -> str:
    return (f"lines {first}-{last} are one record (a quoted field holds a line break: "
            "a stray '\"' swallows the rows after it)")


def _clean(value: str | None) -> str:
    if not value:
        return ""
    if value.isascii():  # NFC changes nothing in ASCII; most cells are
        return value.strip()
    return unicodedata.normalize("NFC", value).strip()


#: Unicode categories Cc (C0 and C1 controls) and Cs (surrogates), as one class, and the
#: bidirectional embedding, override and isolate controls (a name shown reversed, SPEC §15)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


def _bad_chars(value: str) -> bool:
    return _CONTROL.search(value) is not None


def _person(values: dict[str, str], line: int) -> Person | str:
    """Validate one row: a Person, or the reason it is rejected."""
    employee_id = _clean(values.get("employee_id"))
    if not employee_id:
        return "employee_id is empty"
    if len(employee_id) > MAX_ID or not EMPLOYEE_ID.match(employee_id):
        return ("employee_id may contain only ASCII letters, digits, '.', '_' and '-' (64 at "
                "most): a look-alike (a fullwidth digit) would name another person's entry")

    full_name = _clean(values.get("full_name"))
    if not full_name:
        return "full_name is empty"
    if len(full_name) > MAX_TEXT:
        return f"full_name is longer than {MAX_TEXT} characters"
    if _bad_chars(full_name):
        return "full_name contains control characters (or bidirectional controls)"
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

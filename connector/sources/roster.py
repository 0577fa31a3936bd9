"""The roster (SPEC §3): read the HR CSV, validate each row, never guess.

A row that fails validation is rejected with its line number and reason; the
planner then leaves that employee's account exactly as it is. An unreadable
file raises :class:`RosterUnreadable` (exit 2) before anything is planned.
"""

from __future__ import annotations

import csv
import io
import os
import re
import stat
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from connector.core.model import Person, Rejected, Role, Status, UnitType, id_key
from connector.errors import RosterUnreadable

REQUIRED_COLUMNS = ("employee_id", "full_name", "unit_type", "unit_code", "status")
OPTIONAL_COLUMNS = ("email", "role", "field")
KNOWN_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

_ID = re.compile(r"^[^\W][\w.-]*$")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: RFC 5322 dot-atom local part (no quoted forms, no parentheses) @ a dotted domain name
_EMAIL = re.compile(r"^[\w!#$%&'*+/=?^`{|}~-]+(?:\.[\w!#$%&'*+/=?^`{|}~-]+)*"
                    r"@[^\W_](?:[\w-]*[^\W_])?(?:\.[^\W_](?:[\w-]*[^\W_])?)+$")
MAX_ID = 64
MAX_TEXT = 256


@dataclass(frozen=True)
class RosterResult:
    people: tuple[Person, ...]
    rejected: tuple[Rejected, ...]
    columns: tuple[str, ...]
    rows: int
    ignored_columns: tuple[str, ...] = ()
    rejected_keys: frozenset[str] = field(default_factory=frozenset)
    #: why this file cannot be trusted to list everyone (empty: it can). While it is
    #: non-empty no account is locked as not_on_roster (SPEC §3).
    incomplete: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return self.rows == 0

    @property
    def complete(self) -> bool:
        return not self.incomplete


#: A roster is a few MB even for the whole sector; refuse before reading gigabytes.
MAX_BYTES = 512 * 1024 * 1024
#: How many completeness problems are spelled out (the count is always given).
SHOW_INCOMPLETE = 5


def read_roster(path: Path | str) -> RosterResult:
    """Read and validate a roster file; raise RosterUnreadable if it cannot be used."""
    file = Path(path)
    return parse_roster(_read_regular_file(file), source=str(file))


def _read_regular_file(file: Path) -> bytes:
    """The file's bytes, refusing at once anything that is not a regular file.

    ``stat`` first (it never opens, so a FIFO or a device is refused without
    touching it), then a non-blocking open and ``fstat`` of what was opened, in case
    the path was swapped in between. A FIFO would otherwise block ``open()`` for
    ever and ``/dev/zero`` would be read until memory runs out.
    """
    try:
        kind = _file_kind(os.stat(file).st_mode)
        if kind is None:
            fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            try:
                info = os.fstat(fd)
                kind = _file_kind(info.st_mode)
                if kind is None:
                    if info.st_size > MAX_BYTES:
                        raise RosterUnreadable(
                            f"roster is {info.st_size} bytes, more than the {MAX_BYTES} a "
                            f"roster may have: {file}")
                    with os.fdopen(fd, "rb", closefd=True) as handle:
                        fd = -1
                        data = handle.read(MAX_BYTES + 1)
                    if len(data) > MAX_BYTES:
                        raise RosterUnreadable(f"roster grew past {MAX_BYTES} bytes while "
                                               f"being read: {file}")
                    return data
            finally:
                if fd >= 0:
                    os.close(fd)
    except FileNotFoundError:
        raise RosterUnreadable(f"roster not found: {file}") from None
    except PermissionError:
        raise RosterUnreadable(f"roster cannot be read (permission denied): {file}") from None
    except OSError as exc:
        raise RosterUnreadable(f"roster cannot be read: {file}: {exc.strerror}") from None
    raise RosterUnreadable(f"roster is {kind}, not a regular file: {file} (refused without "
                           "reading it)")


def _file_kind(mode: int) -> str | None:
    """None for a regular file, else what it is (for the message)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _decode(data: bytes, source: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise RosterUnreadable(f"{source} is UTF-16, not UTF-8 (save it as \"CSV UTF-8\")")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise RosterUnreadable(
            f"{source} is not UTF-8 (invalid byte at offset {exc.start}, line {line}; "
            "a name pasted from a cp1258 or latin-1 file does this)"
        ) from None


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
    text = _decode(data, source)
    if not text.strip():
        raise RosterUnreadable(f"{source} has no header row (the file is empty)")
    # strict: a quote in the wrong place is an unreadable row, never a guess, and a
    # file that ends inside a quoted field is reported instead of swallowed
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header_row = next(reader)
    except csv.Error as exc:
        raise RosterUnreadable(f"{source}: header cannot be parsed: {exc}") from None
    if reader.line_num > 1:
        raise RosterUnreadable(f"{source}: the header row spans lines 1-{reader.line_num} "
                               "(a quoted column name holds a line break)")
    # a second BOM (a file saved twice with one) would hide the first column name
    header = [unicodedata.normalize("NFC", name).replace("\ufeff", "").strip().lower()
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
    ignored = tuple(name for name in header if name not in KNOWN_COLUMNS)
    id_index = header.index("employee_id")
    physical = _Lines(text)

    parsed: list[tuple[int, str | None, Person | str]] = []
    incomplete: list[str] = []
    rows = 0
    line = reader.line_num + 1
    while True:
        start = line
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if str(exc) == "unexpected end of data":
                raise RosterUnreadable(
                    f"{source}: the file ends inside a quoted field opened on line {start} "
                    "(a copy cut short, or a stray '\"'); nothing was read as the roster"
                ) from None
            line = reader.line_num + 1
            rows += 1
            row_id = _salvage_id(physical[start], id_index)
            parsed.append((start, row_id, f"unreadable row: {exc}"))
            if line - start > 1:
                incomplete.append(_spans(start, line - 1))
            if row_id is None:
                incomplete.append(f"line {start}: the unreadable row cannot be tied to one "
                                  "employee_id")
            continue
        line = reader.line_num + 1
        if not any(cell.strip() for cell in record):
            continue  # blank line
        rows += 1
        if line - start > 1:
            incomplete.append(_spans(start, line - 1))
        raw_id = record[id_index] if len(record) > id_index else ""
        if _tied_id(raw_id) is None:
            incomplete.append(f"line {start}: the row cannot be tied to one employee_id")
        row_id = unicodedata.normalize("NFC", raw_id).strip() or None
        if len(record) != len(header):
            parsed.append(
                (start, row_id, f"has {len(record)} fields, the header has {len(header)}")
            )
            continue
        values = dict(zip(header, record, strict=True))
        parsed.append((start, row_id, _person(values, start)))

    by_key: dict[str, list[int]] = defaultdict(list)
    for start, row_id, _ in parsed:
        if row_id:
            by_key[id_key(row_id)].append(start)
    people: list[Person] = []
    rejected: list[Rejected] = []
    for start, row_id, outcome in parsed:
        lines = by_key.get(id_key(row_id), []) if row_id else []
        if len(lines) > 1:
            others = ", ".join(str(n) for n in lines)
            rejected.append(Rejected(start, row_id, f"duplicate employee_id (lines {others})"))
        elif isinstance(outcome, str):
            rejected.append(Rejected(start, row_id, outcome))
        else:
            people.append(outcome)
    keys = frozenset(id_key(r.employee_id) for r in rejected if r.employee_id)
    return RosterResult(
        people=tuple(people),
        rejected=tuple(rejected),
        columns=tuple(header),
        rows=rows,
        ignored_columns=ignored,
        rejected_keys=keys,
        incomplete=tuple(incomplete),
    )


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

    unit_type_text = _clean(values.get("unit_type")).lower()
    try:
        unit_type = UnitType(unit_type_text)
    except ValueError:
        return f"unknown unit_type {unit_type_text!r} (central, province, vendor)"

    unit_code = _clean(values.get("unit_code"))
    if not unit_code:
        return "unit_code is empty"
    if not _CODE.match(unit_code):
        return f"unit_code {unit_code!r} may contain only letters, digits, '.', '_' and '-'"

    status_text = _clean(values.get("status")).lower()
    try:
        status = Status(status_text)
    except ValueError:
        allowed = ", ".join(s.value for s in Status)
        return f"unknown status {status_text!r} ({allowed})"

    role: Role | None = None
    role_text = _clean(values.get("role")).lower()
    if role_text:
        try:
            role = Role(role_text)
        except ValueError:
            return f"unknown role {role_text!r} (user, admin)"
        if role is Role.ADMIN and unit_type is not UnitType.PROVINCE:
            return "role=admin is only for unit_type=province"

    email = _clean(values.get("email")) or None
    if email is not None and (len(email) > MAX_TEXT or not _EMAIL.match(email)):
        return f"email {email!r} is not an e-mail address"

    work_field = _clean(values.get("field")) or None
    if work_field is not None and (len(work_field) > MAX_TEXT or _bad_chars(work_field)):
        return "field is too long or contains control characters"

    return Person(
        employee_id=employee_id,
        full_name=full_name,
        family_name=words[0],
        given_name=words[-1],
        unit_type=unit_type,
        unit_code=unit_code,
        status=status,
        line=line,
        email=email,
        role=role,
        field=work_field,
    )

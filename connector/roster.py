"""The roster (SPEC §3): read the HR CSV, validate each row, never guess.

A row that fails validation is rejected with its line number and reason; the
planner then leaves that employee's account exactly as it is. An unreadable
file raises :class:`RosterUnreadable` (exit 2) before anything is planned.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from connector.errors import RosterUnreadable
from connector.model import Person, Rejected, Role, Status, UnitType, id_key

REQUIRED_COLUMNS = ("employee_id", "full_name", "unit_type", "unit_code", "status")
OPTIONAL_COLUMNS = ("email", "role", "field")
KNOWN_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

_ID = re.compile(r"^[^\W][\w.-]*$")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_EMAIL = re.compile(r"^[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\"]+$")
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

    @property
    def empty(self) -> bool:
        return self.rows == 0


def read_roster(path: Path | str) -> RosterResult:
    """Read and validate a roster file; raise RosterUnreadable if it cannot be used."""
    file = Path(path)
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise RosterUnreadable(f"roster not found: {file}") from None
    except IsADirectoryError:
        raise RosterUnreadable(f"roster is a directory, not a file: {file}") from None
    except OSError as exc:
        raise RosterUnreadable(f"roster cannot be read: {file}: {exc.strerror}") from None
    return parse_roster(data, source=str(file))


def parse_roster(data: bytes, source: str = "roster") -> RosterResult:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RosterUnreadable(
            f"{source} is not UTF-8 (invalid byte at offset {exc.start})"
        ) from None
    if not text.strip():
        raise RosterUnreadable(f"{source} has no header row (the file is empty)")
    reader = csv.reader(io.StringIO(text, newline=""), strict=False)
    try:
        header_row = next(reader)
    except csv.Error as exc:
        raise RosterUnreadable(f"{source}: header cannot be parsed: {exc}") from None
    header = [unicodedata.normalize("NFC", name).strip().lower() for name in header_row]
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

    parsed: list[tuple[int, str | None, Person | str]] = []
    rows = 0
    line = reader.line_num + 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            rows += 1
            parsed.append((line, None, f"unparseable CSV: {exc}"))
            line = reader.line_num + 1
            continue
        start, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in record):
            continue  # blank line
        rows += 1
        raw_id = record[header.index("employee_id")].strip() if len(record) > header.index(
            "employee_id"
        ) else ""
        raw_id = unicodedata.normalize("NFC", raw_id)
        if len(record) != len(header):
            parsed.append(
                (start, raw_id or None,
                 f"has {len(record)} fields, the header has {len(header)}")
            )
            continue
        values = dict(zip(header, record, strict=True))
        parsed.append((start, raw_id or None, _person(values, start)))

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
    )


def _clean(value: str | None) -> str:
    return unicodedata.normalize("NFC", value or "").strip()


def _bad_chars(value: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cs") for c in value)


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

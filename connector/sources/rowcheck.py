"""One roster row judged (SPEC §3, §15): a ``Person``, or the reason it is rejected.

Never a guess: an unknown status or unit type, an id that is not ASCII, a control or
bidirectional character in a name, a date that is no date: each is a rejected row.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import unicodedata
from functools import lru_cache

from connector.core.model import EMPLOYEE_ID, Person, Role, Status, UnitType
from connector.core.vietnamese import canonical_value

MAX_ID = 64
MAX_TEXT = 256
UNIT_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: RFC 5322 dot-atom local part (no quoted forms, no parentheses) @ a dotted domain name
_EMAIL = re.compile(r"^[\w!#$%&'*+/=?^`{|}~-]+(?:\.[\w!#$%&'*+/=?^`{|}~-]+)*"
                    r"@[^\W_](?:[\w-]*[^\W_])?(?:\.[^\W_](?:[\w-]*[^\W_])?)+$")


def clean(value: str | None) -> str:
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


def person_of(values: dict[str, str], line: int) -> Person | str:
    """Validate one row: a Person, or the reason it is rejected."""
    employee_id = clean(values.get("employee_id"))
    if not employee_id:
        return "employee_id is empty"
    if len(employee_id) > MAX_ID or not EMPLOYEE_ID.match(employee_id):
        return ("employee_id may contain only ASCII letters, digits, '.', '_' and '-' (64 at "
                "most): a look-alike (a fullwidth digit) would name another person's entry")

    full_name = clean(values.get("full_name"))
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

    email = clean(values.get("email")) or None
    if email is not None and (len(email) > MAX_TEXT or not _EMAIL.match(email)):
        return f"email {email!r} is not an e-mail address"

    work_field = clean(values.get("field")) or None
    if work_field is not None and (len(work_field) > MAX_TEXT or _bad_chars(work_field)):
        return "field is too long or contains control characters"

    dates: dict[str, str | None] = {}
    for column in ("start_date", "end_date"):
        if column in values:
            parsed = parse_date(clean(values[column]))
            if parsed is None:
                return (f"{column} {clean(values[column])!r} is not a date "
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
    unit_type_text = canonical_value("unit_type", clean(unit_type_cell))
    try:
        unit_type = UnitType(unit_type_text)
    except ValueError:
        return f"unknown unit_type {unit_type_text!r} (central, province, vendor)"

    unit_code = clean(unit_code_cell)
    if not unit_code:
        return "unit_code is empty"
    if not UNIT_CODE.match(unit_code):
        return f"unit_code {unit_code!r} may contain only letters, digits, '.', '_' and '-'"

    status_text = canonical_value("status", clean(status_cell))
    try:
        status = Status(status_text)
    except ValueError:
        allowed = ", ".join(s.value for s in Status)
        return f"unknown status {status_text!r} ({allowed})"

    role: Role | None = None
    role_text = canonical_value("role", clean(role_cell))
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

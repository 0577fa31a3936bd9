"""How a lock's reason and clause are written on the entry itself.

One ``description`` value, readable with a plain ``ldapsearch`` and needing no
schema beyond inetOrgPerson and ppolicy:

    description: bhxh-lock:6.2.3:violation at=20261125T134301Z by=cn=connector-bte,... note=…

The ``bhxh-lock:<clause>:`` prefix has no spaces, so the delegation ACLs can
match it (``filter=(description=bhxh-lock:6.3:*)`` protects a security hold).
The account's other ``description`` values are never touched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

PREFIX = "bhxh-lock:"
NO_CLAUSE = "-"
_TAIL = re.compile(
    r"^(?:at=(?P<at>\S+)\s*)?(?:by=(?P<by>.*?)(?=\s+note=|$)\s*)?(?:note=(?P<note>.*))?$", re.S
)


@dataclass(frozen=True)
class LockRecord:
    reason: str
    clause: str | None
    at: str | None = None
    by: str | None = None
    note: str | None = None

    def format(self) -> str:
        parts = [f"{PREFIX}{self.clause or NO_CLAUSE}:{self.reason}"]
        if self.at:
            parts.append(f"at={self.at}")
        if self.by:
            parts.append(f"by={self.by}")
        if self.note:
            parts.append("note=" + " ".join(self.note.split()))
        return " ".join(parts)


def is_lock_value(value: str) -> bool:
    return value.strip().lower().startswith(PREFIX)


def parse(value: str) -> LockRecord | None:
    """The lock record in one description value, or None if it is not one."""
    text = value.strip()
    if not is_lock_value(text):
        return None
    head, _, tail = text.partition(" ")
    fields = head[len(PREFIX):].split(":", 1)
    clause = fields[0] if fields[0] and fields[0] != NO_CLAUSE else None
    reason = fields[1] if len(fields) > 1 and fields[1] else "unknown"
    match = _TAIL.match(tail.strip())
    if match is None:
        return LockRecord(reason, clause)
    return LockRecord(reason, clause, match["at"], match["by"] or None, match["note"])


def find(values: Iterable[str]) -> tuple[LockRecord | None, tuple[str, ...]]:
    """The (first) lock record among an entry's descriptions, and every lock value."""
    raw = tuple(v for v in values if is_lock_value(v))
    return (parse(raw[0]) if raw else None), raw

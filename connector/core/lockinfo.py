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


#: how strong a recorded clause is when an entry carries more than one record (a hold
#: placed by hand while a run relabelled it): the strongest is the one that counts
_STRENGTH = {"6.3": 4, "6.2.3": 3, "6.2.2": 2}


def find(values: Iterable[str]) -> tuple[LockRecord | None, tuple[str, ...]]:
    """The strongest lock record among an entry's descriptions (a 6.3 hold first, then
    the other sticky clauses, else the first), and every lock value as it is written:
    the exact values an unlock or relabel must remove (SPEC §15)."""
    raw = tuple(v for v in values if is_lock_value(v))
    if not raw:
        return None, raw
    records = [record for value in raw if (record := parse(value)) is not None]
    best = max(records, key=lambda r: _STRENGTH.get(r.clause or "", 0))
    return best, raw

"""Duplicate ids and the rows a province set aside: the two judgements that need the
whole roster (or the directory) before a row can be believed."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import replace
from operator import itemgetter

from connector.core.actions import Unchecked
from connector.core.model import Person, Rejected, id_key
from connector.core.results import RosterResult
from connector.sources.rowcheck import person_of

#: one parsed row: its first line, its id (None: none could be read), its outcome
Parsed = tuple[int, str | None, Person | str]
#: an unchecked row's employee_id (its first field), for ``map``
_ID = itemgetter(0)


def settle(roster: RosterResult, keys: AbstractSet[str]) -> RosterResult:
    """The roster with its unchecked rows whose ids are in ``keys`` (this scope's
    accounts, former accounts) validated in full, as if they had never been set aside:
    a damaged row elsewhere must not read as a transfer of someone here."""
    if not keys or not roster.unchecked:
        return roster
    fold = str.casefold  # id_key, without a call per row: ~90,000 rows for a province
    if keys.isdisjoint(map(fold, map(_ID, roster.unchecked))):  # all in C: the usual case
        return roster
    mine = [row for row in roster.unchecked if fold(row[0]) in keys]
    header = list(roster.columns)
    people, rejected = list(roster.people), list(roster.rejected)
    for row in mine:
        outcome = person_of(dict(zip(header, row.cells, strict=True)), row.line)
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


def resolve_duplicates(parsed: list[Parsed], unchecked: list[Unchecked]
                        ) -> tuple[list[Person], list[Rejected], list[Unchecked]]:
    """Every row of an employee_id that appears twice is rejected (case-insensitively),
    also where one of the rows was set aside as another scope's."""
    first: dict[str, int] = {}
    repeated: dict[str, list[int]] = {}  # only ids seen twice get a list
    seen = first.setdefault
    for start, row_id, _ in parsed:  # a look-alike id is no duplicate of a real one
        if row_id and row_id.isascii() and seen(key := id_key(row_id), start) != start:
            repeated.setdefault(key, [first[key]]).append(start)
    fold = str.casefold  # id_key without a call per row: ~90,000 set-aside rows
    folded = set(map(fold, map(_ID, unchecked)))
    if len(folded) < len(unchecked) or not folded.isdisjoint(first):  # else: none twice
        for row in unchecked:
            line = row[1]
            if seen(key := fold(row[0]), line) != line:
                repeated.setdefault(key, [first[key]]).append(line)
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

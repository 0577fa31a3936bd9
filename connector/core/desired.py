"""What the roster says a person's entry should be: its attribute values, the dates
ppolicy enforces at bind time, the status on the run's day (SPEC §3), and how the
values an entry holds compare with them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import replace
from zoneinfo import ZoneInfo

from connector.core.model import Person, Status

DEFAULT_ZONE = "Asia/Ho_Chi_Minh"


def local_midnight(day: str, zone: str, days_after: int = 0) -> str:
    """00:00 local of ``day`` (+ ``days_after``) as LDAP generalized time in UTC."""
    moment = dt.datetime.combine(dt.date.fromisoformat(day) + dt.timedelta(days=days_after),
                                 dt.time(0), tzinfo=ZoneInfo(zone))
    return moment.astimezone(dt.UTC).strftime("%Y%m%d%H%M%SZ")


def desired_values(person: Person, unit_code: str, zone: str = DEFAULT_ZONE) -> dict[str, str]:
    """The person's entry as the roster describes it; "not given" fields are absent."""
    values = {
        "uid": person.employee_id,
        "employeeNumber": person.employee_id,
        "cn": person.full_name,
        "displayName": person.full_name,
        "sn": person.family_name,
        "givenName": person.given_name,
        "employeeType": person.unit_type.value,
        "departmentNumber": unit_code,
    }
    if person.email is not None:
        values["mail"] = person.email
    if person.field is not None:
        values["businessCategory"] = person.field
    if person.start_date:  # the first working day, from its first minute
        values["pwdStartTime"] = local_midnight(person.start_date, zone)
    if person.end_date:  # the last working day, to its last minute
        values["pwdEndTime"] = local_midnight(person.end_date, zone, days_after=1)
    return values


def effective(person: Person, today: dt.date | None) -> Person:
    """Once ``end_date`` has passed the person has left, whatever the status says."""
    if person.end_date and today is not None and dt.date.fromisoformat(person.end_date) < today:
        return replace(person, status=Status.TERMINATED)
    return person


def differs(name: str, current: str | None, wanted: str) -> bool:
    """Whether an attribute needs rewriting; ids compare as LDAP compares ``uid``."""
    if name == "uid":
        return False  # the RDN: never rewritten by a modify
    if name == "employeeNumber":
        return current is None or current.casefold() != wanted.casefold()
    return current != wanted


def moved_field_or_unit(current: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    """Art. 6 §2.2: a new field of work or unit for an existing account is a transfer.

    Only a value the directory already holds counts: filling in a blank is an update.
    """
    for name in ("departmentNumber", "businessCategory"):
        old, new = current.get(name), wanted.get(name)
        if old is not None and new is not None and old.casefold() != new.casefold():
            return True
    return False


def replaced_values(values: Mapping[str, str],
         changes: tuple[tuple[str, str | None], ...]) -> tuple[tuple[str, str | None], ...]:
    """The values an update replaces (SPEC §13's ``before``)."""
    return tuple((name, values.get(name)) for name, _ in changes)

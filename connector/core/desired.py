"""What the roster says a person's entry should be: its attribute values, the dates
ppolicy enforces at bind time, and the status on the run's day (SPEC §3)."""

from __future__ import annotations

import datetime as dt
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

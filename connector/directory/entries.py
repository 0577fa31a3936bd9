"""Entries and the model, both ways, the same for every backend: an action as the
modifications or the attributes it sends, and a raw entry as an ``Account`` or a
province's ``Group``.

How a lock is stored (SPEC §2): ``pwdAccountLockedTime: 000001010000Z`` (the
ppolicy overlay refuses binds while it is present) plus one ``description`` value
``bhxh-lock:<clause>:<reason> at=… by=… note=…`` (``core.lockinfo``) that says why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from connector.core import lockinfo
from connector.core.actions import LOCKED_TIME, PERSON_ATTRIBUTES, Action, Kind
from connector.core.model import Account, Group, Layout, Scope, parent_dn

#: (operation, attribute, values): "replace" with no values removes the attribute.
Modification = tuple[str, str, tuple[str, ...]]
#: One entry as a backend returns it: DN and attribute values as text.
RawEntry = tuple[str, dict[str, list[str]]]
#: Kinds whose modification depends on the lock values the entry holds.
LOCK_KINDS = frozenset({Kind.LOCK, Kind.RELABEL, Kind.UNLOCK})

LOCKED_VALUE = LOCKED_TIME
PERSON_CLASSES = ("top", "person", "organizationalPerson", "inetOrgPerson")
SNAPSHOT_ATTRIBUTES = (*PERSON_ATTRIBUTES, "pwdAccountLockedTime", "description")



def modifications(action: Action, actor: str, now: str) -> list[Modification]:
    """What an action changes on its entry, independent of the backend.

    A lock, relabel or unlock deletes exactly the ``bhxh-lock:`` values the planner saw
    (``action.lock_values``) in the same modify as the rest: if one of them is gone
    (a hold relabelled meanwhile), slapd refuses the whole modify (noSuchAttribute)
    and nothing changes: never a hold lifted by a run that did not see it (SPEC §15).
    """
    lock_values = action.lock_values
    if action.kind is Kind.UPDATE:
        return [("replace", name, (value,) if value is not None else ())
                for name, value in action.changes]
    if action.restore:
        # only the attribute: the record stays as it is (a province may put back a 6.3
        # hold it may not rewrite); "add" fails if someone locked it meanwhile
        return [("add", "pwdAccountLockedTime", (LOCKED_VALUE,))]
    if action.kind in LOCK_KINDS:
        mods: list[Modification] = []
        if action.kind is Kind.LOCK:
            mods.append(("replace", "pwdAccountLockedTime", (LOCKED_VALUE,)))
        elif action.kind is Kind.UNLOCK and not action.lift_only:
            mods.append(("replace", "pwdAccountLockedTime", ()))
        if lock_values:
            mods.append(("delete", "description", tuple(lock_values)))
        if action.kind is not Kind.UNLOCK:
            record = lockinfo.LockRecord(action.reason, action.clause, now, actor, action.note)
            mods.append(("add", "description", (record.format(),)))
        return mods
    if action.kind is Kind.GROUP_ADD:
        return [("add", "member", (action.member or "",))]
    if action.kind is Kind.GROUP_REMOVE:
        return [("delete", "member", (action.member or "",))]
    raise ValueError(f"{action.kind} is not a modification")


def create_attributes(action: Action) -> dict[str, list[str]]:
    attributes = {name: [value] for name, value in action.changes if value is not None}
    attributes["objectClass"] = list(PERSON_CLASSES)
    return attributes


#: the name of each person attribute as the server may spell it → as the plan spells it
_PERSON_NAMES = {name: name for name in PERSON_ATTRIBUTES} | {
    name.lower(): name for name in PERSON_ATTRIBUTES}


def account_from_values(dn: str, values: Mapping[str, list[str]]) -> Account:
    """Build an Account from attribute values (case-insensitive names). One pass over
    the entry's attributes: it runs once per account of a snapshot."""
    person: dict[str, str] = {}
    descriptions: list[str] | None = None
    attribute = False
    for name, vals in values.items():
        known = _PERSON_NAMES.get(name) or _PERSON_NAMES.get(name.lower())
        if known is not None:
            if vals:
                person[known] = vals[0] if len(vals) == 1 else "\n".join(vals)
            continue
        lowered = name.lower()
        if lowered == "description":
            descriptions = vals
        elif lowered == "pwdaccountlockedtime":
            attribute = bool(vals)
    employee_id = person.get("uid") or person.get("employeeNumber") or \
        dn.split(",", 1)[0].split("=", 1)[-1]
    record, raw = lockinfo.find(descriptions) if descriptions else (None, ())
    return Account(
        dn=dn,
        employee_id=employee_id.split("\n")[0],
        container=parent_dn(dn),
        values=person,
        locked=attribute or record is not None,
        lock_reason=record.reason if record else None,
        lock_clause=record.clause if record else None,
        lock_lost=record is not None and not attribute,
        lock_values=raw,
    )


def with_own_province(provinces: frozenset[str], scope: Scope) -> frozenset[str]:
    """A province always knows its own code, even if it may not list ou=provinces."""
    if scope.code is None or scope.code.casefold() in {p.casefold() for p in provinces}:
        return provinces
    return provinces | {scope.code}


def province_groups(layout: Layout, provinces: frozenset[str],
                    entries: Iterable[RawEntry]) -> dict[str, Group]:
    """``cn=province-admins-<CODE>`` entries keyed by the directory's own province code."""
    known = {code.casefold(): code for code in provinces}
    prefix = layout.province_group.split("=", 1)[1].split("{code}", 1)[0].lower()
    groups: dict[str, Group] = {}
    for dn, values in entries:
        name = (values.get("cn") or [""])[0]
        if name.lower().startswith(prefix) and name[len(prefix):].casefold() in known:
            code = known[name[len(prefix):].casefold()]
            groups[code] = Group(dn, code, frozenset(values.get("member", [])))
    return groups



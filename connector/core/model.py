"""Value types shared by every layer: roster people, directory accounts, scope, layout.

Everything here is immutable and free of I/O, so the planner can be tested
exhaustively without a server.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from functools import lru_cache
from typing import Any


class UnitType(StrEnum):
    CENTRAL = "central"
    PROVINCE = "province"
    VENDOR = "vendor"


class Role(StrEnum):
    USER = "user"
    ADMIN = "admin"


class Status(StrEnum):
    ACTIVE = "active"
    MATERNITY_LEAVE = "maternity_leave"
    SICK_LEAVE = "sick_leave"
    UNPAID_LEAVE = "unpaid_leave"
    TERMINATED = "terminated"
    TRANSFERRED = "transferred"
    VIOLATION = "violation"


@dataclass(frozen=True, slots=True, init=False)
class Person:
    """One valid roster row. ``None`` in an optional field means "not given"."""

    employee_id: str
    full_name: str
    family_name: str
    given_name: str
    unit_type: UnitType
    unit_code: str
    status: Status
    line: int
    email: str | None = None
    role: Role | None = None
    field: str | None = None
    #: first and last working day as ISO dates; None: the column is absent (keep what
    #: the directory holds), "": the cell is empty (remove it)
    start_date: str | None = None
    end_date: str | None = None

    def __init__(self, employee_id: str, full_name: str, family_name: str, given_name: str,
                 unit_type: UnitType, unit_code: str, status: Status, line: int,
                 email: str | None = None, role: Role | None = None, field: str | None = None,
                 start_date: str | None = None, end_date: str | None = None) -> None:
        # one Person per roster row: each slot set through its descriptor, 2-3x faster
        # than the generated frozen __init__ (object.__setattr__ per field)
        (set_id, set_name, set_family, set_given, set_type, set_code, set_status, set_line,
         set_email, set_role, set_field, set_start, set_end) = _PERSON_SLOTS
        set_id(self, employee_id)
        set_name(self, full_name)
        set_family(self, family_name)
        set_given(self, given_name)
        set_type(self, unit_type)
        set_code(self, unit_code)
        set_status(self, status)
        set_line(self, line)
        set_email(self, email)
        set_role(self, role)
        set_field(self, field)
        set_start(self, start_date)
        set_end(self, end_date)

    @property
    def key(self) -> str:
        return id_key(self.employee_id)


@dataclass(frozen=True)
class KnownUnits:
    """The unit codes (case-folded) the IT Centre knows besides the directory's
    provinces: a units file's, with the codes they absorbed. ``None`` for central or
    vendors: no list to check against (the directory keeps none), any code goes."""

    provinces: frozenset[str] = frozenset()
    central: frozenset[str] | None = None
    vendors: frozenset[str] | None = None


@dataclass(frozen=True)
class Rejected:
    """A roster row that failed validation; its account is never touched."""

    line: int
    employee_id: str | None
    reason: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True, init=False)
class Account:
    """A person entry as read from a managed OU (only the attributes the plan needs)."""

    dn: str
    employee_id: str
    container: str
    values: Mapping[str, str] = field(default_factory=dict)
    #: ``pwdAccountLockedTime`` is set, or the entry carries the connector's lock
    #: record: the record is the truth (SPEC §2)
    locked: bool = False
    lock_reason: str | None = None
    lock_clause: str | None = None
    #: the lock record is there but ``pwdAccountLockedTime`` is gone: a password
    #: change outside the connector lifted the lock (ppolicy does that)
    lock_lost: bool = False
    #: the entry's ``bhxh-lock:`` description values exactly as read: an unlock or a
    #: relabel removes these and no other, so that a record changed meanwhile makes it
    #: fail instead of being lifted with it (SPEC §15)
    lock_values: tuple[str, ...] = ()

    def __init__(self, dn: str, employee_id: str, container: str,
                 values: Mapping[str, str] | None = None, locked: bool = False,
                 lock_reason: str | None = None, lock_clause: str | None = None,
                 lock_lost: bool = False, lock_values: tuple[str, ...] = ()) -> None:
        # one Account per entry of a snapshot: as Person's
        (set_dn, set_id, set_container, set_values, set_locked, set_reason, set_clause,
         set_lost, set_lock_values) = _ACCOUNT_SLOTS
        set_dn(self, dn)
        set_id(self, employee_id)
        set_container(self, container)
        set_values(self, {} if values is None else values)
        set_locked(self, locked)
        set_reason(self, lock_reason)
        set_clause(self, lock_clause)
        set_lost(self, lock_lost)
        set_lock_values(self, lock_values)

    @property
    def key(self) -> str:
        return id_key(self.employee_id)


def _slot_setters(cls: type) -> tuple[Any, ...]:
    """The ``__set__`` of each field's slot, in field order (what the fast ``__init__``
    of a frozen slots dataclass sets; a test holds them to the fields)."""
    return tuple(cls.__dict__[f.name].__set__ for f in fields(cls))


_PERSON_SLOTS = _slot_setters(Person)
_ACCOUNT_SLOTS = _slot_setters(Account)


@dataclass(frozen=True)
class Group:
    dn: str
    code: str
    members: frozenset[str]


@dataclass(frozen=True)
class Snapshot:
    """What one run read from the directory: the scope's managed part, nothing more."""

    accounts: tuple[Account, ...]
    groups: Mapping[str, Group] = field(default_factory=dict)
    provinces: frozenset[str] = frozenset()
    #: preferred containers (normalised DNs) known to be absent from the directory
    missing: frozenset[str] = frozenset()
    #: a province scope's view of its own ``ou=admins`` (id keys, read only): a row whose
    #: ``role`` is not given for someone with an admin account there is that admin
    admin_keys: frozenset[str] = frozenset()
    #: a province scope's view of the ``ou=people`` of the provinces it absorbed (id keys,
    #: read only): those people's accounts are moved by ``reorganize``, never re-issued
    former_keys: frozenset[str] = frozenset()

    @property
    def account_keys(self) -> frozenset[str]:
        """The ids with an account here, or in a province this scope absorbed: the rows
        that concern this scope, whatever unit they name."""
        return frozenset(a.key for a in self.accounts) | self.former_keys


@dataclass(frozen=True)
class Scope:
    """``it-centre`` or ``province:<CODE>`` (Art. 6 §1.1 and §1.2)."""

    kind: str
    code: str | None = None

    @classmethod
    def parse(cls, text: str) -> Scope:
        value = text.strip()
        if value == "it-centre":
            return cls("it-centre")
        if value.startswith("province:"):
            code = value.split(":", 1)[1].strip()
            if code and is_safe_code(code):
                return cls("province", code.upper())
        raise ValueError(f"scope must be 'it-centre' or 'province:<CODE>', got {text!r}")

    @property
    def is_it_centre(self) -> bool:
        return self.kind == "it-centre"

    def __str__(self) -> str:
        return "it-centre" if self.is_it_centre else f"province:{self.code}"


@dataclass(frozen=True)
class Layout:
    """Where things live in the DIT (SPEC §2); every container is configurable."""

    base_dn: str = "dc=bhxh,dc=gov,dc=vn"
    central: str = "ou=people,ou=central"
    vendors: str = "ou=people,ou=vendors"
    provinces: str = "ou=provinces"
    province_people: str = "ou=people,ou={code}"
    province_admins: str = "ou=admins,ou={code}"
    groups: str = "ou=groups"
    system: str = "ou=system"
    policies: str = "ou=policies"
    it_centre_group: str = "cn=it-centre-admins"
    province_group: str = "cn=province-admins-{code}"

    def _abs(self, rel: str) -> str:
        return f"{rel},{self.base_dn}"

    @property
    def central_dn(self) -> str:
        return self._abs(self.central)

    @property
    def vendors_dn(self) -> str:
        return self._abs(self.vendors)

    @property
    def central_area_dn(self) -> str:
        """The top of the central staff's subtree (``ou=central``): read and written whole,
        so accounts placed directly under it are seen too."""
        return self._abs(self.central.split(",")[-1].strip())

    @property
    def vendors_area_dn(self) -> str:
        return self._abs(self.vendors.split(",")[-1].strip())

    @property
    def provinces_dn(self) -> str:
        return self._abs(self.provinces)

    def province_dn(self, code: str) -> str:
        return f"ou={code},{self.provinces_dn}"

    def people_dn(self, code: str) -> str:
        return f"{self.province_people.format(code=code)},{self.provinces_dn}"

    def admins_dn(self, code: str) -> str:
        return f"{self.province_admins.format(code=code)},{self.provinces_dn}"

    @property
    def groups_dn(self) -> str:
        return self._abs(self.groups)

    @property
    def system_dn(self) -> str:
        return self._abs(self.system)

    @property
    def policies_dn(self) -> str:
        return self._abs(self.policies)

    @property
    def default_policy_dn(self) -> str:
        return f"cn=default,{self.policies_dn}"

    @property
    def it_centre_group_dn(self) -> str:
        return f"{self.it_centre_group},{self.groups_dn}"

    def province_group_dn(self, code: str) -> str:
        return f"{self.province_group.format(code=code)},{self.groups_dn}"


#: an employee_id (SPEC §3, §15): ASCII letters, digits, ``.``, ``_``, ``-`` only; slapd
#: folds look-alikes (a fullwidth ``０``) onto ASCII when it matches ``uid``, so
#: anything else could name another person's entry
EMPLOYEE_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def id_key(employee_id: str) -> str:
    """LDAP matches ``uid`` case-insensitively, so ids are compared the same way."""
    return employee_id.casefold()


@lru_cache(maxsize=1 << 17)
def dn_key(dn: str) -> str:
    """A comparable form of a DN: lower case, no spaces around unescaped separators.

    Good enough for the DNs this connector builds and reads back (case-insensitive
    ``ou``/``uid``/``cn`` values); it does not decode hex escapes.
    """
    if " " not in dn and "\\" not in dn:  # nearly every DN: nothing to strip or unescape
        return dn.lower()
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in dn:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char in ",+":
            parts.append("".join(current).strip() + char)
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return "".join(part.replace(" = ", "=").replace("= ", "=").replace(" =", "=")
                   for part in parts).lower()


def parent_dn(dn: str) -> str:
    """The DN without its first RDN (escape-aware)."""
    if "\\" not in dn:  # no escapes: the first comma ends the RDN
        comma = dn.find(",")
        return sys.intern(dn[comma + 1:].strip()) if comma >= 0 else ""
    escaped = False
    for index, char in enumerate(dn):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            return dn[index + 1 :].strip()
    return ""


def is_safe_code(code: str) -> bool:
    """Codes become RDN values and ACL regex parts: keep them to a tame alphabet."""
    return bool(code) and len(code) <= 32 and all(c.isascii() and (c.isalnum() or c in "_-")
                                                   for c in code)

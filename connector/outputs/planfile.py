"""Plan files (SPEC §9): a plan written for review, read back for ``connector apply``.

One JSON document, ``format: connector-plan/1``, validated on the way in by a
pydantic model (never by hand): a plan that does not fit it is malformed.
Written atomically (temporary file, rename), mode 0600.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connector.core.actions import Action, Kind
from connector.core.plancheck import PLAN_FORMAT, Seen
from connector.errors import ConfigError
from connector.outputs.files import write_atomically

FORMAT = PLAN_FORMAT


class Expect(BaseModel):
    """What the planner saw of the entry an action touches."""

    model_config = ConfigDict(extra="forbid")
    exists: bool
    locked: bool = False
    lock_reason: str | None = None
    lock_clause: str | None = None
    #: old values of the attributes the action changes (None: absent)
    values: dict[str, str | None] = Field(default_factory=dict)
    #: group actions: whether the member was in the group
    member_present: bool | None = None
    #: the entry's ``bhxh-lock:`` values: what an unlock or relabel removes, exactly
    lock_values: list[str] = Field(default_factory=list)

    def seen(self) -> Seen:
        return Seen(self.exists, self.locked, self.lock_clause, self.lock_reason,
                    tuple(self.lock_values))


class PlannedAction(BaseModel):
    model_config = ConfigDict(extra="ignore")
    action: Kind
    employee_id: str | None
    dn: str
    reason: str
    clause: str | None
    changes: dict[str, str | None] | None
    member: str | None
    note: str | None
    restore: bool = False
    #: a revert plan's action: the run it undoes (SPEC §13)
    reverts: str | None = None
    expect: Expect

    def to_action(self) -> Action:
        changes = tuple((self.changes or {}).items())
        return Action(self.action, self.dn, self.reason, employee_id=self.employee_id,
                      clause=self.clause, changes=changes, member=self.member, note=self.note,
                      restore=self.restore, lock_values=tuple(self.expect.lock_values),
                      before=tuple((name, self.expect.values.get(name)) for name, _ in changes)
                      if self.action is Kind.UPDATE else (), reverts=self.reverts)


class RosterInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str
    sha256: str
    rows: int


class UnitInfo(BaseModel):
    """One unit's counts as the planner saw them (the vanished-unit rule in ``apply``)."""

    model_config = ConfigDict(extra="forbid")
    unit: str
    accounts: int
    orphans: int
    orphan_locks: int


class PlanFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["connector-plan/1"]
    plan_id: str = Field(min_length=1)
    created: str
    scope: str
    base_dn: str
    actor: str
    roster: RosterInfo
    summary: dict[str, Any]
    units: list[UnitInfo] = Field(default_factory=list)
    #: a revert plan (SPEC §13): the run it undoes
    reverts: str | None = None
    actions: list[PlannedAction]


def plan_bytes(document: dict[str, Any]) -> bytes:
    """The file's exact bytes: what its digest (SPEC §15) is taken of. The header
    indented, then one action per line: readable, greppable, and written by the C
    encoder (an indented dump of 10,000 actions is pure Python, 0.15 s)."""
    head = {key: value for key, value in document.items() if key != "actions"}
    text = json.dumps(head, ensure_ascii=False, indent=1)
    actions = document.get("actions") or []
    body = ",\n  ".join([json.dumps(action, ensure_ascii=False) for action in actions])
    listed = f"[\n  {body}\n ]" if actions else "[]"
    return (f'{text[:-2]},\n "actions": {listed}\n}}\n' if head else
            f'{{\n "actions": {listed}\n}}\n').encode("utf-8")


def write_plan(path: Path, data: bytes) -> Path:
    return write_atomically(path, data)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_plan(path: Path) -> tuple[PlanFile, str]:
    """The plan file, validated, and the SHA-256 of its bytes; ConfigError (exit 2)
    naming what is wrong otherwise."""
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the plan file {path}: {exc}") from None
    try:
        return PlanFile.model_validate_json(text), digest(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(document)"
        raise ConfigError(f"{path} is not a valid plan file ({FORMAT}): {where}: "
                          f"{first['msg']} ({exc.error_count()} problem(s))") from None

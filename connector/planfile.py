"""Plan files (SPEC §9): a plan written for review, read back for ``connector apply``.

One JSON document, ``format: connector-plan/1``, validated on the way in by a
pydantic model (never by hand): a plan that does not fit it is malformed.
Written atomically (temporary file, rename), mode 0600.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connector.core.actions import Action, Kind
from connector.errors import ConfigError
from connector.sources.files import write_atomically

FORMAT = "connector-plan/1"


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
    expect: Expect

    def to_action(self) -> Action:
        return Action(self.action, self.dn, self.reason, employee_id=self.employee_id,
                      clause=self.clause, changes=tuple((self.changes or {}).items()),
                      member=self.member, note=self.note, restore=self.restore)


class RosterInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str
    sha256: str
    rows: int


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
    actions: list[PlannedAction]


def write_plan(path: Path, document: dict[str, Any]) -> Path:
    text = json.dumps(document, ensure_ascii=False, indent=1) + "\n"
    return write_atomically(path, text.encode("utf-8"))


def read_plan(path: Path) -> PlanFile:
    """The plan file, validated; ConfigError (exit 2) naming what is wrong otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the plan file {path}: {exc}") from None
    try:
        return PlanFile.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(document)"
        raise ConfigError(f"{path} is not a valid plan file ({FORMAT}): {where}: "
                          f"{first['msg']} ({exc.error_count()} problem(s))") from None

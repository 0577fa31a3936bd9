"""Plain values a run produces, shared by the service, the renderers and the tests."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from connector.core.actions import Action, Plan, Unchecked, row_json
from connector.core.model import Person, Rejected, Snapshot


class Encoded(str):
    """A lazy list already encoded as JSON text, one item per line (joined by
    ``",\n    "``): a streaming writer copies it as it is, between brackets."""

    __slots__ = ()


@dataclass(frozen=True)
class Outcome:
    """One action as it was applied: ``error`` is None when the server took it."""

    action: Action
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class RosterResult:
    people: tuple[Person, ...]
    rejected: tuple[Rejected, ...]
    columns: tuple[str, ...]
    rows: int
    ignored_columns: tuple[str, ...] = ()
    rejected_keys: frozenset[str] = field(default_factory=frozenset)
    #: why this file cannot be trusted to list everyone (empty: it can). While it is
    #: non-empty no account is locked as not_on_roster (SPEC §3).
    incomplete: tuple[str, ...] = ()
    #: rows set aside as plainly another scope's (read with a scope): not validated
    unchecked: tuple[Unchecked, ...] = ()

    @property
    def valid(self) -> int:
        """Rows not rejected: the valid ones and those set aside unjudged."""
        return len(self.people) + len(self.unchecked)

    @property
    def empty(self) -> bool:
        return self.rows == 0

    @property
    def complete(self) -> bool:
        return not self.incomplete


@dataclass
class RunResult:
    run_id: str
    scope: str
    actor: str
    dry_run: bool
    roster: RosterResult | None = None
    plan: Plan | None = None
    outcomes: list[Outcome] = field(default_factory=list)
    duration: float = 0.0
    exit_code: int = 0
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    #: how the daemon read the directory: "full", "incremental" (the entries changed
    #: since its last read) or "skipped" (nothing changed since a run with nothing to do)
    directory_read: str = "full"
    #: SPEC §11: initial passwords issued and sealed, accounts created without one
    #: (their unit names no recipient), and the sealed files (never the passwords)
    credentials_issued: int = 0
    credentials_withheld: dict[str, int] = field(default_factory=dict)
    credential_files: list[str] = field(default_factory=list)
    #: ``reconcile --only``: the ids asked for, and those neither on the roster nor in
    #: the managed OUs
    only: list[str] = field(default_factory=list)
    only_unknown: list[str] = field(default_factory=list)
    #: ``connector apply``: actions not sent because the entry is no longer as the
    #: planner saw it (id of the action → why)
    skipped: dict[int, str] = field(default_factory=dict)
    plan_id: str | None = None
    #: ``connector apply``: the plan file applied (its actions are listed by ``show``)
    plan_file: str | None = None
    #: the roster file the plan was made from and the SHA-256 of its bytes (reports)
    roster_path: str | None = None
    roster_sha256: str | None = None
    #: what the run read of the directory (reports name people off the roster by it)
    seen: Snapshot | None = field(default=None, repr=False)
    #: SPEC §12: audit lines the syslog collector has not taken (None: none is set)
    audit_lines_waiting: int | None = None
    #: SPEC §9: the plan a tripped guard saved for approval
    pending_plan: str | None = None
    #: SPEC §14: per unit issued credentials: code, unit_type, file, accounts (no password)
    credential_units: list[dict[str, object]] = field(default_factory=list)
    #: SPEC §14: messages waiting in the outbox after this run (None: none is set up)
    notifications_waiting: int | None = None

    @property
    def rejected(self) -> list[Rejected]:
        rows = list(self.roster.rejected) if self.roster else []
        if self.plan:
            rows += list(self.plan.rejected)
        if self.only:  # --only: the others' rows are not this run's business
            asked = {employee_id.casefold() for employee_id in self.only}
            rows = [r for r in rows if (r.employee_id or "").casefold() in asked]
        return sorted(rows, key=lambda r: r.line)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    def to_dict(self, lazy: bool = False) -> dict[str, object]:
        """The run as one JSON-ready document. ``lazy``: the long lists (actions,
        rejected and out-of-scope rows) are iterators, for a writer that streams them
        (100,000 rows would otherwise be held as dicts and as text at once)."""
        plan = self.plan
        errors = {id(o.action): o.error for o in self.outcomes}
        applied = {id(o.action) for o in self.outcomes}

        def action_items() -> Iterator[dict[str, object]]:
            for action in plan.actions if plan else ():
                item = action.to_dict()
                if self.dry_run:
                    item["outcome"] = "planned"
                elif id(action) in self.skipped:
                    item["outcome"] = "skipped"
                    item["error"] = self.skipped[id(action)]
                    yield item
                    continue
                elif id(action) in applied:
                    item["outcome"] = "failed" if errors[id(action)] else "ok"
                else:
                    item["outcome"] = "not_applied"
                item["error"] = errors.get(id(action))
                yield item

        def listed(items: Iterator[dict[str, object]]) -> Iterable[dict[str, object]]:
            return items if lazy else list(items)

        actions = listed(action_items())
        return {
            "run_id": self.run_id,
            "scope": self.scope,
            "actor": self.actor,
            "dry_run": self.dry_run,
            "exit_code": self.exit_code,
            "error": self.error,
            "summary": {
                "roster_rows": self.roster.rows if self.roster else 0,
                "valid_rows": self.roster.valid if self.roster else 0,
                "rejected_rows": len(self.rejected),
                "out_of_scope_rows": len(plan.out_of_scope) if plan else 0,
                "not_active_without_account": plan.without_account if plan else 0,
                "managed_accounts": plan.managed if plan else 0,
                "planned": plan.counts() if plan else {},
                "planned_by_clause": plan.counts_by_clause() if plan else {},
                "applied": sum(1 for o in self.outcomes if o.ok),
                "failed": len(self.failed),
                "skipped": len(self.skipped),
                "held": len(plan.held) if plan else 0,
                "awaiting_reorganize": len(plan.awaiting) if plan else 0,
                "locks_restored": len(plan.restored) if plan else 0,
                "orphan_locks_suspended": bool(plan and plan.orphan_locks_suspended),
                "orphan_locks_suspended_reason": plan.orphan_locks_suspended if plan else None,
                "only": list(self.only),
                "only_unknown": list(self.only_unknown),
                "credentials_issued": self.credentials_issued,
                "credentials_withheld": sum(self.credentials_withheld.values()),
                "credentials_withheld_by_unit": dict(self.credentials_withheld),
                "credential_files": list(self.credential_files),
                "duration_seconds": round(self.duration, 3),
                "phase_seconds": {k: round(v, 3) for k, v in self.timings.items()},
                "directory_read": self.directory_read,
                "audit_lines_waiting": self.audit_lines_waiting,
                "notifications_waiting": self.notifications_waiting,
            },
            "actions": actions,
            "rejected": listed(r.to_dict() for r in self.rejected),
            # a province's ~90,000 rows: one text, each row encoded once, without a dict
            "out_of_scope": Encoded(",\n    ".join(map(row_json, plan.out_of_scope)))
            if lazy and plan else [row.to_dict() for row in (plan.out_of_scope if plan else ())],
            "held": [h.to_dict() for h in plan.held] if plan else [],
            "awaiting_reorganize": [a.to_dict() for a in plan.awaiting] if plan else [],
            "orphan_locks_suspended": bool(plan and plan.orphan_locks_suspended),
            "orphan_locks_suspended_reason": plan.orphan_locks_suspended if plan else None,
            "roster_incomplete": list(self.roster.incomplete) if self.roster else [],
        }


@dataclass
class ManualResult:
    run_id: str
    actions: list[Action]
    outcomes: list[Outcome]
    message: str

    @property
    def exit_code(self) -> int:
        return 1 if any(not o.ok for o in self.outcomes) else 0


@dataclass
class BootstrapResult:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    planned: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class ReorganizeResult:
    run_id: str
    dry_run: bool
    tree: BootstrapResult
    moves: list[Outcome] = field(default_factory=list)
    emptied: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.moves if not o.ok]

    def to_dict(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "created": self.tree.created or self.tree.planned,
            "moves": [{**o.action.to_dict(), "outcome": "planned" if self.dry_run else
                       ("ok" if o.ok else "failed"), "error": o.error} for o in self.moves],
            "emptied": self.emptied,
        }

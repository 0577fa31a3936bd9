"""``reconcile --only``: the part of a plan that concerns some employee_ids."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from connector.core.actions import Plan
from connector.core.model import Person, Snapshot


def restrict(plan: Plan, only: frozenset[str]) -> Plan:
    """The part of a plan that concerns these employee_ids (case-folded keys) and no one
    else: ``reconcile --only``. Orphan locks and group changes of others drop out; the
    vanished-unit counts are left out (a unit cannot vanish in a one-person sync)."""
    def mine(employee_id: str | None) -> bool:
        return employee_id is not None and employee_id.casefold() in only

    return replace(
        plan,
        actions=tuple(a for a in plan.actions if mine(a.employee_id)),
        out_of_scope=tuple(o for o in plan.out_of_scope if mine(o.employee_id)),
        held=tuple(h for h in plan.held if mine(h.employee_id)),
        rejected=tuple(r for r in plan.rejected if mine(r.employee_id)),
        awaiting=tuple(a for a in plan.awaiting if mine(a.employee_id)),
        units=(),
    )


def unknown_ids(only: Iterable[str], people: Iterable[Person], snapshot: Snapshot,
                rejected_keys: frozenset[str]) -> list[str]:
    """The ``--only`` ids that are neither on the roster (valid or rejected) nor the id
    of an account in the managed OUs."""
    known = {p.key for p in people} | {a.key for a in snapshot.accounts} | rejected_keys
    return [employee_id for employee_id in only if employee_id.casefold() not in known]

"""``connector revert RUN_ID`` (SPEC §13): the plan file that undoes a run, from its
applied audit lines and the directory as it is now. It writes no entry: the plan is
reviewed, then applied by ``connector apply`` under the guard like any plan. And the
other half: a roster whose run was reverted is not applied again by the next tick."""

from __future__ import annotations

import json
import mmap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loguru import logger

from connector.core.actions import Plan
from connector.core.model import dn_key
from connector.core.plancheck import PLAN_FORMAT
from connector.core.results import RunResult
from connector.core.revert import Done, State, Undoing, revert_plan, undoes
from connector.directory.base import Directory
from connector.errors import ConfigError
from connector.outputs.audit import lines_naming, now_iso
from connector.service.runid import new_run_id
from connector.settings import Settings


@dataclass
class Reverting:
    """A revert plan written: where, what it undoes, and what it could not."""

    path: Path
    result: RunResult
    left: list[str]


def run_lines(path: Path, run_id: str) -> list[dict[str, Any]]:
    """Every audit line of the run, in order."""
    return [fields for fields in lines_naming(path, json.dumps(run_id, ensure_ascii=False))
            if fields.get("run_id") == run_id]


def applied_changes(settings: Settings, run_id: str) -> tuple[list[Done], str]:
    """The run's applied changes (``dry_run: false``, ``outcome: ok``), for this scope;
    ConfigError (exit 2) for a run that is unknown, another scope's, a dry run or a run
    that wrote nothing. Also the SHA-256 of the roster the run was given."""
    lines = run_lines(settings.audit.path, run_id)
    where = settings.audit.path
    if not lines:
        raise ConfigError(f"the audit trail {where} has no run {run_id}: check the run_id "
                          "(the report and `--json` of the run show it); nothing was written")
    scope = str(settings.scope_value)
    scopes = {str(line.get("scope")) for line in lines}
    if scope not in scopes:
        raise ConfigError(f"run {run_id} is a run of {', '.join(sorted(scopes))}, not of "
                          f"{scope}: only its own scope reverts it; nothing was written")
    real = [line for line in lines if line.get("dry_run") is False
            and line.get("action") != "plan" and line.get("scope") == scope]
    if not real and any(line.get("dry_run") for line in lines):
        raise ConfigError(f"run {run_id} was a dry run: it changed nothing to revert")
    done = [Done.of(line) for line in real if line.get("outcome") == "ok"]
    if not done:
        raise ConfigError(f"run {run_id} wrote nothing to the directory: nothing to revert")
    roster = next((str(line["roster_sha256"]) for line in real if line.get("roster_sha256")),
                  "")
    return done, roster




def write_revert(settings: Settings, directory: Directory, run_id: str,
                 plan_out: Path | None) -> Reverting:
    """Read the run's changes and the entries as they are now; write the plan that
    undoes them (digest line first, as every plan file, SPEC §15)."""
    done, roster = applied_changes(settings, run_id)
    scope = settings.scope_value
    snapshot = directory.snapshot(scope)
    current = {dn_key(a.dn): State(a.locked, a.lock_reason, a.lock_clause, a.lock_values)
               for a in snapshot.accounts}
    undoings, left = revert_plan(done, run_id, current)
    plan_id = new_run_id()
    result = RunResult(plan_id, str(scope), directory.actor, True)
    result.plan = Plan(actions=tuple(u.action for u in undoings), managed=len(snapshot.accounts))
    document = _document(settings, result, undoings, run_id, roster)
    path = plan_out or settings.state.dir / \
        f"revert-{str(scope).replace(':', '-')}-{run_id}.json"
    from connector.service.approve import save_plan  # plan files: only where one is written

    save_plan(path, document, settings, directory.latest_anchor)
    for reason in left:
        logger.warning("not undone: {}", reason)
    return Reverting(path, result, left)


def _document(settings: Settings, result: RunResult, undoings: list[Undoing],
              run_id: str, roster: str) -> dict[str, Any]:
    actions = []
    for undoing in undoings:
        item = undoing.action.to_dict()
        item["restore"] = False
        item["expect"] = undoing.expect
        actions.append(item)
    return {
        "format": PLAN_FORMAT, "plan_id": result.run_id, "created": now_iso(),
        "scope": result.scope, "base_dn": settings.ldap.base_dn, "actor": result.actor,
        "reverts": run_id,
        "roster": {"path": f"(revert of run {run_id})", "sha256": roster,
                   "rows": 0},
        "summary": result.to_dict()["summary"], "units": [], "actions": actions,
    }


def revert_undoes(settings: Settings, run_id: str) -> frozenset[tuple[str, str, str | None]]:
    """What a revert plan of ``run_id`` may undo (``apply`` re-reads it from the trail,
    never from the plan file)."""
    try:
        return undoes(applied_changes(settings, run_id)[0])
    except ConfigError:
        return frozenset()


# ------------------------------------------------------------------ the reverted roster

_REVERTS = b'"reverts": "'


def reverted_by(path: Path, scope: str, sha256: str) -> str | None:
    """The run whose revert blocks this roster (SPEC §13), or None. A roster is blocked
    once a revert of its run is applied, until a later real run of this scope is given
    it (``--allow-reverted-roster``) or a revert of the revert is applied. The trail is
    searched in C (``mmap.find``): a trail with no revert costs one pass of memchr."""
    try:
        with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0,
                                                  access=mmap.ACCESS_READ) as data:
            return _blocked(data, scope, sha256.encode())
    except (OSError, ValueError):  # missing or empty file: nothing was reverted
        return None


def _blocked(data: mmap.mmap, scope: str, sha: bytes) -> str | None:
    blocked: str | None = None
    revert_runs: set[str] = set()
    position = data.find(_REVERTS)
    last = -1
    while position >= 0:
        here, position = position, data.find(_REVERTS, position + 1)
        fields = _line_at(data, here)
        if fields is None or fields.get("scope") != scope or fields.get("dry_run") is not False \
                or fields.get("outcome") != "ok" or not fields.get("reverts"):
            continue
        revert_runs.add(str(fields.get("run_id")))
        if str(fields.get("roster_sha256") or "").encode() != sha:
            continue
        blocked = None if fields["reverts"] in revert_runs else str(fields["reverts"])
        last = data.find(b"\n", here)
    if blocked is None:
        return None
    hit = data.find(sha, last + 1) if last >= 0 else -1
    while hit >= 0:  # a later real run given this roster (--allow-reverted-roster)
        fields = _line_at(data, hit)
        if fields is not None and fields.get("scope") == scope and not fields.get("reverts") \
                and fields.get("dry_run") is False and fields.get("action") != "plan":
            return None
        hit = data.find(sha, hit + 1)
    return blocked


def _line_at(data: mmap.mmap, position: int) -> dict[str, Any] | None:
    start = data.rfind(b"\n", 0, position) + 1
    end = data.find(b"\n", position)
    try:
        fields = json.loads(data[start:end if end >= 0 else len(data)])
    except ValueError:
        return None
    return fields if isinstance(fields, dict) else None

"""The plan that undoes a run (SPEC §13), from the run's audit lines: each change's
inverse, last first, expecting the entry as the run left it; and the reverted-roster
rule read from the trail."""

from __future__ import annotations

import json

from connector.core.actions import Kind
from connector.core.lockplan import NOTE_LOCK_LOST
from connector.core.revert import Done, State, revert_plan, undoes
from connector.service.revert import reverted_by

ACTOR = "cn=connector-bte,ou=system,dc=bhxh,dc=gov,dc=vn"
DN = "uid=BTE0001,ou=people,ou=BTE,ou=provinces,dc=bhxh,dc=gov,dc=vn"
RECORD = f"bhxh-lock:6.2.2:transferred at=20261207T010000Z by={ACTOR}"
HOLD = "bhxh-lock:6.3:misuse at=20261207T020000Z by=cn=connector-it-centre,ou=system"


def done(kind: str, **fields: object) -> Done:
    line = {"action": kind, "dn": DN, "employee_id": "BTE0001", "actor": ACTOR, **fields}
    return Done.of(line)


def test_a_create_is_undone_by_a_reverted_lock_never_a_delete():
    (undo,), left = revert_plan([done("create", changes={"uid": "BTE0001"})], "R1", {})
    assert not left
    assert (undo.action.kind, undo.action.reason, undo.action.clause) == (Kind.LOCK, "reverted",
                                                                          "9.2")
    assert undo.expect["locked"] is False and undo.action.reverts == "R1"


def test_an_update_goes_back_to_before_expecting_the_run_s_values():
    (undo,), _ = revert_plan([done("update", changes={"cn": "Sai"}, before={"cn": "Đúng"})],
                             "R1", {})
    assert undo.action.changes == (("cn", "Đúng"),)
    assert undo.expect["values"] == {"cn": "Sai"}


def test_a_lock_is_lifted_removing_only_the_run_s_own_record():
    line = done("lock", reason="transferred", clause="6.2.2", before={"description": []})
    current = {DN.lower(): State(True, "misuse", "6.3", (RECORD, HOLD))}
    (undo,), _ = revert_plan([line], "R1", current)
    assert undo.action.kind is Kind.UNLOCK and undo.action.lock_values == (RECORD,)
    assert undo.expect["lock_values"] == [RECORD]  # the hold makes apply skip it


def test_an_unlock_is_undone_by_putting_the_lifted_record_back():
    line = done("unlock", reason="returned", clause="6.2.2",
                before={"description": [RECORD], "pwdAccountLockedTime": "000001010000Z"})
    (undo,), _ = revert_plan([line], "R1", {})
    assert (undo.action.kind, undo.action.reason, undo.action.clause) == (
        Kind.LOCK, "transferred", "6.2.2")
    assert undo.expect["locked"] is False


def test_group_changes_swap_and_the_order_is_reversed():
    group = "cn=quantri-BTE,ou=groups,dc=bhxh,dc=gov,dc=vn"
    lines = [done("create", changes={"uid": "BTE0001"}),
             Done.of({"action": "group_add", "dn": group, "member": DN, "actor": ACTOR})]
    plan, _ = revert_plan(lines, "R1", {})
    assert [u.action.kind for u in plan] == [Kind.GROUP_REMOVE, Kind.LOCK]
    assert plan[0].expect == {"exists": True, "member_present": True}


def test_a_restored_lock_and_a_move_are_not_undone_and_say_why():
    restored = done("lock", reason="transferred", clause="6.2.2",
                    note=NOTE_LOCK_LOST)
    moved = done("move", from_dn="uid=BTE0001,ou=people,ou=BTT,dc=x")
    plan, left = revert_plan([restored, moved], "R1", {})
    assert plan == [] and len(left) == 2
    assert "never lifted" in left[1] and "reorganize" in left[0]


def test_what_a_revert_may_undo_is_what_the_run_did():
    lines = [done("lock", reason="transferred", clause="6.2.2"),
             done("relabel", reason="violation", clause="6.2.3", before={
                 "description": [RECORD]})]
    assert undoes(lines) == {(DN.lower(), "lock", "6.2.2"), (DN.lower(), "relabel", "6.2.3"),
                             (DN.lower(), "relabel", "6.2.2"), (DN.lower(), "*", None)}


def trail_line(run_id: str, sha: str, reverts: str | None = None, scope: str = "province:BTE",
               dry_run: bool = False) -> str:
    return json.dumps({"run_id": run_id, "scope": scope, "roster_sha256": sha,
                       "action": "unlock", "reverts": reverts, "dry_run": dry_run,
                       "outcome": "ok"})


def test_a_reverted_roster_is_blocked_until_a_later_run_is_given_it(tmp_path):
    audit = tmp_path / "audit.jsonl"
    bad = "a" * 64
    audit.write_text("\n".join([trail_line("R1", bad), trail_line("U1", bad, reverts="R1")])
                     + "\n", encoding="utf-8")
    assert reverted_by(audit, "province:BTE", bad) == "R1"
    assert reverted_by(audit, "province:BTE", "b" * 64) is None
    assert reverted_by(audit, "it-centre", bad) is None
    with audit.open("a", encoding="utf-8") as handle:
        handle.write(trail_line("R2", bad, dry_run=True) + "\n")
    assert reverted_by(audit, "province:BTE", bad) == "R1"  # a dry run applies nothing
    with audit.open("a", encoding="utf-8") as handle:
        handle.write(trail_line("R3", bad) + "\n")  # --allow-reverted-roster
    assert reverted_by(audit, "province:BTE", bad) is None


def test_a_revert_of_the_revert_lifts_the_block(tmp_path):
    audit = tmp_path / "audit.jsonl"
    bad = "a" * 64
    audit.write_text("\n".join([trail_line("R1", bad), trail_line("U1", bad, reverts="R1"),
                                trail_line("U2", bad, reverts="U1")]) + "\n", encoding="utf-8")
    assert reverted_by(audit, "province:BTE", bad) is None


def test_no_trail_blocks_nothing(tmp_path):
    assert reverted_by(tmp_path / "missing.jsonl", "it-centre", "a" * 64) is None
    (tmp_path / "empty.jsonl").write_bytes(b"")
    assert reverted_by(tmp_path / "empty.jsonl", "it-centre", "a" * 64) is None

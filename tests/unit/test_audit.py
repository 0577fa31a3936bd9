"""The audit line is written as text; it must be exactly what json.dumps of the
documented fields gives (SPEC §6), for any action and any text in it."""

from __future__ import annotations

import datetime as dt
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.core.actions import Action, Kind
from connector.outputs.audit import AuditLog, now_iso

texts = st.text(max_size=12)  # every code point: quotes, backslashes, controls, Vietnamese
optional = st.none() | texts
actions = st.builds(
    Action, st.sampled_from(list(Kind)), texts, texts, employee_id=optional, clause=optional,
    changes=st.lists(st.tuples(st.sampled_from(["cn", "sn", "mail", "description"]),
                               optional), max_size=5).map(tuple),
    member=optional, note=optional, from_dn=optional, reverts=optional,
    lock_values=st.lists(texts, max_size=2).map(tuple),
    before=st.lists(st.tuples(texts, optional), max_size=3).map(tuple))


def reference(log: AuditLog, action: Action, ts: str, dry_run: bool, error: str | None,
              outcome: str | None) -> str:
    """The line as the connector first built it: a dict through json.dumps, the chain
    first (the first line of a new trail: seq 1, prev 64 zeros)."""
    line: dict[str, object] = {"seq": 1, "prev": "0" * 64, "ts": ts, "run_id": log.run_id,
                               "actor": log.actor, "scope": log.scope,
                               "roster_sha256": log.roster_sha256, **action.to_dict(),
                               "before": action.before_dict(), "dry_run": dry_run,
                               "outcome": outcome or ("failed" if error else "ok"),
                               "error": error}
    if log.plan_id is not None:
        line["plan_id"] = log.plan_id
    return json.dumps(line, ensure_ascii=False)


@settings(max_examples=300, deadline=None)
@given(action=actions, dry_run=st.booleans(), error=optional,
       outcome=st.none() | st.sampled_from(["skipped", "ok"]), run_id=texts, actor=texts,
       scope=texts, plan_id=optional)
def test_an_audit_line_is_exactly_the_json_of_its_fields(tmp_path_factory, action, dry_run,
                                                         error, outcome, run_id, actor,
                                                         scope, plan_id):
    path = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    log = AuditLog(path, run_id=run_id, actor=actor, scope=scope, plan_id=plan_id)
    log.record(action, dry_run=dry_run, error=error, outcome=outcome)
    log.close()
    written = path.read_text(encoding="utf-8")
    assert written.endswith("\n") and written.count("\n") == 1  # newlines in values escaped
    line = written[:-1]
    ts = json.loads(line)["ts"]
    assert line == reference(log, action, ts, dry_run, error, outcome)


def test_the_timestamp_is_local_time_with_its_offset_to_the_millisecond():
    before = dt.datetime.now().astimezone()
    stamp = dt.datetime.fromisoformat(now_iso())
    after = dt.datetime.now().astimezone()
    assert before - dt.timedelta(milliseconds=1) <= stamp <= after
    assert stamp.utcoffset() == before.utcoffset()
    assert len(now_iso().split("T")[1]) == len("12:34:56.789+07:00")

"""What operators' tools take: flat JSON log lines, and a status a person can read."""

from __future__ import annotations

import json

from loguru import logger

from connector.app.logs import setup_logging
from connector.core.render import status_report


def test_json_logs_are_one_flat_object_per_line_with_the_run_and_scope(capsys):
    setup_logging("INFO", json_lines=True, secrets=["hunter2-secret"], scope="province:BTE")
    with logger.contextualize(run_id="R1"):
        logger.bind(employee_id="B1", count=3).info("locked {} with hunter2-secret", "B1")
        try:
            raise ValueError("bad {brace}")
        except ValueError:
            logger.exception("it failed")
    setup_logging("INFO")
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    assert len(lines) == 2
    first, second = lines
    assert {k: first[k] for k in ("level", "message", "run_id", "scope", "employee_id",
                                  "count")} == {
        "level": "INFO", "message": "locked B1 with ***", "run_id": "R1",
        "scope": "province:BTE", "employee_id": "B1", "count": 3}
    assert first["logger"] == __name__ and "T" in first["ts"]
    assert not any(isinstance(v, (dict, list)) for v in first.values())
    assert second["exception"] == "ValueError: bad {brace}" and "Traceback" not in str(second)


def test_status_reads_as_a_summary_not_a_python_repr():
    text = status_report({
        "scope": "it-centre", "pid": 42, "runs_since_start": 7, "last_run_id": "R7",
        "last_started": "2026-12-01T09:00:00+07:00", "last_finished": "2026-12-01T09:00:02+07:00",
        "last_outcome": "partial", "last_exit_code": 1, "last_error": None,
        "last_success": "2026-12-01T09:00:02+07:00",
        "last_summary": {"roster_rows": 24, "rejected_rows": 1, "managed_accounts": 9,
                         "planned": {"create": 6, "lock": 0, "group_add": 3}, "applied": 9,
                         "failed": 0, "held": 2, "duration_seconds": 0.09}}, "/var/lib/x")
    assert "{" not in text and "'" not in text
    assert "outcome        partial (exit code 1)" in text
    assert "planned create 6, group_add 3; 9 applied, 0 failed, 2 held" in text

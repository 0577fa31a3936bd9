"""What a Prometheus alert on the metrics reads (issue 25 #10)."""

from __future__ import annotations

from prometheus_client import generate_latest

from connector.app.metrics import Metrics
from connector.core.model import Rejected
from connector.core.results import RosterResult, RunResult


def _run(rejected: int) -> RunResult:
    roster = RosterResult((), tuple(Rejected(i + 2, f"R{i}", "bad") for i in range(rejected)),
                          (), rejected)
    return RunResult("r", "province:BTE", "cn=x", False, roster, exit_code=1 if rejected else 0)


def test_the_same_rejected_row_at_every_tick_is_one_rejected_row_not_a_growing_count():
    metrics = Metrics()
    for _ in range(3):
        metrics.observe("province:BTE", _run(1), "partial", 0.1, 1.0)
    text = generate_latest(metrics.registry).decode()
    assert 'connector_rejected_rows{scope="province:BTE"} 1.0' in text
    assert 'connector_runs_total{outcome="partial",scope="province:BTE"} 3.0' in text
    metrics.observe("province:BTE", _run(0), "ok", 0.1, 2.0)
    assert 'connector_rejected_rows{scope="province:BTE"} 0.0' in \
        generate_latest(metrics.registry).decode()

"""Prometheus metrics (optional; ``CONNECTOR_METRICS__PORT``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from connector.core.results import RunResult
from connector.errors import ExitCode


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.runs = Counter("connector_runs", "Reconcile runs by outcome", ["scope", "outcome"],
                            registry=self.registry)
        self.actions = Counter("connector_actions", "Applied actions by kind, clause and outcome",
                               ["scope", "action", "clause", "outcome"], registry=self.registry)
        #: the rows the last run rejected, not a running sum: a row left unfixed would
        #: otherwise grow a counter at every tick without anything having happened
        self.rejected = Gauge("connector_rejected_rows", "Roster rows the last run rejected",
                              ["scope"], registry=self.registry)
        self.duration = Histogram("connector_run_duration_seconds", "Duration of a run",
                                  ["scope"], registry=self.registry,
                                  buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600))
        self.last_success = Gauge("connector_last_success_timestamp_seconds",
                                  "Unix time of the last run that ended with exit code 0 or 1",
                                  ["scope"], registry=self.registry)
        self.managed = Gauge("connector_managed_accounts", "Accounts in the scope's OUs",
                             ["scope"], registry=self.registry)

    def serve(self, port: int, address: str) -> None:
        start_http_server(port, addr=address, registry=self.registry)

    def observe(self, scope: str, result: RunResult | None, outcome: str, duration: float,
                finished_at: float) -> None:
        self.runs.labels(scope, outcome).inc()
        self.duration.labels(scope).observe(duration)
        if result is None:
            return
        for item in result.outcomes:
            self.actions.labels(scope, item.action.kind.value, item.action.clause or "",
                                "ok" if item.ok else "failed").inc()
        self.rejected.labels(scope).set(len(result.rejected))
        if result.plan is not None:
            self.managed.labels(scope).set(result.plan.managed)
        if result.exit_code in (ExitCode.OK, ExitCode.PARTIAL):
            self.last_success.labels(scope).set(finished_at)

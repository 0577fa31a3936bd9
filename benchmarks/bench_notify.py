"""Benchmark: what notifying costs a 10,000-action run (SPEC §14).

    python3 benchmarks/bench_notify.py [--actions 10000]

A run's result of N actions (creates, a tenth of them locks), as a reconcile leaves
it, is told through the real path (`service.notify.notify_run`: the HTML report
rendered and attached, the message composed, written to the outbox, sent to a real
SMTP server on loopback, aiosmtpd, and a webhook to a real HTTP server). Prints the
seconds, beside the run's own time at the measured provisioning rate. Nothing is
asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.controller import Controller

from connector.core.actions import Action, Kind, Plan
from connector.core.results import Outcome, RunResult
from connector.service.notify import notify_run
from connector.settings import Settings
from connector.testing.slapd import free_port


class Box:
    count = 0
    size = 0

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        Box.count += 1
        Box.size += len(envelope.original_content)
        return "250 OK"


class Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def result(actions: int) -> RunResult:
    run = RunResult("20261207T101500-bench", "it-centre", "cn=connector-it-centre", False)
    planned = tuple(
        Action(Kind.LOCK, f"uid=NV{n:06d},ou=people,ou=central,dc=bhxh,dc=gov,dc=vn",
               "terminated", employee_id=f"NV{n:06d}", clause="6.2.1") if n % 10 == 0 else
        Action(Kind.CREATE, f"uid=NV{n:06d},ou=people,ou=central,dc=bhxh,dc=gov,dc=vn",
               "new_on_roster", employee_id=f"NV{n:06d}",
               changes=(("uid", f"NV{n:06d}"), ("cn", "Nguyễn Văn An"),
                        ("departmentNumber", "TTCNTT"), ("employeeType", "central")))
        for n in range(actions))
    run.plan = Plan(actions=planned, managed=actions)
    run.outcomes = [Outcome(a, None) for a in planned]
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=10_000)
    args = parser.parse_args()
    port = free_port()
    controller = Controller(Box(), hostname="127.0.0.1", port=port)
    controller.start()
    hooks = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hooks.serve_forever, daemon=True).start()
    state = Path(tempfile.mkdtemp(prefix="connector-bench-notify-"))
    os.environ.update({
        "CONNECTOR_NOTIFY__SMTP_URL": f"smtp://127.0.0.1:{port}",
        "CONNECTOR_NOTIFY__FROM": "connector@vss.gov.vn", "CONNECTOR_NOTIFY__TO": "ops@vss.gov.vn",
        "CONNECTOR_NOTIFY__WEBHOOK_URL": f"http://127.0.0.1:{hooks.server_address[1]}/hook",
        "CONNECTOR_STATE__DIR": str(state)})
    settings = Settings()
    run = result(args.actions)
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        waiting = notify_run(settings, run)
        timings.append(time.perf_counter() - started)
    controller.stop()
    hooks.shutdown()
    rate = 1150  # entries/s: the IT Centre's provisioning rate measured at 10,000 rows
    print(f"{args.actions} actions: notify {min(timings):.3f}-{max(timings):.3f} s per run "
          f"({Box.count} messages, {Box.size / Box.count / 1024:.0f} KiB each with the report; "
          f"{waiting} waiting); the run itself ~{args.actions / rate:.1f} s at {rate}/s: "
          f"{min(timings) / (args.actions / rate):.1%} of it")
    return 0


if __name__ == "__main__":
    sys.exit(main())

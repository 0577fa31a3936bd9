"""Benchmark: undoing a run (SPEC §13) against the run it undoes, same server.

    python3 benchmarks/bench_revert.py [--people 10000]

One throwaway slapd (durable), the IT Centre bound as its delegated identity under
the generated ACLs. Two bad runs of N actions each are timed, then `connector
revert` (reading the trail and the directory, writing the plan) and `connector
apply` of the revert plan:
  * N wrong creates (last year's export), undone by N `reverted` locks;
  * N wrong locks (a whole roster marked `transferred`, 6.2.2), undone by N unlocks.
Prints seconds and the ratio (revert + apply) / bad run. Nothing asserts on them.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_provision import make_roster  # type: ignore[import-not-found]

from connector.core.model import Layout
from connector.testing.delegation import install_delegation
from connector.testing.slapd import SlapdServer, sample_units


def cli(args: list[str], env: dict[str, str],
        prefix: list[str] | None = None) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    result = subprocess.run([*(prefix or []), sys.executable, "-m", "connector", *args], env=env,
                            capture_output=True, text=True, check=False,
                            stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    if result.returncode not in (0, 1):
        raise SystemExit(f"connector {args[0]} failed ({result.returncode}): "
                         f"{result.stdout[-600:]} {result.stderr[-800:]}")
    return elapsed, result


def rewrite(roster: Path, target: Path, status: str) -> None:
    with roster.open(encoding="utf-8") as source, target.open("w", encoding="utf-8",
                                                              newline="") as out:
        rows = list(csv.reader(source))
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(rows[0])
        for cells in rows[1:]:
            writer.writerow([*cells[:6], status, *cells[7:]])


def undo(env: dict[str, str], label: str, bad: float, run_id: str) -> None:
    """Time `revert` then `apply` of its plan (BENCH_SPY=1: each under py-spy, its
    samples in /tmp/spy-*.txt)."""
    spy = ["py-spy", "record", "-f", "raw", "-t", "-o"] if os.environ.get("BENCH_SPY") else []
    tag = label.split()[-1]
    made, _ = cli(["revert", run_id], env, spy and [*spy, f"/tmp/spy-revert-{tag}.txt", "--"])
    plan = next(Path(env["CONNECTOR_STATE__DIR"]).glob(f"revert-*-{run_id}.json"))
    count = len(json.loads(plan.read_text(encoding="utf-8"))["actions"])
    applied, result = cli(["apply", str(plan), "--allow-mass-lock", "--json"], env,
                          spy and [*spy, f"/tmp/spy-apply-{tag}.txt", "--"])
    ok = "?" if spy else json.loads(result.stdout)["summary"]["applied"]
    print(f"{label:<32} bad run {bad:6.2f} s | revert {made:5.2f} s + apply {applied:6.2f} s "
          f"({ok} of {count} applied) = {made + applied:6.2f} s | "
          f"{(made + applied) / bad:4.2f}x the bad run", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="connector-bench-revert-"))
    roster = work / "roster.csv"
    make_roster(roster, args.people)
    print(f"machine: {os.cpu_count()} cores; {args.people} actions per bad run; IT Centre "
          "bound as its delegated identity; slapd durable, back-mdb, ppolicy", flush=True)
    with SlapdServer(Layout(), sample_units()) as server:
        identity = install_delegation(server, sample_units())["it-centre"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
        env.update({"CONNECTOR_LDAP__URL": server.url,
                    "CONNECTOR_LDAP__BIND_DN": identity.dn,
                    "CONNECTOR_LDAP__BIND_PASSWORD": identity.password,
                    "CONNECTOR_SCOPE": "it-centre",
                    "CONNECTOR_AUDIT__PATH": str(work / "audit.jsonl"),
                    "CONNECTOR_STATE__DIR": str(work / "state"),
                    "CONNECTOR_ROSTER__PATH": str(roster),
                    "CONNECTOR_SAFETY__MAX_LOCK_COUNT": str(args.people * 2)})
        bad, result = cli(["reconcile", "--json", "--allow-mass-lock"], env)
        undo(env, f"{args.people} wrong creates", bad, json.loads(result.stdout)["run_id"])
        # the accounts are locked `reverted`; the roster again unlocks them (9.2 lifts)
        unlocked, _ = cli(["reconcile", "--allow-mass-lock", "--allow-reverted-roster"], env)
        print(f"{'(reference) reconcile, ' + str(args.people) + ' unlocks':<32} "
              f"{unlocked:6.2f} s", flush=True)
        transferred = work / "transferred.csv"
        rewrite(roster, transferred, "transferred")
        env["CONNECTOR_ROSTER__PATH"] = str(transferred)
        bad, result = cli(["reconcile", "--json", "--allow-mass-lock"], env)
        undo(env, f"{args.people} wrong 6.2.2 locks", bad, json.loads(result.stdout)["run_id"])
    return 0


if __name__ == "__main__":
    sys.exit(main())

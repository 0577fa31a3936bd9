"""Benchmark: initial provisioning with and without issuing sealed credentials (SPEC §11).

    python3 benchmarks/bench_credentials.py [--people 10000]

Two fresh, identically configured slapd (durable, delegation ACLs, pwdMustChange);
the IT Centre's delegated identity creates N central accounts in each, once plain and
once with CONNECTOR_CREDENTIALS__ISSUE=true (Password Modify + pwdReset per create,
one age-sealed file at the end). Prints entries/s for both and the ratio.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pyrage import x25519

from connector.testing.delegation import install_delegation
from connector.testing.slapd import SlapdServer, sample_units

REPO = Path(__file__).resolve().parents[1]


def make_roster(path: Path, people: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["employee_id", "full_name", "unit_type", "unit_code", "status"])
        for i in range(people):
            writer.writerow([f"NV{i:07d}", f"Nguyễn Văn Số {i}", "central", "TTCNTT", "active"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="connector-bench-credentials-"))
    roster = work / "roster.csv"
    make_roster(roster, args.people)
    officer = x25519.Identity.generate()
    units = work / "units.toml"
    units.write_text((REPO / "config" / "units.toml").read_text(encoding="utf-8").replace(
        'code = "TTCNTT"', f'code = "TTCNTT"\nrecipient = "{officer.to_public()}"'),
        encoding="utf-8")
    rates = {}
    for issue in ("false", "true"):
        with SlapdServer(units=sample_units()) as server:
            it = install_delegation(server, sample_units())["it-centre"]
            env = {**{k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")},
                   "CONNECTOR_LDAP__URL": server.url, "CONNECTOR_LDAP__BIND_DN": it.dn,
                   "CONNECTOR_LDAP__BIND_PASSWORD": it.password,
                   "CONNECTOR_ROSTER__PATH": str(roster), "CONNECTOR_UNITS__PATH": str(units),
                   "CONNECTOR_AUDIT__PATH": str(work / f"audit-{issue}.jsonl"),
                   "CONNECTOR_STATE__DIR": str(work / f"state-{issue}"),
                   "CONNECTOR_CREDENTIALS__ISSUE": issue, "CONNECTOR_LOG__LEVEL": "WARNING"}
            began = time.perf_counter()
            result = subprocess.run([sys.executable, "-m", "connector", "reconcile"], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    text=True, check=False)
            seconds = time.perf_counter() - began
            if result.returncode != 0:
                raise SystemExit(f"reconcile failed: {result.stderr[-1500:]}")
            rates[issue] = args.people / seconds
            print(f"issue={issue:5}  {args.people} creates in {seconds:6.2f} s  "
                  f"{rates[issue]:7.0f} entries/s", flush=True)
    print(f"with credentials: {rates['true'] / rates['false']:.2f}x the plain rate "
          "(each create adds a Password Modify and a modify of pwdReset)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

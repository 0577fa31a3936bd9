"""Benchmark: the connector against the raw OpenLDAP tools, same server, same run.

    python3 benchmarks/bench_provision.py [--people 10000] [--workers 4]

One throwaway slapd (durable, the configuration of the tests). Prints:
  * raw ``ldapadd -c`` of N entries vs the connector's initial provisioning of
    the same N people (entries/s and the ratio),
  * raw paged ``ldapsearch`` of the managed OUs vs a no-op ``reconcile``
    (seconds and the ratio),
  * the connector's peak memory (max RSS of its process).
Not a test: figures vary with the machine; nothing asserts on them.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from connector.core.desired import desired_values
from connector.core.model import Layout
from connector.sources.roster import read_roster
from connector.testing.delegation import install_delegation
from connector.testing.slapd import SlapdServer, _tool, ldif, sample_units

FIRST = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi",
         "Đỗ", "Hồ", "Ngô", "Dương", "Lý"]
MIDDLE = ["Văn", "Thị", "Hữu", "Minh", "Ngọc", "Thu", "Quốc", "Đức", "Thanh", "Kim"]
LAST = ["An", "Bình", "Châu", "Dũng", "Hà", "Hạnh", "Khoa", "Lan", "Long", "Mai", "Nam",
        "Ngọc", "Phúc", "Quân", "Sơn", "Tâm", "Thảo", "Tuấn", "Vy", "Yến"]


def make_roster(path: Path, people: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["employee_id", "full_name", "email", "unit_type", "unit_code", "role",
                         "status", "field"])
        for i in range(people):
            vendor = i % 5 == 4
            name = f"{FIRST[i % 16]} {MIDDLE[(i // 16) % 10]} {LAST[(i // 160) % 20]}"
            writer.writerow([f"NV{i:06d}", name, f"nv{i:06d}@vss.gov.vn",
                             "vendor" if vendor else "central",
                             "VNPT" if vendor else ("BTHU", "TTCNTT", "BCSYT")[i % 3], "user",
                             "active", "Thu bảo hiểm"])


def timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False,
                            stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    if result.returncode not in (0, 68):  # 68: ldapadd -c "already exists"
        raise SystemExit(f"{argv[0]} failed ({result.returncode}): {result.stderr[-800:]}")
    return elapsed, result.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="connector-bench-"))
    layout = Layout()
    roster = work / "roster.csv"
    make_roster(roster, args.people)
    people = read_roster(roster).people
    print(f"machine: {os.cpu_count()} cores; {args.people} people; connector workers: "
          f"{args.workers}; slapd durable (no dbnosync), back-mdb, ppolicy", flush=True)

    with SlapdServer(layout, sample_units()) as server:
        # measured as the offices run it: the IT Centre's delegated identity under the
        # generated ACLs, for the raw tools and the connector alike (the rootDN would skip
        # ACL evaluation altogether)
        it = install_delegation(server, sample_units())["it-centre"]
        # raw ldapadd -c of the same entries, into a sibling container of the same shape
        raw_base = layout.people_dn("HCM")
        entries = []
        for person in people:
            values = desired_values(person, person.unit_code)
            attributes = {name: [value] for name, value in values.items()}
            attributes["objectClass"] = ["top", "person", "organizationalPerson",
                                         "inetOrgPerson"]
            entries.append((f"uid={person.employee_id},{raw_base}", attributes))
        (work / "raw.ldif").write_text(ldif(entries), encoding="utf-8")
        raw_add, _ = timed([_tool("ldapadd"), "-c", "-x", "-H", server.url, "-D", it.dn,
                            "-w", it.password, "-f", str(work / "raw.ldif")])

        env = {**os.environ, "CONNECTOR_LDAP__URL": server.url,
               "CONNECTOR_LDAP__BIND_DN": it.dn,
               "CONNECTOR_LDAP__BIND_PASSWORD": it.password,
               "CONNECTOR_LDAP__WORKERS": str(args.workers),
               "CONNECTOR_AUDIT__PATH": str(work / "audit.jsonl"),
               "CONNECTOR_STATE__DIR": str(work / "state"),
               "CONNECTOR_ROSTER__PATH": str(roster), "CONNECTOR_LOG__LEVEL": "WARNING"}
        connector = [sys.executable, "-m", "connector", "reconcile"]
        provision, _ = timed([*connector, "--json"], env)
        noop, out = timed([*connector, "--json"], env)
        noop_report = json.loads(out)
        assert noop_report["actions"] == [], "the second run was not a no-op"
        startup, _ = timed([sys.executable, "-c", "import connector.app.cli, "
                            "connector.service.reconcile, connector.directory.ldap, ldap3"])
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss

        searches = []
        for base in (layout.central_dn, layout.vendors_dn):
            elapsed, _ = timed([_tool("ldapsearch"), "-LLL", "-x", "-H", server.url, "-D",
                                it.dn, "-w", it.password, "-E",
                                "pr=1000/noprompt", "-b", base, "(objectClass=inetOrgPerson)"])
            searches.append(elapsed)
        raw_search = sum(searches)

    n = args.people
    print()
    print(f"{'':38}{'raw tool':>12}{'connector':>12}{'ratio':>9}")
    print(f"{'initial provisioning (entries/s)':38}{n / raw_add:12.0f}{n / provision:12.0f}"
          f"{(n / provision) / (n / raw_add):8.2f}x")
    print(f"{'  wall time (s)':38}{raw_add:12.2f}{provision:12.2f}")
    print(f"{'read managed OUs / no-op reconcile (s)':38}{raw_search:12.2f}{noop:12.2f}"
          f"{noop / raw_search:8.2f}x")
    print(f"{'connector peak memory (MiB, max RSS)':38}{'':12}{peak_kib / 1024:12.1f}")
    phases = noop_report["summary"]["phase_seconds"]
    print("\nno-op reconcile, where the time goes: interpreter and imports "
          f"{startup:.2f}s, " + ", ".join(f"{k} {v:.2f}s" for k, v in phases.items()))
    print("\nratios: provisioning >1.0x means faster than ldapadd -c; no-op <3x is the goal.")
    print("connector times are whole processes (interpreter start, roster, plan, audit).")
    return 0


if __name__ == "__main__":
    sys.exit(main())

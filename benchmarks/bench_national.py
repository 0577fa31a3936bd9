"""Benchmark at national scale, measured the way the offices run it.

    python3 benchmarks/bench_national.py [--rows 10000 100000] [--repeat 3]

For each roster size: a generated national roster (60 % province staff over 34
provinces, Bến Tre the largest at 16 % of them; 30 % central over 20 units; 9 %
vendors; 1 % province admins) and a 34-province units file. Every measurement
binds as a **delegated identity** under the ACLs of `bootstrap --print-acl`
(never the rootDN, which skips ACL evaluation): the IT Centre (central,
vendors and the 34 `ou=admins`: 36 OUs) and Bến Tre (`province:BTE`), the raw
OpenLDAP tools and the connector alike. slapd is durable (no dbnosync).

Prints, per size:
  * initial provisioning: raw `ldapadd -c` of exactly the entries the connector
    plans (from its own dry run) into a fresh, identically configured server,
    vs the connector's first reconcile (entries/s, ratio; ≥ 1.0× is the goal);
  * no-op reconcile vs the fastest raw read of the same entries as the same
    identity: 4 `ldapsearch` for the IT Centre (central, vendors, the 34
    `ou=admins` in one subtree search of `ou=provinces`, the groups), 1 for a
    province plus an `awk` scan of the national roster for its rows: seconds,
    ratio (≤ 3× is the goal); round three's one-search-per-OU figure beside it;
  * the fixed cost before the first read (process start to the `bound as` log
    line), `connector --version` and `--help`;
  * the connector's per-phase times (roster, connect, snapshot, plan, apply),
    per-entry costs, the daemon's cycles beside the one-shot, and peak RSS.
Not a test: figures vary with the machine; nothing asserts on them.
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
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from connector.core.model import Layout
from connector.directory.entries import PERSON_CLASSES
from connector.sources.units import load_units
from connector.testing.delegation import Identity, install_delegation
from connector.testing.slapd import SYNCPROV_LDIF, SlapdServer, _tool, ldif

PROVINCES = ["HNI", "HCM", "HPG", "DNG", "CTO", "BTE", "HUE", "LCI", "TQG", "CBG", "LCU",
             "DBN", "SLA", "TNN", "LSN", "QNH", "PTO", "BNH", "HYN", "NBH", "THA", "NAN",
             "HTH", "QTI", "QNI", "GLI", "DLK", "KHA", "LDG", "DNI", "TNH", "VLG", "DTP",
             "AGG"]
CENTRAL = [f"B{i:02d}" for i in range(1, 20)] + ["TTCNTT"]
VENDORS = ["VNPT", "VIETTEL", "FPT", "CMC"]
FIRST = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng"]
MIDDLE = ["Văn", "Thị", "Hữu", "Minh", "Ngọc", "Thu", "Quốc", "Đức"]
LAST = ["An", "Bình", "Châu", "Dũng", "Hà", "Hạnh", "Khoa", "Lan", "Long", "Mai", "Nam"]


def make_units(path: Path) -> None:
    lines = ["# 34 provinces, 20 central units, 4 vendors: the national shape\n"]
    lines += [f'[[province]]\ncode = "{c}"\nname = "Bảo hiểm xã hội {c}"\n\n' for c in PROVINCES]
    lines += [f'[[central]]\ncode = "{c}"\nname = "Ban {c}"\n\n' for c in CENTRAL]
    lines += [f'[[vendor]]\ncode = "{c}"\nname = "{c}"\n\n' for c in VENDORS]
    path.write_text("".join(lines), encoding="utf-8")


def make_roster(path: Path, rows: int) -> None:
    others = [c for c in PROVINCES if c != "BTE"]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["employee_id", "full_name", "email", "unit_type", "unit_code", "role",
                         "status", "field"])
        for i in range(rows):
            slot = i % 100
            if slot < 60:       # province staff; BTE gets 16 % of them
                kind, code, role = "province", ("BTE" if i % 25 < 4 else others[i % 33]), "user"
            elif slot < 90:
                kind, code, role = "central", CENTRAL[i % 20], "user"
            elif slot < 99:
                kind, code, role = "vendor", VENDORS[i % 4], "user"
            else:
                kind, code, role = "province", PROVINCES[(i // 100) % 34], "admin"
            name = f"{FIRST[i % 10]} {MIDDLE[(i // 10) % 8]} {LAST[(i // 80) % 11]}"
            writer.writerow([f"NV{i:07d}", name, f"nv{i:07d}@vss.gov.vn", kind, code, role,
                             "active", "Thu bảo hiểm"])


@dataclass
class Run:
    seconds: float
    report: dict[str, Any]
    max_rss_kib: int
    spawned: float  # wall clock (time.time()) when it was started
    stderr: str


def run_connector(env: dict[str, str], *args: str, as_json: bool = True) -> Run:
    """One connector process: wall time, its --json report and its own max RSS.

    Started through GNU time (a small C parent): a child's max RSS as wait4 reports
    it is counted from the moment of fork, so forking from this large benchmark
    process would charge the connector with the benchmark's memory."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as rss:
        spawned, began = time.time(), time.perf_counter()
        code = subprocess.call(["/usr/bin/time", "-f", "%M", "-o", rss.name, sys.executable,
                                "-m", "connector", "reconcile",
                                *(["--json"] if as_json else []), *args], env=env,
                               stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        seconds = time.perf_counter() - began
        out.seek(0)
        err.seek(0)
        errors = err.read().decode()
        if code not in (0, 1):
            raise SystemExit(f"connector failed ({code}): {errors[-1500:]}")
        max_rss = int(rss.read().strip().splitlines()[-1])
        return Run(seconds, json.loads(out.read()) if as_json else {}, max_rss, spawned,
                   errors)


def timed(argv: list[str], stdin: Path | None = None) -> float:
    began = time.perf_counter()
    with open(stdin or os.devnull, "rb") as source:
        result = subprocess.run(argv, stdin=source, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, check=False)
    if result.returncode not in (0, 68):
        raise SystemExit(f"{argv[0]} failed ({result.returncode}): {result.stderr[-800:]!r}")
    return time.perf_counter() - began


def connector_env(server: SlapdServer, identity: Identity, work: Path, roster: Path,
                  units: Path, workers: int) -> dict[str, str]:
    tag = identity.scope.replace(":", "-")
    return {**os.environ, "CONNECTOR_LDAP__URL": server.url,
            "CONNECTOR_LDAP__BIND_DN": identity.dn,
            "CONNECTOR_LDAP__BIND_PASSWORD": identity.password,
            "CONNECTOR_SCOPE": identity.scope, "CONNECTOR_LDAP__WORKERS": str(workers),
            "CONNECTOR_UNITS__PATH": str(units),
            "CONNECTOR_AUDIT__PATH": str(work / f"audit-{tag}.jsonl"),
            "CONNECTOR_STATE__DIR": str(work / f"state-{tag}"),
            "CONNECTOR_ROSTER__PATH": str(roster), "CONNECTOR_LOG__LEVEL": "WARNING",
            "CONNECTOR_SAFETY__MAX_LOCK_COUNT": "1000000"}


def daemon_cycles(server: SlapdServer, identity: Identity, work: Path, roster: Path,
                  units: Path) -> list[float]:
    """Three no-op runs as the daemon makes them (one process, its RunMemo kept): the
    first parses and reads; then someone writes elsewhere in the database, so the
    second reuses the parsed roster but reads in full; the third skips the read.
    In a child process, so that this process stays small (a child's max RSS, as
    wait4 reports it, starts from its parent's)."""
    tag = identity.scope.replace(":", "-")
    spec = {"scope": identity.scope, "roster": str(roster), "units": str(units),
            "audit": str(work / f"audit-daemon-{tag}.jsonl"),
            "state": str(work / f"state-daemon-{tag}"), "url": server.url,
            "bind_dn": identity.dn, "password": identity.password,
            "touch": server.layout.system_dn, "root_dn": server.root_dn,
            "root_password": server.root_password}
    out = subprocess.run([sys.executable, __file__, "--daemon-cycles", json.dumps(spec)],
                         capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL)
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def _daemon_cycles_child(spec: dict[str, str]) -> None:
    from loguru import logger

    from connector.directory.ldap import LdapDirectory
    from connector.service.reconcile import RunMemo, reconcile
    from connector.settings import load_settings

    logger.remove()
    settings = load_settings(None, scope=spec["scope"], roster={"path": spec["roster"]},
                             units={"path": spec["units"]}, audit={"path": spec["audit"]},
                             state={"dir": spec["state"]},
                             ldap={"url": spec["url"], "bind_dn": spec["bind_dn"],
                                   "bind_password": spec["password"]})
    memo = RunMemo()
    seconds = []
    for cycle in range(3):
        if cycle == 1:
            subprocess.run([_tool("ldapmodify"), "-x", "-H", spec["url"], "-D", spec["root_dn"],
                            "-w", spec["root_password"]], check=True, capture_output=True,
                           input=f"dn: {spec['touch']}\nchangetype: modify\nreplace: "
                                 "description\ndescription: touched\n", text=True)
        began = time.perf_counter()
        result = reconcile(settings, lambda: LdapDirectory(settings.ldap, settings.layout_value,
                                                           settings.scope_value), memo=memo)
        seconds.append(time.perf_counter() - began)
        assert result.plan is not None and not result.plan.actions
    print(json.dumps(seconds))


def raw_ldif(plan: dict[str, object]) -> str:
    entries = []
    for action in plan["actions"]:  # type: ignore[attr-defined]
        if action["action"] == "create":
            attributes = {name: [value] for name, value in action["changes"].items()}
            attributes["objectClass"] = list(PERSON_CLASSES)
            entries.append((action["dn"], attributes))
    return ldif(entries)


PEOPLE = "(objectClass=inetOrgPerson)"


def fastest_reads(layout: Layout, scope: str) -> list[tuple[str, str]]:
    """The fewest searches the raw tools need for the entries a no-op reads: for the
    IT Centre central, vendors, the 34 ``ou=admins`` in one subtree search of
    ``ou=provinces`` and the province groups (4); for a province its ``ou=people``."""
    if scope == "it-centre":
        return [(layout.central_area_dn, PEOPLE), (layout.vendors_area_dn, PEOPLE),
                (layout.provinces_dn, "(&(objectClass=inetOrgPerson)(ou:dn:=admins))"),
                (layout.groups_dn, "(objectClass=groupOfNames)")]
    return [(layout.people_dn(scope.split(":")[1]), PEOPLE)]


def per_ou_reads(layout: Layout, scope: str) -> list[tuple[str, str]]:
    """Round three's reference: one search per managed OU (36 for the IT Centre)."""
    if scope == "it-centre":
        return [(layout.central_dn, PEOPLE), (layout.vendors_dn, PEOPLE),
                *((layout.admins_dn(c), PEOPLE) for c in PROVINCES)]
    return fastest_reads(layout, scope)


def raw_read(server: SlapdServer, identity: Identity, reads: list[tuple[str, str]],
             paged: bool = False) -> float:
    """One ``ldapsearch`` process per search, as the same identity. Unpaged: the
    delegated identities have no size limit, and each page costs slapd a fixed
    amount (paged, for round three's figure)."""
    return sum(timed([_tool("ldapsearch"), "-LLL", "-x", "-H", server.url, "-D", identity.dn,
                      "-w", identity.password, *(["-E", "pr=1000/noprompt"] if paged else []),
                      "-b", base, search]) for base, search in reads)


def pre_read_seconds(spawned: float, stderr: str) -> float:
    """From the process's start to its first read: the ``bound as`` line of its JSON
    log (the run reads right after it) minus the wall-clock time it was started."""
    for line in stderr.splitlines():
        if line.startswith("{") and '"bound as ' in line:
            ts = datetime.fromisoformat(json.loads(line)["ts"]).timestamp()
            return ts - spawned
    raise SystemExit("no 'bound as' line in the connector's log")


def measure(rows: int, work: Path, workers: int) -> list[dict[str, Any]]:
    layout = Layout()
    units_path, roster = work / "units.toml", work / f"roster-{rows}.csv"
    make_units(units_path)
    make_roster(roster, rows)
    units = load_units(units_path)
    results = []
    with SlapdServer(layout, units) as server, SlapdServer(layout, units) as raw_server:
        for each in (server, raw_server):  # as a replicated production server has it
            each.ldapmodify_config(SYNCPROV_LDIF)
        identities = install_delegation(server, units)
        raw_identities = install_delegation(raw_server, units)
        for scope in ("it-centre", "province:BTE"):
            identity, raw_identity = identities[scope], raw_identities[scope]
            env = connector_env(server, identity, work, roster, units_path, workers)
            dry = run_connector(env, "--dry-run")
            text = raw_ldif(dry.report)
            creates = text.count("\ndn: ") + text.startswith("dn: ")
            (work / "raw.ldif").write_text(text, encoding="utf-8")
            raw_add = timed([_tool("ldapadd"), "-c", "-x", "-H", raw_server.url, "-D",
                             raw_identity.dn, "-w", raw_identity.password, "-f",
                             str(work / "raw.ldif")])
            provision = run_connector(env)
            # its log at INFO as JSON lines: the "bound as" line dates the first read
            noop = run_connector({**env, "CONNECTOR_LOG__LEVEL": "INFO",
                                  "CONNECTOR_LOG__JSON": "true"})
            assert not noop.report["actions"], "the second run was not a no-op"
            # as cron runs it: the text summary on stdout (--json lists every row)
            text = run_connector(env, as_json=False)
            read = min(raw_read(server, identity, fastest_reads(layout, scope))
                       for _ in range(2))
            per_ou = raw_read(server, identity, per_ou_reads(layout, scope), paged=True)
            scan = 0.0
            if scope != "it-centre":
                code = scope.split(":")[1]
                scan = timed(["awk", "-F,", f'$5=="{code}" {{n++}} END {{print n}}',
                              str(roster)])
            daemon = daemon_cycles(server, identity, work, roster, units_path)
            results.append({"rows": rows, "scope": scope, "creates": creates, "daemon": daemon,
                             "raw_add_s": raw_add, "provision_s": provision.seconds,
                             "provision_phases": provision.report["summary"]["phase_seconds"],
                             "raw_read_s": read, "raw_per_ou_s": per_ou,
                             "pre_read_s": pre_read_seconds(noop.spawned, noop.stderr),
                             "raw_scan_s": scan, "noop_s": noop.seconds,
                             "noop_text_s": text.seconds,
                             "noop_phases": noop.report["summary"]["phase_seconds"],
                             "noop_run_s": noop.report["summary"]["duration_seconds"],
                             "accounts": creates,
                             "rss_mib": max(provision.max_rss_kib, noop.max_rss_kib) / 1024})
    return results


#: what every connector process imports before it reads a row: the dependencies the
#: project chose (CLI, logging, settings, protocol), whatever the connector does
CHOSEN = ("click", "loguru", "pydantic_settings", "ldap3")
#: their import time with the interpreter's start, measured once per benchmark run
FLOOR = [0.0]


def span(values: list[float], fmt: str = "{:.2f}") -> str:
    """min–max of repeated measurements (one value alone as it is)."""
    low, high = min(values), max(values)
    return fmt.format(low) if len(values) == 1 or fmt.format(low) == fmt.format(high) \
        else f"{fmt.format(low)}–{fmt.format(high)}"


def report(rows: int, runs: list[dict[str, Any]]) -> None:
    """One scope's figures over the repetitions: min–max of each."""
    first = runs[0]
    n, accounts = int(first["creates"]), int(first["accounts"])

    def get(key: str) -> list[float]:
        return [float(r[key]) for r in runs]

    raw_rates = [n / t for t in get("raw_add_s")]
    rates = [n / t for t in get("provision_s")]
    targets = [r + s for r, s in zip(get("raw_read_s"), get("raw_scan_s"), strict=True)]
    noops = get("noop_s")
    print(f"\n{rows:,} rows, {first['scope']}: {accounts:,} accounts, {len(runs)} repetition(s)")
    print(f"  provisioning   raw ldapadd -c {span(raw_rates, '{:.0f}')}/s   connector "
          f"{span(rates, '{:.0f}')}/s   ratio "
          f"{span([c / r for c, r in zip(rates, raw_rates, strict=True)])}x  (goal >= 1.0x)")
    reads = "4 searches" if first["scope"] == "it-centre" else "1 search"
    print(f"  no-op          raw {span(targets)} s (fastest read, {reads}, "
          f"{span(get('raw_read_s'))} + roster scan {span(get('raw_scan_s'))})   connector "
          f"{span(noops)} s   ratio "
          f"{span([c / t for c, t in zip(noops, targets, strict=True)])}x  (goal <= 3x)")
    texts = get("noop_text_s")
    print(f"  no-op, text    as cron runs it (the summary, no --json): {span(texts)} s, ratio "
          f"{span([c / t for c, t in zip(texts, targets, strict=True)])}x")
    if first["scope"] == "it-centre":
        print(f"                 (round three's reference, one paged search per managed OU: "
              f"{span(get('raw_per_ou_s'))} s, ratio "
              f"{span([c / t for c, t in zip(noops, get('raw_per_ou_s'), strict=True)])}x)")
    print(f"  pre-read       process start to the first read (interpreter, imports, settings,"
          f" bind, layout check): {span(get('pre_read_s'))} s (goal <= 0.15 s)")
    phases = [r["noop_phases"] for r in runs]
    names = list(phases[0])
    # the run's own clock starts after the interpreter and the imports, and stops
    # before the report is printed; the roster is parsed beside the snapshot, so the
    # phases overlap and do not add up to the run
    startup = [float(r["noop_s"]) - float(r["noop_run_s"]) for r in runs]
    print(f"  no-op phases   start-up+output+exit {span(startup)} s, run "
          f"{span(get('noop_run_s'))} s: " + ", ".join(
              f"{k} {span([p[k] for p in phases])} s" for k in names)
          + " (the roster beside the snapshot)")
    print(f"  no-op without start-up: ratio "
          f"{span([float(r['noop_run_s']) / t for r, t in zip(runs, targets, strict=True)])}x;"
          f" the floor alone (python + the chosen dependencies' imports, {FLOOR[0]:.2f} s) "
          f"is {span([FLOOR[0] / t for t in targets])}x the raw tools")
    snapshot = [p.get("snapshot", 0) / accounts * 1e6 for p in phases]
    plan = [p.get("plan", 0) / rows * 1e6 for p in phases]
    roster = [p.get("roster", 0) / rows * 1e6 for p in phases]
    print(f"  per entry      snapshot {span(snapshot, '{:.0f}')} µs/account, plan "
          f"{span(plan, '{:.1f}')} µs/row, roster {span(roster, '{:.1f}')} µs/row")
    provision = [r["provision_phases"] for r in runs]
    print("  provisioning phases " + ", ".join(
        f"{k} {span([p[k] for p in provision])} s"
        for k in provision[0]))
    daemon = [r["daemon"] for r in runs]
    print(f"  no-op, one-shot beside the daemon: one-shot {span(noops)} s (ratio "
          f"{span([c / t for c, t in zip(noops, targets, strict=True)])}x) | daemon first "
          f"cycle {span([d[0] for d in daemon])} s, after a write elsewhere (roster kept, "
          f"incremental read) {span([d[1] for d in daemon])} s (ratio "
          f"{span([d[1] / t for d, t in zip(daemon, targets, strict=True)])}x), nothing "
          f"changed {span([d[2] for d in daemon], '{:.3f}')} s")
    print(f"  peak RSS       {span(get('rss_mib'), '{:.0f}')} MiB (goal <= 300 MB)", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=1,
                        help="fresh servers and every measurement this many times (min–max)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--daemon-cycles", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.daemon_cycles:
        _daemon_cycles_child(json.loads(args.daemon_cycles))
        return 0
    # as an install from a wheel has it (pip compiles the bytecode); with
    # PYTHONDONTWRITEBYTECODE set, each start would compile the package again
    package = Path(__file__).resolve().parent.parent / "connector"
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True)
    startup = min(timed([sys.executable, "-c", "import connector.app.cli, connector.service."
                         "reconcile, connector.directory.ldap, ldap3"]) for _ in range(3))
    bare = min(timed([sys.executable, "-c", "pass"]) for _ in range(3))
    version = min(timed([sys.executable, "-m", "connector", "--version"]) for _ in range(5))
    helped = min(timed([sys.executable, "-m", "connector", "--help"]) for _ in range(3))
    FLOOR[0] = min(timed([sys.executable, "-c", "import " + ", ".join(CHOSEN)])
                   for _ in range(3))
    print(f"machine: {os.cpu_count()} cores; durable slapd, back-mdb, ppolicy, syncprov, "
          f"delegation ACLs; connector workers {args.workers}; python alone {bare:.2f} s, "
          f"python + the chosen dependencies ({', '.join(CHOSEN)}) {FLOOR[0]:.2f} s, "
          f"+ the connector's own modules {startup:.2f} s (bytecode compiled); "
          f"`connector --version` {version:.3f} s (goal <= 0.10 s), `connector --help` "
          f"{helped:.3f} s", flush=True)
    for rows in args.rows:
        by_scope: dict[str, list[dict[str, Any]]] = {}
        for _ in range(args.repeat):
            work = Path(tempfile.mkdtemp(prefix=f"connector-national-{rows}-"))
            for result in measure(rows, work, args.workers):
                by_scope.setdefault(str(result["scope"]), []).append(result)
        for runs in by_scope.values():
            report(rows, runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())

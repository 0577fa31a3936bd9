"""The quick-start demo: a throwaway OpenLDAP, the sample roster, two connectors.

``python -m connector.app.demo`` (or ``bash demo.sh``, which installs slapd first):
starts a local slapd on a free loopback port with the ppolicy overlay, builds
the SPEC §2 tree with ``connector bootstrap``, installs the delegation ACLs,
then runs the IT Centre's connector and Bến Tre's connector side by side on
the same roster — dry run, apply, a no-op second run, a changed roster the
next day — and shows the audit log and what ``ldapsearch`` says of a lock.
Everything is stopped and deleted at the end.
"""

from __future__ import annotations

import base64
import csv
import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from connector.core.model import Layout, Status
from connector.resources import config_dir, sample_roster
from connector.testing.delegation import install_delegation
from connector.testing.slapd import SlapdServer, sample_units

BOLD = "\033[1m" if sys.stdout.isatty() else ""
RESET = "\033[0m" if sys.stdout.isatty() else ""


def banner(text: str) -> None:
    print(f"\n{BOLD}=== {text} ==={RESET}", flush=True)


def connector(args: list[str], env: dict[str, str], label: str) -> int:
    print(f"{BOLD}[{label}] $ connector {' '.join(args)}{RESET}", flush=True)
    result = subprocess.run([sys.executable, "-m", "connector", *args], env=env,
                            stdin=subprocess.DEVNULL, check=False)
    print(f"(exit code {result.returncode})", flush=True)
    return result.returncode


def day_two(roster: Path, out: Path) -> list[str]:
    """The next day's roster: returns, departures, a transfer, a missing row."""
    rows = list(csv.DictReader(io.StringIO(roster.read_text(encoding="utf-8"))))
    changes = {
        "TW0003": ("status", "active", "returns from maternity leave → unlock (returned)"),
        "TW0002": ("status", "terminated", "stops working at VSS → lock 6.2.1"),
        "NCC0002": ("status", "active", "vendor back from unpaid leave → unlock (returned)"),
        "TW0005": ("status", "active", "violation lock is sticky → held, not unlocked"),
        "BTE0002": ("field", "Sổ thẻ", "moves to another field of work → lock 6.2.2"),
        "BTE0005": ("status", "active", "transfer lock is sticky → held"),
        "BTE0004": ("status", "active", "back from sick leave → unlock (returned)"),
    }
    notes = []
    for row in rows:
        if row["employee_id"] in changes:
            column, value, note = changes[row["employee_id"]]
            row[column] = value
            notes.append(f"{row['employee_id']}: {note}")
    rows = [r for r in rows if r["employee_id"] != "NCC0001"]
    notes.append("NCC0001: no longer on the roster → lock 9.2 (not_on_roster)")
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return notes


def decoded(ldif_text: str) -> str:
    """LDIF with ``name:: base64`` lines shown as text, for people to read."""
    lines = []
    for line in ldif_text.splitlines():
        name, sep, value = line.partition(":: ")
        lines.append(f"{name}: {base64.b64decode(value).decode()}" if sep else line)
    return "\n".join(lines)


def everyone_active(roster: Path, out: Path) -> None:
    """Day 0: the same people, all active, so that day 1 shows every kind of lock."""
    rows = list(csv.DictReader(io.StringIO(roster.read_text(encoding="utf-8"))))
    for row in rows:
        if row["status"] in {s.value for s in Status}:
            row["status"] = "active"
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="connector-demo-"))
    units = sample_units()
    server = SlapdServer(Layout(), units=None)
    banner("Starting a throwaway OpenLDAP (slapd, back-mdb, ppolicy with pwdLockout: TRUE)")
    server.start()
    try:
        print(f"slapd on {server.url} and {server.ldapi_url}, data in {server.dir}")
        root_pw = work / "root.pw"
        root_pw.write_text(server.root_password)
        root_pw.chmod(0o600)
        base_env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
        base_env.update({
            "CONNECTOR_LDAP__URL": server.url,
            "CONNECTOR_AUDIT__PATH": str(work / "audit.jsonl"),
            "CONNECTOR_STATE__DIR": str(work / "state"),
            "CONNECTOR_ROSTER__PATH": str(sample_roster()),
        })
        operator = {**base_env, "CONNECTOR_LDAP__BIND_DN": server.root_dn,
                    "CONNECTOR_LDAP__BIND_PASSWORD_FILE": str(root_pw)}

        banner("1. The directory operator builds the tree from config/units.toml")
        connector(["bootstrap"], operator, "operator")
        connector(["bootstrap"], operator, "operator")
        banner("2. ... and installs the delegation ACLs (bootstrap --print-acl | ldapmodify)")
        identities = install_delegation(server, units)
        print(f"ACLs loaded with ldapmodify -Y EXTERNAL over {server.ldapi_url}")
        envs: dict[str, dict[str, str]] = {}
        for scope in ("it-centre", "province:BTE"):
            identity = identities[scope]
            secret = work / f"{scope.replace(':', '-')}.pw"
            secret.write_text(identity.password)
            secret.chmod(0o600)
            envs[scope] = {**base_env, "CONNECTOR_SCOPE": scope,
                           "CONNECTOR_LDAP__BIND_DN": identity.dn,
                           "CONNECTOR_LDAP__BIND_PASSWORD_FILE": str(secret)}
            print(f"{scope:>13}: binds as {identity.dn} (password in a 0600 file)")

        banner("3. Day 0: the first issuance (everyone on the sample roster still active)")
        day0 = work / "roster-day0.csv"
        everyone_active(sample_roster(), day0)
        for scope in ("it-centre", "province:BTE"):
            connector(["check"], envs[scope], scope)
            connector(["reconcile", "--roster", str(day0)], envs[scope], scope)

        banner(f"4. Day 1: today's roster, every status present ({sample_roster()})")
        print(sample_roster().read_text(encoding="utf-8"))
        for step, scope in (("4a", "it-centre"), ("4b", "province:BTE")):
            banner(f"{step}. {scope}: the plan first (dry run), then apply")
            connector(["reconcile", "--dry-run"], envs[scope], scope)
            connector(["reconcile"], envs[scope], scope)
        banner("5. A second run changes nothing")
        connector(["reconcile"], envs["it-centre"], "it-centre")

        banner("6. Day 2: the roster changes again")
        tomorrow = work / "roster-day2.csv"
        for note in day_two(sample_roster(), tomorrow):
            print(f"  {note}")
        for scope in ("it-centre", "province:BTE"):
            connector(["reconcile", "--roster", str(tomorrow)], envs[scope], scope)

        banner("7. Art. 6 §3: the IT Centre locks a Bến Tre account for misuse")
        connector(["lock", "BTE0003", "--reason", "misuse", "--note",
                   "truy cập trái phép dữ liệu"], envs["it-centre"], "it-centre")
        connector(["unlock", "BTE0003"], envs["province:BTE"], "province:BTE")

        banner("8. What ldapsearch shows of the locks (the directory alone tells why)")
        print("$ ldapsearch -LLL -b dc=bhxh,dc=gov,dc=vn '(pwdAccountLockedTime=*)' uid "
              "pwdAccountLockedTime description   (base64 values shown decoded)")
        print(decoded(server.search(server.layout.base_dn, "(pwdAccountLockedTime=*)",
                                    ["uid", "pwdAccountLockedTime", "description"])))
        banner("9. A merger: Bến Tre (BTE) and Trà Vinh become BTR (SPEC §10)")
        merged = config_dir() / "units-merged.example.toml"
        day3 = work / "roster-day3.csv"
        day3.write_text(tomorrow.read_text(encoding="utf-8").replace(",BTE,", ",BTR,"),
                        encoding="utf-8")
        print(f"units file with `formerly = [\"BTE\", \"TVH\"]`: {merged}; the roster now "
              "says BTR")
        connector(["reconcile", "--roster", str(day3), "--units", str(merged)],
                  envs["province:BTE"], "province:BTE")
        connector(["reorganize", "--units", str(merged), "--dry-run"], operator, "operator")
        connector(["reorganize", "--units", str(merged)], operator, "operator")
        print(decoded(server.search(server.layout.people_dn("BTR"), "(uid=*)",
                                    ["uid", "departmentNumber", "pwdAccountLockedTime"])))

        banner("10. The audit log (last 8 of its lines)")
        lines = (work / "audit.jsonl").read_text(encoding="utf-8").splitlines()
        print(f"{len(lines)} lines in {work / 'audit.jsonl'}; the last 8:")
        for line in lines[-8:]:
            print(line)
    finally:
        server.stop()
        subprocess.run(["rm", "-rf", str(work)], check=False)
        banner("Stopped slapd and deleted its data; nothing is left running")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`connector reorganize` of one province of N accounts, as the directory operator.

    python3 benchmarks/bench_reorganize.py [--people 10000]

A throwaway durable slapd (the tests' configuration) with the delegation ACLs of
`bootstrap --print-acl`, N accounts under ou=people,ou=BTE (every tenth locked
with a record), BTE merged into BTR; prints the time of the dry run and of the
move, and checks every account arrived once. The connector binds as the operator
does, SASL EXTERNAL over ldapi (the ACLs' first rule), never as the rootDN, for
which slapd evaluates no ACL at all.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connector.core.model import Scope
from connector.directory.ldap import LdapDirectory
from connector.service.reorganize import reorganize
from connector.settings import LdapSettings, load_settings
from connector.sources.units import load_units
from connector.testing.delegation import install_delegation
from connector.testing.slapd import SlapdServer, sample_units

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=10_000)
    args = parser.parse_args()
    merged = load_units(ROOT / "config" / "units-merged.example.toml")
    with SlapdServer(units=sample_units()) as server, tempfile.TemporaryDirectory() as tmp:
        people = server.layout.people_dn("BTE")
        server.ldapadd([(f"uid=P{i:06d},{people}", {
            "objectClass": ["inetOrgPerson"], "uid": [f"P{i:06d}"], "cn": [f"Người {i}"],
            "sn": ["Người"], "departmentNumber": ["BTE"],
            **({"pwdAccountLockedTime": ["000001010000Z"],
                "description": ["bhxh-lock:6.2.1:terminated"]} if i % 10 == 0 else {}),
        }) for i in range(args.people)])
        settings = load_settings(None, audit={"path": f"{tmp}/audit.jsonl"},
                                 state={"dir": f"{tmp}/state"})
        install_delegation(server, sample_units())
        directory = LdapDirectory(LdapSettings(url=server.ldapi_url), server.layout,
                                  Scope.parse("it-centre"))
        try:
            for dry in (True, False):
                started = time.perf_counter()
                result = reorganize(settings, directory, merged, dry_run=dry)
                elapsed = time.perf_counter() - started
                print(f"{'dry run' if dry else 'move   '}: {len(result.moves):,} accounts in "
                      f"{elapsed:.1f} s ({len(result.moves) / elapsed:,.0f}/s), "
                      f"{len(result.failed)} failed")
        finally:
            directory.close()
        moved = server.search(server.layout.people_dn("BTR"), "(uid=P*)", ["1.1"])
        assert moved.count("dn: ") == args.people, moved.count("dn: ")


if __name__ == "__main__":
    main()

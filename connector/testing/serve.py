"""Run a persistent OpenLDAP for the compose stack (``config/openldap/Dockerfile``).

    python -m connector.testing.serve --data /var/lib/connector-ldap \\
        --root-password-file /run/secrets/ldap_root_password \\
        --identity it-centre=/run/secrets/it_centre_password \\
        --identity province:BTE=/run/secrets/bte_password

On first start: cn=config (back-mdb, ppolicy with pwdLockout, the connector's
schema), the SPEC §2 tree from the units file, the delegation ACLs and one
service account per identity, with the passwords read from the secret files.
Later starts reuse the data. Listens on 0.0.0.0:389 until SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from connector.resources import default_units
from connector.sources.units import load_units
from connector.testing.delegation import install_delegation
from connector.testing.slapd import SlapdServer


def _secret(path: str) -> str:
    return Path(path).read_text(encoding="utf-8").splitlines()[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--port", type=int, default=389)
    parser.add_argument("--units", type=Path, default=None)
    parser.add_argument("--root-password-file", required=True)
    parser.add_argument("--identity", action="append", default=[],
                        help="SCOPE=PASSWORD_FILE, e.g. it-centre=/run/secrets/it_centre_password")
    args = parser.parse_args(argv)
    units = load_units(args.units or default_units())
    args.data.mkdir(parents=True, exist_ok=True)
    server = SlapdServer(units=units, root_password=_secret(args.root_password_file),
                         workdir=args.data, port=args.port,
                         listen=[f"ldap://0.0.0.0:{args.port}/"])
    fresh = not server.initialised
    server.start()
    if fresh:
        passwords = dict(item.split("=", 1) for item in args.identity)
        identities = install_delegation(server, units,
                                        {k: _secret(v) for k, v in passwords.items()})
        for scope in passwords:
            print(f"identity for {scope}: {identities[scope].dn}", flush=True)
    print(f"slapd ready on port {args.port} (data in {args.data})", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

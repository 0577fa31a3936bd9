"""The same fixture API as ``SlapdServer``, served by the OpenLDAP image of
``config/openldap/Dockerfile`` on an ``Engine`` (``CONNECTOR_TEST_DOCKER=1``).

The container is what users run: its entrypoint builds cn=config, the tree
and the delegation ACLs on first start, from the root password secret file.
The client-side helpers (ldapadd, ldapsearch, binds) run from the host
against the port published on 127.0.0.1; what needs ldapi (cn=config
changes) runs inside the container as root, the ACLs' operator.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from connector.core.acl import ROOT_PEERCRED
from connector.core.model import Layout
from connector.core.units import Units
from connector.testing.engine import OPENLDAP_IMAGE, Engine
from connector.testing.slapd import SlapdServer, free_port

LDAPI = "ldapi://%2Fvar%2Flib%2Fconnector-ldap%2Fldapi"


class ContainerServer(SlapdServer):
    def __init__(self, engine: Engine, layout: Layout | None = None,
                 units: Units | None = None, *, image: str = OPENLDAP_IMAGE,
                 identities: dict[str, str] | None = None) -> None:
        """``identities`` maps a service account cn (``connector-bte``) to the password
        the image creates it with, as a compose secret would."""
        if layout is not None and layout != Layout():
            raise ValueError("the OpenLDAP image is built for the default layout")
        self.engine = engine
        self.image = image
        exchange = Path(tempfile.mkdtemp(prefix="slapd-container-"))
        super().__init__(layout, units, root_password=secrets.token_urlsafe(18),
                         workdir=exchange)
        self.container: Any = None
        self.external_dn = ROOT_PEERCRED
        self.secrets_dir = exchange / "secrets"
        self.secrets_dir.mkdir(mode=0o700)
        (self.secrets_dir / "ldap_root_password").write_text(self.root_password + "\n")
        for name, password in (identities or {}).items():
            (self.secrets_dir / name).write_text(password + "\n")
        (exchange / "exchange").mkdir()

    @property
    def initialised(self) -> bool:
        return self.container is not None

    def start(self) -> None:
        self.port = free_port()
        self.url = f"ldap://127.0.0.1:{self.port}"
        self.container = self.engine.client().containers.run(
            self.image, detach=True, environment={"SLAPD_DEBUG_LEVEL": "0"},
            ports={"389/tcp": ("127.0.0.1", self.port)},
            volumes={str(self.secrets_dir): {"bind": "/run/secrets", "mode": "ro"},
                     str(self.dir / "exchange"): {"bind": "/exchange", "mode": "rw"}},
        )
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            self.container.reload()
            if self.container.status == "exited":
                logs = self.container.logs().decode(errors="replace")[-1500:]
                raise RuntimeError(f"the OpenLDAP container exited: {logs}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    if self.can_bind(self.root_dn, self.root_password):
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the OpenLDAP container did not answer within 60 s")

    def ldapmodify_config(self, text: str) -> str:
        (self.dir / "exchange" / "change.ldif").write_text(text, encoding="utf-8")
        code, output = self.container.exec_run(
            ["ldapmodify", "-Q", "-Y", "EXTERNAL", "-H", LDAPI, "-f", "/exchange/change.ldif"])
        if code != 0:
            raise RuntimeError(f"ldapmodify in the container failed: {output.decode()[-800:]}")
        return str(output.decode())

    def pause(self) -> None:
        """Stop the container (SIGTERM to slapd, PID 1) but keep its data."""
        if self.container is not None:
            self.container.stop(timeout=15)

    def resume(self) -> None:
        self.container.start()
        self._wait()

    def stop(self) -> None:
        if self.container is not None:
            self.container.remove(force=True, v=True)
            self.container = None
        shutil.rmtree(self.dir, ignore_errors=True)

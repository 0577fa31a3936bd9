"""The same fixture API as ``SlapdServer``, served by the OpenLDAP image of
``config/openldap/Dockerfile`` through the docker SDK (``CONNECTOR_TEST_DOCKER=1``).

The client-side helpers (ldapadd, ldapsearch, binds) run from the host against
the published port; what needs ldapi (cn=config changes) runs inside the
container.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from connector.core.model import Layout
from connector.core.units import Units
from connector.testing.slapd import SlapdServer, free_port

IMAGE = "bhxh-connector-openldap:test"
REPO = Path(__file__).resolve().parents[2]


def docker_client() -> Any:
    """A client for a reachable engine, or raise RuntimeError saying why not."""
    try:
        import docker
    except ImportError as exc:
        raise RuntimeError("the docker SDK is not installed (pip install docker)") from exc
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:
        raise RuntimeError(f"no Docker engine reachable: {exc}") from exc
    return client


class ContainerServer(SlapdServer):
    def __init__(self, layout: Layout | None = None, units: Units | None = None) -> None:
        self.client = docker_client()
        self.exchange = Path(tempfile.mkdtemp(prefix="slapd-container-"))
        super().__init__(layout, units, root_password=secrets.token_urlsafe(18),
                         workdir=self.exchange)
        self.container: Any = None
        self.external_dn = "gidNumber=0+uidNumber=0,cn=peercred,cn=external,cn=auth"
        (self.exchange / "ldap_root_password").write_text(self.root_password)

    def start(self) -> None:
        self.client.images.build(path=str(REPO), dockerfile="config/openldap/Dockerfile",
                                 tag=IMAGE, rm=True)
        self.port = free_port()
        self.url = f"ldap://127.0.0.1:{self.port}"
        self.container = self.client.containers.run(
            IMAGE, detach=True, command=["--units", "/opt/connector/config/units.toml"],
            ports={"389/tcp": ("127.0.0.1", self.port)},
            volumes={str(self.exchange / "ldap_root_password"):
                     {"bind": "/run/secrets/ldap_root_password", "mode": "ro"},
                     str(self.exchange): {"bind": "/exchange", "mode": "rw"}},
        )
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    if self.can_bind(self.root_dn, self.root_password):
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the OpenLDAP container did not answer within 60 s")

    def ldapmodify_config(self, text: str) -> str:
        (self.exchange / "change.ldif").write_text(text, encoding="utf-8")
        code, output = self.container.exec_run(
            ["ldapmodify", "-Q", "-Y", "EXTERNAL", "-H",
             "ldapi://%2Fvar%2Flib%2Fconnector-ldap%2Fldapi", "-f", "/exchange/change.ldif"])
        if code != 0:
            raise RuntimeError(f"ldapmodify in the container failed: {output.decode()[-800:]}")
        return str(output.decode())

    def pause(self) -> None:
        if self.container is not None:
            self.container.stop(timeout=15)

    def resume(self) -> None:
        self.container.start()
        self._wait()

    def stop(self) -> None:
        if self.container is not None:
            self.container.remove(force=True, v=True)
            self.container = None
        shutil.rmtree(self.exchange, ignore_errors=True)

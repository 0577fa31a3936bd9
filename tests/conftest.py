"""Fixtures: a real, throwaway OpenLDAP per test (module-scoped ones live with their tests).

``CONNECTOR_TEST_DOCKER=1`` selects an OpenLDAP container through the docker
SDK instead (same API); otherwise Debian's ``slapd`` is started locally. When
slapd is missing, integration tests fail: they never silently skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.testing.slapd import SlapdMissing, SlapdServer, sample_units


def _server() -> SlapdServer:
    if os.environ.get("CONNECTOR_TEST_DOCKER") == "1":
        from connector.testing.container import ContainerServer

        return ContainerServer(units=sample_units())  # type: ignore[return-value]
    try:
        return SlapdServer(units=sample_units())
    except SlapdMissing as exc:
        pytest.fail(f"{exc} (integration tests need a real slapd; .ci/run installs it)")


@pytest.fixture
def slapd() -> Iterator[SlapdServer]:
    server = _server()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def connector_env(server: SlapdServer, tmp_path: Path, **extra: str) -> dict[str, str]:
    """Environment for the CLI bound as the root DN (before delegation is installed)."""
    env = {
        "CONNECTOR_LDAP__URL": server.url,
        "CONNECTOR_LDAP__BIND_DN": server.root_dn,
        "CONNECTOR_LDAP__BIND_PASSWORD": server.root_password,
        "CONNECTOR_AUDIT__PATH": str(tmp_path / "audit.jsonl"),
        "CONNECTOR_STATE__DIR": str(tmp_path / "state"),
        "CONNECTOR_ROSTER__PATH": str(tmp_path / "roster.csv"),
    }
    env.update(extra)
    return env

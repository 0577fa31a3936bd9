"""Fixtures: a real, throwaway OpenLDAP per test (module-scoped ones live with their tests).

Debian's ``slapd`` is started locally; when it is missing, integration tests
fail: they never silently skip. With ``CONNECTOR_TEST_DOCKER=1`` (``.ci/run``
sets it) a private Docker engine is started once per session, the images are
built offline as the README says, and every test marked ``container`` runs
twice: ``[local]`` and ``[container]``, the latter against the OpenLDAP image
(same fixture API). Without the variable, ``container`` tests run locally only
and ``docker`` tests skip saying how to enable them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.testing.container import ContainerServer
from connector.testing.engine import Engine, EngineMissing
from connector.testing.slapd import SlapdMissing, SlapdServer, sample_units


def docker_enabled() -> bool:
    return os.environ.get("CONNECTOR_TEST_DOCKER") == "1"


def _server() -> SlapdServer:
    try:
        return SlapdServer(units=sample_units())
    except SlapdMissing as exc:
        pytest.fail(f"{exc} (integration tests need a real slapd; .ci/run installs it)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if ("slapd" in metafunc.fixturenames and docker_enabled()
            and metafunc.definition.get_closest_marker("container")):
        metafunc.parametrize("slapd", ["local", "container"], indirect=True)


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[Engine]:
    """The private engine with both images built; a failure here is a failure, not a skip."""
    if not docker_enabled():
        pytest.skip("set CONNECTOR_TEST_DOCKER=1 to run the container tests (.ci/run does)")
    engine = Engine()
    try:
        engine.start()
    except EngineMissing as exc:
        pytest.fail(f"{exc} (.ci/run installs docker.io and debootstrap)")
    try:
        engine.build_images()
        print("\ncontainer engine ready:", ", ".join(f"{k} {v:.1f}"
                                                  for k, v in engine.timings.items()))
        yield engine
    finally:
        engine.stop()


@pytest.fixture
def slapd(request: pytest.FixtureRequest) -> Iterator[SlapdServer]:
    server: SlapdServer
    if getattr(request, "param", "local") == "container":
        server = ContainerServer(request.getfixturevalue("docker_engine"), units=sample_units())
    else:
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

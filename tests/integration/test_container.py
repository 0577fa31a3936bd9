"""The OpenLDAP image of the compose stack, driven through the docker SDK.

Runs only with ``CONNECTOR_TEST_DOCKER=1`` and a reachable Docker engine (this
project's CI machine has the docker client but no engine); skipped with the
reason otherwise. The same tests then also run every other integration test
against the container, since the ``slapd`` fixture switches to it.
"""

from __future__ import annotations

import os

import pytest

from tests.conftest import connector_env
from tests.helpers import LAYOUT, roster_csv, row, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.docker]


def _engine_reason() -> str | None:
    if os.environ.get("CONNECTOR_TEST_DOCKER") != "1":
        return "set CONNECTOR_TEST_DOCKER=1 to run OpenLDAP in a container"
    from connector.testing.container import docker_client

    try:
        docker_client()
    except RuntimeError as exc:
        return str(exc)
    return None


@pytest.fixture
def container():
    reason = _engine_reason()
    if reason:
        pytest.skip(reason)
    from connector.testing.container import ContainerServer
    from connector.testing.slapd import sample_units

    server = ContainerServer(units=sample_units())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_container_image_locks_for_real(container, tmp_path):
    env = connector_env(container, tmp_path)
    (tmp_path / "roster.csv").write_text(roster_csv([row("C1")]))
    assert run_cli(["reconcile"], env).returncode == 0
    dn = f"uid=C1,{LAYOUT.central_dn}"
    container.set_password(dn, "pw-c1")
    assert container.can_bind(dn, "pw-c1")
    (tmp_path / "roster.csv").write_text(roster_csv([row("C1", status="terminated")]))
    assert run_cli(["reconcile"], env).returncode == 0
    assert not container.can_bind(dn, "pw-c1")

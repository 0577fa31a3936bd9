"""The OpenLDAP image as users run it: its own entrypoint, slapd as PID 1, secrets as files.

Needs ``CONNECTOR_TEST_DOCKER=1`` (``.ci/run`` sets it): the session's private
engine builds the images offline first. The reconcile, lock, delegation and
daemon tests marked ``container`` also run against this image through the
``slapd`` fixture.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from connector.testing.container import ContainerServer
from connector.testing.engine import OPENLDAP_IMAGE, Engine
from connector.testing.slapd import sample_units
from tests.conftest import connector_env
from tests.helpers import LAYOUT, roster_csv, row, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.docker]

BTE_PASSWORD = "bte-secret-from-a-file"
IT_PASSWORD = "it-secret-from-a-file"


@pytest.fixture
def image_server(docker_engine: Engine) -> Iterator[ContainerServer]:
    server = ContainerServer(docker_engine, units=sample_units(), identities={
        "connector-bte": BTE_PASSWORD, "connector-it-centre": IT_PASSWORD})
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _exec(server: ContainerServer, *argv: str) -> tuple[int, str]:
    code, output = server.container.exec_run(list(argv))
    return code, output.decode(errors="replace")


def test_identities_made_from_secret_files_pass_check_under_the_image_acls(image_server,
                                                                             tmp_path):
    bte = f"cn=connector-bte,{LAYOUT.system_dn}"
    it = f"cn=connector-it-centre,{LAYOUT.system_dn}"
    assert image_server.can_bind(bte, BTE_PASSWORD)
    assert image_server.can_bind(it, IT_PASSWORD)
    # Only the identities whose secret exists are made.
    assert not image_server.search(LAYOUT.system_dn, "(cn=connector-hcm)", ["1.1"]).strip()
    for scope, dn, password in (("province:BTE", bte, BTE_PASSWORD),
                                ("it-centre", it, IT_PASSWORD)):
        (tmp_path / "roster.csv").write_text(roster_csv([]), encoding="utf-8")
        env = connector_env(image_server, tmp_path, CONNECTOR_LDAP__BIND_DN=dn,
                            CONNECTOR_LDAP__BIND_PASSWORD=password, CONNECTOR_SCOPE=scope)
        result = run_cli(["check"], env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "check passed" in result.stdout


def test_a_province_reconciles_and_locks_with_real_binds_under_the_image_acls(image_server,
                                                                                tmp_path):
    env = connector_env(image_server, tmp_path, CONNECTOR_SCOPE="province:BTE",
                        CONNECTOR_LDAP__BIND_DN=f"cn=connector-bte,{LAYOUT.system_dn}",
                        CONNECTOR_LDAP__BIND_PASSWORD=BTE_PASSWORD)
    people = [row("B1", unit_type="province", unit_code="BTE"),
              row("C1"), row("H1", unit_type="province", unit_code="HCM")]
    (tmp_path / "roster.csv").write_text(roster_csv(people))
    assert run_cli(["reconcile"], env).returncode == 0
    dn = f"uid=B1,{LAYOUT.people_dn('BTE')}"
    assert not image_server.search(LAYOUT.central_dn, "(uid=C1)", ["1.1"]).strip()
    image_server.set_password(dn, "pw-b1")
    assert image_server.can_bind(dn, "pw-b1")
    people[0] = row("B1", unit_type="province", unit_code="BTE", status="violation")
    (tmp_path / "roster.csv").write_text(roster_csv(people))
    assert run_cli(["reconcile"], env).returncode == 0
    assert not image_server.can_bind(dn, "pw-b1")


def test_slapd_is_pid_1_runs_as_openldap_and_stops_at_once_on_sigterm(image_server):
    code, cmdline = _exec(image_server, "cat", "/proc/1/cmdline")
    assert code == 0 and cmdline.split("\0")[0].endswith("slapd")
    _, status = _exec(image_server, "cat", "/proc/1/status")
    uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
    assert uid_line.split()[1] != "0", "slapd must drop root after binding port 389"
    code, _ = _exec(image_server, "sh", "-c", "command -v python3")
    assert code != 0, "the OpenLDAP image carries no Python at run time"
    began = time.monotonic()
    image_server.container.stop(timeout=20)
    assert time.monotonic() - began < 10
    image_server.container.reload()
    assert image_server.container.attrs["State"]["ExitCode"] == 0


def test_a_restart_keeps_the_data_and_does_not_initialise_again(image_server, tmp_path):
    env = connector_env(image_server, tmp_path)
    (tmp_path / "roster.csv").write_text(roster_csv([row("C1")]))
    assert run_cli(["reconcile"], env).returncode == 0
    image_server.pause()
    image_server.resume()
    assert image_server.search(LAYOUT.central_dn, "(uid=C1)", ["1.1"]).strip()
    logs = image_server.container.logs().decode(errors="replace")
    assert logs.count("directory initialised") == 1


def test_the_healthcheck_reports_healthy(image_server):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        image_server.container.reload()
        health = image_server.container.attrs["State"].get("Health", {}).get("Status")
        if health == "healthy":
            return
        time.sleep(0.5)
    pytest.fail(f"health is {health!r} after 60 s")


def test_a_missing_root_secret_stops_the_container_with_the_reason(docker_engine, tmp_path):
    container = docker_engine.client().containers.run(
        OPENLDAP_IMAGE, detach=True,
        volumes={str(tmp_path): {"bind": "/run/secrets", "mode": "ro"}})
    try:
        result = container.wait(timeout=60)
        logs = container.logs().decode(errors="replace")
    finally:
        container.remove(force=True, v=True)
    assert result["StatusCode"] == 2
    assert "/run/secrets/ldap_root_password is missing or empty" in logs

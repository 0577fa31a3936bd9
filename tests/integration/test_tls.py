"""TLS: certificates are always verified; StartTLS and ldaps both work with the CA."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connector.testing.slapd import SlapdServer, sample_units
from tests.conftest import connector_env
from tests.helpers import roster_csv, row, run_cli

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tls_slapd() -> Iterator[SlapdServer]:
    server = SlapdServer(units=sample_units(), tls=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def run(server, tmp_path, **env):
    (tmp_path / "roster.csv").write_text(roster_csv([row("T1")]))
    return run_cli(["reconcile", "--dry-run"], connector_env(server, tmp_path, **env))


def test_ldaps_with_the_ca_works(tls_slapd, tmp_path):
    result = run(tls_slapd, tmp_path, CONNECTOR_LDAP__URL=tls_slapd.ldaps_url,
                 CONNECTOR_LDAP__CA_FILE=str(tls_slapd.ca_file))
    assert result.returncode == 0, result.stderr


def test_starttls_with_the_ca_works(tls_slapd, tmp_path):
    result = run(tls_slapd, tmp_path, CONNECTOR_LDAP__START_TLS="true",
                 CONNECTOR_LDAP__CA_FILE=str(tls_slapd.ca_file))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("mode", ["ldaps", "starttls"])
def test_an_unverifiable_certificate_is_refused(tls_slapd, tmp_path, mode):
    env = ({"CONNECTOR_LDAP__URL": tls_slapd.ldaps_url} if mode == "ldaps"
           else {"CONNECTOR_LDAP__START_TLS": "true"})
    result = run(tls_slapd, tmp_path, **env)
    assert result.returncode == 4
    assert "TLS certificate could not be verified" in result.stderr
    assert "CONNECTOR_LDAP__CA_FILE" in result.stderr
    assert "Traceback" not in result.stderr

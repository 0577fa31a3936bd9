"""compose.yaml checked as far as possible without a Docker engine."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def load() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))


def test_compose_parses_and_has_openldap_and_two_connectors():
    services = load()["services"]
    assert set(services) == {"openldap", "connector-it-centre", "connector-bte"}
    assert services["connector-it-centre"]["environment"]["CONNECTOR_SCOPE"] == "it-centre"
    assert services["connector-bte"]["environment"]["CONNECTOR_SCOPE"] == "province:BTE"


def test_every_build_context_dockerfile_and_mounted_file_exists():
    for name, service in load()["services"].items():
        build = service["build"]
        context = ROOT / build["context"]
        assert context.is_dir(), name
        assert (context / build.get("dockerfile", "Dockerfile")).is_file(), name
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), (name, source)


def test_no_secret_in_plain_environment_and_secrets_come_from_files():
    data = load()
    for name, service in data["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if "PASSWORD" in key:
                assert key.endswith("_FILE") and str(value).startswith("/run/secrets/"), name
        for secret in service.get("secrets", []):
            assert secret in data["secrets"], (name, secret)
    for secret in data["secrets"].values():
        assert secret["file"].startswith("./config/compose/secrets/")
    assert (ROOT / "config/compose/make-secrets.sh").is_file()


def test_connectors_bind_as_the_identities_the_image_creates():
    services = load()["services"]
    dockerfile = (ROOT / "config/openldap/Dockerfile").read_text()
    assert "it-centre=/run/secrets/it_centre_password" in dockerfile
    assert "province:BTE=/run/secrets/bte_password" in dockerfile
    assert services["connector-it-centre"]["environment"]["CONNECTOR_LDAP__BIND_DN"].startswith(
        "cn=connector-it-centre,ou=system,")
    assert services["connector-bte"]["environment"]["CONNECTOR_LDAP__BIND_DN"].startswith(
        "cn=connector-bte,ou=system,")


def test_shipped_acl_ldif_is_what_print_acl_generates():
    from connector.core.acl import acl_ldif
    from connector.core.model import Layout
    from connector.testing.slapd import sample_units

    shipped = (ROOT / "config" / "acl.ldif").read_text(encoding="utf-8")
    assert shipped == acl_ldif(Layout(), sample_units())

"""compose.yaml as Compose v2 itself reads it (``docker compose config``, no engine needed).

The stack really runs in tests/integration/test_compose.py.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from connector.testing.engine import compose_command

ROOT = Path(__file__).resolve().parents[2]


def load() -> dict[str, Any]:
    result = subprocess.run([*compose_command(), "-f", str(ROOT / "compose.yaml"), "config",
                             "--format", "json", "--no-interpolate"], capture_output=True,
                            text=True, check=True, cwd=ROOT,
                            env={"PATH": "/usr/bin:/bin"})
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def resolved() -> dict[str, Any]:
    result = subprocess.run([*compose_command(), "-f", str(ROOT / "compose.yaml"), "config",
                             "--format", "json"], capture_output=True, text=True, check=True,
                            cwd=ROOT, env={"PATH": "/usr/bin:/bin"})
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_compose_v2_reads_the_file_with_openldap_and_two_connectors():
    data = load()
    assert data["name"] == "bhxh-connector"
    services = data["services"]
    assert set(services) == {"openldap", "connector-it-centre", "connector-bte"}
    assert services["connector-it-centre"]["environment"]["CONNECTOR_SCOPE"] == "it-centre"
    assert services["connector-bte"]["environment"]["CONNECTOR_SCOPE"] == "province:BTE"
    for name in ("connector-it-centre", "connector-bte"):
        assert services[name]["depends_on"]["openldap"]["condition"] == "service_healthy"


def test_every_dockerfile_and_default_mounted_file_exists():
    for name, service in resolved()["services"].items():
        if "build" in service:
            assert (Path(service["build"]["context"]) / service["build"]["dockerfile"]).is_file()
        for volume in service.get("volumes", []):
            if volume["type"] == "bind":
                assert Path(volume["source"]).exists(), (name, volume["source"])


def test_no_secret_in_plain_environment_and_secrets_come_from_files():
    data = resolved()
    for name, service in data["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if "PASSWORD" in key:
                assert key.endswith("_FILE") and str(value).startswith("/run/secrets/"), name
    for secret in data["secrets"].values():
        assert secret["file"].startswith(str(ROOT / "config/compose/secrets") + "/")
    assert (ROOT / "config/compose/make-secrets.sh").is_file()


def test_only_metrics_are_published_and_only_on_loopback():
    for name, service in resolved()["services"].items():
        for port in service.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", name
            assert port["target"] == 9108, name


def test_connectors_bind_as_identities_the_image_makes_from_their_secrets():
    """The entrypoint makes one identity per secret named after its cn (SPEC §2 ou=system)."""
    services = resolved()["services"]
    ldap_secrets = {s["source"] for s in services["openldap"]["secrets"]}
    for name in ("connector-it-centre", "connector-bte"):
        env = services[name]["environment"]
        cn = env["CONNECTOR_LDAP__BIND_DN"].split(",", 1)[0].removeprefix("cn=")
        assert env["CONNECTOR_LDAP__BIND_DN"] == f"cn={cn},ou=system,dc=bhxh,dc=gov,dc=vn"
        assert env["CONNECTOR_LDAP__BIND_PASSWORD_FILE"] == f"/run/secrets/{cn}"
        assert cn in ldap_secrets
        assert (ROOT / "config/openldap/Dockerfile").is_file()


def test_shipped_acl_ldif_is_what_print_acl_generates():
    from connector.core.acl import acl_ldif
    from connector.core.model import Layout
    from connector.testing.slapd import sample_units

    shipped = (ROOT / "config" / "acl.ldif").read_text(encoding="utf-8")
    assert shipped == acl_ldif(Layout(), sample_units())

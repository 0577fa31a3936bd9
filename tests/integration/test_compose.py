"""The compose stack end to end, driven by Compose v2 on the session's private engine.

``docker compose up --build`` as the README says (the images come from the
engine's build cache), both daemons reconcile their rosters, the accounts
appear and a termination locks, ``/metrics`` answers on 127.0.0.1, and
``docker compose down`` stops every container cleanly within its grace.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.testing.engine import REPO, Engine, compose_command
from connector.testing.slapd import free_port
from tests.helpers import LAYOUT

pytestmark = [pytest.mark.integration, pytest.mark.docker, pytest.mark.timeout(900)]

LDAPI = "ldapi://%2Fvar%2Flib%2Fconnector-ldap%2Fldapi"


class Stack:
    def __init__(self, engine: Engine, workdir: Path) -> None:
        self.engine = engine
        self.project = f"bhxh-test-{secrets.token_hex(3)}"
        self.metrics_port = free_port()
        self.secrets_dir = workdir / "secrets"
        self.secrets_dir.mkdir(mode=0o700)
        for name in ("ldap_root_password", "connector-it-centre", "connector-bte"):
            path = self.secrets_dir / name
            path.write_text(secrets.token_urlsafe(24) + "\n")
            path.chmod(0o600)
            if name.startswith("connector-"):
                os.chown(path, 10001, 10001)  # the connector image's user
        self.it_roster = workdir / "it-centre.csv"
        self.bte_roster = workdir / "bte.csv"
        shutil.copyfile(REPO / "config" / "sample-roster.csv", self.it_roster)
        shutil.copyfile(REPO / "config" / "compose" / "bte-roster.csv", self.bte_roster)
        self.env = {**engine.env, "CONNECTOR_SECRETS_DIR": str(self.secrets_dir),
                    "CONNECTOR_IT_CENTRE_ROSTER": str(self.it_roster),
                    "CONNECTOR_BTE_ROSTER": str(self.bte_roster),
                    "CONNECTOR_METRICS_HOST_PORT": str(self.metrics_port)}

    def compose(self, *args: str, check: bool = True,
                timeout: float = 600) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([*compose_command(), "-p", self.project, "-f",
                                 str(REPO / "compose.yaml"), *args], env=self.env, cwd=REPO,
                                capture_output=True, text=True, timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"compose {' '.join(args)} failed ({result.returncode}): "
                                 f"{(result.stdout + result.stderr)[-3000:]}")
        return result

    def tree(self) -> dict[str, dict[str, list[str]]]:
        """Every person entry, read as root over ldapi inside the openldap container."""
        text = self.compose("exec", "-T", "openldap", "ldapsearch", "-LLL", "-Q", "-Y",
                            "EXTERNAL", "-H", LDAPI, "-o", "ldif-wrap=no", "-b",
                            LAYOUT.base_dn, "(objectClass=inetOrgPerson)", "uid",
                            "pwdAccountLockedTime").stdout
        entries: dict[str, dict[str, list[str]]] = {}
        for block in text.strip().split("\n\n"):
            lines = [line for line in block.splitlines() if ": " in line]
            if not lines:
                continue
            attributes: dict[str, list[str]] = {}
            for line in lines[1:]:
                name, value = line.split(": ", 1)
                attributes.setdefault(name, []).append(value)
            entries[attributes["uid"][0]] = attributes
        return entries

    def containers(self) -> list[dict[str, object]]:
        out = self.compose("ps", "-a", "--format", "json").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.fixture
def stack(docker_engine: Engine, tmp_path: Path) -> Iterator[Stack]:
    stack = Stack(docker_engine, tmp_path)
    try:
        yield stack
    finally:
        stack.compose("down", "-v", "--timeout", "30", check=False)


def _wait_for(predicate, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(1)
    raise AssertionError(f"{what} within {timeout:.0f} s (last: {last!r})")


def test_the_stack_reconciles_both_scopes_serves_metrics_and_stops_cleanly(stack):
    began = time.monotonic()
    stack.compose("up", "--build", "--detach", "--wait", "--wait-timeout", "300")
    up_seconds = time.monotonic() - began
    services = {c["Service"]: c for c in stack.containers()}
    assert set(services) == {"openldap", "connector-it-centre", "connector-bte"}
    assert all(c["State"] == "running" for c in services.values()), services

    # Both daemons run at start: the IT Centre's central/vendor/admin accounts and Bến Tre's staff.
    def both_scopes_done():  # type: ignore[no-untyped-def]
        tree = stack.tree()
        return tree if {"TW0001", "BTE0002"} <= set(tree) else None
    tree = _wait_for(both_scopes_done, 120, "the accounts of both scopes appear")
    assert not any(uid.startswith("BTE") and "pwdAccountLockedTime" in e
                   for uid, e in tree.items())

    # /metrics answers on 127.0.0.1 only, with the IT Centre's first run counted.
    def metrics():  # type: ignore[no-untyped-def]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{stack.metrics_port}/metrics",
                                        timeout=5) as response:
                text = response.read().decode()
        except OSError:
            return None
        return text if 'connector_runs_total{outcome="partial",scope="it-centre"}' in text \
            or 'connector_runs_total{outcome="ok",scope="it-centre"}' in text else None
    assert 'connector_actions_total{action="create"' in _wait_for(metrics, 60, "metrics")
    published = services["connector-it-centre"]["Publishers"]
    assert all(p["URL"] in ("127.0.0.1", "") for p in published if p["PublishedPort"])  # type: ignore[index, union-attr]

    # A termination on each roster: "run now" in each daemon's container locks it.
    for path, uid in ((stack.it_roster, "TW0001"), (stack.bte_roster, "BTE0002")):
        text = path.read_text(encoding="utf-8")
        line = next(line for line in text.splitlines() if line.startswith(uid + ","))
        changed = text.replace(line, line.replace(",active,", ",terminated,"))
        # Rewritten in place: the bind mount follows the inode, not the name.
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(changed)
    for service in ("connector-it-centre", "connector-bte"):
        result = stack.compose("exec", "-T", service, "connector", "reconcile", check=False)
        assert result.returncode in (0, 1), result.stdout + result.stderr
    tree = stack.tree()
    assert "pwdAccountLockedTime" in tree["TW0001"] and "pwdAccountLockedTime" in tree["BTE0002"]
    assert "pwdAccountLockedTime" not in tree["BTE0003"]

    # Logs carry no secret.
    logs = stack.compose("logs", "--no-color").stdout
    for secret_file in stack.secrets_dir.iterdir():
        assert secret_file.read_text().strip() not in logs

    began = time.monotonic()
    stack.compose("stop", "--timeout", "30")
    stop_seconds = time.monotonic() - began
    exits = {c["Service"]: c["ExitCode"] for c in stack.containers()}
    assert exits == {"openldap": 0, "connector-it-centre": 0, "connector-bte": 0}, exits
    assert stop_seconds < 30, f"stop took {stop_seconds:.1f} s, beyond the 30 s grace"
    stack.compose("down", "-v", "--timeout", "30")
    assert stack.containers() == []
    print(f"\ncompose: up (cached build) {up_seconds:.1f} s, stop {stop_seconds:.1f} s")

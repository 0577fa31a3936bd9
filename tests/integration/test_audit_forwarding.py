"""Audit lines forwarded off the host (SPEC §12), against a real slapd and a real
collector (Debian's rsyslogd on loopback, writing each raw message to a file): every
line arrives as RFC 5424, byte for byte and in order; a collector down for a run gets
every waiting line at the next one; a dead or stalled collector never fails the run
nor holds it past the timeout."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import pytest

from connector.outputs.forward import BOM
from connector.testing.delegation import install_delegation
from connector.testing.slapd import sample_units
from connector.testing.syslog import Rsyslog, make_certificates
from tests.conftest import connector_env
from tests.helpers import roster_csv, row, run_cli

pytestmark = pytest.mark.integration


def parsed(message: bytes) -> tuple[list[bytes], bytes]:
    """The RFC 5424 header fields (PRI+VERSION, TIMESTAMP, HOSTNAME, APP-NAME, PROCID,
    MSGID, SD) and the message after its BOM."""
    fields = message.split(b" ", 7)
    assert fields[7].startswith(BOM), message
    return fields[:7], fields[7][len(BOM):]


def received_lines(collector: Rsyslog, count: int) -> list[bytes]:
    messages = collector.messages(count)
    for fields, _ in map(parsed, messages):
        assert fields[0] == b"<110>1" and fields[3] == b"bhxh-connector" \
            and fields[5] == b"audit" and fields[6] == b"-", fields
    return [body for _, body in map(parsed, messages)]


def audit_lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


@pytest.fixture
def forwarding(slapd, tmp_path):
    collector = Rsyslog(tmp_path / "collector").start()
    env = connector_env(slapd, tmp_path, CONNECTOR_AUDIT__SYSLOG=collector.url,
                        CONNECTOR_AUDIT__SYSLOG_TIMEOUT="2")
    yield collector, env, tmp_path
    collector.stop()


def write_roster(folder: Path, count: int, **extra: str) -> None:
    (folder / "roster.csv").write_text(
        roster_csv([row(f"TW{n}", **extra) for n in range(1, count + 1)]), encoding="utf-8")


def test_every_audit_line_reaches_the_collector_as_rfc5424_byte_for_byte(forwarding):
    collector, env, folder = forwarding
    write_roster(folder, 5)
    assert run_cli(["reconcile", "--dry-run"], env).returncode == 0
    result = run_cli(["reconcile", "--json"], env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["summary"]["audit_lines_waiting"] == 0
    written = audit_lines(folder / "audit.jsonl")
    assert len(written) == 10  # 5 planned (dry run), 5 created
    assert received_lines(collector, 10) == written
    # the TIMESTAMP is the line's own ts: a late delivery keeps the time of the event
    fields, body = parsed(collector.messages(10)[-1])
    assert fields[1].decode() == json.loads(body)["ts"]


def test_a_collector_down_for_a_run_gets_every_waiting_line_after_it_in_order(forwarding):
    collector, env, folder = forwarding
    write_roster(folder, 3)
    assert run_cli(["reconcile"], env).returncode == 0
    collector.stop()
    write_roster(folder, 7)
    started = time.monotonic()
    down = run_cli(["reconcile", "--json"], env)
    assert down.returncode == 0, down.stderr  # delivery never changes the exit code
    assert time.monotonic() - started < 15
    assert json.loads(down.stdout)["summary"]["audit_lines_waiting"] == 4
    assert "4 audit lines wait for the next run" in down.stderr
    status = run_cli(["status"], env)
    assert "4 lines wait for the syslog collector" in status.stdout
    collector.start()
    write_roster(folder, 8)
    up = run_cli(["reconcile", "--json"], env)
    assert up.returncode == 0 and json.loads(up.stdout)["summary"]["audit_lines_waiting"] == 0
    written = audit_lines(folder / "audit.jsonl")
    assert len(written) == 8
    got = received_lines(collector, 8)
    assert got == written  # every line once, in order: the waiting ones before the new one
    assert [json.loads(x)["seq"] for x in got] == list(range(1, 9))


@pytest.mark.parametrize("bound_as", ["its delegated identity", "the rootDN"])
def test_lines_waiting_when_logrotate_moved_the_file_are_sent_from_the_rotated_one(
        forwarding, slapd, bound_as):
    """Bound as its identity, the new file continues the anchored chain; bound as the
    rootDN (no entry to anchor on) the chain restarts at 1: no line is lost either way."""
    collector, env, folder = forwarding
    if bound_as == "its delegated identity":
        identity = install_delegation(slapd, sample_units())["it-centre"]
        env = {**env, "CONNECTOR_LDAP__BIND_DN": identity.dn,
               "CONNECTOR_LDAP__BIND_PASSWORD": identity.password}
    write_roster(folder, 2)
    assert run_cli(["reconcile"], env).returncode == 0
    collector.stop()
    write_roster(folder, 4)
    assert run_cli(["reconcile"], env).returncode == 0  # 2 lines wait
    audit = folder / "audit.jsonl"
    rotated = audit_lines(audit)
    audit.rename(folder / "audit.jsonl.1")  # logrotate's create mode: a new file follows
    collector.start()
    write_roster(folder, 5)
    assert run_cli(["reconcile"], env).returncode == 0
    current = audit_lines(audit)
    first = 5 if bound_as == "its delegated identity" else 1
    assert json.loads(current[0])["seq"] == first
    assert received_lines(collector, 5) == rotated + current


@pytest.mark.parametrize("transport", ["udp", "tls"])
def test_udp_and_tls_collectors_receive_the_lines(slapd, tmp_path, transport):
    certs = make_certificates(tmp_path / "certs") if transport == "tls" else None
    collector = Rsyslog(tmp_path / "collector", transport, certs).start()
    try:
        env = connector_env(slapd, tmp_path, CONNECTOR_AUDIT__SYSLOG=collector.url,
                            **({"CONNECTOR_AUDIT__SYSLOG_CA_FILE": str(certs / "ca.pem")}
                               if certs else {}))
        write_roster(tmp_path, 3)
        result = run_cli(["reconcile", "--json"], env)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["summary"]["audit_lines_waiting"] == 0
        assert received_lines(collector, 3) == audit_lines(tmp_path / "audit.jsonl")
    finally:
        collector.stop()


def test_a_tls_collector_whose_certificate_is_not_trusted_gets_nothing(slapd, tmp_path):
    certs = make_certificates(tmp_path / "certs")
    collector = Rsyslog(tmp_path / "collector", "tls", certs).start()
    try:
        env = connector_env(slapd, tmp_path, CONNECTOR_AUDIT__SYSLOG=collector.url)
        write_roster(tmp_path, 2)
        result = run_cli(["reconcile", "--json"], env)
        assert result.returncode == 0
        assert json.loads(result.stdout)["summary"]["audit_lines_waiting"] == 2
        assert "CERTIFICATE_VERIFY_FAILED" in result.stderr
    finally:
        collector.stop()


def test_a_collector_that_accepts_and_never_reads_costs_the_timeout_not_the_run(slapd,
                                                                                 tmp_path):
    """A hostile or wedged collector: it accepts the connection and then says nothing,
    never closing it. The run ends at the timeout with its lines kept waiting."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        env = connector_env(slapd, tmp_path, CONNECTOR_AUDIT__SYSLOG=(
            f"tcp://127.0.0.1:{listener.getsockname()[1]}"), CONNECTOR_AUDIT__SYSLOG_TIMEOUT="1")
        write_roster(tmp_path, 2)
        started = time.monotonic()
        result = run_cli(["reconcile", "--json"], env)
        elapsed = time.monotonic() - started
        assert result.returncode == 0
        assert json.loads(result.stdout)["summary"]["audit_lines_waiting"] == 2
        assert elapsed < 6, elapsed
    finally:
        stop.set()
        thread.join()
        for sock in held:
            sock.close()
        listener.close()

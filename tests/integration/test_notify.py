"""Notifications (SPEC §14) against a real slapd, a real SMTP server (aiosmtpd on
loopback, with login) and a real HTTP server for the webhook: every event, its
headers and attachments, the outbox when the relay is down, the daemon's
failure/recovery pair, and a sweep for secrets in everything that was sent."""

from __future__ import annotations

import email
import email.policy
import gc
import json
import socket
import threading
import time
import warnings
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyrage
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from pyrage import x25519

from connector.testing.delegation import install_delegation
from connector.testing.slapd import free_port, sample_units
from tests.conftest import connector_env
from tests.helpers import roster_csv, row, run_cli

pytestmark = [
    pytest.mark.integration,
    # aiosmtpd's own deprecations, raised in its server thread as it handles AUTH
    pytest.mark.filterwarnings("ignore::DeprecationWarning:aiosmtpd"),
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]

SMTP_PASSWORD = "smtp-Secret-4242"


class Mailbox:
    """aiosmtpd's handler: every message the relay accepted, as parsed e-mail."""

    def __init__(self) -> None:
        self.raw: list[bytes] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server, session, envelope):
        self.raw.append(envelope.original_content)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def messages(self) -> list[EmailMessage]:
        return [email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[misc]
                for raw in self.raw]


def authenticator(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
    ok = auth_data.login == b"connector" and auth_data.password == SMTP_PASSWORD.encode()
    return AuthResult(success=ok)


class Relay:
    def __init__(self) -> None:
        self.port = free_port()
        self.box = Mailbox()
        self.controller: Controller | None = None

    def start(self) -> Relay:
        with warnings.catch_warnings():  # loopback only: AUTH without TLS is the test's
            warnings.simplefilter("ignore", UserWarning)
            self.controller = Controller(self.box, hostname="127.0.0.1", port=self.port,
                                         authenticator=authenticator, auth_required=True,
                                         auth_require_tls=False)
            self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            with warnings.catch_warnings():  # aiosmtpd leaves its loop's transports to gc
                warnings.simplefilter("ignore", ResourceWarning)
                self.controller.stop()
                gc.collect()
            self.controller = None


class Hooks(ThreadingHTTPServer):
    bodies: list[dict]
    answer: int = 200


class HookHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        server: Hooks = self.server  # type: ignore[assignment]
        body = json.loads(self.rfile.read(length))
        if server.answer == 200:
            server.bodies.append({"headers": dict(self.headers), "body": body})
        self.send_response(server.answer)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def relay():
    started = Relay().start()
    yield started
    started.stop()


@pytest.fixture
def hooks():
    server = Hooks(("127.0.0.1", 0), HookHandler)
    server.bodies = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def officer():
    return x25519.Identity.generate()


@pytest.fixture
def office(slapd, tmp_path, relay, hooks, officer):
    identities = install_delegation(slapd, sample_units())
    units = tmp_path / "units.toml"
    text = (Path(__file__).resolve().parents[2] / "config" / "units.toml").read_text("utf-8")
    units.write_text(text.replace('code = "BTE"', f'code = "BTE"\nrecipient = '
                                  f'"{officer.to_public()}"\ncontact = "it@bte.vss.gov.vn"'),
                     encoding="utf-8")
    (tmp_path / "smtp.secret").write_text(SMTP_PASSWORD + "\n", encoding="utf-8")

    def env(scope: str = "province:BTE", **extra: str) -> dict[str, str]:
        identity = identities[scope]
        settings = {
            "CONNECTOR_SCOPE": scope, "CONNECTOR_LDAP__BIND_DN": identity.dn,
            "CONNECTOR_LDAP__BIND_PASSWORD": identity.password,
            "CONNECTOR_UNITS__PATH": str(units),
            "CONNECTOR_NOTIFY__SMTP_URL": f"smtp://127.0.0.1:{relay.port}",
            "CONNECTOR_NOTIFY__USERNAME": "connector",
            "CONNECTOR_NOTIFY__PASSWORD_FILE": str(tmp_path / "smtp.secret"),
            "CONNECTOR_NOTIFY__FROM": "connector@vss.gov.vn",
            "CONNECTOR_NOTIFY__TO": "ops-bte@vss.gov.vn, lead@vss.gov.vn",
            "CONNECTOR_NOTIFY__WEBHOOK_URL": f"http://127.0.0.1:{hooks.server_address[1]}/hook",
            "CONNECTOR_NOTIFY__TIMEOUT": "2"}
        return connector_env(slapd, tmp_path, **(settings | extra))
    return slapd, env, tmp_path, identities


def staff(count: int, **extra: str) -> list[dict[str, str]]:
    return [row(f"BTE{n:04d}", "Trương Văn Lợi", unit_type="province", unit_code="BTE", **extra)
            for n in range(1, count + 1)]


def write(folder: Path, rows: list[dict[str, str]]) -> None:
    (folder / "roster.csv").write_text(roster_csv(rows), encoding="utf-8")


def by_event(relay: Relay, event: str) -> list[EmailMessage]:
    return [m for m in relay.box.messages() if m["X-Connector-Event"] == event]


def test_a_run_that_changed_something_mails_the_operators_once_with_its_report(office, relay,
                                                                                hooks):
    _, env, folder, _ = office
    write(folder, staff(3))
    result = run_cli(["reconcile", "--json"], env())
    assert result.returncode == 0, result.stderr
    run_id = json.loads(result.stdout)["run_id"]
    (message,) = by_event(relay, "changes")
    assert message["Subject"].startswith("[bhxh-connector] province:BTE")
    assert message["X-Connector-Run-Id"] == run_id
    assert relay.box.envelopes[0][1] == ["ops-bte@vss.gov.vn", "lead@vss.gov.vn"]
    body = message.get_body(("plain",)).get_content()
    assert "3 thao tác thành công" in body and "create" in body
    (report,) = [p for p in message.iter_attachments() if p.get_filename().endswith(".html")]
    assert run_id in report.get_content() and "BTE0003" in report.get_content()
    (hook,) = [h for h in hooks.bodies if h["body"]["event"] == "changes"]
    assert hook["body"]["run_id"] == run_id and hook["body"]["exit_code"] == 0
    assert hook["body"]["summary"]["applied"] == 3
    assert set(hook["body"]) >= {"event", "run_id", "scope", "exit_code", "summary",
                                 "pending_plan", "report"}
    assert hook["headers"]["X-Connector-Event"] == "changes"
    quiet = run_cli(["reconcile"], env())  # nothing to do: nothing to say
    assert quiet.returncode == 0 and len(relay.box.raw) == 1


def test_the_unit_s_contact_gets_its_new_accounts_and_the_sealed_file_byte_for_byte(
        office, relay, officer):
    _, env, folder, _ = office
    write(folder, staff(2))
    assert run_cli(["reconcile"], env(CONNECTOR_CREDENTIALS__ISSUE="true",
                                      CONNECTOR_CREDENTIALS__DIR=str(folder / "sealed"))
                   ).returncode == 0
    (message,) = by_event(relay, "credentials")
    assert message["To"] == "it@bte.vss.gov.vn"
    assert "BTE0001" in message.get_body(("plain",)).get_content()
    (sealed,) = sorted((folder / "sealed").glob("*.csv.age"))
    (attached,) = list(message.iter_attachments())
    assert attached.get_filename() == sealed.name
    assert attached.get_content() == sealed.read_bytes()
    assert b"BTE0002" in pyrage.decrypt(attached.get_content(), [officer])


def test_a_tripped_guard_says_what_it_would_do_and_the_exact_approval_command(office, relay,
                                                                              hooks):
    _, env, folder, _ = office
    write(folder, staff(8))
    assert run_cli(["reconcile"], env()).returncode == 0
    write(folder, staff(8, status="terminated"))
    tripped = run_cli(["reconcile"], env(CONNECTOR_SAFETY__MAX_LOCK_COUNT="3"))
    assert tripped.returncode == 3
    (message,) = by_event(relay, "guard")
    (pending,) = (folder / "state").glob("pending-province-BTE-*.json")
    text = message.get_body(("plain",)).get_content()
    assert f"connector apply {pending} --allow-mass-lock" in text
    assert "lock | 6.2.1 | 8" in text
    (hook,) = [h for h in hooks.bodies if h["body"]["event"] == "guard"]
    assert hook["body"]["pending_plan"] == str(pending) and hook["body"]["exit_code"] == 3


def test_a_one_shot_run_that_cannot_reach_the_directory_says_so(office, relay):
    _, env, folder, _ = office
    write(folder, staff(1))
    down = run_cli(["reconcile"], env(CONNECTOR_LDAP__URL=f"ldap://127.0.0.1:{free_port()}"))
    assert down.returncode == 4
    (message,) = by_event(relay, "failure")
    assert "(mã 4)" in message["Subject"]


def test_the_daemon_tells_a_failure_once_when_it_begins_and_once_when_it_ends(office, relay):
    _, env, folder, _ = office
    write(folder, staff(1))
    broken = env(CONNECTOR_LDAP__URL=f"ldap://127.0.0.1:{free_port()}")
    for _ in range(3):
        assert run_cli(["daemon", "--once"], broken).returncode == 4
    assert len(by_event(relay, "failure")) == 1
    assert run_cli(["daemon", "--once"], env()).returncode == 0
    failures = by_event(relay, "failure")
    assert len(failures) == 2 and "thành công trở lại" in failures[1]["Subject"]
    assert run_cli(["daemon", "--once"], env()).returncode == 0
    assert len(by_event(relay, "failure")) == 2


def test_a_relay_that_is_down_keeps_the_message_and_delivers_it_once_later(office, relay):
    _, env, folder, _ = office
    relay.stop()
    write(folder, staff(2))
    result = run_cli(["reconcile", "--json"], env())
    assert result.returncode == 0  # delivery never changes the outcome
    assert json.loads(result.stdout)["summary"]["notifications_waiting"] == 1
    waiting = list((folder / "state" / "outbox").glob("*.json"))
    assert len(waiting) == 1 and waiting[0].stat().st_mode & 0o777 == 0o600
    assert "1 messages wait in the outbox" in run_cli(["status"], env()).stdout
    relay.start()
    later = run_cli(["reconcile", "--json"], env())  # nothing changed: only the waiting one
    assert json.loads(later.stdout)["summary"]["notifications_waiting"] == 0
    assert len(by_event(relay, "changes")) == 1
    assert run_cli(["reconcile"], env()).returncode == 0
    assert len(relay.box.raw) == 1  # never sent twice


def test_a_relay_that_accepts_and_never_answers_costs_the_timeout_not_the_run(office):
    _, env, folder, _ = office
    listener = socket.create_server(("127.0.0.1", 0))  # accepts (backlog), never greets
    try:
        write(folder, staff(1))
        started = time.monotonic()
        result = run_cli(["reconcile", "--json"], env(
            CONNECTOR_NOTIFY__SMTP_URL=f"smtp://127.0.0.1:{listener.getsockname()[1]}",
            CONNECTOR_NOTIFY__TIMEOUT="1", CONNECTOR_NOTIFY__WEBHOOK_URL=""))
        assert result.returncode == 0
        assert time.monotonic() - started < 8
        assert json.loads(result.stdout)["summary"]["notifications_waiting"] == 1
    finally:
        listener.close()


def test_english_messages_with_report_language_en(office, relay):
    _, env, folder, _ = office
    write(folder, staff(1))
    assert run_cli(["reconcile"], env(CONNECTOR_REPORT__LANGUAGE="en")).returncode == 0
    (message,) = by_event(relay, "changes")
    assert "1 changes applied" in message["Subject"]
    assert "actions applied" in message.get_body(("plain",)).get_content()


def test_no_secret_in_any_message_header_or_webhook_body(office, relay, hooks, officer):
    _, env, folder, identities = office
    write(folder, staff(3))
    issuing = {"CONNECTOR_CREDENTIALS__ISSUE": "true",
               "CONNECTOR_CREDENTIALS__DIR": str(folder / "sealed")}
    assert run_cli(["reconcile"], env(**issuing)).returncode == 0
    write(folder, staff(3, status="terminated"))
    run_cli(["reconcile"], env(CONNECTOR_SAFETY__MAX_LOCK_COUNT="1", **issuing))
    run_cli(["reconcile"], env(CONNECTOR_LDAP__URL=f"ldap://127.0.0.1:{free_port()}"))
    initial = [line.split(",")[-1].strip() for path in (folder / "sealed").glob("*.age")
               for line in pyrage.decrypt(path.read_bytes(), [officer]).decode().splitlines()[1:]]
    secrets = [SMTP_PASSWORD, *(i.password for i in identities.values()), *initial]
    assert len(initial) == 3 and all(len(s) >= 12 for s in secrets)
    sent = [raw.decode("utf-8", "replace") for raw in relay.box.raw]
    sent += [json.dumps(h, ensure_ascii=False) for h in hooks.bodies]
    for message in relay.box.messages():  # decoded parts too (base64, quoted-printable)
        for part in message.walk():
            if part.get_content_maintype() == "text":
                sent.append(part.get_content())
    assert len(relay.box.raw) >= 4 and hooks.bodies
    for secret in secrets:
        assert not any(secret in text for text in sent), "a secret was sent"

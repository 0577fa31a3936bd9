"""Notices as e-mail and webhook calls, through an outbox that loses nothing (SPEC §14).

Every message is first written to ``<state>/outbox/`` (0600, whole or not at all),
then delivered; a delivered one (the relay accepted it, the webhook answered 2xx) is
removed at once, so a retry never sends it twice. What cannot be delivered waits for
the next run. A relay or webhook that is down costs one connect timeout per run.
E-mail is built with the standard library (``email``, ``smtplib``): UTF-8, a text
part and an HTML part (Jinja2, autoescaped), the attachments as they are on disk.
"""

from __future__ import annotations

import base64
import contextlib
import json
import mimetypes
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from connector.core.notices import Notice
from connector.outputs.files import write_atomically

USER_AGENT = "bhxh-connector"


@dataclass(frozen=True)
class Relay:
    """How to reach the mail relay and the webhook (no secret is ever written out)."""

    smtp_url: str | None
    starttls: bool
    username: str | None
    password: str | None
    timeout: float
    ca_file: Path | None = None

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)


@dataclass(frozen=True)
class Delivered:
    sent: int
    waiting: int
    errors: tuple[str, ...] = ()


def _html(notice: Notice, language: str) -> str:
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
        autoescape=True, undefined=jinja2.StrictUndefined)
    return environment.get_template("notice.html.j2").render(lang=language, notice=notice)


def _text(notice: Notice) -> str:
    lines = [notice.subject, ""]
    lines += [paragraph for paragraph in notice.paragraphs]
    for table in notice.tables:
        lines += ["", table.title, "  " + " | ".join(table.headers)]
        lines += ["  " + " | ".join(row) for row in table.rows]
    lines += ["", notice.footer]
    return "\n".join(lines) + "\n"


def compose(notice: Notice, sender: str, to: list[str], language: str) -> EmailMessage:
    """The e-mail of a notice: headers SPEC §14 names, text and HTML, attachments."""
    message = EmailMessage()
    message["Subject"] = notice.subject
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["X-Connector-Run-Id"] = notice.run_id
    message["X-Connector-Event"] = notice.event
    message["Content-Language"] = language
    # quoted-printable: 8bit would let an HTML line pass the 998 octets SMTP allows
    message.set_content(_text(notice), charset="utf-8", cte="quoted-printable")
    message.add_alternative(_html(notice, language), subtype="html", charset="utf-8",
                            cte="quoted-printable")
    for attachment in notice.attachments:
        path = Path(attachment)
        kind = "application/octet-stream" if path.suffix == ".age" else \
            mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        main, _, sub = kind.partition("/")
        message.add_attachment(path.read_bytes(), maintype=main, subtype=sub,
                               filename=path.name)
    return message


class Outbox:
    """``<state>/outbox/``: one file per message waiting, oldest first."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _put(self, name: str, item: dict[str, Any]) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = f"{time.time_ns():020d}"
        return write_atomically(self.folder / f"{stamp}-{name}.json",
                                json.dumps(item, ensure_ascii=False).encode("utf-8"))

    def put_mail(self, notice: Notice, message: EmailMessage, sender: str,
                 to: list[str]) -> Path:
        return self._put(f"{notice.event}-mail", {
            "kind": "mail", "event": notice.event, "run_id": notice.run_id, "from": sender,
            "to": to, "message": base64.b64encode(message.as_bytes(policy=SMTP)).decode("ascii")})

    def put_webhook(self, notice: Notice, url: str) -> Path:
        return self._put(f"{notice.event}-webhook", {
            "kind": "webhook", "event": notice.event, "run_id": notice.run_id, "url": url,
            "body": notice.webhook_body()})

    def waiting(self) -> list[Path]:
        try:
            return sorted(p for p in self.folder.iterdir()
                          if p.suffix == ".json" and not p.name.startswith("."))
        except FileNotFoundError:
            return []

    def deliver(self, relay: Relay) -> Delivered:
        """Send what waits, oldest first, mail over one connection; stop a transport at
        its first failure (the rest waits, in order, for the next run)."""
        items = []
        for path in self.waiting():
            try:
                items.append((path, json.loads(path.read_bytes())))
            except (OSError, ValueError):
                continue  # a damaged file is left where it is, for a person to look at
        errors: list[str] = []
        sent = _send_mail(relay, [(p, i) for p, i in items if i.get("kind") == "mail"], errors)
        sent += _send_webhooks(relay, [(p, i) for p, i in items if i.get("kind") == "webhook"],
                               errors)
        return Delivered(sent, len(self.waiting()), tuple(errors))


def _send_mail(relay: Relay, items: list[tuple[Path, dict[str, Any]]],
               errors: list[str]) -> int:
    if not items:
        return 0
    if relay.smtp_url is None:
        errors.append("mail waits: CONNECTOR_NOTIFY__SMTP_URL is not set")
        return 0
    parts = urlsplit(relay.smtp_url)
    host, secure = parts.hostname or "", parts.scheme == "smtps"
    port = parts.port or (465 if secure else 25)
    sent = 0
    try:
        smtp = smtplib.SMTP_SSL(host, port, timeout=relay.timeout, context=relay.context()) \
            if secure else smtplib.SMTP(host, port, timeout=relay.timeout)
        with smtp:
            if relay.starttls and not secure:
                smtp.starttls(context=relay.context())
            if relay.username:
                smtp.login(relay.username, relay.password or "")
            for path, item in items:
                smtp.sendmail(item["from"], item["to"], base64.b64decode(item["message"]))
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()  # accepted: never sent again
                sent += 1
    except (OSError, smtplib.SMTPException, ssl.SSLError, KeyError, ValueError) as exc:
        errors.append(f"the mail relay {host}:{port} did not take the messages: "
                      f"{_reason(exc)}")
    return sent


def _send_webhooks(relay: Relay, items: list[tuple[Path, dict[str, Any]]],
                   errors: list[str]) -> int:
    sent = 0
    for path, item in items:
        url = str(item.get("url"))
        problem = _post(relay, url, item)
        if problem is not None and problem.startswith("HTTP 5"):  # "later": once more
            time.sleep(0.2)
            problem = _post(relay, url, item)
        if problem is not None:
            errors.append(f"the webhook {urlsplit(url).netloc} did not take the messages: "
                          f"{problem}")
            break
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        sent += 1
    return sent


def _post(relay: Relay, url: str, item: dict[str, Any]) -> str | None:
    body = json.dumps(item.get("body"), ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
        "X-Connector-Event": str(item.get("event")), "X-Connector-Run-Id":
            str(item.get("run_id"))})
    try:
        context = relay.context() if url.startswith("https:") else None
        with urllib.request.urlopen(request, timeout=relay.timeout, context=context) as reply:
            reply.read(65536)
            return None if 200 <= reply.status < 300 else f"HTTP {reply.status}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (OSError, ssl.SSLError, ValueError) as exc:
        return _reason(exc)


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    text = getattr(exc, "strerror", None) or (str(reason) if reason else str(exc))
    return text or type(exc).__name__


def outbox_of(state_dir: Path) -> Outbox:
    return Outbox(state_dir / "outbox")


def waiting_count(state_dir: Path) -> int:
    return len(outbox_of(state_dir).waiting())


"""``CONNECTOR_NOTIFY__*`` (SPEC §14): where the connector tells people what it did."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator

from connector.settings.group import _Group

#: the events a run may send (SPEC §14), in the order they are told
EVENTS = ("changes", "guard", "failure", "credentials")


class NotifySettings(_Group):
    smtp_url: str | None = Field(None, description="mail relay: smtp://host:25 (with "
                                 "starttls for STARTTLS) or smtps://host:465")
    starttls: bool = Field(False, description="upgrade smtp:// with STARTTLS before sending "
                           "(the certificate is verified)")
    username: str | None = Field(None, description="SMTP login, if the relay asks for one")
    password_file: Path | None = Field(None, description="file holding the SMTP password "
                                       "(first line)")
    sender: str | None = Field(None, alias="from", description="the From address")
    to: str | None = Field(None, description="the scope's operators, comma-separated")
    webhook_url: str | None = Field(None, description="http(s):// endpoint that receives "
                                    "one JSON POST per event")
    on: str = Field(",".join(EVENTS), description="events to send, comma-separated: "
                    "changes, guard, failure, credentials")
    timeout: float = Field(5.0, gt=0, le=120, description="seconds to connect to the relay or "
                           "the webhook and for each of its replies")
    ca_file: Path | None = Field(None, description="CA the relay's or webhook's certificate "
                                 "must chain to (default: the system's)")
    _password: SecretStr | None = PrivateAttr(None)

    @field_validator("smtp_url")
    @classmethod
    def _check_smtp(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(f"{value!r}: give smtp://host[:port] or smtps://host[:port]")
        if parts.username or parts.password:
            raise ValueError("put no login in the URL: use notify.username and "
                             "notify.password_file")
        _ = parts.port  # a bad port raises ValueError here
        return value.strip()

    @field_validator("webhook_url")
    @classmethod
    def _check_webhook(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r}: give an http:// or https:// URL")
        return value.strip()

    @field_validator("on")
    @classmethod
    def _check_on(cls, value: str) -> str:
        chosen = [item.strip() for item in value.split(",") if item.strip()]
        unknown = sorted(set(chosen) - set(EVENTS))
        if unknown:
            raise ValueError(f"unknown event(s) {', '.join(unknown)}: choose among "
                             f"{', '.join(EVENTS)}")
        return ",".join(chosen)

    @model_validator(mode="after")
    def _read_password(self) -> NotifySettings:
        if self.password_file is not None:
            try:
                text = self.password_file.read_text(encoding="utf-8")
            except OSError as exc:
                raise ValueError(f"notify.password_file: cannot read {self.password_file}: "
                                 f"{exc.strerror}") from None
            self._password = SecretStr(text.splitlines()[0] if text else "")
        if self.smtp_url is not None and (not self.sender or not self.to):
            raise ValueError("notify.smtp_url is set: notify.from and notify.to are needed too")
        return self

    @property
    def password(self) -> SecretStr | None:
        """The SMTP password, read from ``password_file`` (never a setting itself)."""
        return self._password

    @property
    def events(self) -> frozenset[str]:
        return frozenset(item for item in self.on.split(",") if item)

    @property
    def recipients(self) -> list[str]:
        return [item.strip() for item in (self.to or "").split(",") if item.strip()]

    @property
    def enabled(self) -> bool:
        return self.smtp_url is not None or self.webhook_url is not None

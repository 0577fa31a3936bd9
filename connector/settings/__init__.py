"""Settings (SPEC §5): TOML file < ``CONNECTOR_*`` environment < command-line flags.

Loaded once at the entry point and passed down; nothing reads the environment
behind the caller's back. The bind password is a ``SecretStr`` and never
appears in a repr, a log line or an error message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from connector.core.model import Layout, Scope
from connector.core.urls import LdapUrl, parse_ldap_urls, split_syslog_url
from connector.errors import ConfigError
from connector.settings.describe import ENV_PREFIX as _PREFIX
from connector.settings.describe import describe, drop_none
from connector.settings.group import _Group
from connector.settings.notify import NotifySettings

ENV_PREFIX = _PREFIX
#: Variables of the CONNECTOR_ prefix that are not settings: the settings file, the
#: folder of shipped files (``resources``), and the test suite's own switches.
NOT_SETTINGS = frozenset({"CONNECTOR_CONFIG", "CONNECTOR_CONFIG_DIR"})
TEST_PREFIX = "CONNECTOR_TEST_"
#: Named by SPEC §5 for features this version does not have yet: refused as well (a
#: setting the operator believes on is never ignored), with a message that says why.
NOT_YET: frozenset[str] = frozenset()




_DN = re.compile(r"^\s*[A-Za-z][\w-]*\s*=\s*[^,=]+(?:\s*,\s*[A-Za-z][\w-]*\s*=\s*[^,=]+)*\s*$")


class LdapSettings(_Group):
    url: str = Field("ldap://127.0.0.1:389", description="one URL, or several comma-separated "
                     "for failover; the first that answers is used")
    bind_dn: str | None = Field(None, description="identity the connector binds as")
    bind_password: SecretStr | None = Field(None, description="bind secret; prefer the _FILE form")
    bind_password_file: Path | None = Field(None, description="file holding the bind secret "
                                            "(first line), e.g. a Docker/systemd secret")
    base_dn: str = Field("dc=bhxh,dc=gov,dc=vn", description="suffix of the directory")

    @field_validator("base_dn")
    @classmethod
    def _check_base_dn(cls, value: str) -> str:
        if not _DN.match(value):
            raise ValueError(f"{value!r} is not a DN (attribute=value pairs separated by "
                             "commas, e.g. dc=bhxh,dc=gov,dc=vn)")
        return value
    start_tls: bool = Field(False, description="upgrade ldap:// with StartTLS before binding")
    ca_file: Path | None = Field(None, description="CA bundle for TLS; certificates are always "
                                 "verified")
    allow_plaintext: bool = Field(False, description="allow a simple bind without TLS to a "
                                  "non-loopback host (off: the password would cross the wire)")
    connect_timeout: int = Field(5, ge=1, description="seconds to wait for each URL")
    operation_timeout: int = Field(60, ge=1, description="seconds to wait for one reply")
    page_size: int = Field(1000, ge=10, le=10000, description="entries per page of a search "
                           "the server's limits cut short (asked unpaged first)")
    workers: int = Field(4, ge=1, le=16, description="connections used to apply a plan; "
                         "writes are fsync-bound on the server, so a few in parallel help")
    fast_wire: bool = Field(True, description="encode adds and modifies and decode search "
                            "entries without ldap3's generic pyasn1 path (3x less client CPU); "
                            "false falls back to ldap3's own calls")

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parse_ldap_urls(value)
        return value

    @model_validator(mode="after")
    def _read_password_file(self) -> LdapSettings:
        if self.bind_password is not None and self.bind_password_file is not None:
            raise ValueError("ldap.bind_password: set bind_password or bind_password_file, "
                             "not both (which one would win is not obvious to the next "
                             "person reading the configuration)")
        if self.bind_password_file is not None:
            try:
                text = self.bind_password_file.read_text(encoding="utf-8")
            except OSError as exc:
                raise ValueError(
                    f"ldap.bind_password_file: cannot read {self.bind_password_file}: "
                    f"{exc.strerror}"
                ) from None
            self.bind_password = SecretStr(text.splitlines()[0] if text else "")
        return self

    @property
    def urls(self) -> tuple[LdapUrl, ...]:
        return parse_ldap_urls(self.url)


class RosterSettings(_Group):
    path: Path | None = Field(None, description="the HR roster: CSV, or a workbook whose name "
                              "ends in .xlsx (SPEC §3)")
    sheet: str | None = Field(None, description="the sheet of an .xlsx roster (default: the "
                              "first)")


class UnitsSettings(_Group):
    path: Path | None = Field(None, description="units file for reconcile and daemon: former "
                              "codes of merged or renamed units (SPEC §10)")


class AuditSettings(_Group):
    path: Path = Field(Path("audit.jsonl"), description="JSON Lines audit log, appended")
    syslog: str | None = Field(None, description="also forward every audit line to this "
                               "syslog collector as RFC 5424 (tcp://host:601, udp://host:514, "
                               "tls://host:6514); lines it does not take go at the next run")
    syslog_timeout: float = Field(3.0, gt=0, le=60, description="seconds to connect to the "
                                  "collector and to wait for it to take the lines")
    syslog_ca_file: Path | None = Field(None, description="tls://: the CA certificate(s) the "
                                        "collector's certificate must chain to (default: the "
                                        "system's)")

    @field_validator("syslog")
    @classmethod
    def _check_syslog(cls, value: str | None) -> str | None:
        if value is not None and value.strip():
            split_syslog_url(value)
            return value.strip()
        return None


class SafetySettings(_Group):
    max_lock_count: int = Field(500, ge=0, description="most locks one run may make")
    max_lock_ratio: float = Field(0.10, ge=0.0, le=1.0, description="most locks as a share of "
                                  "managed accounts (applies from 20 managed accounts up)")
    min_unit_size: int = Field(5, ge=1, description="a unit (a department, vendor or province) "
                               "of at least this many accounts may not vanish from the roster "
                               "in one run: locking all of it as not_on_roster trips the guard")


class ScheduleSettings(_Group):
    cron: str = Field("*/15 * * * *", description="daemon schedule, five cron fields")
    interval_seconds: int | None = Field(None, gt=0, description="if set, run every N seconds "
                                         "instead of cron")
    timezone: str = Field("Asia/Ho_Chi_Minh", description="time zone of the cron expression")
    run_at_start: bool = Field(True, description="run once as soon as the daemon starts")
    misfire_grace_seconds: int = Field(300, ge=1, description="a run late by more is skipped")
    retry_seconds: int = Field(60, ge=0, description="after a run cut off by an outage (exit 4), "
                               "one early retry this many seconds later instead of waiting for "
                               "the next scheduled time; 0: wait")
    full_read_every: int = Field(12, ge=1, description="the daemon skips the directory read "
                                 "of a run whose roster bytes, date and directory contextCSN "
                                 "are those of an earlier run that found nothing to do, but "
                                 "reads in full at least every N runs")

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("cron")
    @classmethod
    def _check_cron(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError(f"{value!r} is not a five-field cron expression")
        return value


class LayoutSettings(_Group):
    """DIT containers relative to the base DN (SPEC §2 defaults)."""

    central: str = Field(Layout.central, description="where central units' accounts go, "
                         "relative to the base DN")
    vendors: str = Field(Layout.vendors, description="where vendors' accounts go")
    provinces: str = Field(Layout.provinces, description="the parent of every province's OU")
    province_people: str = Field(Layout.province_people, description="a province's staff, "
                                 "under its OU; {code} = province code")
    province_admins: str = Field(Layout.province_admins, description="a province's "
                                 "administrators (the IT Centre's); {code} = province code")
    groups: str = Field(Layout.groups, description="the admin groups of the provinces")
    system: str = Field(Layout.system, description="the connector identities")
    policies: str = Field(Layout.policies, description="the password policy entries")


class LogSettings(_Group):
    level: str = Field("INFO", description="DEBUG, INFO, WARNING, ERROR")
    json_lines: bool = Field(False, alias="json", description="JSON lines on stderr")
    file: Path | None = Field(None, description="also log to this file, rotated")
    rotation: str = Field("10 MB", description="rotate the log file at this size or time")
    retention: str = Field("14 days", description="delete rotated files older than this")

    @field_validator("level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        level = value.upper()
        if level not in ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError(f"unknown log level {value!r}")
        return level


class MetricsSettings(_Group):
    port: int | None = Field(None, ge=1, le=65535, description="Prometheus endpoint; off if unset")
    address: str = Field("127.0.0.1", description="address the metrics endpoint listens on")


class CredentialsSettings(_Group):
    issue: bool = Field(False, description="every create also sets a random initial password "
                        "(Password Modify, pwdReset), sealed with age for the unit's recipient "
                        "(SPEC §11)")
    dir: Path | None = Field(None, description="where the sealed files go (default: "
                             "<CONNECTOR_STATE__DIR>/credentials)")


class ReportSettings(_Group):
    language: Literal["vi", "en"] = Field("vi", description="language of --report files "
                                          "(CSV column names and codes stay as SPEC §9 fixes)")


class PlanSettings(_Group):
    max_age_hours: float = Field(24, gt=0, description="connector apply refuses a plan file "
                                 "older than this")


class StateSettings(_Group):
    dir: Path = Field(Path(".connector-state"), description="run lock and daemon status file")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        case_sensitive=False,
    )

    scope: str = Field("it-centre", description="'it-centre' or 'province:<CODE>'")
    ldap: LdapSettings = LdapSettings()
    roster: RosterSettings = RosterSettings()
    units: UnitsSettings = UnitsSettings()
    audit: AuditSettings = AuditSettings()
    safety: SafetySettings = SafetySettings()
    schedule: ScheduleSettings = ScheduleSettings()
    layout: LayoutSettings = LayoutSettings()
    log: LogSettings = LogSettings()
    metrics: MetricsSettings = MetricsSettings()
    state: StateSettings = StateSettings()
    credentials: CredentialsSettings = CredentialsSettings()
    plan: PlanSettings = PlanSettings()
    report: ReportSettings = ReportSettings()
    notify: NotifySettings = NotifySettings()
    _scope: Scope = PrivateAttr(default_factory=lambda: Scope("it-centre"))

    @field_validator("scope")
    @classmethod
    def _check_scope(cls, value: str) -> str:
        return str(Scope.parse(value))

    @model_validator(mode="after")
    def _check_transport(self) -> Settings:
        if self.ldap.bind_dn and not self.ldap.start_tls and not self.ldap.allow_plaintext:
            for url in self.ldap.urls:
                if url.scheme == "ldap" and not url.is_loopback:
                    raise ValueError(
                        f"ldap.url: refusing a plaintext simple bind to {url}; use ldaps://, "
                        "set CONNECTOR_LDAP__START_TLS=true, or CONNECTOR_LDAP__ALLOW_PLAINTEXT"
                        "=true if the network is trusted"
                    )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @property
    def scope_value(self) -> Scope:
        """The scope, parsed once when the settings were validated."""
        return self._scope

    @model_validator(mode="after")
    def _parse_scope(self) -> Settings:
        self._scope = Scope.parse(self.scope)
        return self

    @property
    def credentials_dir(self) -> Path:
        return self.credentials.dir or self.state.dir / "credentials"

    @property
    def layout_value(self) -> Layout:
        return Layout(base_dn=self.ldap.base_dn, **self.layout.model_dump())

    @property
    def uses_external_bind(self) -> bool:
        """No bind DN and only ldapi:// URLs: bind with SASL EXTERNAL (the peer's uid)."""
        return not self.ldap.bind_dn and all(u.scheme == "ldapi" for u in self.ldap.urls)

    def require_bind(self) -> None:
        """Commands that talk to the directory need an identity and its secret."""
        if self.uses_external_bind:
            return
        if not self.ldap.bind_dn:
            raise ConfigError("CONNECTOR_LDAP__BIND_DN is not set: the connector needs an "
                              "identity to bind as (or an ldapi:// URL for SASL EXTERNAL)")
        if self.ldap.bind_password is None:
            raise ConfigError("CONNECTOR_LDAP__BIND_PASSWORD (or _FILE) is not set for "
                              f"bind DN {self.ldap.bind_dn}")


def load_settings(config: Path | str | None = None, **overrides: Any) -> Settings:
    """Build the settings once; a bad value becomes one ConfigError line naming the variable."""
    path = config or os.environ.get(f"{ENV_PREFIX}CONFIG")
    if path is not None and not Path(path).is_file():
        raise ConfigError(f"configuration file not found: {path}")
    if path is not None:
        from connector.settings.tomlcheck import check_file

        check_file(Path(path), Settings)

    class _Loaded(Settings):
        model_config = SettingsConfigDict(**{**Settings.model_config, "toml_file": path})

    unknown = unknown_variables(os.environ)
    not_yet = [name for name in unknown if name.upper() in NOT_YET]
    if not_yet:
        raise ConfigError(f"{', '.join(not_yet)}: not supported by this version of the "
                          "connector; unset it (it would otherwise be silently ignored)")
    if unknown:
        raise ConfigError(
            "unknown setting(s) in the environment: " + ", ".join(unknown) + " (a misspelt "
            "group or key is never ignored; `connector --help` and the README list the "
            "variables)")
    clean = drop_none(overrides)
    try:
        return _Loaded(**clean)
    except ValidationError as exc:
        raise ConfigError(describe(exc)) from None
    except ValueError as exc:  # TOML syntax errors and the like
        raise ConfigError(f"configuration: {exc}") from None


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """``CONNECTOR_*`` variables that name no setting (SPEC §5): a misspelt group such as
    ``CONNECTOR_SAFTEY__MAX_LOCK_COUNT`` would otherwise be dropped without a word."""
    unknown = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in NOT_SETTINGS or \
                upper.startswith(TEST_PREFIX):
            continue
        path = upper[len(ENV_PREFIX):].lower().split("__")
        if not _names_a_field(Settings, path):
            unknown.append(name)
    return unknown


def _names_a_field(model: type[BaseModel], path: list[str]) -> bool:
    head, rest = path[0], path[1:]
    for field_name, info in model.model_fields.items():
        if head not in (field_name, (info.alias or "").lower()):
            continue
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return bool(rest) and _names_a_field(annotation, rest)
        return not rest
    return False

"""Settings: file < environment < flags, and one clear line for a bad value."""

from __future__ import annotations

import pytest

from connector.core.urls import parse_ldap_urls
from connector.errors import ConfigError
from connector.settings import load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    import os

    for key in list(os.environ):
        if key.startswith("CONNECTOR_"):
            monkeypatch.delenv(key)


def test_defaults_follow_the_spec():
    s = load_settings()
    assert s.scope == "it-centre"
    assert s.ldap.url == "ldap://127.0.0.1:389"
    assert s.ldap.base_dn == "dc=bhxh,dc=gov,dc=vn"
    assert str(s.audit.path) == "audit.jsonl"
    assert (s.safety.max_lock_count, s.safety.max_lock_ratio) == (500, 0.10)
    assert s.schedule.cron == "*/15 * * * *" and s.schedule.interval_seconds is None


def test_environment_overrides_the_file_and_flags_override_both(tmp_path, monkeypatch):
    config = tmp_path / "c.toml"
    config.write_text('scope = "province:HCM"\n[safety]\nmax_lock_count = 7\n'
                      '[ldap]\nbase_dn = "dc=example"\n')
    assert load_settings(config).safety.max_lock_count == 7
    monkeypatch.setenv("CONNECTOR_SAFETY__MAX_LOCK_COUNT", "9")
    monkeypatch.setenv("CONNECTOR_CONFIG", str(config))
    s = load_settings()
    assert (s.scope, s.safety.max_lock_count, s.ldap.base_dn) == ("province:HCM", 9,
                                                                  "dc=example")
    assert load_settings(None, scope="province:BTE").scope == "province:BTE"


@pytest.mark.parametrize(
    "variable,value,message",
    [
        ("CONNECTOR_SCOPE", "province", "CONNECTOR_SCOPE"),
        ("CONNECTOR_SCOPE", "province:B/TE", "CONNECTOR_SCOPE"),
        ("CONNECTOR_LDAP__URL", "http://x", "CONNECTOR_LDAP__URL"),
        ("CONNECTOR_LDAP__URL", "ldap://host:99999", "CONNECTOR_LDAP__URL"),
        ("CONNECTOR_SAFETY__MAX_LOCK_RATIO", "1.5", "CONNECTOR_SAFETY__MAX_LOCK_RATIO"),
        ("CONNECTOR_SAFETY__MAX_LOCK_RATIO", "-0.1", "CONNECTOR_SAFETY__MAX_LOCK_RATIO"),
        ("CONNECTOR_SAFETY__MAX_LOCK_COUNT", "many", "CONNECTOR_SAFETY__MAX_LOCK_COUNT"),
        ("CONNECTOR_SCHEDULE__CRON", "every day", "CONNECTOR_SCHEDULE__CRON"),
        ("CONNECTOR_SCHEDULE__TIMEZONE", "Mars/Base", "CONNECTOR_SCHEDULE__TIMEZONE"),
    ],
)
def test_invalid_setting_names_its_variable(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_urls_are_accepted_as_users_type_them():
    urls = parse_ldap_urls(" ldap://127.0.0.1:389/ , ldaps://ldap2.example:636,ldap://[::1]")
    assert [str(u) for u in urls] == ["ldap://127.0.0.1:389", "ldaps://ldap2.example:636",
                                      "ldap://[::1]"]
    assert [u.is_loopback for u in urls] == [True, False, True]


def test_plaintext_bind_to_a_remote_host_is_refused(monkeypatch):
    monkeypatch.setenv("CONNECTOR_LDAP__URL", "ldap://ldap.bhxh.example:389")
    monkeypatch.setenv("CONNECTOR_LDAP__BIND_DN", "cn=x")
    with pytest.raises(ConfigError, match="plaintext"):
        load_settings()
    monkeypatch.setenv("CONNECTOR_LDAP__START_TLS", "true")
    assert load_settings().ldap.start_tls
    monkeypatch.delenv("CONNECTOR_LDAP__START_TLS")
    monkeypatch.setenv("CONNECTOR_LDAP__ALLOW_PLAINTEXT", "true")
    assert load_settings().ldap.allow_plaintext


def test_password_file_is_read_and_never_shown(tmp_path, monkeypatch):
    secret = tmp_path / "pw"
    secret.write_text("S3cr3t-value\n")
    monkeypatch.setenv("CONNECTOR_LDAP__BIND_PASSWORD_FILE", str(secret))
    s = load_settings()
    assert s.ldap.bind_password is not None
    assert s.ldap.bind_password.get_secret_value() == "S3cr3t-value"
    assert "S3cr3t" not in repr(s) and "S3cr3t" not in str(s.model_dump())


def test_unreadable_password_file_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.setenv("CONNECTOR_LDAP__BIND_PASSWORD_FILE", str(tmp_path / "none"))
    with pytest.raises(ConfigError, match="CONNECTOR_LDAP__BIND_PASSWORD_FILE"):
        load_settings()


def test_invalid_password_in_error_is_never_echoed(monkeypatch):
    monkeypatch.setenv("CONNECTOR_LDAP__BIND_PASSWORD", "TopSecret")
    monkeypatch.setenv("CONNECTOR_SAFETY__MAX_LOCK_RATIO", "7")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "TopSecret" not in str(info.value)


def test_missing_config_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "missing.toml")


def test_unknown_setting_in_file_is_refused(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[safety]\nmax_locks = 3\n")
    with pytest.raises(ConfigError, match=r"c\.toml: \[safety\] key 'max_locks' is not a "
                       "setting; did you mean"):
        load_settings(config)


def test_the_shipped_example_settings_file_loads(monkeypatch, tmp_path):
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "config" / "connector.example.toml"
    secret = tmp_path / "pw"
    secret.write_text("x")
    monkeypatch.setenv("CONNECTOR_LDAP__BIND_PASSWORD_FILE", str(secret))
    settings = load_settings(example)
    assert settings.ldap.workers == 4 and len(settings.ldap.urls) == 2


IMPLEMENTED = [  # SPEC §5, every variable this version implements
    "CONNECTOR_LDAP__URL", "CONNECTOR_LDAP__BIND_DN", "CONNECTOR_LDAP__BIND_PASSWORD",
    "CONNECTOR_LDAP__BIND_PASSWORD_FILE", "CONNECTOR_LDAP__BASE_DN", "CONNECTOR_SCOPE",
    "CONNECTOR_ROSTER__PATH", "CONNECTOR_AUDIT__PATH", "CONNECTOR_SAFETY__MAX_LOCK_COUNT",
    "CONNECTOR_SAFETY__MAX_LOCK_RATIO", "CONNECTOR_SAFETY__MIN_UNIT_SIZE",
    "CONNECTOR_SCHEDULE__CRON", "CONNECTOR_SCHEDULE__INTERVAL_SECONDS",
    "CONNECTOR_SCHEDULE__TIMEZONE", "CONNECTOR_STATE__DIR", "CONNECTOR_LDAP__CONNECT_TIMEOUT",
    "CONNECTOR_LDAP__OPERATION_TIMEOUT", "CONNECTOR_LDAP__FAST_WIRE", "CONNECTOR_LOG__JSON",
    "CONNECTOR_LAYOUT__PROVINCE_PEOPLE", "CONNECTOR_CONFIG", "CONNECTOR_CONFIG_DIR",
    "CONNECTOR_TEST_DOCKER", "CONNECTOR_ROSTER__SHEET", "CONNECTOR_UNITS__PATH",
    "CONNECTOR_SCHEDULE__RETRY_SECONDS",
]


def test_every_implemented_variable_of_the_spec_is_known():
    from connector.settings import unknown_variables

    assert unknown_variables(dict.fromkeys(IMPLEMENTED, "x")) == []


@pytest.mark.parametrize("variable", [
    "CONNECTOR_SAFTEY__MAX_LOCK_COUNT",  # a misspelt group: was silently dropped before
    "CONNECTOR_SAFETY__MAX_LOCK_CONT",  # a misspelt key
    "CONNECTOR_LDAP",  # a group given a value
    "CONNECTOR_SCOPE__CODE",  # a plain setting given a key
    "CONNECTOR_LDAP__URL__HOST",
    "connector_ldap__ulr",
])
def test_an_unknown_connector_variable_stops_the_program_naming_it(monkeypatch, variable):
    monkeypatch.setenv(variable, "1")
    with pytest.raises(ConfigError, match=variable):
        load_settings(None)


def test_a_spec_variable_of_a_later_version_is_refused_as_not_supported(monkeypatch):
    import connector.settings as module

    monkeypatch.setattr(module, "NOT_YET", frozenset({"CONNECTOR_FUTURE__THING"}))
    monkeypatch.setenv("CONNECTOR_FUTURE__THING", "1")
    with pytest.raises(ConfigError, match="CONNECTOR_FUTURE__THING: not supported"):
        load_settings(None)


def test_plan_age_and_credentials_settings_are_read(monkeypatch, tmp_path):
    monkeypatch.setenv("CONNECTOR_PLAN__MAX_AGE_HOURS", "2.5")
    monkeypatch.setenv("CONNECTOR_CREDENTIALS__ISSUE", "true")
    monkeypatch.setenv("CONNECTOR_STATE__DIR", str(tmp_path))
    settings = load_settings(None)
    assert settings.plan.max_age_hours == 2.5 and settings.credentials.issue
    assert settings.credentials_dir == tmp_path / "credentials"


def test_the_scope_is_parsed_once_into_a_value():
    settings = load_settings(None, scope="province:bte")
    assert settings.scope_value is settings.scope_value
    assert str(settings.scope_value) == "province:BTE"

"""The example settings file, written from the settings model itself, so that
``config/connector.example.toml`` lists every key there is (issue 25 #7) and
cannot drift from the code: ``python -m connector.settings.example`` prints it,
and a test compares it with the shipped file.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

HEADER = """\
# Example settings for `connector --config connector.toml ...` (or CONNECTOR_CONFIG).
# Every key can be overridden by an environment variable: CONNECTOR_<GROUP>__<KEY>,
# e.g. CONNECTOR_LDAP__URL, CONNECTOR_SAFETY__MAX_LOCK_COUNT. Flags override both.
# Written from the settings model (python -m connector.settings.example): every key
# is here, set to its default or, commented out, to an example value.
"""

#: production-like values for keys whose default does not show what to put there;
#: (value, active): an active one is written uncommented
EXAMPLES: dict[str, tuple[Any, bool]] = {
    "ldap.url": ("ldaps://ldap1.bhxh.example:636, ldaps://ldap2.bhxh.example:636", True),
    "ldap.bind_dn": ("cn=connector-it-centre,ou=system,dc=bhxh,dc=gov,dc=vn", True),
    "ldap.bind_password": ("never put the secret itself here: use bind_password_file", False),
    "ldap.bind_password_file": ("/etc/connector/bind_password", True),
    "ldap.ca_file": ("/etc/ssl/certs/bhxh-ca.pem", False),
    "roster.path": ("/srv/hr/roster.csv", True),
    "roster.sheet": ("Danh sách", False),
    "units.path": ("/etc/connector/units.toml", False),
    "audit.path": ("/var/log/connector/audit.jsonl", True),
    "audit.syslog": ("tcp://logs.bhxh.local:601", False),
    "audit.syslog_ca_file": ("/etc/connector/collector-ca.pem", False),
    "schedule.interval_seconds": (900, False),
    "log.file": ("/var/log/connector/connector.log", False),
    "metrics.port": (9108, False),
    "state.dir": ("/var/lib/connector", True),
    "credentials.dir": ("/var/lib/connector/credentials", False),
    "notify.smtp_url": ("smtp://relay.bhxh.local:25", False),
    "notify.username": ("connector", False),
    "notify.password_file": ("/run/secrets/smtp-password", False),
    "notify.from": ("connector@vss.gov.vn", False),
    "notify.to": ("ops@vss.gov.vn", False),
    "notify.webhook_url": ("https://chat.bhxh.local/hooks/connector", False),
    "notify.ca_file": ("/etc/connector/relay-ca.pem", False),
}


def toml_value(value: Any) -> str:
    """A TOML literal for the scalars the settings hold."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)  # a TOML basic string


def key_of(name: str, info: FieldInfo) -> str:
    return info.alias or name


def _entry(table: str, name: str, info: FieldInfo) -> list[str]:
    key = key_of(name, info)
    value, active = EXAMPLES.get(f"{table}.{key}" if table else key, (info.default, True))
    if value is None:  # no default and no example: shown, commented, as empty
        value, active = "", False
    lines = [f"# {line}" for line in textwrap.wrap(info.description or key, 84)]
    lines.append(f"{'' if active else '# '}{key} = {toml_value(value)}")
    return lines


def groups(model: type[BaseModel]) -> list[tuple[str, type[BaseModel]]]:
    """The settings tables, in the model's order."""
    found = []
    for name, info in model.model_fields.items():
        kind = info.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            found.append((name, kind))
    return found


def render(model: type[BaseModel]) -> str:
    tables = dict(groups(model))
    lines = [HEADER]
    for name, info in model.model_fields.items():
        if name not in tables:
            lines.extend(_entry("", name, info))
    for table, group in tables.items():
        lines.append(f"\n[{table}]")
        for name, info in group.model_fields.items():
            lines.extend(_entry(table, name, info))
    return "\n".join(lines) + "\n"


def example() -> str:
    from connector.settings import Settings
    return render(Settings)


if __name__ == "__main__":  # pragma: no cover - the maintainer's regeneration step
    import sys
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    if target is None:
        sys.stdout.write(example())
    else:
        target.write_text(example(), encoding="utf-8")

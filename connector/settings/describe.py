"""Settings errors told as people read them: one line per problem, naming the
variable (``CONNECTOR_GROUP__KEY``) it is about."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

ENV_PREFIX = "CONNECTOR_"


def drop_none(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            nested = drop_none(value)
            if nested:
                out[key] = nested
        elif value is not None:
            out[key] = value
    return out


def describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = [str(part) for part in error["loc"] if not str(part).isdigit()]
        message = str(error["msg"]).removeprefix("Value error, ")
        named = re.match(r"^([a-z_]+(?:\.[a-z_]+)+): (.*)$", message, re.S)
        if named:  # a model validator that names the setting it is about
            loc, message = named.group(1).split("."), named.group(2)
        variable = ENV_PREFIX + "__".join(part.upper() for part in loc) if loc else "settings"
        lines.append(f"{variable}: {message}")
    return "invalid configuration: " + "; ".join(lines)

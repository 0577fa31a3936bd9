"""Where the shipped files live: ``config/`` of a checkout, or the installed copy."""

from __future__ import annotations

import os
import sys
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def config_dir() -> Path:
    """``$CONNECTOR_CONFIG_DIR``, the checkout's ``config/``, or ``share/`` of the install."""
    override = os.environ.get("CONNECTOR_CONFIG_DIR")
    candidates = [Path(override)] if override else []
    candidates += [
        _PACKAGE.parent / "config",
        Path(sys.prefix) / "share" / "bhxh-ldap-connector" / "config",
        Path("/usr/local/share/bhxh-ldap-connector/config"),
    ]
    for candidate in candidates:
        if (candidate / "units.toml").is_file():
            return candidate
    return candidates[0]


def default_units() -> Path:
    return config_dir() / "units.toml"


def sample_roster() -> Path:
    return config_dir() / "sample-roster.csv"

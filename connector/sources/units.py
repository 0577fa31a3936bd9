"""The units file (TOML) read from disk; its meaning is ``core.units.parse_units``."""

from __future__ import annotations

import tomllib
from pathlib import Path

from connector.core.units import Units, parse_units
from connector.errors import UnitsError


def load_units(path: Path | str) -> Units:
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UnitsError(f"units file not found: {file}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UnitsError(f"units file cannot be read: {file}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UnitsError(f"units file {file} is not valid TOML: {exc}") from None
    return parse_units(data, str(file))

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
    units = parse_units(data, str(file))
    _check_recipients(units, file)
    return units


def _check_recipients(units: Units, file: Path) -> None:
    """Each recipient parsed as an age key now (SPEC §15): a string that only looks like
    one would otherwise be found out after passwords were set, and they would be lost."""
    listed = [u for u in (*units.provinces, *units.central, *units.vendors) if u.recipient]
    if not listed:
        return
    from pyrage import x25519

    for unit in listed:
        try:
            x25519.Recipient.from_str(unit.recipient or "")
        except Exception:  # pyrage raises its own RecipientError
            raise UnitsError(f"units file {file}: unit {unit.code}: recipient "
                             f"{unit.recipient!r} is not a valid age X25519 public key "
                             "(its checksum or length is wrong)") from None

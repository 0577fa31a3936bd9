"""A settings file's keys checked against the model before anything is built: a typo
is named by file, table and key, with the closest valid key (issue 25), instead of
surfacing as an "extra input" of an environment variable nobody set."""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from connector.errors import ConfigError


def _keys(model: type[BaseModel]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        annotation = info.annotation
        nested = annotation if isinstance(annotation, type) and issubclass(
            annotation, BaseModel) else None
        out[info.alias or name] = nested
    return out


def check_file(path: Path, model: type[BaseModel]) -> None:
    """ConfigError naming every unknown table or key of the TOML file, with a hint."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"configuration file {path}: cannot read it: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"configuration file {path}: not valid TOML: {exc}") from None
    problems = _walk(data, model, [])
    if problems:
        raise ConfigError(f"configuration file {path}: " + "; ".join(problems))


def _walk(data: dict[str, Any], model: type[BaseModel], table: list[str]) -> list[str]:
    known = _keys(model)
    problems = []
    for key, value in data.items():
        where = f"[{'.'.join(table)}] " if table else ""
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else \
                f"; valid keys here: {', '.join(sorted(known))}"
            kind = "table" if isinstance(value, dict) else "key"
            problems.append(f"{where}{kind} {key!r} is not a setting{hint}")
        elif known[key] is not None and isinstance(value, dict):
            problems += _walk(value, known[key], [*table, key])
    return problems

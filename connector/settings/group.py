"""The base of every settings group."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Group(BaseModel):
    """A settings group: unknown keys are typos, refused rather than ignored."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

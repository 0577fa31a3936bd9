"""Plain values a run produces, shared by the service, the renderers and the tests."""

from __future__ import annotations

from dataclasses import dataclass

from connector.core.plan import Action


@dataclass(frozen=True)
class Outcome:
    """One action as it was applied: ``error`` is None when the server took it."""

    action: Action
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

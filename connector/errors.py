"""The connector's one error tree; the CLI maps it to messages and exit codes.

    ConnectorError                  base; ``exit_code`` says how the CLI ends
    ├── ConfigError                 bad setting or usage (exit 2, permanent)
    ├── RosterUnreadable            roster missing / not UTF-8 / no header (exit 2)
    ├── UnitsError                  units file invalid (exit 2)
    ├── SafetyAbort                 guard tripped, nothing changed (exit 3)
    │   ├── EmptyRoster             no data rows: never read as "everyone left"
    │   ├── TooManyLocks            over MAX_LOCK_COUNT or MAX_LOCK_RATIO
    │   └── UnitVanished            a whole unit would be locked as not_on_roster
    ├── ScopeViolation              a write outside the scope's managed OUs (exit 2)
    ├── PermissionRefused           manual action the scope may not take (exit 2)
    ├── NotFound                    manual action on an unknown account (exit 2)
    ├── RunLocked                   another run holds the lock (exit 5)
    └── DirectoryError              the server said no (exit 1 per operation)
        ├── NoSuchEntry             the entry (or the base of a search) is not there
        ├── ValueExists             an added value is already there
        ├── NoSuchValue             a deleted value is not there
        ├── AccessRefused           insufficientAccessRights
        └── DirectoryUnavailable    unreachable / cut off (exit 4, transient)

Messages never contain a secret: they are built from DNs, codes and counts.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of every error the connector raises on purpose."""

    exit_code = 1
    transient = False


class ConfigError(ConnectorError):
    exit_code = 2


class RosterUnreadable(ConnectorError):
    exit_code = 2


class UnitsError(ConnectorError):
    exit_code = 2


class SafetyAbort(ConnectorError):
    """The plan changes too much; only ``--allow-mass-lock`` overrides (not for EmptyRoster).

    ``limit`` names the setting that was hit, ``count`` what the plan would do and
    ``threshold`` the setting's value, so callers need not parse the message.
    """

    exit_code = 3

    def __init__(self, message: str, *, limit: str = "", count: int = 0,
                 threshold: float = 0, unit: str | None = None) -> None:
        super().__init__(message)
        self.limit = limit
        self.count = count
        self.threshold = threshold
        self.unit = unit


class EmptyRoster(SafetyAbort):
    """A roster with no data rows would orphan every account; no flag overrides it."""


class TooManyLocks(SafetyAbort):
    """More locks than CONNECTOR_SAFETY__MAX_LOCK_COUNT / MAX_LOCK_RATIO allow."""


class UnitVanished(SafetyAbort):
    """Every account of a unit would be locked as not_on_roster: an export fault until
    proven otherwise (CONNECTOR_SAFETY__MIN_UNIT_SIZE)."""


class ScopeViolation(ConnectorError):
    exit_code = 2


class PermissionRefused(ConnectorError):
    exit_code = 2


class NotFound(ConnectorError):
    exit_code = 2


class RunLocked(ConnectorError):
    exit_code = 5
    transient = True


class DirectoryError(ConnectorError):
    exit_code = 1


class DirectoryUnavailable(DirectoryError):
    exit_code = 4
    transient = True


class NoSuchEntry(DirectoryError):
    pass


class ValueExists(DirectoryError):
    pass


class NoSuchValue(DirectoryError):
    pass


class AccessRefused(DirectoryError):
    pass

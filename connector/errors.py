"""The connector's one error tree and the one table of exit codes (SPEC §4).

    ConnectorError                  base; ``exit_code`` says how the CLI ends
    ├── Permanent                   a person must fix something; the daemon says so
    │   ├── ConfigError             bad setting, usage, refused bind (exit 2)
    │   │   └── AuditError          the audit log cannot take the run's lines (exit 2)
    │   ├── RosterUnreadable        roster missing / not UTF-8 / no header (exit 2)
    │   ├── UnitsError              units file invalid (exit 2)
    │   ├── ScopeViolation          a write outside the scope's managed OUs (exit 2)
    │   ├── PermissionRefused       manual action the scope may not take (exit 2)
    │   └── NotFound                manual action on an unknown account (exit 2)
    ├── SafetyAbort                 guard tripped, nothing changed (exit 3)
    │   ├── EmptyRoster             no data rows: never read as "everyone left"
    │   ├── TooManyLocks            over MAX_LOCK_COUNT or MAX_LOCK_RATIO
    │   └── UnitVanished            a whole unit would be locked as not_on_roster
    ├── Transient                   the next run may well succeed
    │   ├── RunLocked               another run holds the lock (exit 5)
    │   └── DirectoryUnavailable    unreachable / cut off (exit 4); also a DirectoryError
    └── DirectoryError              the server said no (exit 1 per operation)
        ├── NoSuchEntry             the entry (or the base of a search) is not there
        ├── AssertionFailed         a modify's asserted values were gone: not applied
        ├── EntryExists             an added entry is already there
        ├── ValueExists             an added value is already there
        ├── NoSuchValue             a deleted value is not there
        └── AccessRefused           insufficientAccessRights

The guard errors carry their numbers; their messages are composed here from
them, so the planner only decides. Messages never contain a secret: they are
built from DNs, codes and counts.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """How every command ends (SPEC §4); the CLI, the daemon and the metrics use these."""

    OK = 0
    PARTIAL = 1  # completed, but rows were rejected, operations failed or the roster is incomplete
    USAGE = 2  # usage or configuration error
    GUARD = 3  # aborted by the safety guard, nothing changed
    UNAVAILABLE = 4  # directory unreachable or the run was cut off (re-running converges)
    LOCKED = 5  # another run holds this scope's run lock and --no-wait was given

    @property
    def outcome(self) -> str:
        """The word the daemon's status file and metrics use."""
        return _OUTCOMES[self]


_OUTCOMES = {ExitCode.OK: "ok", ExitCode.PARTIAL: "partial", ExitCode.USAGE: "config_error",
             ExitCode.GUARD: "guard_tripped", ExitCode.UNAVAILABLE: "cut_off",
             ExitCode.LOCKED: "skipped_locked"}

#: For ``--help``: every exit code in one line.
EXIT_CODES_HELP = ("Exit codes: 0 ok, 1 rows rejected or operations failed, 2 usage/configuration,"
                   "\n3 safety guard (nothing changed), 4 directory unreachable or run cut off,"
                   "\n5 another run holds the lock (with --no-wait).")


class ConnectorError(Exception):
    """Base of every error the connector raises on purpose."""

    exit_code: ExitCode = ExitCode.PARTIAL


class Permanent(ConnectorError):
    """Retrying changes nothing until a person fixes the settings, a file or the ACLs."""

    exit_code = ExitCode.USAGE


class Transient(ConnectorError):
    """The next run may well succeed (a server back up, a lock released)."""


class ConfigError(Permanent):
    pass


class AuditError(ConfigError):
    """The audit log cannot take the run's lines (SPEC §15): nothing may change then."""


class RosterUnreadable(Permanent):
    pass


class UnitsError(Permanent):
    pass


class ScopeViolation(Permanent):
    pass


class PermissionRefused(Permanent):
    pass


class NotFound(Permanent):
    pass


class RunLocked(Transient):
    exit_code = ExitCode.LOCKED


class DirectoryError(ConnectorError):
    exit_code = ExitCode.PARTIAL


class DirectoryUnavailable(DirectoryError, Transient):
    exit_code = ExitCode.UNAVAILABLE


class NoSuchEntry(DirectoryError):
    pass


class EntryExists(DirectoryError):
    pass


class ValueExists(DirectoryError):
    pass


class NoSuchValue(DirectoryError):
    pass


class AssertionFailed(DirectoryError):
    """The entry no longer held what a modify asserted (RFC 4528): nothing was changed."""


class AccessRefused(DirectoryError):
    pass


# --------------------------------------------------------------------- the safety guard

_APPROVE = " Check the roster, then re-run with --allow-mass-lock if this is intended."


class SafetyAbort(ConnectorError):
    """The plan changes too much; only ``--allow-mass-lock`` overrides (not EmptyRoster).

    ``limit`` names the setting that was hit, ``count`` what the plan would do and
    ``threshold`` the setting's value, so callers need not parse the message.
    """

    exit_code = ExitCode.GUARD
    limit = ""

    def __init__(self, count: int = 0, threshold: float = 0) -> None:
        self.count = count
        self.threshold = threshold
        super().__init__(self.message())

    def message(self) -> str:
        raise NotImplementedError


class EmptyRoster(SafetyAbort):
    """A roster with no data rows would orphan every account; no flag overrides it."""

    limit = "roster_rows"

    def message(self) -> str:
        return ("safety guard: the roster has no data rows; refusing to treat every account "
                "as not on the roster (nothing was changed)")


class TooManyLocks(SafetyAbort):
    """More locks than CONNECTOR_SAFETY__MAX_LOCK_COUNT / MAX_LOCK_RATIO allow."""

    def __init__(self, limit: str, planned: int, threshold: float, managed: int) -> None:
        self.limit = limit
        self.managed = managed
        super().__init__(planned, threshold)

    @property
    def planned(self) -> int:
        return self.count

    def message(self) -> str:
        if self.limit == "max_lock_count":
            over = self.count - int(self.threshold)
            return (f"safety guard: the plan locks {self.count} accounts, more than "
                    f"CONNECTOR_SAFETY__MAX_LOCK_COUNT={int(self.threshold)} (over by {over});"
                    " nothing was changed." + _APPROVE)
        return (f"safety guard: the plan locks {self.count} of {self.managed} managed accounts "
                f"({self.count / self.managed:.1%}), more than CONNECTOR_SAFETY__MAX_LOCK_RATIO="
                f"{self.threshold:g} ({self.threshold:.0%}); nothing was changed." + _APPROVE)


class UnitVanished(SafetyAbort):
    """Every account of a unit would be locked as not_on_roster: an export fault until
    proven otherwise (CONNECTOR_SAFETY__MIN_UNIT_SIZE)."""

    limit = "min_unit_size"

    def __init__(self, unit: str, accounts: int, min_unit_size: int) -> None:
        self.unit = unit
        super().__init__(accounts, min_unit_size)

    def message(self) -> str:
        return (f"safety guard: every account of {self.unit} ({self.count}) is missing from "
                "the roster and would be locked as not_on_roster (9.2): a unit that vanishes "
                f"is an export fault until proven otherwise (CONNECTOR_SAFETY__MIN_UNIT_SIZE="
                f"{int(self.threshold)}); nothing was changed." + _APPROVE)

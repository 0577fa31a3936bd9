"""Initial credentials in a run and by hand (SPEC §11).

``Issuer`` runs on the applier's worker right after each create the server took:
a new password by Password Modify plus ``pwdReset``, kept in memory only until
``seal`` writes one age-encrypted file per unit. ``reset_password`` is
``connector reset-password``: one new credential for an unlocked account of the
scope, refused for a locked one (a password change would lift the lock, SPEC §2).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

from loguru import logger

from connector.audit import AuditLog
from connector.core.actions import Action, Kind
from connector.core.policy import managed_containers
from connector.core.units import Units
from connector.credentials import Credential, new_password, write_sealed
from connector.directory.base import Directory
from connector.errors import ConfigError, DirectoryError, NotFound, PermissionRefused
from connector.settings import Settings

ISSUED = "credential: issued"


def _join(*notes: str | None) -> str:
    return "; ".join(n for n in notes if n)


class Issuer:
    def __init__(self, settings: Settings, units: Units | None, run_id: str) -> None:
        self.units = units
        self.run_id = run_id
        self.directory = settings.credentials_dir
        self._lock = threading.Lock()
        self._issued: dict[str, tuple[str, list[Credential]]] = {}
        self.withheld: dict[str, int] = {}

    def recipient(self, action: Action) -> tuple[str, str | None]:
        changes = dict(action.changes)
        code = str(changes.get("departmentNumber") or "")
        unit_type = str(changes.get("employeeType") or "")
        found = self.units.recipient_for(unit_type, code) if self.units else None
        return code, found

    def after_create(self, directory: Directory, action: Action) -> Action:
        code, recipient = self.recipient(action)
        if recipient is None:
            with self._lock:
                self.withheld[code] = self.withheld.get(code, 0) + 1
            return replace(action, note=_join(action.note, "credential: withheld (the unit "
                                                              "names no recipient)"))
        password = new_password()
        try:
            directory.set_initial_password(action.dn, password)
        except DirectoryError as exc:
            raise DirectoryError(f"created, but no initial password could be set: {exc}") \
                from None
        changes = dict(action.changes)
        credential = Credential(action.employee_id or "", str(changes.get("cn") or ""),
                                action.dn, password)
        with self._lock:
            self._issued.setdefault(code, (recipient, []))[1].append(credential)
        return replace(action, note=_join(action.note, ISSUED))

    @property
    def issued(self) -> int:
        return sum(len(items) for _, items in self._issued.values())

    def seal(self) -> list[Path]:
        """One sealed file per unit; the passwords are dropped from memory afterwards."""
        files = []
        with self._lock:
            for code, (recipient, items) in sorted(self._issued.items()):
                files.append(write_sealed(self.directory, self.run_id, code, items, recipient))
                for item in items:
                    item.password = ""
        return files


def reset_password(settings: Settings, directory: Directory, units: Units | None,
                   employee_id: str, run_id: str, note: str | None = None) -> Path:
    """A new sealed initial credential for one unlocked account of the scope."""
    scope, layout = settings.scope_value, settings.layout_value
    provinces = frozenset(units.province_codes) if units else frozenset()
    if scope.code is not None:
        provinces |= {scope.code}
    containers = managed_containers(scope, layout, provinces)
    accounts = directory.find_accounts(employee_id, containers)
    if not accounts:
        raise NotFound(f"no account with employee_id {employee_id} in the OUs scope {scope} "
                       "manages: a password is reset only by the scope that issues the account")
    if len(accounts) > 1:
        raise PermissionRefused(f"{employee_id} has {len(accounts)} accounts in the OUs of "
                                f"{scope}; resolve the duplicate first")
    account = accounts[0]
    if account.locked:
        raise PermissionRefused(
            f"{employee_id} is locked ({account.lock_reason or 'no record'}, clause "
            f"{account.lock_clause or '-'}): a password change would lift the lock (ppolicy "
            "drops pwdAccountLockedTime on every change, SPEC §2); unlock it first, if the "
            "rules allow")
    if units is None:
        raise ConfigError("reset-password needs the units file (CONNECTOR_UNITS__PATH or "
                          "--units): the sealed credential goes to the unit's recipient")
    unit_type = account.values.get("employeeType", "")
    code = account.values.get("departmentNumber", "")
    recipient = units.recipient_for(unit_type, code)
    if recipient is None:
        raise PermissionRefused(f"unit {code or '?'} ({unit_type or '?'}) names no recipient in "
                                "the units file: no password is issued that nobody may read")
    password = new_password()
    action = Action(Kind.UPDATE, account.dn, "password_reset", employee_id=account.employee_id,
                    note=_join(note, ISSUED))
    audit = AuditLog(settings.audit.path, run_id=run_id, actor=directory.actor,
                     scope=str(scope))
    try:
        try:
            directory.set_initial_password(account.dn, password)
        except DirectoryError as exc:
            audit.record(action, dry_run=False, error=str(exc))
            raise
        credential = Credential(account.employee_id, account.values.get("cn", ""), account.dn,
                                password)
        path = write_sealed(settings.credentials_dir, run_id, code, [credential], recipient)
        credential.password = ""
        audit.record(action, dry_run=False)
    finally:
        audit.close()
    logger.info("new initial password for {} sealed in {}", account.dn, path)
    return path

"""Initial credentials in a run and by hand (SPEC §11).

``Issuer`` seals a run's passwords before any is set, sets each on the applier's
worker right after its create, re-seals with only those set at the end, and owes
the next run the accounts left without one. ``reset_password`` is
``connector reset-password``: one new credential for an unlocked account of the
scope, refused for a locked one (a password change would lift the lock, SPEC §2).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from loguru import logger

from connector.core.actions import Action, Kind
from connector.core.model import Account, dn_key
from connector.core.policy import managed_containers
from connector.core.results import RunResult
from connector.core.units import Units
from connector.directory.base import Directory
from connector.errors import (
    ConfigError,
    DirectoryError,
    DirectoryUnavailable,
    NotFound,
    PermissionRefused,
)
from connector.outputs.audit import AuditLog
from connector.outputs.files import write_atomically
from connector.outputs.sealed import Credential, new_password, write_sealed
from connector.service.anchor import close_trail
from connector.settings import Settings

ISSUED = "credential: issued"


def _join(*notes: str | None) -> str:
    return "; ".join(n for n in notes if n)


def prove_writable(folder: Path) -> None:
    """The credentials directory exists (0700) and takes a file: else exit 2, before any
    password is made or set (SPEC §15)."""
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, probe = tempfile.mkstemp(prefix=".probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ConfigError(f"CONNECTOR_CREDENTIALS__DIR: cannot write sealed credentials in "
                          f"{folder}: {exc.strerror or exc}; nothing was changed") from None


class Issuer:
    """A run's initial credentials, sealed before they are set (SPEC §15).

    ``prepare`` makes a password for every planned create whose unit names a recipient
    and seals them all, before anything is sent; ``after_create`` then sets the sealed
    one. ``finish`` re-seals each unit's file with only the passwords that were set and
    keeps, in the scope's ``owed`` list, the accounts created without one (a failed set;
    a run cut off: see ``service.journal``), which ``catch_up`` issues at the next run."""

    def __init__(self, settings: Settings, units: Units | None, run_id: str) -> None:
        self.units = units
        self.run_id = run_id
        self.directory = settings.credentials_dir
        self.owed_path = owed_path(settings)
        self.lane: tuple[str, ...] = ()
        self._lock = threading.Lock()
        self._sealed: dict[str, tuple[str, list[Credential]]] = {}
        self._by_dn: dict[str, Credential] = {}
        self._set: set[str] = set()
        self._unset: set[str] = set()
        self.withheld: dict[str, int] = {}
        self._types: dict[str, str] = {}

    def recipient(self, unit_type: str, code: str) -> str | None:
        return self.units.recipient_for(unit_type, code) if self.units else None

    def prepare(self, actions: Sequence[Action], lane: Sequence[str]) -> None:
        """Before anything is sent: ``lane``, the containers the run writes in."""
        self.lane = tuple(lane)
        prove_writable(self.directory)
        for action in actions:
            if action.kind is Kind.CREATE:
                changes = dict(action.changes)
                self._reserve(action.dn, action.employee_id or "", str(changes.get("cn") or ""),
                              str(changes.get("employeeType") or ""),
                              str(changes.get("departmentNumber") or ""))
        self._write(only_set=False)

    def _reserve(self, dn: str, employee_id: str, name: str, unit_type: str,
                 code: str) -> None:
        recipient = self.recipient(unit_type, code)
        if recipient is None:
            return
        credential = Credential(employee_id, name, dn, new_password())
        self._sealed.setdefault(code, (recipient, []))[1].append(credential)
        self._types[code] = unit_type
        self._by_dn[dn_key(dn)] = credential

    def _write(self, *, only_set: bool) -> list[Path]:
        """Seal each unit's file (atomically): every reserved password, or at the end
        only those set; a unit left with none has no file."""
        files = []
        for code, (recipient, items) in sorted(self._sealed.items()):
            kept = [c for c in items if not only_set or dn_key(c.dn) in self._set]
            target = self.directory / f"{self.run_id}-{code}.csv.age"
            if kept:
                files.append(write_sealed(self.directory, self.run_id, code, kept, recipient))
            else:
                target.unlink(missing_ok=True)
        return files

    def after_create(self, directory: Directory, action: Action) -> Action:
        key = dn_key(action.dn)
        credential = self._by_dn.get(key)
        if credential is None:
            code = str(dict(action.changes).get("departmentNumber") or "")
            with self._lock:
                self.withheld[code] = self.withheld.get(code, 0) + 1
            return replace(action, note=_join(action.note, "credential: withheld (the unit "
                                                              "names no recipient)"))
        try:
            directory.set_initial_password(action.dn, credential.password, self.lane)
        except DirectoryUnavailable:
            with self._lock:
                self._unset.add(action.dn)
            raise  # the link is gone: the applier stops, the next run issues one
        except DirectoryError as exc:
            with self._lock:
                self._unset.add(action.dn)
            raise DirectoryError(f"created, but no initial password could be set: {exc}; "
                                 "the next run issues one") from None
        with self._lock:
            self._set.add(key)
        return replace(action, note=_join(action.note, ISSUED))

    def catch_up(self, directory: Directory, audit: AuditLog) -> int:
        """Issue the credentials owed from earlier runs: each account still there,
        unlocked, in the lane, whose unit names a recipient; sealed before set."""
        owed = read_owed(self.owed_path)
        found = []
        for dn in owed:
            if write_refusal_in(self.lane, dn):
                continue
            account = directory.read_account(dn)
            if account is None or account.locked or dn_key(dn) in self._by_dn:
                continue
            self._reserve(dn, account.employee_id, account.values.get("cn", ""),
                          account.values.get("employeeType", ""),
                          account.values.get("departmentNumber", ""))
            if dn_key(dn) in self._by_dn:
                found.append(account)
        if not found:
            return 0
        self._write(only_set=False)
        for account in found:
            action = Action(Kind.UPDATE, account.dn, "credential_owed",
                            employee_id=account.employee_id, note=ISSUED)
            try:
                directory.set_initial_password(account.dn, self._by_dn[dn_key(account.dn)]
                                               .password, self.lane)
            except DirectoryError as exc:
                audit.record(action, dry_run=False, error=str(exc))
                continue
            self._set.add(dn_key(account.dn))
            audit.record(action, dry_run=False)
        return len(found)

    @property
    def issued(self) -> int:
        return len(self._set)

    def issued_by_unit(self, files: Sequence[Path]) -> list[dict[str, object]]:
        """Per unit with passwords set: its code and type, its sealed file and its new
        accounts (never a password): what the unit's contact is told (SPEC §14)."""
        by_name = {path.name: path for path in files}
        out: list[dict[str, object]] = []
        for code, (_, items) in sorted(self._sealed.items()):
            path = by_name.get(f"{self.run_id}-{code}.csv.age")
            kept = [c for c in items if dn_key(c.dn) in self._set]
            if path is not None and kept:
                out.append({"code": code, "unit_type": self._types.get(code, ""),
                            "file": str(path), "accounts": [
                                {"employee_id": c.employee_id, "full_name": c.full_name, "dn": c.dn}
                                for c in kept]})
        return out

    def finish(self) -> list[Path]:
        """The final seal (only the passwords set) and the owed list brought up to date;
        the passwords are dropped from memory afterwards."""
        with self._lock:
            files = self._write(only_set=True)
            owed = set(read_owed(self.owed_path)) | set(self._unset)
            write_owed(self.owed_path, sorted(dn for dn in owed
                                              if dn_key(dn) not in self._set))
            for _, items in self._sealed.values():
                for item in items:
                    item.password = ""
        return files


def report_sealed(issuer: Issuer, result: RunResult) -> None:
    """Write the run's sealed credential files and say what was and was not issued."""
    files = issuer.finish()
    result.credentials_issued = issuer.issued
    result.credentials_withheld = dict(issuer.withheld)
    result.credential_files = [str(path) for path in files]
    result.credential_units = issuer.issued_by_unit(files)
    for path in files:
        logger.info("initial passwords sealed in {}", path)
    if issuer.withheld:
        logger.warning("{} accounts created without a password: their unit names no "
                       "recipient in the units file ({})", sum(issuer.withheld.values()),
                       ", ".join(f"{code or '?'}: {n}" for code, n in
                                 sorted(issuer.withheld.items())))


def owed_path(settings: Settings) -> Path:
    name = re.sub(r"[^A-Za-z0-9_-]", "_", str(settings.scope_value))
    return settings.state.dir / f"credentials-owed-{name}.json"


def read_owed(path: Path) -> list[str]:
    """The DNs owed a credential (a damaged file: none, said; each DN is checked
    against the lane and the directory before anything is issued)."""
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        logger.error("{} cannot be read ({}): no credential is caught up", path, exc)
        return []
    return [dn for dn in data if isinstance(dn, str)] if isinstance(data, list) else []


def write_owed(path: Path, dns: Sequence[str]) -> None:
    if not dns and not path.exists():
        return
    write_atomically(path, json.dumps(list(dns), ensure_ascii=False).encode("utf-8"))


def add_owed(settings: Settings, dns: Sequence[str]) -> None:
    """Accounts a cut-off run created: their password may never have been set."""
    path = owed_path(settings)
    write_owed(path, sorted(set(read_owed(path)) | set(dns)))


def write_refusal_in(lane: Sequence[str], dn: str) -> bool:
    return not any(dn_key(dn).endswith("," + dn_key(c)) for c in lane)


def _resettable(settings: Settings, directory: Directory, units: Units | None,
                employee_id: str) -> tuple[Account, tuple[str, ...], str, str]:
    """The one unlocked account of the scope a reset may touch, the containers it is in,
    its unit code and the unit's recipient; else why not (nothing changed)."""
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
    return account, containers, code, recipient


def reset_password(settings: Settings, directory: Directory, units: Units | None,
                   employee_id: str, run_id: str, note: str | None = None) -> Path:
    """A new sealed initial credential for one unlocked account of the scope: sealed
    first, then set; nothing changed when it cannot be sealed (SPEC §15)."""
    account, containers, code, recipient = _resettable(settings, directory, units,
                                                       employee_id)
    scope = settings.scope_value
    password = new_password()
    action = Action(Kind.UPDATE, account.dn, "password_reset", employee_id=account.employee_id,
                    note=_join(note, ISSUED))
    audit = AuditLog(settings.audit.path, run_id=run_id, actor=directory.actor,
                     scope=str(scope), anchor=directory.latest_anchor)
    try:
        audit.prepare(1)
        prove_writable(settings.credentials_dir)
        credential = Credential(account.employee_id, account.values.get("cn", ""), account.dn,
                                password)
        try:  # sealed before it is set: a password nobody can read is never set
            path = write_sealed(settings.credentials_dir, run_id, code, [credential], recipient)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot seal the new credential ({type(exc).__name__}: "
                              f"{getattr(exc, 'strerror', None) or exc}); nothing was "
                              "changed") from None
        try:
            directory.set_initial_password(account.dn, password, containers)
        except DirectoryUnavailable:
            # cut off: the change may have reached the server, so the sealed file stays
            logger.warning("the link was lost while setting the password of {}: it may be "
                           "set; the sealed file {} is kept", account.dn, path)
            raise
        except DirectoryError as exc:
            path.unlink(missing_ok=True)
            audit.record(action, dry_run=False, error=str(exc))
            raise
        finally:
            credential.password = ""
        audit.record(action, dry_run=False)
    finally:
        audit.close()
    close_trail(directory, settings)
    logger.info("new initial password for {} sealed in {}", account.dn, path)
    return path

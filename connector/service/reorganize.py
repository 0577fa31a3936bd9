"""``connector reorganize`` (SPEC §10): move the accounts of merged or renamed provinces.

Run as the directory operator, ``--dry-run`` first. The new units' tree is
created as ``bootstrap`` does; every account under a former province's
``ou=people`` / ``ou=admins`` is moved to the new province's with LDAP modrdn
and a new superior (the same entry: password, lock and lock record kept) and
its ``departmentNumber`` set to the new code right after; a moved admin's
membership goes from ``cn=province-admins-<OLD>`` to ``-<NEW>``. The emptied
old OUs are reported and kept (nothing is deleted). Each move is audited as
``move`` with ``from_dn``. A second run finds nothing to move.
"""

from __future__ import annotations

import contextlib

from connector.core.actions import Action, Kind
from connector.core.model import Layout, dn_key
from connector.core.policy import Reason
from connector.core.results import Outcome, ReorganizeResult
from connector.core.units import Units
from connector.directory.base import Directory
from connector.errors import DirectoryError, DirectoryUnavailable, NoSuchValue, ValueExists
from connector.outputs.audit import AuditLog
from connector.service.bootstrap import bootstrap
from connector.service.runid import new_run_id
from connector.settings import Settings


def planned_moves(directory: Directory, layout: Layout,
                  units: Units) -> list[tuple[Action, str]]:
    """Every account under a former province's OUs, where it goes, and the former code."""
    moves: list[tuple[Action, str]] = []
    for new, olds in sorted(units.merged_provinces.items()):
        for old in olds:
            for source, target in ((layout.people_dn(old), layout.people_dn(new)),
                                   (layout.admins_dn(old), layout.admins_dn(new))):
                if not directory.exists(source):
                    continue  # that former province never had this OU here
                for dn, values in directory._search(source, "inetOrgPerson", ["uid"],
                                                    scope="one"):
                    uid = (values.get("uid") or [dn.split(",", 1)[0].split("=", 1)[1]])[0]
                    moves.append((Action(Kind.MOVE, f"{dn.split(',', 1)[0]},{target}",
                                         Reason.REORGANIZED, employee_id=uid, from_dn=dn,
                                         changes=(("departmentNumber", new),)), old))
    return moves


def reorganize(settings: Settings, directory: Directory, units: Units, *,
               dry_run: bool = False) -> ReorganizeResult:
    layout = settings.layout_value
    result = ReorganizeResult(new_run_id(), dry_run,
                              bootstrap(directory, layout, units, dry_run=dry_run))
    moves = planned_moves(directory, layout, units)
    audit = AuditLog(settings.audit.path, run_id=result.run_id, actor=directory.actor,
                     scope="operator")
    try:
        audit.prepare(len(moves))
        for action, old in moves:
            error = None if dry_run else _move(directory, layout, action, old)
            result.moves.append(Outcome(action, error))
            audit.record(action, dry_run=dry_run, error=error)
    finally:
        audit.close()
    for olds in units.merged_provinces.values():
        for old in olds:
            for container in (layout.people_dn(old), layout.admins_dn(old)):
                if directory.exists(container) and (dry_run or directory.first_account(
                        container) is None):
                    result.emptied.append(container)
    return result


def _move(directory: Directory, layout: Layout, action: Action, old_code: str) -> str | None:
    """One account: modrdn, then departmentNumber, then (admins) the group membership."""
    assert action.from_dn is not None
    new_code = dict(action.changes)["departmentNumber"] or ""
    try:
        new_dn = directory.move(action.from_dn, action.dn.split(",", 1)[1])
        directory.modify(new_dn, [("replace", "departmentNumber", (new_code,))])
        if dn_key(new_dn).endswith("," + dn_key(layout.admins_dn(new_code))):
            _move_membership(directory, layout, action.from_dn, new_dn, old_code, new_code)
    except DirectoryUnavailable:
        raise
    except DirectoryError as exc:
        return str(exc)
    return None


def _move_membership(directory: Directory, layout: Layout, old_dn: str, new_dn: str,
                     old_code: str, new_code: str) -> None:
    members = directory.group_members(layout.province_group_dn(old_code)) or frozenset()
    if dn_key(old_dn) not in members:
        return  # it was not an active admin: it does not become one
    for group, op, value in ((layout.province_group_dn(new_code), "add", new_dn),
                             (layout.province_group_dn(old_code), "delete", old_dn)):
        with contextlib.suppress(ValueExists, NoSuchValue):  # as wanted (a second run)
            directory.modify(group, [(op, "member", (value,))])

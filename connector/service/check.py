"""``connector check``: who am I, what do I manage, and can I write exactly there?

Write access is probed without writing: creates by adding to each OU entry
the RDN value it already holds, which the delegation grants to the OU's group
alongside its ``children`` grant (``Directory.probe_add``), so an OU that
is still empty is verified too; locks by deleting a value that is not there
(``probe_write``). Neither can change anything, whatever the ACLs say. In its own
OUs the identity must be a member of the group the ACLs grant and able to
create and lock; outside them, and on ``pwdPolicySubentry`` for a province, it
must be refused. What cannot be verified fails the check: "not verified" is
never a pass.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from connector.core.model import Snapshot, dn_key
from connector.core.policy import area_of, managed_containers
from connector.core.units import Units
from connector.directory.base import Directory
from connector.directory.preflight import check_layout
from connector.errors import ConnectorError
from connector.settings import Settings
from connector.sources.roster import read_roster
from connector.sources.units import load_units

LOCK_PROBE = "19700101000000Z"


def run_check(settings: Settings, directory: Directory) -> tuple[list[str], bool]:
    """The lines of the check, and whether it passed."""
    check = _Check(settings, directory)
    units = load_units(settings.units.path) if settings.units.path else None
    check_layout(directory, check.scope, check.layout, units, ous=False)  # typo: exit 2
    check.files(units)
    snapshot = directory.snapshot(check.scope)
    containers = managed_containers(check.scope, check.layout, snapshot.provinces)
    check.managed(snapshot, containers)
    check.lines.append("write access:")
    check.membership()
    check.own(containers)
    check.outside(_foreign_containers(settings, snapshot.provinces))
    check.groups(snapshot.provinces)
    check.lines.append("check passed" if check.ok else
                       "check FAILED: fix the items marked WRONG or MISSING")
    return check.lines, check.ok


class _Check:
    """The lines said so far and the verdict: one WRONG or MISSING fails the check."""

    def __init__(self, settings: Settings, directory: Directory) -> None:
        self.settings, self.directory = settings, directory
        self.scope, self.layout = settings.scope_value, settings.layout_value
        self.lines = [f"bound as: {directory.actor} (server says: {directory.who_am_i()})",
                      f"server: {directory.url}", f"scope: {self.scope}"]
        self.ok = True

    def verdict(self, label: str, allowed: bool, expected: bool) -> None:
        good = allowed == expected
        self.ok &= good
        self.lines.append(f"  [{'ok' if good else 'WRONG'}] {label}: "
                          f"{'can' if allowed else 'cannot'} write"
                          f" (should {'' if expected else 'not '}be able to)")

    def managed(self, snapshot: Snapshot, containers: Sequence[str]) -> None:
        counts: dict[str, int] = {dn_key(c): 0 for c in containers}
        for account in snapshot.accounts:
            key = area_of(self.layout, account.container)
            counts[key] = counts.get(key, 0) + 1
        self.lines.append(f"managed OUs ({len(containers)}):")
        for container in containers:
            exists = self.directory.exists(container)
            self.ok &= exists
            state = f"{counts.get(dn_key(container), 0)} accounts" if exists else \
                "MISSING (run `connector bootstrap`)"
            self.lines.append(f"  {container}: {state}")

    def membership(self) -> None:
        layout, directory = self.layout, self.directory
        group = layout.it_centre_group_dn if self.scope.is_it_centre else \
            layout.province_group_dn(self.scope.code or "")
        members = directory.group_members(group)
        member = members is not None and dn_key(directory.actor) in members
        self.ok &= member
        self.lines.append(f"  [{'ok' if member else 'WRONG'}] {directory.actor} is "
                          f"{'' if member else 'NOT '}a member of {group}"
                          f"{'' if members is not None else ' (the group cannot be read)'}"
                          " (the delegation ACLs grant this scope's rights to that group)")

    def own(self, containers: Sequence[str]) -> None:
        """Create in each managed OU and lock a few of its accounts: both must work."""
        directory = self.directory
        for container in containers:
            allowed = directory.probe_add(container)
            if allowed is None:
                self.ok = False
                self.lines.append(f"  [WRONG] create under {container}: cannot be verified "
                                  "(the OU is missing, or the server gave an unexpected "
                                  "answer to the probe)")
            else:
                self.verdict(f"create under {container}", allowed, True)
        own = [a for c in containers if (a := directory.first_account(c))]
        for dn in own[:3]:
            self.verdict(f"lock {dn}",
                         directory.probe_write(dn, "pwdAccountLockedTime", LOCK_PROBE), True)
        if not self.scope.is_it_centre and own:
            self.verdict(f"pwdPolicySubentry of {own[0]}",
                         directory.probe_write(own[0], "pwdPolicySubentry",
                                               f"cn=probe-{_nonce()}"), False)

    def outside(self, foreign: Sequence[str]) -> None:
        """Outside the lane, creates and locks must be refused."""
        directory = self.directory
        for container in foreign[:4]:
            refused = directory.probe_add(container)
            if refused is not None:
                self.verdict(f"create under {container} (outside the scope)", refused, False)
        for container in foreign:
            outsider = directory.first_account(container)
            if outsider is not None:
                self.verdict(f"lock {outsider} (outside the scope)",
                             directory.probe_write(outsider, "pwdAccountLockedTime",
                                                   LOCK_PROBE), False)

    def files(self, units: Units | None) -> None:
        """The roster and the units file: readable, rows, header (a run needs both)."""
        settings = self.settings
        path = settings.roster.path
        if path is None:
            self.lines.append("roster: not set (CONNECTOR_ROSTER__PATH): reconcile and the "
                              "daemon need one")
        else:
            try:
                roster = read_roster(path, settings.roster.sheet, scope=self.scope)
            except ConnectorError as exc:
                self.ok = False
                self.lines.append(f"roster: [WRONG] {path}: {exc}")
            else:
                self.lines.append(f"roster: [ok] {path}: {roster.rows} rows, {roster.valid} "
                                  f"valid, {len(roster.rejected)} rejected"
                                  + (f"; columns ignored: {', '.join(roster.ignored_columns)}"
                                     if roster.ignored_columns else ""))
        if units is None:
            self.lines.append("units file: not set (CONNECTOR_UNITS__PATH): no merged units, "
                              "no initial credentials")
        else:
            self.lines.append(f"units file: [ok] {settings.units.path}: "
                              f"{len(units.provinces)} provinces, {len(units.central)} central "
                              f"units, {len(units.vendors)} vendors")

    def groups(self, provinces: frozenset[str]) -> None:
        layout, directory = self.layout, self.directory
        if self.scope.is_it_centre:
            sample = sorted(provinces)[:3]
            self.lines.append(f"  (province groups: {len(sample)} of {len(provinces)} probed)")
            for code in sample:
                group = layout.province_group_dn(code)
                if directory.exists(group):
                    self.verdict(f"member of {group}", directory.probe_write(
                        group, "member", f"cn=probe-{_nonce()}"), True)
        if directory.exists(layout.it_centre_group_dn):
            self.verdict(f"member of {layout.it_centre_group_dn}",
                         directory.probe_write(layout.it_centre_group_dn, "member",
                                               f"cn=probe-{_nonce()}"), False)


def _foreign_containers(settings: Settings, provinces: frozenset[str]) -> list[str]:
    layout = settings.layout_value
    scope = settings.scope_value
    if scope.is_it_centre:
        return []
    others = [layout.people_dn(code) for code in sorted(provinces) if code != scope.code]
    return [layout.central_area_dn, layout.vendors_area_dn, *(layout.admins_dn(c) for c in
                                                    sorted(provinces)), *others]


def _nonce() -> str:
    return secrets.token_hex(6)

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

from connector.core.model import dn_key
from connector.core.policy import area_of, managed_containers
from connector.directory.base import Directory
from connector.settings import Settings

LOCK_PROBE = "19700101000000Z"


def run_check(settings: Settings, directory: Directory) -> tuple[list[str], bool]:
    scope = settings.scope_value
    layout = settings.layout_value
    lines = [f"bound as: {directory.actor} (server says: {directory.who_am_i()})",
             f"server: {directory.url}", f"scope: {scope}"]
    ok = True
    snapshot = directory.snapshot(scope)
    containers = managed_containers(scope, layout, snapshot.provinces)
    counts: dict[str, int] = {dn_key(c): 0 for c in containers}
    for account in snapshot.accounts:
        key = area_of(layout, account.container)
        counts[key] = counts.get(key, 0) + 1
    lines.append(f"managed OUs ({len(containers)}):")
    for container in containers:
        exists = directory.exists(container)
        ok &= exists
        state = f"{counts.get(dn_key(container), 0)} accounts" if exists else \
            "MISSING (run `connector bootstrap`)"
        lines.append(f"  {container}: {state}")

    def verdict(label: str, allowed: bool, expected: bool) -> None:
        nonlocal ok
        good = allowed == expected
        ok &= good
        mark = "ok" if good else "WRONG"
        lines.append(f"  [{mark}] {label}: {'can' if allowed else 'cannot'} write"
                     f" (should {'' if expected else 'not '}be able to)")

    lines.append("write access:")
    group = layout.it_centre_group_dn if scope.is_it_centre else \
        layout.province_group_dn(scope.code or "")
    members = directory.group_members(group)
    member = members is not None and dn_key(directory.actor) in members
    ok &= member
    lines.append(f"  [{'ok' if member else 'WRONG'}] {directory.actor} is "
                 f"{'' if member else 'NOT '}a member of {group}"
                 f"{'' if members is not None else ' (the group cannot be read)'}"
                 " (the delegation ACLs grant this scope's rights to that group)")
    for container in containers:
        allowed = directory.probe_add(container)
        if allowed is None:
            ok = False
            lines.append(f"  [WRONG] create under {container}: cannot be verified (the OU is "
                         "missing, or the server gave an unexpected answer to the probe)")
        else:
            verdict(f"create under {container}", allowed, True)
    own = [a for c in containers if (a := directory.first_account(c))]
    for dn in own[:3]:
        verdict(f"lock {dn}", directory.probe_write(dn, "pwdAccountLockedTime", LOCK_PROBE),
                True)
    if not scope.is_it_centre and own:
        verdict(f"pwdPolicySubentry of {own[0]}",
                directory.probe_write(own[0], "pwdPolicySubentry", f"cn=probe-{_nonce()}"),
                False)
    foreign = _foreign_containers(settings, snapshot.provinces)
    for container in foreign[:4]:
        refused = directory.probe_add(container)
        if refused is not None:
            verdict(f"create under {container} (outside the scope)", refused, False)
    for container in foreign:
        outsider = directory.first_account(container)
        if outsider is not None:
            verdict(f"lock {outsider} (outside the scope)",
                    directory.probe_write(outsider, "pwdAccountLockedTime", LOCK_PROBE), False)
    if scope.is_it_centre:
        for code in sorted(snapshot.provinces)[:3]:
            group = layout.province_group_dn(code)
            if directory.exists(group):
                verdict(f"member of {group}",
                        directory.probe_write(group, "member", f"cn=probe-{_nonce()}"), True)
    if directory.exists(layout.it_centre_group_dn):
        verdict(f"member of {layout.it_centre_group_dn}",
                directory.probe_write(layout.it_centre_group_dn, "member",
                                      f"cn=probe-{_nonce()}"), False)
    lines.append("check passed" if ok else "check FAILED: fix the items marked WRONG or MISSING")
    return lines, ok


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

"""Builders shared by the tests: roster rows, snapshots, CLI runs."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from connector.core.model import Account, Group, Layout, Person, Role, Snapshot, Status, UnitType

LAYOUT = Layout()
PROVINCES = frozenset({"BTE", "HCM"})
HEADER = ("employee_id", "full_name", "email", "unit_type", "unit_code", "role", "status", "field")


def person(
    employee_id: str = "TW1",
    *,
    name: str = "Nguyễn Văn An",
    unit_type: str = "central",
    unit_code: str = "TTCNTT",
    status: str = "active",
    role: str | None = None,
    email: str | None = None,
    field: str | None = None,
    line: int = 2,
) -> Person:
    words = name.split()
    return Person(
        employee_id=employee_id,
        full_name=name,
        family_name=words[0],
        given_name=words[-1],
        unit_type=UnitType(unit_type),
        unit_code=unit_code,
        status=Status(status),
        line=line,
        email=email,
        role=Role(role) if role else None,
        field=field,
    )


def container_for(p: Person) -> str:
    if p.unit_type is UnitType.CENTRAL:
        return LAYOUT.central_dn
    if p.unit_type is UnitType.VENDOR:
        return LAYOUT.vendors_dn
    if p.role is Role.ADMIN:
        return LAYOUT.admins_dn(p.unit_code)
    return LAYOUT.people_dn(p.unit_code)


def account_of(
    p: Person,
    *,
    container: str | None = None,
    locked: bool = False,
    clause: str | None = None,
    reason: str | None = None,
    overrides: Mapping[str, str] | None = None,
) -> Account:
    """The entry the connector would have created for ``p`` (optionally changed)."""
    from connector.core.desired import desired_values

    where = container or container_for(p)
    values = dict(desired_values(p, p.unit_code))
    values.update(overrides or {})
    return Account(
        dn=f"uid={p.employee_id},{where}",
        employee_id=p.employee_id,
        container=where,
        values={k: v for k, v in values.items() if v is not None},
        locked=locked,
        lock_reason=reason,
        lock_clause=clause,
    )


def snapshot(*accounts: Account, groups: Sequence[Group] = (),
             provinces: frozenset[str] = PROVINCES) -> Snapshot:
    return Snapshot(tuple(accounts), {g.code: g for g in groups}, provinces)


def roster_csv(rows: Sequence[Mapping[str, str]], header: Sequence[str] = HEADER) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(header), lineterminator="\n",
                            extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in header})
    return out.getvalue()


def row(employee_id: str, full_name: str = "Nguyễn Văn An", *, unit_type: str = "central",
        unit_code: str = "TTCNTT", status: str = "active", role: str = "user",
        email: str = "", field: str = "") -> dict[str, str]:
    return {"employee_id": employee_id, "full_name": full_name, "email": email,
            "unit_type": unit_type, "unit_code": unit_code, "role": role, "status": status,
            "field": field}


def run_cli(args: Sequence[str], env: Mapping[str, str], cwd: Path | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real console entry point in a subprocess, as an operator would."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    full_env.update(env)
    return subprocess.run([sys.executable, "-m", "connector", *args], env=full_env,
                          capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          stdin=subprocess.DEVNULL, check=False)


def ldap_entry(server, dn: str) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """Attributes of one entry as ldapsearch shows them (base64 values decoded)."""
    import base64

    text = server.search(dn, attributes=["*", "pwdAccountLockedTime"]).replace("\n ", "")
    values: dict[str, list[str]] = {}
    for line in text.splitlines():
        if ":: " in line:
            name, _, b64 = line.partition(":: ")
            values.setdefault(name, []).append(base64.b64decode(b64).decode())
        elif ": " in line:
            name, _, value = line.partition(": ")
            values.setdefault(name, []).append(value)
    return values


ANCHOR_PREFIX = "description: bhxh-audit-head:"
_ANCHOR_BOOKKEEPING = ("modifyTimestamp:", "modifiersName:", "entryCSN:")


def tree(server) -> dict[str, str]:
    """Every entry as ldapsearch shows it, operational attributes too, by lowercased DN.

    The audit anchor (SPEC §12) is left out: a refused run writes an audit line, so
    the head on its identity entry moves by contract. On an identity entry the
    modification stamps that the anchor write moves are left out with it; every
    other value of every entry is compared.
    """
    entries = {}
    for block in server.search(LAYOUT.base_dn).strip().split("\n\n"):
        if not block.startswith("dn:"):
            continue
        lines = block.splitlines()
        if any(line.startswith(ANCHOR_PREFIX) for line in lines):
            lines = [line for line in lines if not line.startswith(ANCHOR_PREFIX)
                     and not line.startswith(_ANCHOR_BOOKKEEPING)]
        entries[lines[0].lower()] = "\n".join(lines)
    return entries

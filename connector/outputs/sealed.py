"""Initial credentials (SPEC §11): made with ``secrets``, sealed with age for the one
officer responsible for the unit, written nowhere else.

A ``Credential`` never shows its password in ``repr``/``str`` (an exception or a log
line that formats one cannot leak it); the only way out is ``seal``.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Sequence
from pathlib import Path

from connector.core.cells import csv_text
from connector.outputs.files import write_atomically

#: no look-alikes: 0/O/o, 1/l/I/i, and no characters a keyboard layout moves about
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz23456789"
LENGTH = 20


def new_password(length: int = LENGTH) -> str:
    """≥ 16 characters from ``secrets``: 20 × log2(55) ≈ 115 bits by default."""
    if length < 16:
        raise ValueError("an initial password has at least 16 characters")
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


class Credential:
    """One issued password and whom it is for."""

    __slots__ = ("dn", "employee_id", "full_name", "password")

    def __init__(self, employee_id: str, full_name: str, dn: str, password: str) -> None:
        self.employee_id, self.full_name, self.dn = employee_id, full_name, dn
        self.password = password

    def __repr__(self) -> str:
        return f"Credential({self.employee_id!r}, {self.dn!r}, password=<sealed>)"

    __str__ = __repr__


def seal(credentials: Sequence[Credential], recipient: str) -> bytes:
    """The credentials as CSV (employee_id, full_name, dn, initial_password), encrypted
    for one age X25519 recipient."""
    import pyrage
    from pyrage import x25519

    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")  # LF: `tail -1 | awk` gives the password
    writer.writerow(["employee_id", "full_name", "dn", "initial_password"])
    for item in credentials:
        writer.writerow([csv_text(item.employee_id), csv_text(item.full_name),
                         csv_text(item.dn), item.password])
    data = text.getvalue().encode("utf-8")
    return bytes(pyrage.encrypt(data, [x25519.Recipient.from_str(recipient)]))


def write_sealed(directory: Path, run_id: str, unit_code: str,
                 credentials: Sequence[Credential], recipient: str) -> Path:
    """``<directory>/<run_id>-<unit_code>.csv.age``, mode 0600, written atomically (a
    temporary file in the same directory, fsync, rename)."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = directory / f"{run_id}-{unit_code}.csv.age"
    return write_atomically(target, seal(credentials, recipient))

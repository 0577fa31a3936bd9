"""Reading a source file safely: a regular file only, refused at once otherwise (a FIFO
would block ``open()`` for ever, ``/dev/zero`` would be read until memory runs out),
and decoded as UTF-8 or refused with a hint (SPEC §3). And writing a file the way a
reader never sees half of it (sealed credentials, plan files, reports)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from connector.errors import RosterUnreadable

#: A roster is a few MB even for the whole sector; refuse before reading gigabytes.
MAX_BYTES = 512 * 1024 * 1024


def read_regular_file(file: Path) -> bytes:
    """The file's bytes, refusing at once anything that is not a regular file.

    ``stat`` first (it never opens, so a FIFO or a device is refused without
    touching it), then a non-blocking open and ``fstat`` of what was opened, in case
    the path was swapped in between. A FIFO would otherwise block ``open()`` for
    ever and ``/dev/zero`` would be read until memory runs out.
    """
    try:
        kind = _file_kind(os.stat(file).st_mode)
        if kind is None:
            fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            try:
                info = os.fstat(fd)
                kind = _file_kind(info.st_mode)
                if kind is None:
                    if info.st_size > MAX_BYTES:
                        raise RosterUnreadable(
                            f"roster is {info.st_size} bytes, more than the {MAX_BYTES} a "
                            f"roster may have: {file}")
                    with os.fdopen(fd, "rb", closefd=True) as handle:
                        fd = -1
                        data = handle.read(MAX_BYTES + 1)
                    if len(data) > MAX_BYTES:
                        raise RosterUnreadable(f"roster grew past {MAX_BYTES} bytes while "
                                               f"being read: {file}")
                    return data
            finally:
                if fd >= 0:
                    os.close(fd)
    except FileNotFoundError:
        raise RosterUnreadable(f"roster not found: {file}") from None
    except PermissionError:
        raise RosterUnreadable(f"roster cannot be read (permission denied): {file}") from None
    except OSError as exc:
        raise RosterUnreadable(f"roster cannot be read: {file}: {exc.strerror}") from None
    raise RosterUnreadable(f"roster is {kind}, not a regular file: {file} (refused without "
                           "reading it)")


def _file_kind(mode: int) -> str | None:
    """None for a regular file, else what it is (for the message)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def decode_text(data: bytes, source: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise RosterUnreadable(f"{source} is UTF-16, not UTF-8 (save it as \"CSV UTF-8\")")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise RosterUnreadable(
            f"{source} is not UTF-8 (invalid byte at offset {exc.start}, line {line}; "
            "a name pasted from a cp1258 or latin-1 file does this)"
        ) from None

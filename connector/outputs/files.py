"""Writing a file whole or not at all, privately (SPEC §15): every writer's one way."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: bytes, mode: int = 0o600) -> Path:
    """Write ``data`` to ``path`` whole or not at all: a temporary file in the same
    directory with ``mode``, fsync, then rename over the target: never written through
    an existing path or link (SPEC §15). A missing directory is made 0700."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path

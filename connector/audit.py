"""The audit log (SPEC §6): JSON Lines, one object per change planned or applied.

Appended and flushed per line, so a run cut off half-way leaves a log that
says exactly what was done. Kept apart from the operational log. No secret
can reach it: lines are built from actions, DNs and LDAP result texts only.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path
from typing import IO

from connector.core.actions import Action


def now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


class AuditLog:
    def __init__(self, path: Path | str, *, run_id: str, actor: str, scope: str,
                 plan_id: str | None = None) -> None:
        self.path = Path(path)
        #: ``connector apply``: the run_id of the run that made the plan (SPEC §6)
        self.plan_id = plan_id
        self.run_id = run_id
        self.actor = actor
        self.scope = scope
        self._lock = threading.Lock()
        self._file: IO[str] | None = None

    def _open(self) -> IO[str]:
        if self._file is None:
            if self.path.parent != Path():
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        return self._file

    def record(
        self, action: Action, *, dry_run: bool, error: str | None = None,
        outcome: str | None = None,
    ) -> dict[str, object]:
        line: dict[str, object] = {
            "ts": now_iso(),
            "run_id": self.run_id,
            "actor": self.actor,
            "scope": self.scope,
            **action.to_dict(),  # action, employee_id, dn, reason, clause, changes, member, note
            "dry_run": dry_run,
            "outcome": outcome or ("failed" if error else "ok"),
            "error": error,
        }
        if self.plan_id is not None:
            line["plan_id"] = self.plan_id
        text = json.dumps(line, ensure_ascii=False, sort_keys=False)
        with self._lock:
            handle = self._open()
            handle.write(text + "\n")
            handle.flush()
        return line

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.flush()
                self._file.close()
                self._file = None

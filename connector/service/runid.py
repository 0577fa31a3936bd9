"""Run ids: sortable by time (``YYYYMMDDTHHMMSS-xxxxxxxx``), unique by a random tail."""

from __future__ import annotations

import time
import uuid


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]

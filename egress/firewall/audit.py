"""The audit log (`STATE_DIR/audit.jsonl`): one JSON line per apply, confirm and rollback.

Each line says when, who, on which host, which policy/stage/sha256, the action, its
result and a detail, plus action-specific keys. Appending returns the line and, when the
line could not be written (a full disk), the reason: the caller says so loudly; the
library never prints.
"""

from __future__ import annotations

import errno
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from egress.firewall import host, safeio, sanitize
from egress.firewall.state import Record


@dataclass(frozen=True)
class Entry:
    line: dict[str, Any]
    error: str | None = None  # why the line is not in the log, if it is not
    full: bool = False  # the filesystem is full (ENOSPC, EDQUOT)


def line(action: str, result: str, record: Record | None, detail: str, **extra: Any) -> dict[str, Any]:
    entry = {
        "time": host.utc_now(),
        "user": host.current_user(),
        "host": socket.gethostname(),
        "policy": record.policy if record else None,
        "stage": record.stage if record else None,
        "sha256": record.sha256 if record else None,
        "action": action,
        "result": result,
        "detail": detail,
    }
    entry.update(extra)
    return sanitize.clean_json(entry)  # text from a bundle must not act on whoever reads the log


def append(path: Path, entry: dict[str, Any]) -> Entry:
    """Append one line and fsync it."""
    try:
        fd = safeio.open_regular(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, (json.dumps(entry, sort_keys=True) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as err:
        return Entry(entry, f"cannot write the audit log {path}: {err}", err.errno in (errno.ENOSPC, errno.EDQUOT))
    return Entry(entry)

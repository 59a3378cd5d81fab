"""Proxied grants close at their expiry instant on the proxy too, without anyone recompiling.

Squid has no date ACL. A bundle therefore carries, beside `squid-egress.conf` (the
include for the instant it was compiled for), the include of each later period: one per
instant at which a proxied grant in force expires (`squid_schedule` in the manifest,
egress/bundle.py). An apply with `--squid-include` copies those files into the state
directory (`squid-schedule/<sha256>.conf`) and records the schedule with the ruleset.

`settle` installs the include that is due now (the last period that has begun), checks
it with `squid -k parse`, reconfigures Squid and writes an audit line (`squid-expiry`).
It is idempotent and runs:

- in a detached timer process (`egress proxy-timer`, like the watchdog) that wakes at
  each instant, while the ruleset it was started for is in force;
- at the start of every firewall command (apply, confirm, rollback, status as root), so
  that the instants hold even when that process was killed;
- after a rollback, for the ruleset put back: what is in force is what the policy says
  for now.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from egress import instants
from egress.atomic import write_atomically
from egress.firewall import host, safeio, trust
from egress.firewall.errors import ApplyError
from egress.firewall.session import Session
from egress.firewall.squid import Squid
from egress.firewall.state import Record
from egress.firewall.store import Store

FOLDER = "squid-schedule"


def _when(text: str) -> dt.datetime:
    return instants.moment(text, instants.DEFAULT_TIMEZONE)


def keep(store: Store, schedule: list[dict[str, str]], contents: dict[str, bytes]) -> list[dict[str, Any]]:
    """Copy the bundle's later includes into the state directory; the schedule to record."""
    folder = store.dir / FOLDER
    trust.check_entry(folder)
    folder.mkdir(mode=0o700, exist_ok=True)
    kept = []
    for entry in schedule:
        data = contents[entry["file"]]
        digest = hashlib.sha256(data).hexdigest()
        path = folder / f"{digest}.conf"
        trust.check_entry(path)

        def write(path: Path = path, data: bytes = data) -> None:
            write_atomically(path, data, mode=0o600)

        store.durably(write)
        kept.append({"at": entry["at"], "sha256": digest})
    return kept


def due(record: Record | None, now: dt.datetime | None = None) -> dict[str, Any] | None:
    """The schedule entry in force now (None: the include of the apply itself)."""
    now = now or dt.datetime.now(dt.UTC)
    started = [e for e in (record.squid_schedule or []) if _when(e["at"]) <= now] if record else []
    return max(started, key=lambda e: _when(e["at"])) if started else None


def upcoming(record: Record | None, now: dt.datetime | None = None) -> dt.datetime | None:
    now = now or dt.datetime.now(dt.UTC)
    later = [_when(e["at"]) for e in (record.squid_schedule or []) if _when(e["at"]) > now] if record else []
    return min(later) if later else None


def settle(session: Session, record: Record | None) -> bool:
    """Install the include due now for `record` if it is not the one in place (the lock is
    held). Returns True when the include was switched."""
    entry = due(record)
    if record is None or entry is None or not record.squid_include:
        return False
    squid = Squid(Path(record.squid_include), Path(record.squid_conf) if record.squid_conf else None)
    installed = squid.read()
    if installed is not None and hashlib.sha256(installed).hexdigest() == entry["sha256"]:
        return False
    store = session.store
    path = store.dir / FOLDER / f"{entry['sha256']}.conf"
    try:
        trust.check_entry(path)
        data = safeio.read_regular(path)
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise ApplyError(f"{path}: sha256 mismatch")
        squid.install(data)
        squid.reconfigure()
    except (ApplyError, OSError) as err:
        session.audit("squid-expiry", "error", record, f"the proxy include of {entry['at']} could not be installed: {err}")
        session.warn(f"egress: warning: the proxy include of {entry['at']} could not be installed: {err}")
        return False
    session.audit("squid-expiry", "ok", record,
                  f"the proxy include of {entry['at']} is in force: proxied grants that expired then no longer pass",
                  instant=entry["at"], include=str(squid.include))
    session.say(f"proxy: the include of {entry['at']} is in force (proxied grants expired then are closed)")
    return True


def spawn(store: Store, record: Record | None) -> int | None:
    """Start the detached timer when `record` has an instant to come; its pid."""
    if upcoming(record) is None:
        return None
    env = dict(os.environ)
    here = str(Path(__file__).resolve().parent.parent.parent)
    env["PYTHONPATH"] = here + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    log = store.open_log(store.watchdog_log)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "egress.cli", "proxy-timer", "--state-dir",
                                 str(store.dir.resolve())], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True, cwd="/", env=env)
    except OSError:
        return None
    finally:
        os.close(log)
    return proc.pid


def _identity(record: Record | None) -> tuple | None:
    return (record.sha256, record.applied_at) if record else None


def run(state_dir: str, poll: float = 5.0) -> int:
    """The timer's loop: settle at each instant while the same ruleset is in force."""
    def log(message: str) -> None:
        with contextlib.suppress(OSError):
            print(f"{host.utc_now()} proxy-timer {os.getpid()}: {message}", flush=True)

    session = Session(Store(state_dir), say=log, warn=log)
    store = session.store
    started = None
    while True:
        try:
            with store.locked("proxy-timer", timeout=None):
                record = store.load().current
                if started is None:
                    started = _identity(record)
                if _identity(record) != started:
                    log("another ruleset is in force; exiting")
                    return 0
                settle(session, record)
                nxt = upcoming(record)
        except ApplyError as err:
            log(f"cannot settle the proxy include: {err}")
            return 1
        if nxt is None:
            log("no instant to come; exiting")
            return 0
        time.sleep(max(0.05, min(poll, (nxt - dt.datetime.now(dt.UTC)).total_seconds() + 0.05)))

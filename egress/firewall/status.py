"""`egress status` as data: what is loaded, whether a confirmation is pending, what a
rollback would restore (render.py turns it into text; the CLI prints it as JSON too).
Reads only, with one exception: run as root, it first rolls back a pending apply that is
past its deadline (its watchdog was killed), as every firewall command does.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Any

from egress.firewall import expiry, host, proxytimer
from egress.firewall.errors import ApplyError
from egress.firewall.nft import Nft
from egress.firewall.rollback import overdue, settle
from egress.firewall.session import Session
from egress.firewall.state import Record, State
from egress.firewall.store import Store

_LOADED_KEYS = ("policy", "stage", "stage_title", "revision", "sha256", "applied_at", "applied_by", "bundle",
                "squid_include", "dnsmasq_include", "signer", "signed_at", "deny_all")


def _loaded(result: dict[str, Any], current: Record | None, nft: Nft) -> None:
    """What egress loaded, and whether the table in the kernel is still that one."""
    notes = result["notes"]
    if not current:
        if result["table"] == "present":
            notes.append("table inet egress was not loaded by egress")
        return
    result["loaded"] = {k: getattr(current, k) for k in _LOADED_KEYS}
    result["expiry"] = expiry.next_expiry(current.expiries)
    if result["table"] == "present" and current.fingerprint:
        result["matches"] = nft.fingerprint_or_none() == current.fingerprint
        if not result["matches"]:
            notes.append("table inet egress has changed since egress loaded it")
    elif result["table"] == "absent":
        result["matches"] = False
        notes.append("egress loaded a table inet egress, but there is none now")


def _settle_overdue(store: Store, nft: Nft, state: State | None) -> list[str]:
    """Roll back an overdue pending apply of this namespace and boot (as root); the
    messages say what happened."""
    if state is None or os.geteuid() != 0:
        return []
    if not overdue(state.pending) and proxytimer.due(state.current) is None:
        return []
    if state.boot_id != host.boot_id() or state.netns != host.netns_id():
        return []
    messages: list[str] = []
    session = Session(store, nft, say=messages.append, warn=messages.append)
    try:
        with store.locked("status", timeout=30.0):
            settle(session, store.load(), "status")
    except ApplyError as err:
        messages.append(f"an overdue confirmation was found, and its rollback failed: {err}")
    return messages


def status(state_dir: str | os.PathLike) -> dict[str, Any]:
    store = Store(state_dir)
    nft = Nft()
    state = store.read()
    settled = _settle_overdue(store, nft, state)
    if settled:
        state = store.read()
    result: dict[str, Any] = {"state_dir": str(store.dir), "netns": host.netns_id(), "table": None, "matches": None,
                              "loaded": None, "expiry": None, "pending": None, "rollback": None, "last": None,
                              "newest_signed": None, "notes": []}
    notes = result["notes"]
    notes += settled
    if store.reserve_missing():
        notes.append("the state filesystem has been full (the reserve kept for the records of a rollback was "
                     f"used): free space in {store.dir}; the next apply makes the reserve again")
    try:
        result["table"] = "present" if nft.has_table() else "absent"
    except ApplyError as err:
        notes.append(f"cannot list table inet egress: {err}")
    if state is None:
        if result["table"] == "present":
            notes.append("table inet egress was not loaded by egress (no record in the state directory)")
        return result
    if state.boot_id != host.boot_id():
        notes.append("the state directory holds records of a previous boot (ignored)")
        return result
    if state.netns != host.netns_id():
        notes.append(f"the state directory belongs to network namespace {state.netns}")
        return result
    _loaded(result, state.current, nft)
    result["newest_signed"] = asdict(state.newest_signed) if state.newest_signed else None
    def restores(snap_id: str) -> dict[str, Any] | None:
        try:
            snapshot = store.read_snapshot(snap_id)
        except ApplyError:
            return None
        restored = snapshot.restores
        if not snapshot.table:  # a deny-all table, not "nothing" (see snapshots.py)
            return {"table": False, "deny_all": True}
        return {"table": True, **(restored.summary() if restored else {})}

    pending = state.pending
    if pending:
        left = pending.deadline_boottime - host.boottime()
        running = host.pid_alive(pending.watchdog_pid)
        result["pending"] = {
            "deadline": pending.deadline,
            "seconds_left": max(0, round(left, 1)),
            "overdue": left <= 0,
            "since": pending.since,
            "by": pending.by,
            "watchdog_pid": pending.watchdog_pid,
            "watchdog_running": running,
            "timer": pending.timer,
            "restores": restores(pending.snapshot),
        }
        if not running:
            notes.append("the watchdog is not running: run `egress confirm` or `egress rollback`"
                         + (f" (the deadline timer {pending.timer} still guards the deadline)" if pending.timer else
                            " (any egress command run after the deadline rolls back first)"))
    elif state.undo:
        result["rollback"] = {"restores": restores(state.undo)}
    result["last"] = state.last.to_json() if state.last else None
    return result

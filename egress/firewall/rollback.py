"""The way back: restore a snapshot, then record it (state, then audit).

Shared by `egress rollback`, `egress confirm` (too late), the foreground countdown and the
watchdog. The nftables table is restored first (the part that matters most); the state
changes only once the kernel is back, so a failed restore leaves the apply pending and
the watchdog tries again.
"""

from __future__ import annotations

import dataclasses

from egress.firewall import host
from egress.firewall.errors import ApplyError
from egress.firewall.render import describe
from egress.firewall.session import Session
from egress.firewall.snapshots import restore
from egress.firewall.state import Last, Pending, State


def rollback_pending(session: Session, token: str | None, reason: str, automatic: bool) -> bool:
    """Roll back the pending apply (if `token` is given, only that one). Takes the lock.
    Returns False when there was nothing (or no longer anything) to roll back."""
    store = session.store
    with store.locked("rollback", timeout=None if automatic else 30.0):
        state = store.load()
        pending = state.pending
        if not pending or (token is not None and pending.token != token):
            return False
        return do_rollback(session, state, pending.snapshot, pending.undo_before, reason, automatic, pending=pending)


def do_rollback(session: Session, state: State, snap_id: str, new_undo: str | None, reason: str,
                automatic: bool, pending: Pending | None = None) -> bool:
    """Restore snapshot `snap_id` (the lock is held), then save the state and audit it."""
    store = session.store
    snapshot = store.read_snapshot(snap_id)
    rolled_back = pending.record if pending else state.current
    nft_ok, problems = restore(store, session.nft, snapshot, rolled_back)
    restored = snapshot.restores
    if nft_ok:  # the firewall is back; a Squid problem is reported, not retried
        state = dataclasses.replace(
            state, current=restored, pending=None, undo=new_undo,
            last=Last(token=pending.token if pending else None, outcome="rolled back", at=host.utc_now(),
                      reason=reason, automatic=automatic))
        store.save(state)
        store.drop_snapshots({new_undo} if new_undo else set())
    result = "error" if problems else "ok"
    detail = reason + (": " + "; ".join(problems) if problems else "")
    session.audit("rollback", result, rolled_back, detail, automatic=automatic,
                  restored=restored.summary() if restored else None, restored_table=snapshot.table)
    if problems:
        raise ApplyError(f"rollback {'incomplete' if nft_ok else 'FAILED'} ({reason}): " + "; ".join(problems))
    session.say(f"rolled back ({reason}): {describe(restored, snapshot.table)} is in force again")
    return True

"""The way back: restore a snapshot, then record it (state, then audit).

Shared by `egress rollback`, `egress confirm` (too late), the foreground countdown, the
watchdog, the deadline timer, and every firewall command that finds an overdue
confirmation (`settle_overdue`: the deadline holds even when the watchdog was killed). The nftables table is restored first (the part that matters most); the state
changes only once the kernel is back, so a failed restore leaves the apply pending and
the watchdog tries again.
"""

from __future__ import annotations

import dataclasses

from egress.firewall import host, proxytimer
from egress.firewall.errors import ApplyError
from egress.firewall.render import describe
from egress.firewall.session import Session
from egress.firewall.snapshots import restore
from egress.firewall.state import Last, Pending, Record, State


def settle(session: Session, state: State, command: str) -> State:
    """What every firewall command does first, with the lock held: roll back an overdue
    apply, then put in place the proxy include that is due now (proxytimer.py)."""
    state = settle_overdue(session, state, command)
    proxytimer.settle(session, state.current)
    return state


def overdue(pending: Pending | None) -> bool:
    return pending is not None and pending.deadline_boottime - host.boottime() <= 0


def settle_overdue(session: Session, state: State, command: str) -> State:
    """With the lock held: if the pending apply is past its deadline (its watchdog was
    killed, or is late), roll it back now, before anything else. Returns the state after."""
    pending = state.pending
    if pending is None or not overdue(pending):
        return state
    do_rollback(session, state, pending.snapshot, pending.undo_before,
                f"automatic: not confirmed by {pending.deadline} (found overdue by `egress {command}`)", True,
                pending=pending)
    return session.store.load()


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
                automatic: bool, pending: Pending | None = None, allow_no_table: bool = False) -> bool:
    """Restore snapshot `snap_id` (the lock is held), then save the state and audit it.
    Only an explicit `allow_no_table` (never an automatic rollback) may end with no table."""
    store = session.store
    snapshot = store.read_snapshot(snap_id)
    rolled_back = pending.record if pending else state.current
    outcome = restore(store, session.nft, snapshot, rolled_back, allow_no_table=allow_no_table and not automatic)
    nft_ok, problems = outcome.nft_ok, outcome.problems
    restored = snapshot.restores
    if outcome.loaded == "deny-all":
        restored = _deny_all_record(session, rolled_back)
        reason += "; no table was in force before: a deny-all table was loaded (fail closed)"
    if nft_ok:  # the firewall is back; a Squid problem is reported, not retried
        state = dataclasses.replace(
            state, current=restored, pending=None, undo=new_undo,
            last=Last(token=pending.token if pending else None, outcome="rolled back", at=host.utc_now(),
                      reason=reason, automatic=automatic))
        try:
            store.save(state)
        except OSError as err:  # kernel restored, record not: say which, loudly; a retry restores again
            problems.append(f"table inet egress was restored, but {store.state_file} could not be written "
                            f"({err.strerror or err}): it still shows the previous records; free space there, "
                            "then run `egress status`")
        else:
            store.drop_snapshots({new_undo} if new_undo else set())
    result = "error" if problems else "ok"
    detail = reason + (": " + "; ".join(problems) if problems else "")
    session.audit("rollback", result, rolled_back, detail, automatic=automatic,
                  restored=restored.summary() if restored else None, restored_table=snapshot.table,
                  deny_all=outcome.loaded == "deny-all")
    if problems:
        raise ApplyError(f"rollback {'incomplete' if nft_ok else 'FAILED'} ({reason}): " + "; ".join(problems))
    if outcome.loaded == "table":  # the restored ruleset's proxy include for now, and its timer
        proxytimer.settle(session, restored)
        proxytimer.spawn(store, restored)
    shown = describe(restored, outcome.loaded != "none")
    session.say(f"rolled back ({reason}): {shown} is in force" + ("" if outcome.loaded == "deny-all" else " again"))
    return True


def _deny_all_record(session: Session, rolled_back: Record | None) -> Record:
    """The record of a deny-all table loaded in place of "no table"."""
    return Record(policy=rolled_back.policy if rolled_back else None, deny_all=True, applied_at=host.utc_now(),
                  applied_by=host.current_user(), fingerprint=session.nft.fingerprint_or_none())

"""apply, confirm, rollback: the commands that change the firewall, each under the lock.

Steps of an apply, in this order (nothing changes before step 5):

1. read `manifest.json` and check the sha256 of every file it lists (verify.py);
2. `nft -c -f egress.nft` in the live namespace (the real check against the ruleset in force);
3. load `egress.nft` in a scratch network namespace holding two sentinel tables: the file
   must create `table inet egress` and touch nothing else (nft.check_scope);
4. save what is in force (snapshots.take), checked with `nft -c -f` so that the way back
   is known to work before the way forward is taken;
5. record the pending confirmation (deadline, snapshot) in the state directory and start
   the watchdog (watchdog.py); the apply goes on only once the watchdog is running;
6. with `--squid-include`: install the new include and check it with `squid -k parse`
   (squid.py), putting the old include back on failure;
7. `nft -f egress.nft` (one atomic transaction);
8. with `--squid-include`: `squid -k reconfigure` (on failure everything is put back).

Then the apply either returns (`--no-wait`, the watchdog stays armed) or waits in the
foreground (countdown.py). `egress rollback` after a confirmation restores the snapshot
of the last apply, once (one level of undo); during a pending apply it rolls back at once.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from egress.firewall import countdown, host, snapshots, watchdog
from egress.firewall.errors import EXIT_USAGE, ApplyError, Refused, Unusable
from egress.firewall.nft import Nft, check_scope
from egress.firewall.render import describe
from egress.firewall.rollback import do_rollback
from egress.firewall.session import Say, Session, to_stderr
from egress.firewall.squid import Squid
from egress.firewall.state import Last, Pending, Record, State
from egress.firewall.store import Store
from egress.firewall.verify import NFT_FILE, SQUID_FILE, Bundle, read_manifest, verify_bundle

DEFAULT_CONFIRM_TIMEOUT = 120.0


@dataclass(frozen=True)
class ApplyOptions:
    confirm_timeout: float = DEFAULT_CONFIRM_TIMEOUT
    wait: bool = True
    squid_include: str | None = None
    squid_conf: str | None = None
    lock_timeout: float = 10.0


def _safe_fingerprint(nft: Nft) -> str | None:
    try:
        return nft.fingerprint()
    except ApplyError:
        return None


def apply(bundle_path: str, state_dir: str | os.PathLike, options: ApplyOptions, say: Say = print,
          warn: Say = to_stderr) -> int:
    """Apply a stage bundle; returns the exit code (0: loaded and, when waiting, confirmed)."""
    if not options.confirm_timeout > 0:
        raise Unusable("--confirm-timeout must be a positive number of seconds")
    host.require_root()
    session = Session(Store(state_dir), say=say, warn=warn)
    bundle = None
    try:
        bundle = read_manifest(bundle_path)
        verify_bundle(bundle, need_squid=bool(options.squid_include))
        token = _apply_locked(session, bundle, options)
    except ApplyError as err:
        record = Record.of_bundle(bundle.manifest, bundle.sha256, str(bundle.path)) if bundle else None
        result = "refused" if isinstance(err, Refused) or err.code == EXIT_USAGE else "error"
        session.audit("apply", result, record, str(err), bundle=str(bundle_path))
        raise
    if not options.wait:
        return 0
    return countdown.wait_for_confirmation(session, token)


def _apply_locked(session: Session, bundle: Bundle, options: ApplyOptions) -> str:
    store, nft, say = session.store, session.nft, session.say
    squid = None
    if options.squid_include:
        squid = Squid(Path(options.squid_include).absolute(),
                      Path(options.squid_conf).absolute() if options.squid_conf else None)
    with store.locked("apply", timeout=options.lock_timeout):
        state = store.load()
        if state.pending:
            raise Refused(
                f"a confirmation is pending until {state.pending.deadline} for {describe(state.pending.record)}: "
                "run `egress confirm` or `egress rollback` first")
        nft_file = bundle.file(NFT_FILE)
        record = Record.of_bundle(bundle.manifest, bundle.sha256, str(bundle.path))
        say(f"bundle {bundle.path}: {describe(record)}, {len(bundle.manifest.files)} files, sha256 ok")
        nft.check(nft_file)
        check_scope(nft_file, say)
        say("nft -c: ok; scope: table inet egress only")
        current = state.current
        snapshot = snapshots.take(store, nft, squid, current)
        say(f"saved for rollback: {describe(current, snapshot.table)}")
        token = secrets.token_hex(16)
        timeout = float(options.confirm_timeout)
        record = dataclasses.replace(record, applied_at=host.utc_now(), applied_by=host.current_user(),
                                     squid_include=str(squid.include) if squid else None,
                                     squid_conf=str(squid.conf) if squid and squid.conf else None)
        pending = Pending(token=token, snapshot=snapshot.id, undo_before=state.undo, record=record,
                          previous=current, since=host.utc_now(), by=host.current_user(), timeout=timeout,
                          deadline=host.iso_in(timeout), deadline_boottime=host.boottime() + timeout)
        state = store.save(dataclasses.replace(state, pending=pending))
        try:
            pending = dataclasses.replace(pending, watchdog_pid=watchdog.spawn(store, token))
            state = store.save(dataclasses.replace(state, pending=pending))
        except ApplyError:
            _abandon(store, state)
            raise
        try:
            _switch(session, squid, bundle, snapshot)
        except BaseException as err:
            if not isinstance(err, ApplyError):  # interrupted half-way: put everything back
                snapshots.restore(store, nft, snapshot, record)
            _abandon(store, state)
            raise
        record = dataclasses.replace(record, fingerprint=_safe_fingerprint(nft))
        pending = dataclasses.replace(pending, record=record, deadline=host.iso_in(timeout),  # counted from the load
                                      deadline_boottime=host.boottime() + timeout)
        state = store.save(dataclasses.replace(state, pending=pending, current=record))
        session.audit("apply", "ok", record, f"loaded; pending confirmation until {pending.deadline}",
                      deadline=pending.deadline, bundle=str(bundle.path),
                      previous=current.summary() if current else None, previous_table=snapshot.table)
        say(f"loaded {describe(record)}")
        say(f"confirm with `egress confirm` before {pending.deadline} ({timeout:g} s), "
            f"or it is rolled back by itself (watchdog pid {pending.watchdog_pid})")
        return token


def _abandon(store: Store, state: State) -> None:
    """The apply did not happen: forget the pending record and its snapshot."""
    store.save(dataclasses.replace(state, pending=None))
    store.drop_snapshots({state.undo} if state.undo else set())


def _switch(session: Session, squid: Squid | None, bundle: Bundle, snapshot) -> None:
    """Steps 6-8: squid include + parse, nft load, squid reconfigure; undo on failure."""
    old_include = squid.install(bundle.file(SQUID_FILE).read_bytes()) if squid else None
    try:
        session.nft.load(bundle.file(NFT_FILE))
    except ApplyError as err:
        if squid:
            squid.write(old_include)
        raise Refused(f"nft -f failed, nothing loaded: {err}") from None
    if squid:
        try:
            squid.reconfigure()
        except ApplyError as err:
            record = Record.of_bundle(bundle.manifest, bundle.sha256, str(bundle.path))
            _, problems = snapshots.restore(session.store, session.nft, snapshot, record)
            raise ApplyError(f"{err}; the previous ruleset and include were put back"
                             + (f" (with problems: {'; '.join(problems)})" if problems else "")) from None


def confirm(state_dir: str | os.PathLike, say: Say = print, token: str | None = None, warn: Say = to_stderr) -> int:
    """Disarm the pending rollback. Exit 1 if there is nothing to confirm or it is too late
    (then the overdue rollback is done here, as the watchdog would)."""
    host.require_root()
    session = Session(Store(state_dir), say=say, warn=warn)
    return confirm_in(session, token)


def confirm_in(session: Session, token: str | None = None) -> int:
    store, nft = session.store, session.nft
    with store.locked("confirm", timeout=30.0):
        state = store.load()
        pending = state.pending
        if not pending or (token and pending.token != token):
            last = state.last
            hint = f"; the last pending apply was {last.outcome} at {last.at}" if last else ""
            if last and last.reason:
                hint += f" ({last.reason})"
            session.audit("confirm", "refused", state.current, "no confirmation pending" + hint)
            raise Refused("no confirmation is pending" + hint)
        if pending.deadline_boottime - host.boottime() <= 0:
            session.audit("confirm", "refused", pending.record, f"too late: deadline {pending.deadline}")
            do_rollback(session, state, pending.snapshot, pending.undo_before,
                        f"automatic: not confirmed by {pending.deadline}", True, pending=pending)
            raise Refused(f"too late: the deadline was {pending.deadline}; the previous ruleset was restored")
        record = pending.record
        fingerprint = _safe_fingerprint(nft)
        note = ""
        if record.fingerprint and fingerprint != record.fingerprint:
            note = "; warning: table inet egress has changed since the apply"
        last = Last(token=pending.token, outcome="confirmed", at=host.utc_now(), by=host.current_user())
        store.save(dataclasses.replace(state, pending=None, undo=pending.snapshot, last=last))
        store.drop_snapshots({pending.snapshot})
        session.audit("confirm", "ok", record, "confirmed before " + pending.deadline + note)
    session.say(f"confirmed: {describe(record)} stays in force" + note)
    return 0


def rollback(state_dir: str | os.PathLike, say: Say = print, warn: Say = to_stderr) -> int:
    """Roll back the pending apply now, or else the last confirmed one (once)."""
    host.require_root()
    session = Session(Store(state_dir), say=say, warn=warn)
    store = session.store
    with store.locked("rollback", timeout=30.0):
        state = store.load()
        pending = state.pending
        if pending:
            do_rollback(session, state, pending.snapshot, pending.undo_before,
                        "on demand, before confirmation", False, pending=pending)
            return 0
        if state.undo:
            do_rollback(session, state, state.undo, None, "on demand, after confirmation", False)
            return 0
        session.audit("rollback", "refused", state.current, "nothing to roll back")
        raise Refused("nothing to roll back: no apply is pending and the last one was already undone "
                      "(or none was made with this state directory)")

"""apply, confirm, rollback: the commands that change the firewall, each under the lock.

Steps of an apply, in this order (nothing changes before step 5):

1. read `manifest.json` (with `--allowed-signers`: its signature must verify over the
   bytes read, signing.py) and check the sha256 of every file it lists, keeping the
   bytes that were checked (verify.py): from here on only those bytes are used, copied
   into a private folder; then, without running anything, check what they say: the
   manifest's stage and policy are those of egress.nft's header (sanitize.py), egress.nft
   names no table but `inet egress` and says only what egress writes (scope.py,
   allowlist.py), the dnsmasq feed holds only `nftset=` lines into that table
   (dnsmasq.py); the include paths are real paths, not links; under the lock, a signed
   bundle must not be older than the newest signed one applied here (freshness.py);
2. `nft -c -f egress.nft` in the live namespace (the real check against the ruleset in force);
3. load `egress.nft` in a scratch network namespace holding two sentinel tables: the file
   must create `table inet egress` and touch nothing else (nft.check_scope);
4. save what is in force (snapshots.take), checked with `nft -c -f` so that the way back
   is known to work before the way forward is taken;
5. record the pending confirmation (deadline, snapshot) in the state directory and start
   the watchdog (watchdog.py); the apply goes on only once the watchdog is running;
6. with `--squid-include`: install the new include and check it with `squid -k parse`
   (squid.py); with `--dnsmasq-include`: install the feed and check it with `dnsmasq
   --test` (dnsmasq.py); each put back on failure;
7. `nft -f egress.nft` (one atomic transaction);
8. with `--squid-include`: `squid -k reconfigure`; with `--dnsmasq-include`: restart
   dnsmasq (after the load: the sets it feeds must exist); on failure everything is put back.

Then the apply either returns (`--no-wait`, the watchdog stays armed) or waits in the
foreground (countdown.py). `egress rollback` after a confirmation restores the snapshot
of the last apply, once (one level of undo); during a pending apply it rolls back at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from egress.firewall import countdown, expiry, freshness, host, proxytimer, sanitize, scope, snapshots, timer, watchdog
from egress.firewall.dnsmasq import DEFAULT_RESTART, Dnsmasq, check_feed
from egress.firewall.errors import EXIT_USAGE, ApplyError, Refused, Unusable
from egress.firewall.nft import Nft, check_scope
from egress.firewall.paths import plain_path
from egress.firewall.render import describe
from egress.firewall.rollback import do_rollback, overdue, settle
from egress.firewall.session import Say, Session, to_stderr
from egress.firewall.squid import Squid
from egress.firewall.state import Last, Pending, Record, Snapshot, State
from egress.firewall.store import Store
from egress.firewall.verify import DNSMASQ_FILE, NFT_FILE, SQUID_FILE, Bundle, read_manifest, verify_bundle

DEFAULT_CONFIRM_TIMEOUT = 120.0
MAX_CONFIRM_TIMEOUT = 86400.0


@dataclass(frozen=True)
class ApplyOptions:
    confirm_timeout: float = DEFAULT_CONFIRM_TIMEOUT
    wait: bool = True
    squid_include: str | None = None
    squid_conf: str | None = None
    dnsmasq_include: str | None = None
    dnsmasq_conf: str | None = None
    dnsmasq_restart: str = DEFAULT_RESTART
    allowed_signers: str | None = None
    signer: str | None = None
    allow_older: bool = False  # apply a bundle signed before the newest signed one applied here (freshness.py)
    lock_timeout: float = 10.0
    strict: bool = False  # refuse a bundle that expiry.warnings has something to say about


def apply(bundle_path: str, state_dir: str | os.PathLike, options: ApplyOptions, say: Say = print,
          warn: Say = to_stderr) -> int:
    """Apply a stage bundle; returns the exit code (0: loaded and, when waiting, confirmed)."""
    if not (math.isfinite(options.confirm_timeout) and 0 < options.confirm_timeout <= MAX_CONFIRM_TIMEOUT):
        raise Unusable(f"--confirm-timeout must be a number of seconds above 0 and at most {MAX_CONFIRM_TIMEOUT:g} "
                       f"(one day), not {options.confirm_timeout!r}")
    if options.allow_older and not options.allowed_signers:
        raise Unusable("--allow-older goes with --allowed-signers (without it, signing times are not read)")
    host.require_root()
    session = Session(Store(state_dir), say=say, warn=warn)
    bundle = None
    try:
        bundle = read_manifest(bundle_path, options.allowed_signers, options.signer)
        contents = verify_bundle(bundle, need=(DNSMASQ_FILE,) if options.dnsmasq_include else (),
                                 need_squid=bool(options.squid_include))
        emptied = check_contents(bundle, contents)
        notices = expiry.warnings(bundle.manifest)
        if notices and options.strict:
            raise Refused(f"{bundle.path}: refused (--strict): " + "; ".join(notices))
        token = _apply_locked(session, bundle, contents, options, emptied, notices)
    except ApplyError as err:
        record = Record.of_bundle(bundle.manifest, bundle.sha256, str(bundle.path)) if bundle else None
        result = "refused" if isinstance(err, Refused) or err.code == EXIT_USAGE else "error"
        session.audit("apply", result, record, str(err), bundle=str(bundle_path))
        raise
    if not options.wait:
        return 0
    return countdown.wait_for_confirmation(session, token)


def check_contents(bundle: Bundle, contents: dict[str, bytes]) -> list[str] | None:
    """Step 1's static checks of the bytes that will be used (module docstring). Returns
    the sets that egress.nft empties on load (scope.emptied_sets), kept in the record."""
    path = bundle.file(NFT_FILE)
    try:
        text = contents[NFT_FILE].decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(f"{path}: not UTF-8 text: not a compiled ruleset") from None
    try:
        sanitize.check_header(dataclasses.asdict(bundle.manifest), text)
    except sanitize.MetadataError as err:
        raise Refused(f"{bundle.path}: {err}") from None
    try:
        statements = scope.check(text)
    except scope.ScopeError as err:
        why = str(err).removesuffix("; refused")
        raise Refused(f"{path}: refused: {why} (an egress.nft holds what egress compiles, for table inet egress "
                      "only)") from None
    if DNSMASQ_FILE in contents:
        try:
            check_feed(contents[DNSMASQ_FILE].decode("utf-8", errors="replace"))
        except Refused as err:
            raise Refused(f"{bundle.path}/{err}") from None
    return scope.emptied_sets(statements)


def _real_path(value: str | None, option: str) -> Path | None:
    """An include path given on the command line, refused if it is or goes through a link."""
    return plain_path(Path(value), option) if value else None


def _apply_locked(session: Session, bundle: Bundle, contents: dict[str, bytes], options: ApplyOptions,
                  emptied: list[str] | None, notices: list[str]) -> str:
    store, nft, say = session.store, session.nft, session.say
    squid = dnsmasq = None
    squid_include = _real_path(options.squid_include, "--squid-include")
    if squid_include:
        squid = Squid(squid_include, Path(options.squid_conf).absolute() if options.squid_conf else None)
    dnsmasq_include = _real_path(options.dnsmasq_include, "--dnsmasq-include")
    if dnsmasq_include:
        dnsmasq = Dnsmasq(dnsmasq_include, Path(options.dnsmasq_conf).absolute() if options.dnsmasq_conf else None,
                          options.dnsmasq_restart)
    with store.locked("apply", timeout=options.lock_timeout), \
            tempfile.TemporaryDirectory(prefix="egress-apply-") as private:
        nft_file = Path(private) / NFT_FILE  # the checked bytes, where nobody else can change them
        nft_file.write_bytes(contents[NFT_FILE])
        state = settle(session, store.load(), "apply")
        if state.pending:
            raise Refused(
                f"a confirmation is pending until {state.pending.deadline} for {describe(state.pending.record)}: "
                "run `egress confirm` or `egress rollback` first")
        older = freshness.check(state.newest_signed, bundle.signed_at, options.allow_older)
        record = Record.of_bundle(bundle.manifest, bundle.sha256, str(bundle.path))
        say(f"bundle {bundle.path}: {describe(record)}, {len(bundle.manifest.files)} files, sha256 ok"
            + (f", signed by {bundle.signer} at {bundle.signed_at}" if bundle.signer else ""))
        for notice in filter(None, [older, freshness.ahead(bundle.signed_at)]):
            session.warn(f"egress: warning: {notice}")
        nft.check(nft_file)
        check_scope(nft_file, say)
        say("nft -c: ok; scope: table inet egress only")
        for notice in notices:
            session.warn(f"egress: warning: {notice}")
        record = dataclasses.replace(record, applied_at=host.utc_now(), applied_by=host.current_user(),
                                     squid_include=str(squid.include) if squid else None,
                                     squid_conf=str(squid.conf) if squid and squid.conf else None,
                                     dnsmasq_include=str(dnsmasq.include) if dnsmasq else None,
                                     dnsmasq_conf=str(dnsmasq.conf) if dnsmasq and dnsmasq.conf else None,
                                     signer=bundle.signer, signed_at=bundle.signed_at, emptied_sets=emptied)
        if squid and bundle.manifest.squid_schedule:
            try:
                record = dataclasses.replace(record, squid_schedule=proxytimer.keep(
                    store, bundle.manifest.squid_schedule, contents))
            except OSError as err:
                raise Refused(f"{store.dir}: cannot keep the proxy's later includes ({err.strerror or err}); "
                              "nothing was changed") from None
        state, snapshot = _arm(session, state, record, squid, dnsmasq, float(options.confirm_timeout),
                               contents[NFT_FILE].decode(errors="replace"))
        assert state.pending is not None
        try:
            _switch(session, squid, dnsmasq, contents, nft_file, snapshot, record)
        except BaseException as err:
            if not isinstance(err, ApplyError):  # interrupted half-way: put everything back
                snapshots.restore(store, nft, snapshot, record)
            _abandon(store, state)
            raise
        return _record_loaded(session, state, state.pending, snapshot, older)


def _arm(session: Session, state: State, record: Record, squid: Squid | None, dnsmasq: Dnsmasq | None,
         timeout: float, ruleset: str) -> tuple[State, Snapshot]:
    """Steps 4-5: the snapshot, the pending record, the watchdog. Nothing in the kernel has
    changed yet, so a failure here (a full disk too) refuses the apply cleanly."""
    store, say = session.store, session.say
    current = state.current
    try:
        store.keep_reserve()
        snapshot = snapshots.take(store, session.nft, squid, current, ruleset, dnsmasq)
    except OSError as err:
        raise Refused(f"{store.dir}: cannot save the ruleset in force ({err.strerror or err}); nothing was changed"
                      ) from None
    say(f"saved for rollback: {describe(current, snapshot.table)}")
    token = secrets.token_hex(16)
    pending = Pending(token=token, snapshot=snapshot.id, undo_before=state.undo, record=record,
                      previous=current, since=host.utc_now(), by=host.current_user(), timeout=timeout,
                      deadline=host.iso_in(timeout), deadline_boottime=host.boottime() + timeout)
    try:
        state = store.save(dataclasses.replace(state, pending=pending))
        pending = dataclasses.replace(pending, watchdog_pid=watchdog.spawn(store, token))
        state = store.save(dataclasses.replace(state, pending=pending))
    except (ApplyError, OSError) as err:
        with contextlib.suppress(OSError):
            _abandon(store, dataclasses.replace(state, pending=None))
        if isinstance(err, OSError):
            raise Refused(f"{store.state_file}: cannot record the pending apply ({err.strerror or err}); "
                          "nothing was changed") from None
        raise
    return state, snapshot


def _record_loaded(session: Session, state: State, pending: Pending, snapshot: Snapshot, older: str | None) -> str:
    """After the load: the deadline counts from now; record it (and the newest signing
    time applied), arm the timer, audit (`older`: the bundle was signed before the
    newest, applied with --allow-older)."""
    store, nft, say = session.store, session.nft, session.say
    timeout = pending.timeout
    record = dataclasses.replace(pending.record, fingerprint=nft.fingerprint_or_none())
    pending = dataclasses.replace(pending, record=record, deadline=host.iso_in(timeout),
                                  deadline_boottime=host.boottime() + timeout)
    unit, note = timer.arm(store.dir, pending.token, timeout)
    if unit is None:
        say(note)
    pending = dataclasses.replace(pending, timer=unit)
    current = state.current
    try:
        state = store.save(dataclasses.replace(state, pending=pending, current=record,
                                               newest_signed=freshness.newest(state.newest_signed, record)))
    except OSError as err:  # the first pending record stands: the guards roll back; do it now
        do_rollback(session, state, pending.snapshot, pending.undo_before,
                    f"automatic: the apply could not be recorded ({err.strerror or err})", True, pending=pending)
        raise ApplyError(f"{store.state_file}: cannot record the apply ({err.strerror or err}); "
                         "it was rolled back") from None
    session.audit("apply", "ok", record, f"loaded; pending confirmation until {pending.deadline}"
                  + (f"; {older}" if older else ""),
                  deadline=pending.deadline, bundle=record.bundle, signer=record.signer, signed_at=record.signed_at,
                  allowed_older=bool(older) if record.signed_at else None,
                  previous=current.summary() if current else None, previous_table=snapshot.table)
    say(f"loaded {describe(record)}")
    proxytimer.settle(session, record)  # applied after one of its instants
    proxytimer.spawn(store, record)
    guards = f"watchdog pid {pending.watchdog_pid}" + (f", timer {unit}" if unit else "")
    say(f"confirm with `egress confirm` before {pending.deadline} ({timeout:g} s), "
        f"or it is rolled back by itself ({guards})")
    return pending.token


def _abandon(store: Store, state: State) -> None:
    """The apply did not happen: forget the pending record and its snapshot."""
    store.save(dataclasses.replace(state, pending=None))
    store.drop_snapshots({state.undo} if state.undo else set())


def _switch(session: Session, squid: Squid | None, dnsmasq: Dnsmasq | None, contents: dict[str, bytes],
            nft_file: Path, snapshot, record: Record) -> None:
    """Steps 6-8: includes installed and checked, nft load, Squid reconfigured and dnsmasq
    restarted; on failure what was installed is put back."""
    old_include = squid.install(contents[SQUID_FILE]) if squid else None
    old_feed = None
    if dnsmasq:
        try:
            old_feed = dnsmasq.install(contents[DNSMASQ_FILE])
        except ApplyError:
            if squid:
                squid.write(old_include)
            raise
    try:
        session.nft.load(nft_file)
    except ApplyError as err:
        if squid:
            squid.write(old_include)
        if dnsmasq:
            dnsmasq.restore(old_feed, restart=False)
        raise Refused(f"nft -f failed, nothing loaded: {err}") from None
    try:
        _filters(session.nft)
        if squid:
            squid.reconfigure()
        if dnsmasq:
            dnsmasq.restart()
    except ApplyError as err:
        problems = snapshots.restore(session.store, session.nft, snapshot, record).problems
        raise ApplyError(f"{err}; the previous ruleset and includes were put back"
                         + (f" (with problems: {'; '.join(problems)})" if problems else "")) from None


def _filters(nft: Nft) -> None:
    """After the load, the kernel's own word (`nft -j`) that the perimeter fails closed:
    table inet egress exists, with base chains, each with policy drop. The file was
    checked before (scope.py); this catches what a static reading cannot see."""
    chains = nft.base_chains()
    if chains is None:
        raise ApplyError("after the load, there is no table inet egress")
    open_ = sorted(name for name, policy in chains.items() if policy != "drop")
    if not chains or open_:
        raise ApplyError("after the load, table inet egress " + (
            f"has base chains that accept what no rule drops ({', '.join(open_)})" if open_ else "has no base chain"))


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
        proxytimer.settle(session, state.current)
        pending = state.pending
        if not pending or (token and pending.token != token):
            last = state.last
            hint = f"; the last pending apply was {last.outcome} at {last.at}" if last else ""
            if last and last.reason:
                hint += f" ({last.reason})"
            session.audit("confirm", "refused", state.current, "no confirmation pending" + hint)
            raise Refused("no confirmation is pending" + hint)
        if overdue(pending):
            session.audit("confirm", "refused", pending.record, f"too late: deadline {pending.deadline}")
            do_rollback(session, state, pending.snapshot, pending.undo_before,
                        f"automatic: not confirmed by {pending.deadline}", True, pending=pending)
            raise Refused(f"too late: the deadline was {pending.deadline}; the previous ruleset was restored")
        record = pending.record
        fingerprint = nft.fingerprint_or_none()
        note = ""
        if record.fingerprint and fingerprint != record.fingerprint:
            note = "; warning: table inet egress has changed since the apply"
        last = Last(token=pending.token, outcome="confirmed", at=host.utc_now(), by=host.current_user())
        store.save(dataclasses.replace(state, pending=None, undo=pending.snapshot, last=last))
        store.drop_snapshots({pending.snapshot})
        session.audit("confirm", "ok", record, "confirmed before " + pending.deadline + note)
    session.say(f"confirmed: {describe(record)} stays in force" + note)
    return 0


def rollback(state_dir: str | os.PathLike, say: Say = print, warn: Say = to_stderr, allow_no_table: bool = False,
             if_overdue: bool = False) -> int:
    """Roll back the pending apply now, or else the last confirmed one (once). Where no
    table was in force before, a deny-all table is loaded, unless `allow_no_table`.
    `if_overdue` (the deadline timer): only a pending apply past its deadline, exit 0 when
    there is none."""
    host.require_root()
    session = Session(Store(state_dir), say=say, warn=warn)
    store = session.store
    with store.locked("rollback", timeout=None if if_overdue else 30.0):
        state = store.load()
        if if_overdue or overdue(state.pending):
            if not overdue(state.pending):
                say("nothing overdue: no pending apply is past its deadline")
            settle(session, state, "rollback")
            return 0
        pending = state.pending
        if pending:
            do_rollback(session, state, pending.snapshot, pending.undo_before,
                        "on demand, before confirmation", False, pending=pending, allow_no_table=allow_no_table)
            return 0
        if state.undo:
            do_rollback(session, state, state.undo, None, "on demand, after confirmation", False,
                        allow_no_table=allow_no_table)
            return 0
        session.audit("rollback", "refused", state.current, "nothing to roll back")
        raise Refused("nothing to roll back: no apply is pending and the last one was already undone "
                      "(or none was made with this state directory)")

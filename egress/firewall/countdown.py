"""The foreground wait of `egress apply`: countdown, `yes` on a terminal, or a confirmation
from elsewhere. Ctrl-C, SIGTERM, SIGHUP (the terminal went away) and the deadline roll
back at once; the watchdog stays armed in case this process dies.
"""

from __future__ import annotations

import select
import signal
import sys
import time

from egress.firewall import host
from egress.firewall.errors import EXIT_REFUSED, ApplyError
from egress.firewall.rollback import rollback_pending
from egress.firewall.session import Session
from egress.firewall.state import Last

_SIGNALS = {signal.SIGINT: "interrupted (Ctrl-C)", signal.SIGTERM: "SIGTERM",
            signal.SIGHUP: "the terminal went away (SIGHUP)"}


def _settled(session: Session, last: Last | None, token: str) -> int:
    """The pending apply was settled by another command: report how."""
    if last and last.token == token and last.outcome == "confirmed":
        session.say(f"confirmed by {last.by} at {last.at}")
        return 0
    session.say(f"rolled back: {(last.reason if last else None) or 'by another command'}")
    return EXIT_REFUSED


def _read_answer(timeout: float) -> str | None:
    """"yes", "end" (end of input), or None (nothing, or another answer) from the terminal."""
    if not select.select([sys.stdin], [], [], timeout)[0]:
        return None
    line = sys.stdin.readline()
    if line.strip().lower() in ("y", "yes"):
        return "yes"
    return "end" if line == "" else None


def _confirm_here(session: Session, token: str) -> int:
    from egress.firewall.transaction import confirm_in  # the confirmation typed here

    try:
        host.require_root()
        return confirm_in(session, token=token)
    except ApplyError as err:
        session.say(f"egress: {err}")
        return EXIT_REFUSED


def wait_for_confirmation(session: Session, token: str, poll: float = 0.2) -> int:
    """Wait for the confirmation of the apply `token`; returns the exit code."""
    store, say = session.store, session.say
    interactive = sys.stdin.isatty()
    tty = sys.stderr.isatty()
    reason: dict[str, str | None] = {"why": None}

    def on_signal(signum, _frame):
        reason["why"] = _SIGNALS.get(signum, f"signal {signum}")

    old = {sig: signal.signal(sig, on_signal) for sig in _SIGNALS}
    prompt = ("type yes + Enter to confirm" if interactive else "run `egress confirm`") + ", Ctrl-C to roll back now"
    last_shown = None
    try:
        while True:
            state = store.load()
            pending = state.pending
            if not pending or pending.token != token:
                if tty:
                    sys.stderr.write("\n")
                return _settled(session, state.last, token)
            remaining = pending.deadline_boottime - host.boottime()
            if reason["why"] or remaining <= 0:
                if tty:
                    sys.stderr.write("\n")
                why = reason["why"] or f"not confirmed by {pending.deadline}"
                for sig in old:
                    signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not cut the rollback short
                done = rollback_pending(session, token, ("automatic: " if not reason["why"] else "") + why,
                                        automatic=not reason["why"])
                if done:
                    return EXIT_REFUSED
                continue  # the watchdog or another command was first: report what it did
            seconds = int(remaining + 0.999)
            if tty:
                sys.stderr.write(f"\rconfirm within {seconds:4d} s: {prompt} ")
                sys.stderr.flush()
            elif last_shown is None or (seconds % 30 == 0 and seconds != last_shown):
                say(f"waiting for confirmation: {seconds} s left ({prompt})")
                last_shown = seconds
            if interactive:
                answer = _read_answer(min(poll, remaining))
                if answer == "yes":
                    if tty:
                        sys.stderr.write("\n")
                    return _confirm_here(session, token)
                interactive = answer != "end"  # end of input: wait for the deadline
            else:
                time.sleep(min(poll, max(remaining, 0.01)))
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)

"""The watchdog: a detached process that rolls back a pending apply at its deadline.

Started as `egress watchdog --state-dir DIR --token-fd N` (a hidden subcommand of the
CLI; the token of the pending apply comes through an inherited pipe, never on the command
line, which /proc/PID/cmdline shows to every user) in its own session (`start_new_session`), so that it outlives the applying process
(killed, or its SSH session gone) and inherits its network namespace. On a host run by
systemd it is started through `systemd-run --scope` so that it also leaves the login
session's cgroup (a session closed with `KillUserProcesses=yes` would kill it
otherwise). It polls the state file, rolls back at the deadline unless the pending apply
was confirmed, and rolls back at once if it receives SIGTERM: a pending apply is never
left without a guard. The apply goes on only once the watchdog has said it is running.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from egress.firewall import host
from egress.firewall.errors import ApplyError
from egress.firewall.rollback import rollback_pending
from egress.firewall.session import Session
from egress.firewall.store import Store


def _scope_prefix(token: str) -> list[str]:
    """systemd-run --scope on a systemd host: the watchdog leaves the login session's cgroup
    but stays a process of ours (same namespaces, same environment)."""
    if os.environ.get("EGRESS_WATCHDOG_SCOPE", "1") == "0" or not os.path.isdir("/run/systemd/system"):
        return []
    tool = shutil.which("systemd-run")
    if not tool:
        return []
    return [tool, "--scope", "--quiet", "--collect", f"--unit=egress-watchdog-{token[:12]}", "--"]


def spawn(store: Store, token: str, ready_timeout: float = 10.0) -> int:
    """Start the detached watchdog and wait until it says it is running. Returns its pid."""
    argv = [sys.executable, "-m", "egress.cli", "watchdog", "--state-dir", str(store.dir.resolve())]
    env = dict(os.environ)
    here = str(Path(__file__).resolve().parent.parent.parent)
    env["PYTHONPATH"] = here + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    errors = []
    prefix = _scope_prefix(token)
    for attempt in ([prefix, []] if prefix else [[]]):
        read_fd, write_fd = os.pipe()
        token_fd = _token_pipe(token)
        log = store.open_log(store.watchdog_log)
        try:
            proc = subprocess.Popen(
                [*attempt, *argv, "--ready-fd", str(write_fd), "--token-fd", str(token_fd)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                pass_fds=(write_fd, token_fd), start_new_session=True, cwd="/", env=env)
        except OSError as err:
            errors.append(str(err))
            os.close(read_fd)
            continue
        finally:
            for fd in (write_fd, token_fd, log):
                os.close(fd)
        ready = b""
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if select.select([read_fd], [], [], 0.1)[0]:
                chunk = os.read(read_fd, 64)
                ready += chunk
                if not chunk or b"\n" in ready:
                    break
        os.close(read_fd)
        if ready.startswith(b"ready"):
            return proc.pid
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(2)
        errors.append(f"{' '.join(attempt[:2]) or 'direct start'}: no answer (see {store.watchdog_log})")
    raise ApplyError("cannot start the rollback watchdog: " + "; ".join(errors) + "; nothing was changed")


def _token_pipe(token: str) -> int:
    """The read end of a pipe that holds the token (a pipe buffer holds far more)."""
    read_fd, write_fd = os.pipe()
    os.write(write_fd, token.encode() + b"\n")
    os.close(write_fd)
    return read_fd


def read_token(fd: int) -> str:
    """The token from the pipe that `spawn` passed (at most one line)."""
    with os.fdopen(fd, "rb") as pipe:
        return pipe.readline(256).decode(errors="replace").strip()


def run(state_dir: str, token: str, ready_fd: int | None, poll: float = 0.2) -> int:
    """The watchdog's loop; its messages go to standard output (the watchdog log)."""

    def log(message: str) -> None:
        """A line of the watchdog log; a full disk must not stop the watchdog."""
        with contextlib.suppress(OSError):
            print(f"{host.utc_now()} watchdog {os.getpid()} [{token[:8]}]: {message}", flush=True)

    session = Session(Store(state_dir), say=log, warn=log)
    store = session.store
    stop: dict[str, str | None] = {"now": None}

    def on_term(signum, _frame):
        stop["now"] = signal.Signals(signum).name

    signal.signal(signal.SIGTERM, on_term)
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    try:
        state = store.load()
    except ApplyError as err:
        log(f"cannot read the state: {err}")
        return 1
    pending = state.pending
    if not pending or pending.token != token:
        log("nothing pending for this token; exiting")
        return 0
    if ready_fd is not None:
        os.write(ready_fd, b"ready\n")
        os.close(ready_fd)
    log(f"armed: rollback at {pending.deadline} unless confirmed")
    failures = 0
    while True:
        try:
            state = store.load()
        except ApplyError as err:
            log(f"cannot read the state ({err}); retrying")
            time.sleep(1)
            continue
        pending = state.pending
        if not pending or pending.token != token:
            log("disarmed (" + ((state.last.outcome if state.last else None) or "no longer pending") + ")")
            return 0
        remaining = pending.deadline_boottime - host.boottime()
        if stop["now"] or remaining <= 0:
            reason = (f"automatic: watchdog received {stop['now']}" if stop["now"]
                      else f"automatic: not confirmed by {pending.deadline}")
            try:
                done = rollback_pending(session, token, reason, automatic=True)
            except ApplyError as err:
                failures += 1
                log(f"rollback failed (attempt {failures}): {err}")
                if failures >= 5:
                    return 1
                time.sleep(5)
                continue  # nftables not restored: the apply is still pending, try again
            if not done:
                log("disarmed (confirmed or rolled back meanwhile)")
            return 0
        time.sleep(min(poll, max(remaining, 0.01)))

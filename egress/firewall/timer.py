"""The deadline timer: a second guard of a pending apply, independent of the watchdog.

The watchdog is a process: `kill -9` ends it. Where systemd runs, `egress apply` also
leaves a transient systemd timer (`systemd-run --on-active=...`) that runs
`egress rollback --if-overdue` just after the deadline, in the firewall's network
namespace. It needs no token (the command acts only on a pending apply that is past its
deadline, whichever it is), so nothing secret is on its command line. Where systemd does
not run (containers, this project's CI), the third guard remains: every firewall command
(apply, confirm, rollback, status) rolls back an overdue apply before anything else.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

#: Seconds after the deadline at which the timer fires (its accuracy is one second).
MARGIN = 2
#: Environment that the timer's command keeps (where the programs are).
_KEPT_ENV = ("EGRESS_NFT", "EGRESS_SQUID", "EGRESS_DNSMASQ", "PYTHONPATH")


def systemd_runs() -> bool:
    """sd_booted(3): systemd is the init system of this host."""
    return os.path.isdir("/run/systemd/system") and shutil.which("systemd-run") is not None


def netns_name() -> str | None:
    """The name (under /run/netns) of this process's network namespace; "" for the
    namespace of init (no `ip netns exec` needed); None when it has no name."""
    here = os.stat("/proc/self/ns/net")
    try:
        init = os.stat("/proc/1/ns/net")
        if (init.st_dev, init.st_ino) == (here.st_dev, here.st_ino):
            return ""
    except OSError:
        pass
    try:
        names = sorted(os.listdir("/run/netns"))
    except OSError:
        return None
    for name in names:
        try:
            st = os.stat(f"/run/netns/{name}")
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (here.st_dev, here.st_ino):
            return name
    return None


def unit_name(token: str) -> str:
    """Named after a hash of the token: no part of the token itself on a command line."""
    return f"egress-deadline-{hashlib.sha256(token.encode()).hexdigest()[:12]}"


def command(state_dir: Path, token: str, seconds: float, netns: str, env: dict[str, str]) -> list[str]:
    """The `systemd-run` command line that arms the timer (a pure function, tested)."""
    here = str(Path(__file__).resolve().parent.parent.parent)
    pythonpath = here + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    kept = {k: v for k, v in env.items() if k in _KEPT_ENV} | {"PYTHONPATH": pythonpath}
    argv = ["systemd-run", "--quiet", "--collect", f"--unit={unit_name(token)}",
            f"--description=egress: roll back the apply pending in {state_dir} if not confirmed",
            f"--on-active={int(seconds + 0.999) + MARGIN}s", "--timer-property=AccuracySec=1s",
            *[f"--setenv={k}={v}" for k, v in sorted(kept.items())], "--"]
    if netns:
        argv += ["ip", "netns", "exec", netns]
    return [*argv, sys.executable, "-m", "egress.cli", "rollback", "--if-overdue", "--state-dir", str(state_dir)]


def arm(state_dir: Path, token: str, seconds: float) -> tuple[str | None, str]:
    """Arm the timer. Returns (unit name or None, what to tell the operator)."""
    if os.environ.get("EGRESS_DEADLINE_TIMER", "1") == "0":
        return None, "deadline timer disabled (EGRESS_DEADLINE_TIMER=0)"
    if not systemd_runs():
        return None, ("note: systemd does not run here: no deadline timer; if the watchdog dies, the next "
                      "egress command (apply, confirm, rollback, status) rolls back an overdue apply")
    netns = netns_name()
    if netns is None:
        return None, "note: this network namespace has no name under /run/netns: no deadline timer"
    argv = command(state_dir.resolve(), token, seconds, netns, dict(os.environ))
    argv[0] = shutil.which("systemd-run") or argv[0]
    try:
        cp = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return None, f"warning: cannot arm the deadline timer ({err}); the watchdog alone guards the deadline"
    if cp.returncode:
        return None, (f"warning: cannot arm the deadline timer ({(cp.stderr or cp.stdout).strip()[:200]}); "
                      "the watchdog alone guards the deadline")
    return unit_name(token) + ".timer", f"deadline timer {unit_name(token)}.timer armed"

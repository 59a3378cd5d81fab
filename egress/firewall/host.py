"""Facts about this machine and this process: clocks, boot, network namespace, user.

Deadlines are kept on CLOCK_BOOTTIME (immune to wall-clock steps: NTP may step the clock
of a firewall that has just reopened NTP); the wall-clock ISO strings are for people.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import pwd
import time
from pathlib import Path

from egress import instants
from egress.firewall.errors import Unusable


def utc_now() -> str:
    return instants.iso(dt.datetime.now(dt.UTC))


def iso_in(seconds: float) -> str:
    return instants.iso(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds))


def boottime() -> float:
    """Seconds since boot, suspend included, shared by every process of the boot."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def netns_id() -> str:
    try:
        return os.readlink("/proc/self/ns/net")
    except OSError:
        return "unknown"


def current_user() -> str:
    if os.environ.get("SUDO_USER"):
        return os.environ["SUDO_USER"]
    with contextlib.suppress(OSError):
        return os.getlogin()
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def require_root() -> None:
    if os.geteuid() != 0:
        raise Unusable("this command changes the firewall: run it as root (or with sudo)")


def pid_alive(pid: int | None) -> bool:
    """Whether `pid` is a live process (a zombie is not)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except OSError:
        return False

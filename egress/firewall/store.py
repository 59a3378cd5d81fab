"""The state directory: its lock, `state.json`, the snapshots folder, the file paths.

    lock                  flock(2) taken by apply, confirm, rollback and the watchdog
    state.json            the one record of what egress loaded (see state.py)
    snapshots/<id>/       what was in force before an apply (see snapshots.py)
    audit.jsonl           one JSON line per apply, confirm and rollback (see audit.py)
    watchdog.log          what the watchdogs did

Safety rules: the state records the network namespace and the boot it was written in. A
command run in another network namespace of the same boot refuses to touch it (a
rollback must never load a ruleset into the wrong namespace). After a reboot the records
are void (the kernel ruleset is whatever the boot loaded) and are dropped. The directory
must be root's alone (trust.py), its files are opened without following links
(safeio.py), and `state.json` is checked against its schema on every read (state.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from egress.atomic import write_atomically
from egress.firewall import host, safeio, trust
from egress.firewall.errors import ApplyError, Refused, Unusable
from egress.firewall.state import Snapshot, State, StateError

T = TypeVar("T")
DEFAULT_STATE_DIR = "/var/lib/egress"
RESERVE = "reserve"
RESERVE_SIZE = 256 << 10
FULL_NOTE = "the state filesystem is full: its reserve was used; free space there"
SNAPSHOT_ID = re.compile(r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}\Z")
_MAX_STATE = 1 << 20


def default_state_dir() -> str:
    return os.environ.get("EGRESS_STATE_DIR") or DEFAULT_STATE_DIR


def empty_state() -> State:
    return State(netns=host.netns_id(), boot_id=host.boot_id())


class Store:
    """The state directory of one firewall (one network namespace)."""

    def __init__(self, path: str | os.PathLike):
        if not os.fspath(path):
            raise Unusable("--state-dir is empty: give the state directory (default /var/lib/egress)")
        self.dir = Path(path)
        self.state_file = self.dir / "state.json"
        self.audit_file = self.dir / "audit.jsonl"
        self.snapshots = self.dir / "snapshots"
        self.watchdog_log = self.dir / "watchdog.log"
        self.note: str | None = None  # a remark for the next audit line (void records dropped)

    def verify(self) -> None:
        """Refuse (Unusable) a state directory or file that someone else could have written."""
        trust.check_dir(self.dir)
        for entry in (self.dir / "lock", self.state_file, self.audit_file, self.watchdog_log, self.snapshots,
                      self.dir / RESERVE):
            trust.check_entry(entry)

    def ensure(self) -> None:
        self.verify()
        try:
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.snapshots.mkdir(exist_ok=True, mode=0o700)
        except OSError as err:
            raise Unusable(f"{self.dir}: cannot create the state directory: {err.strerror or err}") from None
        self.verify()

    def open_log(self, path: Path) -> int:
        """An append descriptor on a log file of the state directory (never through a link)."""
        try:
            return safeio.open_regular(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        except OSError as err:
            raise safeio.unusable(err, "a log file of the state directory") from None

    # -- lock --------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, what: str, timeout: float | None = 10.0) -> Iterator[None]:
        """flock STATE/lock; waits up to `timeout` seconds (None: for ever)."""
        self.ensure()
        try:
            fd = safeio.open_regular(self.dir / "lock", os.O_RDWR | os.O_CREAT)
        except OSError as err:
            raise safeio.unusable(err, "the lock of the state directory") from None
        try:
            start = time.monotonic()
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if timeout is not None and time.monotonic() - start >= timeout:
                        holder = ""
                        with contextlib.suppress(OSError):
                            holder = os.pread(fd, 200, 0).decode(errors="replace").strip()
                        raise Refused(
                            f"another egress command holds {self.dir / 'lock'}"
                            + (f" ({holder})" if holder else "") + "; try again when it has finished") from None
                    time.sleep(0.05)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{what} by pid {os.getpid()} since {host.utc_now()}\n".encode(), 0)
            yield
        finally:
            os.close(fd)  # releases the lock

    # -- state -------------------------------------------------------------

    def read(self) -> State | None:
        """The state as written, without the boot and namespace rules; None if there is none."""
        self.verify()
        try:
            raw = safeio.read_regular(self.state_file, _MAX_STATE)
        except FileNotFoundError:
            return None
        except OSError as err:
            raise Unusable(f"{self.state_file}: unreadable state ({err}); move it aside to start afresh") from None
        try:
            return State.from_json(json.loads(raw))
        except (ValueError, StateError) as err:
            raise Unusable(f"{self.state_file}: unreadable state ({err}); move it aside to start afresh") from None

    def load(self, check_netns: bool = True) -> State:
        """The state, with the namespace rule applied. Records of another boot are void
        and dropped (noted for the next audit line)."""
        state = self.read()
        if state is None:
            return empty_state()
        if state.boot_id != host.boot_id():
            if state.current or state.pending:
                self.note = "records of a previous boot dropped"
            return empty_state()
        if check_netns and state.netns != host.netns_id():
            raise Unusable(
                f"{self.dir} belongs to network namespace {state.netns}, and this command runs in "
                f"{host.netns_id()}: run it in the firewall's namespace (ip netns exec NS egress ...) "
                "or give another --state-dir")
        return state

    def save(self, state: State) -> State:
        """Write the state atomically, stamped with this namespace and boot; returns it.
        On a full filesystem the reserve is given up for it (see `durably`)."""
        state = dataclasses.replace(state, netns=host.netns_id(), boot_id=host.boot_id())
        data = state.to_bytes()
        self.durably(lambda: write_atomically(self.state_file, data, mode=0o600))
        return state

    # -- full disk ---------------------------------------------------------
    # The records that follow a change of the kernel (state.json, then the audit line)
    # must be written even when the filesystem has filled up since the apply (logs, an
    # attack): `reserve` is a preallocated file that apply keeps in place and that a
    # write failing with ENOSPC gives up, once, before trying again.

    def keep_reserve(self) -> None:
        """(Re)make the reserve before an apply; Refused when the filesystem cannot hold it
        (then an automatic rollback could not be recorded: nothing is changed)."""
        path = self.dir / RESERVE
        trust.check_entry(path)
        with contextlib.suppress(OSError):
            if os.lstat(path).st_size >= RESERVE_SIZE:
                return
        try:
            fd = safeio.open_regular(path, os.O_WRONLY | os.O_CREAT)
            try:
                os.posix_fallocate(fd, 0, RESERVE_SIZE)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as err:
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise Refused(f"{self.dir}: the state filesystem cannot hold {RESERVE_SIZE >> 10} KiB more "
                          f"({err.strerror or err}): free space there before applying; nothing was changed") from None

    def durably(self, write: Callable[[], T]) -> T:
        """Run `write`; if the filesystem is full, give up the reserve and run it again."""
        try:
            return write()
        except OSError as err:
            if err.errno not in (errno.ENOSPC, errno.EDQUOT) or not self.release_reserve():
                raise
        return write()

    def release_reserve(self) -> bool:
        try:
            os.unlink(self.dir / RESERVE)
        except OSError:
            return False
        self.note = (self.note + "; " if self.note else "") + FULL_NOTE
        return True

    def reserve_missing(self) -> bool:
        return self.state_file.exists() and not (self.dir / RESERVE).exists()

    # -- snapshots ---------------------------------------------------------

    def snapshot_dir(self, snap_id: str) -> Path:
        """snapshots/<id>: ids are checked, so that a path never leaves snapshots/."""
        if not SNAPSHOT_ID.match(snap_id):
            raise Unusable(f"{self.state_file}: invalid snapshot id {snap_id!r}; move the state file aside")
        return self.snapshots / snap_id

    def snapshot_file(self, snap_id: str, name: str) -> Path:
        """A file of a snapshot, checked like every entry of the state directory."""
        folder = self.snapshot_dir(snap_id)
        trust.check_entry(folder)
        trust.check_entry(folder / name)
        return folder / name

    def read_snapshot(self, snap_id: str) -> Snapshot:
        folder = self.snapshot_dir(snap_id)
        try:
            snapshot = Snapshot.from_json(json.loads(safeio.read_regular(self.snapshot_file(snap_id, "meta.json"),
                                                                         _MAX_STATE)))
        except (OSError, ValueError) as err:
            raise ApplyError(f"{folder}: the saved ruleset is unreadable ({err}); cannot roll back") from None
        if snapshot.id != snap_id:
            raise ApplyError(f"{folder}: the saved ruleset's meta.json names another snapshot; cannot roll back")
        return snapshot

    def drop_snapshots(self, keep: set[str]) -> None:
        if not self.snapshots.is_dir():
            return
        for entry in self.snapshots.iterdir():
            if entry.name not in keep:
                shutil.rmtree(entry, ignore_errors=True)

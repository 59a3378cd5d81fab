"""Push a compiled stage to this firewall, and take it back unless it is confirmed.

`egress apply BUNDLE/<stage>` is run as root on the firewall (or inside the firewall's
network namespace). It works like `iptables-apply` or Junos `commit confirmed`: the new
ruleset is loaded, and unless `egress confirm` is run before a deadline, the ruleset that
was in force before is put back by itself. A push that cuts the operator off therefore
heals itself.

Steps of an apply, in this order (nothing changes before step 5):

1. read `manifest.json` and check the sha256 of every file it lists (a missing file or a
   mismatch refuses the bundle);
2. `nft -c -f egress.nft` in the live namespace (the real check against the ruleset in
   force);
3. load `egress.nft` in a scratch network namespace that holds two sentinel tables: the
   file must create `table inet egress` and touch nothing else (no `flush ruleset`, no
   other table), as the design requires of it;
4. save what is in force (a *snapshot*): `nft list table inet egress` turned into a
   reload script (or "none" when there is no such table), checked with `nft -c -f` so
   that the way back is known to work before the way forward is taken; and, with
   `--squid-include`, the include file in place (or "none");
5. record the pending confirmation (deadline, snapshot) in the state directory and start
   the *watchdog*, a detached process that rolls back at the deadline; the apply goes on
   only once the watchdog has said it is running;
6. with `--squid-include`: install the new include (temp file + rename), run
   `squid -k parse` (refused on a non-zero exit, on a WARNING/ERROR/FATAL/unrecognized
   line, or if the parse did not read the include at all), putting the old include back
   on failure. Problem lines that the configuration in place already gave before the
   change (a parse run first) are not blamed on the include: they are about the host
   (Squid warns "BCP 177 violation" wherever IPv6 loopback is off) and would otherwise
   refuse every include;
7. `nft -f egress.nft` (one atomic transaction);
8. with `--squid-include`: `squid -k reconfigure` (on failure everything is put back).

Then the apply either returns (`--no-wait`, the watchdog stays armed) or waits in the
foreground with a countdown: typing `yes` (when on a terminal) or running `egress confirm`
elsewhere confirms; the deadline, Ctrl-C, SIGTERM or SIGHUP (the terminal went away) roll
back at once.

State directory (`--state-dir`, default `/var/lib/egress`, env `EGRESS_STATE_DIR`)::

    lock                  flock(2) taken by apply, confirm, rollback and the watchdog
    state.json            the one record of what egress loaded (written atomically):
                            current  - the bundle in force (manifest summary, by whom, when,
                                       a fingerprint of the loaded table)
                            pending  - the unconfirmed apply: token, deadline, snapshot,
                                       watchdog pid (null when nothing is pending)
                            undo     - the snapshot that `egress rollback` restores after a
                                       confirmation (one level of undo)
                            last     - the outcome of the last pending apply (confirmed or
                                       rolled back, by whom)
                            netns, boot_id - where and in which boot the record was made
    snapshots/<id>/       what was in force before an apply:
                            ruleset.nft   reload script (absent when there was no table)
                            squid-include the include file in place (if --squid-include)
                            meta.json     what it holds
    audit.jsonl           one JSON line per apply, confirm and rollback (automatic too)
    watchdog.log          what the watchdogs did

What a rollback restores: the table `inet egress` exactly as listed at the moment of the
apply, including the elements of its sets *at that moment*, the counters too; or no table
at all if there was none. Elements that dnsmasq added to dynamic sets after the apply are
dropped on purpose: they were added under the rolled-back stage, whose hosts may not be
allowed by the restored one, and keeping them would leave open what the rollback is meant
to close. dnsmasq adds the addresses of the restored stage's hosts again at the next
lookup (a client holding a cached answer may wait for its next lookup). With
`--squid-include` the include file is put back as it was and Squid reconfigured; if there
was none, a closed include (`http_access deny all`) takes its place: removing it would
leave a squid.conf that no longer parses, so Squid would keep the rolled-back rules. `egress rollback` after a confirmation restores the snapshot of
the last apply, once (one level of undo); during a pending apply it rolls back at once.

Safety rules of the state directory: it records the network namespace and the boot it
was written in. A command run in another network namespace of the same boot refuses to
touch it (a rollback must never load a ruleset into the wrong namespace). After a reboot
the records are void (the kernel ruleset is whatever the boot loaded) and are dropped.

The watchdog is `python -m egress.apply watchdog --state-dir DIR --token T`, started in
its own session (`start_new_session`), so that it outlives the applying process (killed,
or its SSH session gone) and inherits its network namespace. On a host run by systemd it
is started through `systemd-run --scope` so that it also leaves the login session's
cgroup (a session closed with `KillUserProcesses=yes` would kill it otherwise). It polls
the state file, rolls back at the deadline unless the pending apply was confirmed, and
rolls back at once if it receives SIGTERM: a pending apply is never left without a guard.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import pwd
import re
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_STATE_DIR = "/var/lib/egress"
DEFAULT_CONFIRM_TIMEOUT = 120.0
TABLE = ("inet", "egress")
NFT_FILE = "egress.nft"
SQUID_FILE = "squid-egress.conf"
CLOSED_INCLUDE = (b"# egress: no include was in place before the apply that was rolled back;\n"
                  b"# nothing is allowed through the proxy until a stage is applied.\n"
                  b"http_access deny all\n")
MANIFEST = "manifest.json"
STATE_VERSION = 1

EXIT_REFUSED = 1
EXIT_USAGE = 2


class ApplyError(Exception):
    """A clean, one-line failure with the exit code the command should return."""

    code = EXIT_REFUSED

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code


class Refused(ApplyError):
    """The bundle (or the state of the machine) does not allow the apply: exit 1."""


class Unusable(ApplyError):
    """Wrong usage, unreadable bundle, wrong namespace, not root: exit 2."""

    code = EXIT_USAGE


def default_state_dir() -> str:
    return os.environ.get("EGRESS_STATE_DIR") or DEFAULT_STATE_DIR


# --------------------------------------------------------------------------- clocks


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def iso_in(seconds: float) -> str:
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=seconds)
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


def boottime() -> float:
    """Seconds since boot, suspend included, immune to wall-clock steps (NTP may step the
    clock of a firewall that has just reopened NTP), shared by every process of the boot."""
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


# --------------------------------------------------------------------------- bundle


@dataclass
class Bundle:
    path: Path
    manifest: dict

    @property
    def policy(self) -> str | None:
        return self.manifest.get("policy")

    @property
    def stage(self) -> str | None:
        return self.manifest.get("stage")

    @property
    def sha256(self) -> str | None:
        return (self.manifest.get("files") or {}).get(NFT_FILE)

    def file(self, name: str) -> Path:
        return self.path / name

    def summary(self) -> dict:
        m = self.manifest
        return {
            "policy": m.get("policy"),
            "stage": m.get("stage"),
            "stage_title": m.get("stage_title"),
            "revision": m.get("revision"),
            "compiler_version": m.get("compiler_version"),
            "at": m.get("at"),
            "sha256": self.sha256,
            "files": m.get("files"),
            "bundle": str(self.path),
        }


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(path: str | os.PathLike) -> Bundle:
    """The bundle's manifest, without checking the files yet. Unusable (exit 2) when the
    folder or its manifest cannot be read or is not a manifest at all."""
    folder = Path(path)
    if not folder.is_dir():
        raise Unusable(f"{folder}: not a bundle folder (expected BUNDLE_DIR/<stage> with {MANIFEST})")
    try:
        raw = (folder / MANIFEST).read_bytes()
    except OSError as err:
        raise Unusable(f"{folder / MANIFEST}: cannot read: {err.strerror or err}") from None
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise Unusable(f"{folder / MANIFEST}: not JSON: {err}") from None
    files = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise Unusable(f"{folder / MANIFEST}: not a bundle manifest (no `files` map of name -> sha256)")
    return Bundle(folder.resolve(), doc)


def verify_bundle(bundle: Bundle, need_squid: bool = False) -> None:
    """Refuse (exit 1) unless every listed file is there with its sha256."""
    files = bundle.manifest["files"]
    for name in files:
        if "/" in name or name in ("", ".", ".."):
            raise Refused(f"{bundle.path}: {MANIFEST} names a file outside the bundle: {name!r}")
    needed = [NFT_FILE] + ([SQUID_FILE] if need_squid else [])
    for name in needed:
        if name not in files:
            raise Refused(f"{bundle.path}: {MANIFEST} lists no {name}")
    for name, expected in sorted(files.items()):
        path = bundle.file(name)
        try:
            actual = file_sha256(path)
        except FileNotFoundError:
            raise Refused(f"{path}: missing (listed in {MANIFEST})") from None
        except OSError as err:
            raise Refused(f"{path}: cannot read: {err.strerror or err}") from None
        if actual != expected.lower():
            raise Refused(f"{path}: sha256 mismatch (manifest {expected[:16]}..., file {actual[:16]}...): refused")


# --------------------------------------------------------------------------- nft


def _first_lines(text: str, count: int = 3) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    shown = " | ".join(lines[:count])
    return shown + (" | ..." if len(lines) > count else "")


class Nft:
    """The nft program in the current network namespace."""

    def __init__(self, binary: str | None = None):
        self.binary = binary or os.environ.get("EGRESS_NFT") or "nft"

    def run(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        try:
            cp = subprocess.run([self.binary, *args], input=input, capture_output=True, text=True, timeout=120)
        except FileNotFoundError:
            raise Unusable(f"{self.binary}: not found (install nftables)") from None
        except subprocess.TimeoutExpired:
            raise ApplyError(f"{self.binary} {' '.join(args)}: timed out") from None
        if check and cp.returncode:
            raise ApplyError(f"nft {' '.join(args)} failed: {_first_lines(cp.stderr or cp.stdout)}")
        return cp

    def check(self, path: str | os.PathLike) -> None:
        cp = self.run("-c", "-f", os.fspath(path), check=False)
        if cp.returncode:
            raise Refused(f"{path}: refused by `nft -c`: {_first_lines(cp.stderr or cp.stdout)}")

    def load(self, path: str | os.PathLike) -> None:
        self.run("-f", os.fspath(path))

    def list_table(self, stateless: bool = False) -> str | None:
        """`nft list table inet egress`, or None when there is no such table."""
        cp = self.run(*(["-s"] if stateless else []), "list", "table", *TABLE, check=False)
        if cp.returncode == 0:
            return cp.stdout
        if "No such file or directory" in cp.stderr:
            return None
        raise ApplyError(f"nft list table {' '.join(TABLE)} failed: {_first_lines(cp.stderr)}")

    def delete_table(self) -> None:
        if self.list_table() is not None:
            self.run("delete", "table", *TABLE)

    def fingerprint(self) -> str | None:
        """sha256 of the table's stateless listing without set elements: the rules and
        set declarations that egress loaded, blind to counters and to the elements that
        dnsmasq adds at run time."""
        listing = self.list_table(stateless=True)
        if listing is None:
            return None
        return hashlib.sha256(strip_elements(listing).encode()).hexdigest()


_ELEMENTS_RE = re.compile(r"^[ \t]*elements = \{[^}]*\}[ \t]*\n", re.M)


def strip_elements(listing: str) -> str:
    return _ELEMENTS_RE.sub("", listing)


def restore_script(listing: str, taken_at: str) -> str:
    """A file that replaces table inet egress by the saved listing in one transaction."""
    return (
        f"# Saved by egress apply at {taken_at}: the table in force before the apply.\n"
        f"# Loading it with `nft -f` replaces table {' '.join(TABLE)} atomically.\n"
        f"table {' '.join(TABLE)}\n"
        f"delete table {' '.join(TABLE)}\n" + listing
    )


_SENTINEL = "table ip egress_sentinel {}\ntable inet egress_sentinel {}\n"


def check_scope(path: str | os.PathLike, say=None) -> None:
    """Load the file in a scratch network namespace holding two sentinel tables: it
    must load on its own, keep the sentinels, and leave exactly `table inet egress`
    besides them. Skipped (with a note) where no scratch namespace can be made."""
    unshare = shutil.which("unshare")
    nft = os.environ.get("EGRESS_NFT") or "nft"
    if not unshare:
        if say:
            say("note: unshare not found: the file's scope (only table inet egress) is not checked")
        return
    probe = subprocess.run([unshare, "--net", "--", "true"], capture_output=True, text=True)
    if probe.returncode:
        if say:
            say("note: cannot create a scratch network namespace: the file's scope is not checked")
        return
    script = 'printf "%s" "$3" | "$1" -f - && "$1" -f "$2" && "$1" list tables'
    cp = subprocess.run(
        [unshare, "--net", "--", "sh", "-c", script, "sh", nft, os.fspath(path), _SENTINEL],
        capture_output=True, text=True, timeout=120,
    )
    if cp.returncode:
        raise Refused(f"{path}: does not load on an empty ruleset: {_first_lines(cp.stderr or cp.stdout)}")
    tables = {line.strip() for line in cp.stdout.splitlines() if line.strip()}
    expected = {"table ip egress_sentinel", "table inet egress_sentinel", "table inet egress"}
    if tables != expected:
        missing = sorted(expected - tables - {"table inet egress"})
        extra = sorted(tables - expected)
        why = []
        if missing:
            why.append("it removes other tables (" + ", ".join(missing) + ")")
        if extra:
            why.append("it creates other tables (" + ", ".join(extra) + ")")
        if "table inet egress" not in tables:
            why.append("it does not create table inet egress")
        raise Refused(f"{path}: refused: {'; '.join(why)}; an egress ruleset must touch table inet egress only")


# --------------------------------------------------------------------------- squid


_SQUID_PROBLEM = re.compile(r"\b(warning|error|fatal|bungled|unrecognized)\b", re.I)


@dataclass
class Squid:
    include: Path
    conf: Path | None = None
    binary: str = field(default_factory=lambda: os.environ.get("EGRESS_SQUID") or "squid")

    def _argv(self, *args: str) -> list[str]:
        return [self.binary, *(["-f", str(self.conf)] if self.conf else []), *args]

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(self._argv(*args), capture_output=True, text=True, timeout=120)
        except FileNotFoundError:
            raise Unusable(f"{self.binary}: not found (install squid, or leave out --squid-include)") from None
        except subprocess.TimeoutExpired:
            raise ApplyError(f"squid {' '.join(args)}: timed out") from None

    def read(self) -> bytes | None:
        try:
            return self.include.read_bytes()
        except FileNotFoundError:
            return None

    def write(self, data: bytes | None) -> None:
        """Put data at the include path atomically (None: remove the file), keeping the
        mode and owner of the file it replaces (0644 root for a new one)."""
        if data is None:
            with contextlib.suppress(FileNotFoundError):
                self.include.unlink()
            return
        try:
            st = self.include.stat()
        except FileNotFoundError:
            st = None
        atomic_write(self.include, data, mode=(st.st_mode & 0o7777) if st else 0o644,
                     owner=(st.st_uid, st.st_gid) if st else None)

    def check(self) -> tuple[int, list[str], bool, str]:
        """`squid -k parse`: (exit code, problem lines, whether the include was read, output)."""
        cp = self._run("-k", "parse")
        output = (cp.stdout or "") + (cp.stderr or "")
        problems = []
        read_include = False
        for line in output.splitlines():
            text = (line.split("| ", 1)[1] if "| " in line else line).strip()
            if text.startswith("Processing Configuration File:"):
                name = text.split(":", 1)[1].strip().rsplit(" (depth", 1)[0]
                read_include |= os.path.realpath(name) == os.path.realpath(self.include)
                continue
            if text.startswith("Processing:"):
                continue  # an echo of a configuration line, whatever its words
            if _SQUID_PROBLEM.search(text):
                problems.append(text)
        return cp.returncode, problems, read_include, output

    def baseline(self) -> set[str]:
        """The problem lines of the configuration in place, before a change: warnings about
        the host (e.g. "BCP 177 violation. Detected non-functional IPv6 loopback" where
        IPv6 is off) that no include can cure, and that must not refuse every include."""
        return set(self.check()[1])

    def parse(self, baseline: set[str] | None = None) -> None:
        """Refuse on a non-zero exit, on a WARNING/ERROR/FATAL/unrecognized line that the
        configuration in place did not already give, or if the include was not read."""
        code, problems, read_include, output = self.check()
        new = [line for line in problems if line not in (baseline or set())]
        if code or new:
            shown = "; ".join(new[:3]) or _first_lines(output)
            raise Refused(f"squid -k parse refused {self.include}: {shown}")
        if not read_include:
            where = self.conf or "squid's default configuration"
            raise Refused(
                f"squid -k parse did not read {self.include}: add `include {self.include}` to {where}, "
                "or give the main file with --squid-conf")

    def reconfigure(self) -> None:
        cp = self._run("-k", "reconfigure")
        if cp.returncode:
            raise ApplyError(f"squid -k reconfigure failed: {_first_lines(cp.stderr or cp.stdout)}")


def atomic_write(path: Path, data: bytes, mode: int = 0o600, owner: tuple[int, int] | None = None) -> None:
    """Write a temporary file beside `path`, fsync it, rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        if owner is not None and os.geteuid() == 0:
            os.chown(tmp, *owner)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dirfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dirfd)
        finally:
            os.close(dirfd)


# --------------------------------------------------------------------------- state


def _empty_state() -> dict:
    return {"version": STATE_VERSION, "netns": netns_id(), "boot_id": boot_id(),
            "current": None, "pending": None, "undo": None, "last": None}


class Store:
    """The state directory: lock, state.json, snapshots, audit log."""

    def __init__(self, path: str | os.PathLike):
        self.dir = Path(path)
        self.state_file = self.dir / "state.json"
        self.audit_file = self.dir / "audit.jsonl"
        self.snapshots = self.dir / "snapshots"
        self.watchdog_log = self.dir / "watchdog.log"
        self.note: str | None = None  # a remark for the next audit line (void records dropped)

    def ensure(self) -> None:
        try:
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.snapshots.mkdir(exist_ok=True, mode=0o700)
        except OSError as err:
            raise Unusable(f"{self.dir}: cannot create the state directory: {err.strerror or err}") from None

    # -- lock --------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, what: str, timeout: float | None = 10.0):
        """flock STATE/lock; waits up to `timeout` seconds (None: for ever)."""
        self.ensure()
        fd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
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
            os.pwrite(fd, f"{what} by pid {os.getpid()} since {utc_now()}\n".encode(), 0)
            yield
        finally:
            os.close(fd)  # releases the lock

    # -- state -------------------------------------------------------------

    def read_raw(self) -> dict | None:
        try:
            return json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            raise Unusable(f"{self.state_file}: unreadable state ({err}); move it aside to start afresh") from None

    def load(self, check_netns: bool = True) -> dict:
        """The state, with the namespace rule applied. Records of another boot are void
        and dropped (noted for the next audit line)."""
        raw = self.read_raw()
        if raw is None:
            return _empty_state()
        if raw.get("boot_id") != boot_id():
            fresh = _empty_state()
            if raw.get("current") or raw.get("pending"):
                self.note = "records of a previous boot dropped"
            return fresh
        if check_netns and raw.get("netns") != netns_id():
            raise Unusable(
                f"{self.dir} belongs to network namespace {raw.get('netns')}, and this command runs in "
                f"{netns_id()}: run it in the firewall's namespace (ip netns exec NS egress ...) "
                "or give another --state-dir")
        return raw

    def save(self, state: dict) -> None:
        state["version"] = STATE_VERSION
        state["netns"] = netns_id()
        state["boot_id"] = boot_id()
        atomic_write(self.state_file, (json.dumps(state, indent=2, sort_keys=True) + "\n").encode())

    # -- snapshots ---------------------------------------------------------

    def snapshot_dir(self, snap_id: str) -> Path:
        return self.snapshots / snap_id

    def read_snapshot(self, snap_id: str) -> dict:
        folder = self.snapshot_dir(snap_id)
        try:
            meta = json.loads((folder / "meta.json").read_text())
        except (OSError, ValueError) as err:
            raise ApplyError(f"{folder}: the saved ruleset is unreadable ({err}); cannot roll back") from None
        meta["dir"] = str(folder)
        return meta

    def drop_snapshots(self, keep: set[str]) -> None:
        if not self.snapshots.is_dir():
            return
        for entry in self.snapshots.iterdir():
            if entry.name not in keep:
                shutil.rmtree(entry, ignore_errors=True)

    # -- audit -------------------------------------------------------------

    def audit(self, action: str, result: str, record: dict | None, detail: str, **extra) -> dict:
        record = record or {}
        line = {
            "time": utc_now(),
            "user": current_user(),
            "host": socket.gethostname(),
            "policy": record.get("policy"),
            "stage": record.get("stage"),
            "sha256": record.get("sha256"),
            "action": action,
            "result": result,
            "detail": detail + (f" ({self.note})" if self.note else ""),
        }
        self.note = None
        line.update(extra)
        try:
            self.ensure()
            fd = os.open(self.audit_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, (json.dumps(line, sort_keys=True) + "\n").encode())
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as err:
            print(f"egress: warning: cannot write the audit log {self.audit_file}: {err}", file=sys.stderr)
        return line


def _summary(record: dict | None) -> dict | None:
    if not record:
        return None
    return {k: record.get(k) for k in ("policy", "stage", "stage_title", "sha256")}


def describe(record: dict | None, table: bool = True) -> str:
    if not table:
        return "no table inet egress"
    if not record:
        return "a table inet egress not loaded by egress"
    title = f' "{record["stage_title"]}"' if record.get("stage_title") else ""
    return f"{record.get('policy')} stage {record.get('stage')}{title} (egress.nft sha256 {str(record.get('sha256'))[:12]})"


# --------------------------------------------------------------------------- rollback core


def take_snapshot(store: Store, nft: Nft, squid: Squid | None, current: dict | None) -> str:
    """Save what is in force into snapshots/<id>/ and check that it reloads."""
    snap_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)
    folder = store.snapshot_dir(snap_id)
    folder.mkdir(parents=True, mode=0o700)
    taken_at = utc_now()
    listing = nft.list_table()
    meta = {"id": snap_id, "taken_at": taken_at, "table": listing is not None, "current": current if listing else None,
            "squid": None}
    if listing is not None:
        script = folder / "ruleset.nft"
        atomic_write(script, restore_script(listing, taken_at).encode())
        cp = nft.run("-c", "-f", str(script), check=False)
        if cp.returncode:
            shutil.rmtree(folder, ignore_errors=True)
            raise Refused(
                "the ruleset in force cannot be saved for a rollback (nft does not reload its own listing: "
                f"{_first_lines(cp.stderr)}); nothing was changed")
    if squid is not None:
        data = squid.read()
        meta["squid"] = {"include": str(squid.include), "conf": str(squid.conf) if squid.conf else None,
                         "existed": data is not None}
        if data is not None:
            atomic_write(folder / "squid-include", data)
    atomic_write(folder / "meta.json", (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode())
    return snap_id


_SET_RE = re.compile(r"^\tset (\S+) \{\n(.*?)^\t\}", re.M | re.S)
_SET_ELEMENTS_RE = re.compile(r"elements = \{(.*?)\}", re.S)


def dynamic_sets(listing: str) -> dict[str, tuple[str, str | None]]:
    """Sets fed at run time (declared with a timeout, or `flags dynamic`), from a table
    listing: name -> (declaration without elements, elements text or None)."""
    found = {}
    for name, body in _SET_RE.findall(listing):
        declaration = _SET_ELEMENTS_RE.sub("", body)
        flags = re.search(r"^\s*flags (.*)$", declaration, re.M)
        flag_words = {w.strip() for w in flags.group(1).split(",")} if flags else set()
        if flag_words & {"timeout", "dynamic"} or re.search(r"^\s*timeout ", declaration, re.M):
            elements = _SET_ELEMENTS_RE.search(body)
            found[name] = (re.search(r"^\s*type .*$", declaration, re.M).group(0).strip()
                           if re.search(r"^\s*type ", declaration, re.M) else "", elements.group(1) if elements else None)
    return found


def carry_dynamic_elements(saved_listing: str, live_listing: str) -> str:
    """`add element` lines that put the live elements of dynamic sets into the restored
    table, for the sets that both declare with the same type."""
    saved = dynamic_sets(saved_listing)
    lines = []
    for name, (type_line, elements) in sorted(dynamic_sets(live_listing).items()):
        if name in saved and saved[name][0] == type_line and elements and elements.strip():
            lines.append(f"add element {' '.join(TABLE)} {name} {{{elements}}}\n")
    return "".join(lines)


def restore_snapshot(store: Store, nft: Nft, snap_id: str, rolled_back: dict | None = None,
                     ) -> tuple[bool, list[str]]:
    """Put a snapshot back: the nftables table first (the part that matters most), then
    the Squid include. Returns (nftables restored, problems).

    When the table being replaced and the snapshot come from the same policy revision
    (same services, so a dynamic set `dyn_<service>` holds the addresses of the same
    host names in both), the live elements of the dynamic sets are carried over into
    the restored table, in the same transaction: dnsmasq does not re-add an address it
    answers from its cache, so losing them could block a host for a whole TTL. Between
    different revisions (a service's hosts may have changed) the snapshot is restored
    exactly. A merged script that `nft -c` refuses falls back to the exact one."""
    meta = store.read_snapshot(snap_id)
    folder = Path(meta["dir"])
    problems = []
    nft_ok = True
    try:
        if meta.get("table"):
            script = folder / "ruleset.nft"
            merged = _merged_script(nft, script, meta.get("current"), rolled_back)
            nft.load(merged or script)
        else:
            nft.delete_table()
    except ApplyError as err:
        nft_ok = False
        problems.append(f"nftables: {err}")
    squid_meta = meta.get("squid")
    if squid_meta:
        squid = Squid(Path(squid_meta["include"]), Path(squid_meta["conf"]) if squid_meta.get("conf") else None)
        try:
            data = (folder / "squid-include").read_bytes() if squid_meta.get("existed") else CLOSED_INCLUDE
            baseline = squid.baseline()
            squid.write(data)
            squid.parse(baseline)
            squid.reconfigure()
        except (ApplyError, OSError) as err:
            problems.append(f"squid: {err}")
    return nft_ok, problems


def _same_revision(a: dict | None, b: dict | None) -> bool:
    return bool(a and b and a.get("revision") and a.get("policy") == b.get("policy")
                and a.get("revision") == b.get("revision"))


def _merged_script(nft: Nft, script: Path, saved: dict | None, rolled_back: dict | None) -> Path | None:
    if not _same_revision(saved, rolled_back):
        return None
    try:
        live = nft.list_table()
        if not live:
            return None
        text = script.read_text()
        extra = carry_dynamic_elements(text, live)
        if not extra:
            return None
        merged = script.with_name("ruleset-merged.nft")
        atomic_write(merged, (text + "# elements that dnsmasq added to the dynamic sets since, kept\n" + extra).encode())
        return merged if nft.run("-c", "-f", str(merged), check=False).returncode == 0 else None
    except (ApplyError, OSError):
        return None


def _restored_record(meta: dict) -> dict | None:
    return meta.get("current") if meta.get("table") else None


def rollback_pending(store: Store, nft: Nft, token: str | None, reason: str, automatic: bool,
                     say=print) -> bool:
    """Roll back the pending apply (if `token` is given, only that one). Takes the lock.
    Returns False when there was nothing (or no longer anything) to roll back."""
    with store.locked("rollback", timeout=None if automatic else 30.0):
        state = store.load()
        pending = state.get("pending")
        if not pending or (token is not None and pending.get("token") != token):
            return False
        return _do_rollback(store, nft, state, pending["snapshot"], pending.get("undo_before"), reason, automatic,
                            say, pending=pending)


def _do_rollback(store: Store, nft: Nft, state: dict, snap_id: str, new_undo: str | None, reason: str,
                 automatic: bool, say, pending: dict | None = None) -> bool:
    meta = store.read_snapshot(snap_id)
    rolled_back = state.get("current") if not pending else pending.get("record")
    nft_ok, problems = restore_snapshot(store, nft, snap_id, rolled_back)
    restored = _restored_record(meta)
    if nft_ok:  # the firewall is back; a Squid problem is reported, not retried
        state["current"] = dict(restored) if restored else None
        state["pending"] = None
        state["undo"] = new_undo
        state["last"] = {"token": pending.get("token") if pending else None, "outcome": "rolled back",
                         "at": utc_now(), "reason": reason, "automatic": automatic}
        store.save(state)
        store.drop_snapshots({new_undo} if new_undo else set())
    result = "error" if problems else "ok"
    detail = reason + (": " + "; ".join(problems) if problems else "")
    store.audit("rollback", result, rolled_back, detail, automatic=automatic,
                restored=_summary(restored), restored_table=bool(meta.get("table")))
    if problems:
        raise ApplyError(f"rollback {'incomplete' if nft_ok else 'FAILED'} ({reason}): " + "; ".join(problems))
    say(f"rolled back ({reason}): {describe(restored, meta.get('table'))} is in force again")
    return True


def _safe_fingerprint(nft: Nft) -> str | None:
    try:
        return nft.fingerprint()
    except ApplyError:
        return None


# --------------------------------------------------------------------------- watchdog


def _scope_prefix(token: str) -> list[str]:
    """systemd-run --scope on a systemd host: the watchdog leaves the login session's cgroup
    but stays a process of ours (same namespaces, same environment)."""
    if os.environ.get("EGRESS_WATCHDOG_SCOPE", "1") == "0" or not os.path.isdir("/run/systemd/system"):
        return []
    tool = shutil.which("systemd-run")
    if not tool:
        return []
    return [tool, "--scope", "--quiet", "--collect", f"--unit=egress-watchdog-{token[:12]}", "--"]


def spawn_watchdog(store: Store, token: str, ready_timeout: float = 10.0) -> int:
    """Start the detached watchdog and wait until it says it is running. Returns its pid."""
    argv = [sys.executable, "-m", "egress.apply", "watchdog", "--state-dir", str(store.dir.resolve()),
            "--token", token]
    env = dict(os.environ)
    here = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = here + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    errors = []
    for prefix in ([_scope_prefix(token), []] if _scope_prefix(token) else [[]]):
        read_fd, write_fd = os.pipe()
        log = open(store.watchdog_log, "ab")  # noqa: SIM115 - handed to the child
        try:
            proc = subprocess.Popen(
                prefix + argv + ["--ready-fd", str(write_fd)], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                pass_fds=(write_fd,), start_new_session=True, cwd="/", env=env)
        except OSError as err:
            errors.append(str(err))
            os.close(read_fd)
            os.close(write_fd)
            log.close()
            continue
        os.close(write_fd)
        log.close()
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
        errors.append(f"{' '.join(prefix[:2]) or 'direct start'}: no answer (see {store.watchdog_log})")
    raise ApplyError("cannot start the rollback watchdog: " + "; ".join(errors) + "; nothing was changed")


def pid_alive(pid: int | None) -> bool:
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


def watchdog_main(state_dir: str, token: str, ready_fd: int | None, poll: float = 0.2) -> int:
    store = Store(state_dir)
    nft = Nft()

    def log(message: str) -> None:
        print(f"{utc_now()} watchdog {os.getpid()} [{token[:8]}]: {message}", flush=True)

    stop = {"now": None}

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
    pending = state.get("pending")
    if not pending or pending.get("token") != token:
        log("nothing pending for this token; exiting")
        return 0
    if ready_fd is not None:
        os.write(ready_fd, b"ready\n")
        os.close(ready_fd)
    log(f"armed: rollback at {pending['deadline']} unless confirmed")
    failures = 0
    while True:
        try:
            state = store.load()
        except ApplyError as err:
            log(f"cannot read the state ({err}); retrying")
            time.sleep(1)
            continue
        pending = state.get("pending")
        if not pending or pending.get("token") != token:
            log("disarmed (" + ((state.get("last") or {}).get("outcome") or "no longer pending") + ")")
            return 0
        remaining = pending["deadline_boottime"] - boottime()
        if stop["now"] or remaining <= 0:
            reason = (f"automatic: watchdog received {stop['now']}" if stop["now"]
                      else f"automatic: not confirmed by {pending['deadline']}")
            try:
                done = rollback_pending(store, nft, token, reason, automatic=True, say=log)
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


# --------------------------------------------------------------------------- commands


def require_root() -> None:
    if os.geteuid() != 0:
        raise Unusable("this command changes the firewall: run it as root (or with sudo)")


@dataclass
class ApplyOptions:
    confirm_timeout: float = DEFAULT_CONFIRM_TIMEOUT
    wait: bool = True
    squid_include: str | None = None
    squid_conf: str | None = None
    lock_timeout: float = 10.0


def apply(bundle_path: str, state_dir: str, options: ApplyOptions, say=print) -> int:
    """Apply a stage bundle; returns the exit code (0: loaded and, when waiting, confirmed)."""
    if not options.confirm_timeout > 0:
        raise Unusable("--confirm-timeout must be a positive number of seconds")
    require_root()
    store = Store(state_dir)
    bundle = None
    try:
        bundle = read_manifest(bundle_path)
        verify_bundle(bundle, need_squid=bool(options.squid_include))
        token = _apply_locked(store, bundle, options, say)
    except ApplyError as err:
        detail = str(err)
        record = bundle.summary() if bundle else {}
        if bundle and not record.get("sha256"):
            record["sha256"] = None
        result = "refused" if isinstance(err, Refused) or err.code == EXIT_USAGE else "error"
        store.audit("apply", result, record, detail, bundle=str(bundle_path))
        raise
    if not options.wait:
        return 0
    return wait_for_confirmation(store, token, say)


def _apply_locked(store: Store, bundle: Bundle, options: ApplyOptions, say) -> str:
    nft = Nft()
    squid = None
    if options.squid_include:
        squid = Squid(Path(options.squid_include).absolute(),
                      Path(options.squid_conf).absolute() if options.squid_conf else None)
    with store.locked("apply", timeout=options.lock_timeout):
        state = store.load()
        pending = state.get("pending")
        if pending:
            raise Refused(
                f"a confirmation is pending until {pending['deadline']} for {describe(pending.get('record'))}: "
                "run `egress confirm` or `egress rollback` first")
        nft_file = bundle.file(NFT_FILE)
        say(f"bundle {bundle.path}: {describe(bundle.summary())}, {len(bundle.manifest['files'])} files, sha256 ok")
        nft.check(nft_file)
        check_scope(nft_file, say)
        say("nft -c: ok; scope: table inet egress only")
        current = state.get("current")
        snap_id = take_snapshot(store, nft, squid, current)
        table_before = store.read_snapshot(snap_id)["table"]
        say(f"saved for rollback: {describe(current, table_before)}")
        token = secrets.token_hex(16)
        timeout = float(options.confirm_timeout)
        record = dict(bundle.summary(), applied_at=utc_now(), applied_by=current_user(),
                      squid_include=str(squid.include) if squid else None,
                      squid_conf=str(squid.conf) if squid and squid.conf else None)
        state["pending"] = {
            "token": token,
            "snapshot": snap_id,
            "undo_before": state.get("undo"),
            "record": record,
            "previous": current,
            "since": utc_now(),
            "by": current_user(),
            "timeout": timeout,
            "deadline": iso_in(timeout),
            "deadline_boottime": boottime() + timeout,
            "watchdog_pid": None,
        }
        store.save(state)
        try:
            state["pending"]["watchdog_pid"] = spawn_watchdog(store, token)
            store.save(state)
        except ApplyError:
            state["pending"] = None
            store.save(state)
            store.drop_snapshots({state["undo"]} if state.get("undo") else set())
            raise
        try:
            _switch(nft, squid, bundle, snap_id, store)
        except BaseException as err:
            if not isinstance(err, ApplyError):  # interrupted half-way: put everything back
                restore_snapshot(store, nft, snap_id, bundle.summary())
            state["pending"] = None
            store.save(state)
            store.drop_snapshots({state["undo"]} if state.get("undo") else set())
            raise
        record["fingerprint"] = _safe_fingerprint(nft)
        state["pending"]["record"] = record
        state["pending"]["deadline"] = iso_in(timeout)  # counted from the load
        state["pending"]["deadline_boottime"] = boottime() + timeout
        state["current"] = record
        store.save(state)
        store.audit("apply", "ok", record, f"loaded; pending confirmation until {state['pending']['deadline']}",
                    deadline=state["pending"]["deadline"], bundle=str(bundle.path), previous=_summary(current),
                    previous_table=table_before)
        say(f"loaded {describe(record)}")
        say(f"confirm with `egress confirm` before {state['pending']['deadline']} ({timeout:g} s), "
            f"or it is rolled back by itself (watchdog pid {state['pending']['watchdog_pid']})")
        return token


def _switch(nft: Nft, squid: Squid | None, bundle: Bundle, snap_id: str, store: Store) -> None:
    """Steps 6-8: squid include + parse, nft load, squid reconfigure; undo on failure."""
    old_include = squid.read() if squid else None
    if squid:
        baseline = squid.baseline()
        squid.write(bundle.file(SQUID_FILE).read_bytes())
        try:
            squid.parse(baseline)
        except ApplyError:
            squid.write(old_include)
            raise
    try:
        nft.load(bundle.file(NFT_FILE))
    except ApplyError as err:
        if squid:
            squid.write(old_include)
        raise Refused(f"nft -f failed, nothing loaded: {err}") from None
    if squid:
        try:
            squid.reconfigure()
        except ApplyError as err:
            _, problems = restore_snapshot(store, nft, snap_id, bundle.summary())
            raise ApplyError(f"{err}; the previous ruleset and include were put back"
                             + (f" (with problems: {'; '.join(problems)})" if problems else "")) from None


def wait_for_confirmation(store: Store, token: str, say=print, poll: float = 0.2) -> int:
    """The foreground wait: countdown, `yes` on a terminal, or a confirmation from elsewhere.
    Ctrl-C, SIGTERM, SIGHUP and the deadline roll back at once. Returns the exit code."""
    nft = Nft()
    interactive = sys.stdin.isatty()
    tty = sys.stderr.isatty()
    reason = {"why": None}

    def on_signal(signum, _frame):
        reason["why"] = {signal.SIGINT: "interrupted (Ctrl-C)", signal.SIGTERM: "SIGTERM",
                         signal.SIGHUP: "the terminal went away (SIGHUP)"}.get(signum, f"signal {signum}")

    old = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    prompt = ("type yes + Enter to confirm" if interactive else "run `egress confirm`") + \
        ", Ctrl-C to roll back now"
    last_shown = None
    try:
        while True:
            state = store.load()
            pending = state.get("pending")
            if not pending or pending.get("token") != token:
                if tty:
                    sys.stderr.write("\n")
                last = state.get("last") or {}
                if last.get("token") == token and last.get("outcome") == "confirmed":
                    say(f"confirmed by {last.get('by')} at {last.get('at')}")
                    return 0
                say(f"rolled back: {last.get('reason') or 'by another command'}")
                return EXIT_REFUSED
            remaining = pending["deadline_boottime"] - boottime()
            if reason["why"] or remaining <= 0:
                if tty:
                    sys.stderr.write("\n")
                why = reason["why"] or f"not confirmed by {pending['deadline']}"
                for sig in old:
                    signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not cut the rollback short
                done = rollback_pending(store, nft, token, ("automatic: " if not reason["why"] else "") + why,
                                        automatic=not reason["why"], say=say)
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
                ready = select.select([sys.stdin], [], [], min(poll, remaining))[0]
                if ready:
                    line = sys.stdin.readline()
                    if line.strip().lower() in ("y", "yes"):
                        if tty:
                            sys.stderr.write("\n")
                        try:
                            return confirm(store.dir, say=say, token=token)
                        except ApplyError as err:
                            say(f"egress: {err}")
                            return EXIT_REFUSED
                    if line == "":
                        interactive = False  # end of input: wait for the deadline
            else:
                time.sleep(min(poll, max(remaining, 0.01)))
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def confirm(state_dir: str | os.PathLike, say=print, token: str | None = None) -> int:
    """Disarm the pending rollback. Exit 1 if there is nothing to confirm or it is too late
    (then the overdue rollback is done here, as the watchdog would)."""
    require_root()
    store = Store(state_dir)
    nft = Nft()
    with store.locked("confirm", timeout=30.0):
        state = store.load()
        pending = state.get("pending")
        if not pending or (token and pending.get("token") != token):
            last = state.get("last") or {}
            hint = f"; the last pending apply was {last['outcome']} at {last['at']}" if last.get("outcome") else ""
            if last.get("reason"):
                hint += f" ({last['reason']})"
            store.audit("confirm", "refused", state.get("current"), "no confirmation pending" + hint)
            raise Refused("no confirmation is pending" + hint)
        if pending["deadline_boottime"] - boottime() <= 0:
            store.audit("confirm", "refused", pending.get("record"), f"too late: deadline {pending['deadline']}")
            _do_rollback(store, nft, state, pending["snapshot"], pending.get("undo_before"),
                         f"automatic: not confirmed by {pending['deadline']}", True, say, pending=pending)
            raise Refused(f"too late: the deadline was {pending['deadline']}; the previous ruleset was restored")
        record = pending.get("record")
        fingerprint = _safe_fingerprint(nft)
        note = ""
        if record and record.get("fingerprint") and fingerprint != record["fingerprint"]:
            note = "; warning: table inet egress has changed since the apply"
        state["pending"] = None
        state["undo"] = pending["snapshot"]
        state["last"] = {"token": pending["token"], "outcome": "confirmed", "at": utc_now(), "by": current_user()}
        store.save(state)
        store.drop_snapshots({pending["snapshot"]})
        store.audit("confirm", "ok", record, "confirmed before " + pending["deadline"] + note)
    say(f"confirmed: {describe(record)} stays in force" + note)
    return 0


def rollback(state_dir: str | os.PathLike, say=print) -> int:
    """Roll back the pending apply now, or else the last confirmed one (once)."""
    require_root()
    store = Store(state_dir)
    nft = Nft()
    with store.locked("rollback", timeout=30.0):
        state = store.load()
        pending = state.get("pending")
        if pending:
            _do_rollback(store, nft, state, pending["snapshot"], pending.get("undo_before"),
                         "on demand, before confirmation", False, say, pending=pending)
            return 0
        if state.get("undo"):
            _do_rollback(store, nft, state, state["undo"], None, "on demand, after confirmation", False, say)
            return 0
        store.audit("rollback", "refused", state.get("current"), "nothing to roll back")
        raise Refused("nothing to roll back: no apply is pending and the last one was already undone "
                      "(or none was made with this state directory)")


def status(state_dir: str | os.PathLike) -> dict:
    """What is loaded, whether a confirmation is pending, what a rollback would restore."""
    store = Store(state_dir)
    nft = Nft()
    raw = store.read_raw()
    result: dict = {"state_dir": str(store.dir), "netns": netns_id(), "table": None, "matches": None,
                    "loaded": None, "pending": None, "rollback": None, "last": None, "notes": []}
    try:
        listing = nft.list_table()
        result["table"] = "present" if listing is not None else "absent"
    except ApplyError as err:
        result["notes"].append(f"cannot list table inet egress: {err}")
    if raw is None:
        if result["table"] == "present":
            result["notes"].append("table inet egress was not loaded by egress (no record in the state directory)")
        return result
    if raw.get("boot_id") != boot_id():
        result["notes"].append("the state directory holds records of a previous boot (ignored)")
        return result
    if raw.get("netns") != netns_id():
        result["notes"].append(f"the state directory belongs to network namespace {raw.get('netns')}")
        return result
    current = raw.get("current")
    if current:
        result["loaded"] = {k: current.get(k) for k in (
            "policy", "stage", "stage_title", "revision", "sha256", "applied_at", "applied_by", "bundle",
            "squid_include")}
        if result["table"] == "present" and current.get("fingerprint"):
            fingerprint = _safe_fingerprint(nft)
            result["matches"] = fingerprint == current["fingerprint"]
            if not result["matches"]:
                result["notes"].append("table inet egress has changed since egress loaded it")
        elif result["table"] == "absent":
            result["matches"] = False
            result["notes"].append("egress loaded a table inet egress, but there is none now")
    elif result["table"] == "present":
        result["notes"].append("table inet egress was not loaded by egress")
    pending = raw.get("pending")

    def restores(snap_id):
        try:
            meta = store.read_snapshot(snap_id)
        except ApplyError:
            return None
        return {"table": bool(meta.get("table")), **(_summary(_restored_record(meta)) or {})}

    if pending:
        left = pending["deadline_boottime"] - boottime()
        result["pending"] = {
            "deadline": pending["deadline"],
            "seconds_left": max(0, round(left, 1)),
            "overdue": left <= 0,
            "since": pending.get("since"),
            "by": pending.get("by"),
            "watchdog_pid": pending.get("watchdog_pid"),
            "watchdog_running": pid_alive(pending.get("watchdog_pid")),
            "restores": restores(pending["snapshot"]),
        }
        if not result["pending"]["watchdog_running"]:
            result["notes"].append("the watchdog is not running: run `egress confirm` or `egress rollback`")
    elif raw.get("undo"):
        result["rollback"] = {"restores": restores(raw["undo"])}
    result["last"] = raw.get("last")
    return result


def format_status(doc: dict) -> str:
    lines = [f"state directory: {doc['state_dir']} (network namespace {doc['netns']})"]
    loaded = doc.get("loaded")
    table = doc.get("table")
    if loaded:
        lines.append(f"in force: {describe(loaded)}")
        lines.append(f"          sha256 {loaded['sha256']}")
        lines.append(f"          applied {loaded.get('applied_at')} by {loaded.get('applied_by')} from {loaded.get('bundle')}")
        if loaded.get("squid_include"):
            lines.append(f"          squid include {loaded['squid_include']}")
        if doc.get("matches") is True:
            lines.append("          table inet egress: present, as loaded (set elements not compared)")
    else:
        lines.append(f"in force: {'no table inet egress' if table == 'absent' else 'table inet egress, not from egress' if table == 'present' else 'unknown'}")
    pending = doc.get("pending")
    if pending:
        state = "OVERDUE" if pending["overdue"] else f"{pending['seconds_left']:.0f} s left"
        lines.append(f"pending:  CONFIRMATION PENDING until {pending['deadline']} ({state}); applied by {pending.get('by')}")
        lines.append(f"          watchdog pid {pending.get('watchdog_pid')}: "
                     + ("running" if pending["watchdog_running"] else "NOT RUNNING"))
        lines.append(f"          without `egress confirm`, rollback restores {_restores_text(pending.get('restores'))}")
    else:
        lines.append("pending:  no confirmation pending")
        if doc.get("rollback"):
            lines.append(f"undo:     `egress rollback` would restore {_restores_text(doc['rollback'].get('restores'))}")
    last = doc.get("last")
    if last:
        lines.append(f"last:     {last.get('outcome')} at {last.get('at')}"
                     + (f" ({last['reason']})" if last.get("reason") else "") + (f" by {last['by']}" if last.get("by") else ""))
    for note in doc.get("notes") or []:
        lines.append(f"note:     {note}")
    return "\n".join(lines) + "\n"


def _restores_text(restores: dict | None) -> str:
    if restores is None:
        return "(snapshot unreadable)"
    if not restores.get("table"):
        return "no table inet egress (the table is deleted)"
    if restores.get("policy"):
        return describe(restores)
    return "the table inet egress that was in force (not loaded by egress)"


# --------------------------------------------------------------------------- module entry (watchdog)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m egress.apply", description="Internal: the rollback watchdog.")
    sub = parser.add_subparsers(dest="command", required=True)
    wd = sub.add_parser("watchdog", help="roll back at the deadline unless confirmed")
    wd.add_argument("--state-dir", required=True)
    wd.add_argument("--token", required=True)
    wd.add_argument("--ready-fd", type=int)
    args = parser.parse_args(argv)
    return watchdog_main(args.state_dir, args.token, args.ready_fd)


if __name__ == "__main__":
    sys.exit(main())

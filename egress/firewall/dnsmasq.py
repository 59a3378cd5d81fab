"""The dnsmasq feed that an apply installs: check, write, `dnsmasq --test`, restart.

Why it needs a deployment path of its own: `dnsmasq-egress.conf` fills the dynamic sets
of `table inet egress` with the addresses that the resolver returns for the hosts of
direct grants. A stage whose feed is not installed opens those hosts by their pinned
lock-file addresses only; a feed left from an earlier stage keeps feeding hosts that the
new stage closed (the sets exist in every stage). So `--dnsmasq-include PATH` gives it
the same cycle as the Squid include: saved in the snapshot, installed (temp file +
rename), tested, dnsmasq restarted after `nft -f` (the sets must exist; a SIGHUP does
not re-read `nftset=` lines), and put back and restarted again on failure or rollback.

What is installed is checked first, line by line (`check_feed`): dnsmasq runs as root
and its configuration can run programs (`dhcp-script=`), read other files
(`conf-file=`), change the upstream servers (`server=`) or feed the sets of other
tables; the compiler writes only comments and `nftset=/names/4#inet#egress#SET,
6#inet#egress#SET` lines, so nothing else is accepted. (dnsmasq 2.90 even crashes on a
trailing comma in an `nftset=` line.)

`dnsmasq --test` runs twice: on the feed alone (`--conf-file=FEED`), and on the main
configuration when `--dnsmasq-conf` names it; that file must then read the feed
(`conf-file=FEED`, or `conf-dir=` of its folder with a matching filter), or the apply
is refused as Squid's is. Without `--dnsmasq-conf`, how dnsmasq is started (e.g.
Debian's `-7 /etc/dnsmasq.d,...` on the command line) is the operator's affair.

When no feed was in place before, a rollback installs an empty one (comments only)
rather than removing the file: the main configuration names it, and dnsmasq would not
start without it. An empty feed adds nothing to the sets: fail closed.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from egress.firewall.errors import ApplyError, Refused, Unusable
from egress.firewall.paths import read_include, replace_include
from egress.firewall.sanitize import excerpt

FEED_FILE = "dnsmasq-egress.conf"
DEFAULT_RESTART = "systemctl restart dnsmasq"
EMPTY_FEED = (b"# egress: no dnsmasq feed was in place before the apply that was rolled back;\n"
              b"# nothing is added to the dynamic sets until a stage is applied.\n")
_TARGET = re.compile(r"[46]#inet#egress#[A-Za-z0-9_-]{1,64}\Z")
_NAMES = re.compile(r"/(?:[A-Za-z0-9_*.-]+/)+\Z")


def check_feed(text: str) -> None:
    """Refuse anything but comments, blank lines and `nftset=` lines into table inet egress."""
    for number, line in enumerate(text.split("\n"), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, _, value = stripped.partition("=")
        if key != "nftset":
            raise Refused(f"{FEED_FILE}:{number}: only nftset= lines belong in the feed, found "
                            f"`{excerpt(key, 30)}=`: refused")
        names, _, targets = value.rpartition("/")
        if not _NAMES.match(names + "/") or not all(_TARGET.match(t) for t in targets.split(",")):
            raise Refused(f"{FEED_FILE}:{number}: an nftset= line must name sets of table inet egress "
                            f"(4#inet#egress#SET,6#inet#egress#SET): `{excerpt(stripped, 60)}`: refused")


def reads_feed(conf_text: str, feed: Path, conf_dir: Path) -> bool:
    """Whether a dnsmasq configuration names the feed (conf-file=, or conf-dir= of its
    folder with filters that keep its name)."""
    for line in conf_text.splitlines():
        key, _, value = line.strip().partition("=")
        if key == "conf-file" and _same(value.strip(), feed, conf_dir):
            return True
        if key == "conf-dir":
            folder, *filters = [part.strip() for part in value.split(",")]
            if not _same(folder, feed.parent, conf_dir) or feed.name.startswith("."):
                continue
            wanted = [f for f in filters if f.startswith("*")]
            unwanted = [f for f in filters if not f.startswith("*")]
            if any(feed.name.endswith(f) for f in unwanted):
                continue
            if not wanted or any(fnmatch.fnmatch(feed.name, f) for f in wanted):
                return True
    return False


def _same(value: str, path: Path, base: Path) -> bool:
    return bool(value) and os.path.realpath(base / value) == os.path.realpath(path)


@dataclass
class Dnsmasq:
    include: Path
    conf: Path | None = None
    restart_command: str = DEFAULT_RESTART
    binary: str = field(default_factory=lambda: os.environ.get("EGRESS_DNSMASQ") or "dnsmasq")

    def read(self) -> bytes | None:
        return read_include(self.include)

    def write(self, data: bytes) -> None:
        """Install `data` (`paths.replace_include`)."""
        replace_include(self.include, data, "--dnsmasq-include")

    def _run(self, argv: list[str], what: str) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise Unusable(f"{argv[0]}: not found ({what})") from None
        except subprocess.TimeoutExpired:
            raise ApplyError(f"{what}: timed out") from None

    def test(self) -> None:
        """`dnsmasq --test` of the installed feed, and of the main configuration if given."""
        for conf in [self.include] + ([self.conf] if self.conf else []):
            cp = self._run([self.binary, "--test", f"--conf-file={conf}"], "dnsmasq --test")
            if cp.returncode:
                raise Refused(f"dnsmasq --test --conf-file={conf} refused it: "
                                f"{excerpt(cp.stderr or cp.stdout)}")
        if self.conf:
            try:
                text = self.conf.read_text(errors="replace")
            except OSError as err:
                raise Unusable(f"{self.conf}: cannot read: {err.strerror or err}") from None
            if not reads_feed(text, self.include, self.conf.parent):
                raise Refused(f"{self.conf} does not read {self.include}: add `conf-file={self.include}` to it")

    def restart(self) -> None:
        argv = shlex.split(self.restart_command)
        if not argv:
            raise Unusable("--dnsmasq-restart is empty")
        if os.sep not in argv[0] and not shutil.which(argv[0]):
            raise Unusable(f"{argv[0]}: not found (give the command with --dnsmasq-restart)")
        cp = self._run(argv, "the dnsmasq restart command")
        if cp.returncode:
            raise ApplyError(f"`{self.restart_command}` failed (exit {cp.returncode}): "
                            f"{excerpt(cp.stderr or cp.stdout)}")

    def install(self, data: bytes) -> bytes | None:
        """Check and install a new feed, test it; on failure the previous file is put
        back. Returns the previous content (None: there was none)."""
        check_feed(data.decode("utf-8", errors="replace"))
        previous = self.read()
        self.write(data)
        try:
            self.test()
        except ApplyError:
            self.restore(previous, restart=False)
            raise
        return previous

    def restore(self, previous: bytes | None, restart: bool = True) -> None:
        """Put back what was there (an empty feed if nothing was), restart if asked."""
        if previous is None and not restart:
            with contextlib.suppress(FileNotFoundError):
                self.include.unlink()  # nothing ran with the new file yet: leave no trace
        else:
            self.write(EMPTY_FEED if previous is None else previous)
        if restart:
            self.restart()

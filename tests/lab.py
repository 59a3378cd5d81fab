"""A small, disposable network lab for the real-system tests of egress.

The lab is three network namespaces joined by two veth pairs.  The firewall
namespace forwards between the other two and is where the ruleset under test
is loaded (``egress.nft`` hooks ``forward``)::

        lan (the hospital)          fw (the firewall)            wan (the internet)
    +--------------------+   +---------------------------+   +--------------------+
    | lo: zone addresses |   | forwarding v4 + v6        |   | lo: destination    |
    |     (add_lan)      |   | routes to every added     |   |     addresses      |
    |                    |   | address; ruleset under    |   |     (add_wan)      |
    |                    |   | test (lab.load)           |   | small servers      |
    |               [fw]-+---+-[lan]               [wan]-+---+-[fw]  (lab.listen) |
    +--------------------+   +---------------------------+   +--------------------+
       100.64.0.1/30             100.64.0.2   100.64.1.1           100.64.1.2/30
       fd99:0:0:1::1/64       fd99:0:0:1::2   fd99:0:0:2::1     fd99:0:0:2::2/64
       default via fw                                            default via fw

Interface names: in ``fw`` the veths are called ``lan`` and ``wan`` (so a
hand-written rule can say ``iifname "lan"``); in ``lan`` and ``wan`` the veth
is called ``fw``.  The transit networks (100.64.0.0/30, 100.64.1.0/30,
fd99:0:0:1::/64, fd99:0:0:2::/64) are reserved for the lab; policy addresses
must not fall inside them.

Addresses given to :meth:`Lab.add_lan` / :meth:`Lab.add_wan` are put on the
loopback device of that side (so any number of them costs one neighbour entry,
not one per address) and the firewall gets a host route to each, through the
transit peer.  ``lan`` and ``wan`` route everything else to ``fw``.  An address
that was not added on either side is unreachable (``fw`` answers ICMP
"no route", a probe fails at once instead of timing out).

Things that make the lab deterministic and fast:

* rp_filter is switched off (IPv4 ``conf/{all,default}`` settings of a new
  namespace are *inherited from the host*, which may have rp_filter=1 or 2);
* IPv6 duplicate address detection is off (``accept_dad=0`` before the veths
  exist, and ``nodad`` on every address), router advertisements are ignored;
* the veths have fixed MAC addresses and every namespace has *permanent*
  neighbour entries for its transit peer: no ARP, no neighbour discovery, so
  the first packet is never queued or lost, and a ruleset that drops ICMPv6
  on input/output cannot break the lab itself;
* ``net.ipv4.ping_group_range`` lets the probe use ICMP "ping" sockets.

Use::

    from lab import Lab

    with Lab() as lab:                      # ~0.05 s to build, ~0.02 s to tear down
        lab.add_lan("10.20.0.10", "2001:db8:20::10")
        lab.add_wan(["198.51.100.10", "2001:db8:100::10"])
        lab.listen("wan", [443, 80])                 # TCP servers on every address
        lab.listen("wan", ["udp/53", "tcp/25"])      # or "proto/port" strings
        lab.load(open("egress.nft").read())          # nft -f in fw, raises on error
        ok = lab.probe("lan", [
            ("10.20.0.10", "198.51.100.10", "tcp", 443),
            ("10.20.0.10", "198.51.100.10", "tcp", 80),
            ("2001:db8:20::10", "2001:db8:100::10", "udp", 53),
            ("10.20.0.10", "198.51.100.10", "icmp", None),
        ], timeout=1.0)                              # -> [True, False, ...]
        lab.connect("wan", "198.51.100.10", "10.20.0.10", 25)   # one check
        lab.probe_detail("lan", checks)              # [{"ok", "answer", "error", "elapsed"}]
        srv = lab.listen("lan", 25, proto="both"); srv.stop()
        lab.nft("list ruleset"); lab.flush()         # any nft command in fw; flush ruleset
        lab.add("fw", "192.0.2.1")                   # an address of the firewall itself
                                                     # (for `hook: output` rulesets)

        lab.run("wan", "dnsmasq", "--test")          # CompletedProcess
        p = lab.spawn("wan", ["dnsmasq", "-k", ...]) # Popen, killed at teardown
        lab.ns("wan")                                # real name for `ip netns exec`

In pytest, use the ``lab`` fixture (function scope) or ``module_lab`` from
``tests/conftest.py``; they skip (or fail under ``EGRESS_SYSTEM_TESTS=1``) when
the machine cannot run the lab.

Each of ``lan`` and ``wan`` (and ``fw`` when asked) has one helper process, the
*agent* (``python lab.py agent``, started with the lab, killed at teardown; it
exits by itself if the test process dies).  The agent holds the servers of
:meth:`Lab.listen` and runs the probes of :meth:`Lab.probe`, so a probe batch
costs milliseconds plus the timeout of what is dropped, not a Python start.

The servers accept on the v4 and v6 wildcard addresses (``IPV6_V6ONLY`` so that
both bind) and answer each TCP connection and each UDP datagram with one line::

    egress-lab <side> <proto> <local-addr> <local-port> from <peer-addr> <peer-port>

A TCP client that sends an HTTP request line gets that line as the body of an
``HTTP/1.0 200`` answer instead (so ``curl`` and a proxy can fetch it); a TCP
client that sends nothing gets the line after 0.5 s.  UDP answers leave from
the address the datagram was sent to (``IP_PKTINFO``): a wildcard socket would
answer from the transit address, which a connected client ignores.

A probe reports, per check, ``ok`` and an ``error``: ``timeout`` when the
firewall dropped the packet, ``Connection refused`` when it got through but
nothing listens (or a ``reject`` rule answered), ``Network is unreachable``
when the destination is not in the lab.  Checks between two addresses of the
same side do not cross the firewall.

Teardown (``with`` exit, :meth:`Lab.close`) kills the agents, sends SIGTERM to
the process groups of :meth:`Lab.spawn` (SIGKILL after ``Lab.GRACE`` s), then
kills every process still living in the lab's namespaces (daemons that forked
away), then deletes the namespaces.  It runs even if setup failed half-way, on
interpreter exit (``atexit``) and on SIGTERM/SIGHUP; Ctrl-C unwinds through
``with``/the fixture.  Namespaces are named ``eg<pid>-<4 hex>-<side>``;
leftovers of a process killed with SIGKILL can be removed with
``python tests/lab.py cleanup`` (only those whose owner pid is gone).

Note for hand-written rulesets: nft 1.0.6 (Debian bookworm) wants a newline or
``;`` before every ``}``: ``... tcp dport 443 accept } }`` on one line is a
syntax error there, ``... accept; }; }`` or the usual multi-line form is fine.

This file uses the standard library only; it is also the program run in the
namespaces (``lab.py agent``), and offers ``lab.py serve PORT...`` (a
standalone server, e.g. for :meth:`Lab.spawn`), ``lab.py probe`` (one batch,
JSON on stdin) and ``lab.py cleanup``.
"""

from __future__ import annotations

import atexit
import ipaddress
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

__all__ = ["SIDES", "TRANSIT", "Lab", "LabError", "cleanup_stale"]

LAB_FILE = os.path.abspath(__file__)
SIDES = ("lan", "fw", "wan")

# Transit addressing: side -> (v4, v6, mac) of each end, and interface names.
TRANSIT = {
    "lan": {"dev": "fw", "v4": "100.64.0.1", "v6": "fd99:0:0:1::1", "mac": "02:00:00:00:01:01"},
    "fw-lan": {"dev": "lan", "v4": "100.64.0.2", "v6": "fd99:0:0:1::2", "mac": "02:00:00:00:01:02"},
    "fw-wan": {"dev": "wan", "v4": "100.64.1.1", "v6": "fd99:0:0:2::1", "mac": "02:00:00:00:02:01"},
    "wan": {"dev": "fw", "v4": "100.64.1.2", "v6": "fd99:0:0:2::2", "mac": "02:00:00:00:02:02"},
}
_RESERVED = [ipaddress.ip_network(n) for n in (
    "100.64.0.0/30", "100.64.1.0/30", "fd99:0:0:1::/64", "fd99:0:0:2::/64")]

_NAME_RE = re.compile(r"^eg(\d+)-([0-9a-f]{4})-(lan|fw|wan)$")
_PYTHON = [sys.executable, "-I", "-S"]  # the helpers need the standard library only

_SYSCTL_ALL = [
    "net.ipv4.conf.all.rp_filter=0",
    "net.ipv4.conf.default.rp_filter=0",
    "net.ipv6.conf.all.accept_dad=0",
    "net.ipv6.conf.default.accept_dad=0",
    "net.ipv6.conf.all.accept_ra=0",
    "net.ipv6.conf.default.accept_ra=0",
    "net.ipv6.conf.default.dad_transmits=0",
    "net.ipv4.ping_group_range=0 2147483647",
]
_SYSCTL_FW = [
    "net.ipv4.ip_forward=1",
    "net.ipv6.conf.all.forwarding=1",
]


class LabError(RuntimeError):
    """A lab command failed; the message holds the command and its stderr."""

    def __init__(self, message, returncode=None, stdout="", stderr=""):
        super().__init__(message)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


# --------------------------------------------------------------------------- #
# Backstops: close every live lab at exit and on SIGTERM/SIGHUP.

_LIVE: dict[int, Lab] = {}
_LIVE_LOCK = threading.Lock()
_BACKSTOPS_INSTALLED = False


def _close_all_labs():
    # This file may be imported twice (as `lab` and as `tests.lab`): close the
    # labs of every copy.
    registries = [_LIVE] + [
        m._LIVE for m in list(sys.modules.values())
        if getattr(m, "LAB_FILE", None) == LAB_FILE and getattr(m, "_LIVE", _LIVE) is not _LIVE]
    labs = []
    with _LIVE_LOCK:
        for registry in registries:
            labs.extend(registry.values())
    for lab in labs:
        try:
            lab.close()
        except BaseException:
            pass


def _on_fatal_signal(signum, frame):
    _close_all_labs()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_backstops():
    global _BACKSTOPS_INSTALLED
    if _BACKSTOPS_INSTALLED:
        return
    _BACKSTOPS_INSTALLED = True
    atexit.register(_close_all_labs)
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            if signal.getsignal(sig) in (signal.SIG_DFL, None):
                signal.signal(sig, _on_fatal_signal)
        except (ValueError, OSError):
            pass


# --------------------------------------------------------------------------- #
# Small helpers.

def _flatten(items):
    for item in items:
        if isinstance(item, (str, bytes, ipaddress._BaseNetwork)):
            yield item  # a network object is one item (and refused by _host if not a host)
        elif isinstance(item, (list, tuple, set, frozenset)) or hasattr(item, "__iter__"):
            yield from _flatten(item)
        else:
            yield item


def _host(addr) -> ipaddress._BaseAddress:
    """Parse a host address, given bare or as /32, /128."""
    text = str(addr).strip()
    try:
        net = ipaddress.ip_network(text, strict=True)
    except ValueError as e:
        raise ValueError(f"not an IP address: {addr!r} ({e})") from None
    if net.prefixlen != net.max_prefixlen:
        raise ValueError(f"lab addresses are hosts, not networks: {addr!r}; "
                         f"pick one address inside it")
    ip = net.network_address
    if (ip.is_loopback or ip.is_unspecified or ip.is_multicast or ip.is_link_local
            or getattr(ip, "ipv4_mapped", None) is not None
            or any(ip in n for n in _RESERVED)):
        raise ValueError(f"address {ip} is reserved (loopback, link-local, multicast "
                         f"or the lab's transit networks)")
    return ip


def _pids_in_netns(names):
    """pid -> namespace name for processes whose network namespace is one of names."""
    inodes = {}
    for name in names:
        try:
            st = os.stat(f"/run/netns/{name}")
        except OSError:
            continue
        inodes[(st.st_dev, st.st_ino)] = name
    if not inodes:
        return {}
    found = {}
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            st = os.stat(f"/proc/{entry}/ns/net")
        except OSError:
            continue
        name = inodes.get((st.st_dev, st.st_ino))
        if name:
            found[int(entry)] = name
    return found


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is dead for our purpose
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def _ip_batch(lines, ns=None, force=False, timeout=30):
    """Start `ip [-n ns] -batch -`; returns the Popen (call _finish)."""
    argv = ["ip"]
    if ns:
        argv += ["-n", ns]
    if force:
        argv.append("-force")
    argv += ["-batch", "-"]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc._lab_input = "".join(line + "\n" for line in lines)
    proc._lab_argv = argv
    proc._lab_timeout = timeout
    return proc


def _finish(*procs, check=True):
    """Feed and wait for processes started by _ip_batch/_start; raise on failure."""
    errors = []
    for proc in procs:
        try:
            _, err = proc.communicate(getattr(proc, "_lab_input", None),
                                        timeout=getattr(proc, "_lab_timeout", 30))
        except subprocess.TimeoutExpired:
            proc.kill()
            _out, err = proc.communicate()
            err = (err or "") + "\n(timed out)"
            proc.returncode = proc.returncode or -9
        if proc.returncode and check:
            errors.append(f"{' '.join(proc._lab_argv)} failed ({proc.returncode}):\n"
                          f"{(proc._lab_input or '').strip()}\n--- stderr:\n{(err or '').strip()}")
    if errors:
        raise LabError("\n\n".join(errors))


def _start(argv, timeout=30):
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc._lab_input = None
    proc._lab_argv = argv
    proc._lab_timeout = timeout
    return proc


def _port_specs(ports, proto):
    """[(proto, port)] from ints, 'tcp/443', 'udp/53', '8000-8010', 'tcp/8000-8010'."""
    protos = {"tcp": ("tcp",), "udp": ("udp",), "both": ("tcp", "udp")}.get(proto)
    if protos is None:
        raise ValueError(f"proto must be tcp, udp or both, not {proto!r}")
    if isinstance(ports, (int, str)):
        ports = [ports]
    specs = []
    for item in _flatten(ports):
        item_protos = protos
        text = str(item).strip().lower()
        if "/" in text:
            p, text = text.split("/", 1)
            if p not in ("tcp", "udp"):
                raise ValueError(f"bad port {item!r}: listen serves tcp and udp only")
            item_protos = (p,)
        lo, _, hi = text.partition("-")
        try:
            lo_n, hi_n = int(lo), int(hi or lo)
        except ValueError:
            raise ValueError(f"bad port {item!r}") from None
        if not 1 <= lo_n <= hi_n <= 65535:
            raise ValueError(f"bad port {item!r}")
        for p in item_protos:
            specs.extend((p, n) for n in range(lo_n, hi_n + 1))
    if not specs:
        raise ValueError("no ports given")
    if len(specs) > 4096:
        raise ValueError("too many ports for one server")
    return list(dict.fromkeys(specs))


# --------------------------------------------------------------------------- #
# The lab.

class Lab:
    """Three namespaces (lan, fw, wan); see the module docstring.

    ``Lab()`` only chooses names; :meth:`start` (or ``with Lab() as lab``)
    builds it, :meth:`close` tears it down.  Not thread-safe.
    """

    TRANSIT = TRANSIT
    SIDES = SIDES
    #: seconds that spawned processes get between SIGTERM and SIGKILL at teardown
    GRACE = 1.0

    def __init__(self, *, keep_tmp: bool | None = None):
        self.prefix = f"eg{os.getpid()}-{secrets.token_hex(2)}"
        self.names = {side: f"{self.prefix}-{side}" for side in SIDES}
        self.addresses: dict[str, list[str]] = {side: [] for side in SIDES}
        self.tmpdir: str | None = None
        self.keep_tmp = (os.environ.get("EGRESS_LAB_KEEP") == "1") if keep_tmp is None else keep_tmp
        self._side_of: dict[str, str] = {}
        self._procs: list[subprocess.Popen] = []
        self._agents: dict[str, _Agent] = {}
        self._counter = 0
        self._state = "new"  # new -> started -> closed
        self.timings: dict[str, float] = {}

    # -- life cycle --------------------------------------------------------

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self):
        return f"<Lab {self.prefix} {self._state}>"

    def start(self) -> Lab:
        if self._state != "new":
            raise LabError(f"{self!r} cannot be started twice")
        self._state = "started"
        t0 = time.monotonic()
        with _LIVE_LOCK:
            _LIVE[id(self)] = self
        _install_backstops()
        try:
            self.tmpdir = tempfile.mkdtemp(prefix=f"{self.prefix}-")
            self._build()
        except BaseException:
            self.close()
            raise
        self.timings["setup"] = time.monotonic() - t0
        return self

    def _build(self):
        n = self.names
        _finish(_ip_batch([f"netns add {n[s]}" for s in SIDES]))
        # sysctls first: conf/default applies to interfaces created afterwards.
        procs = []
        for side in SIDES:
            values = _SYSCTL_ALL + (_SYSCTL_FW if side == "fw" else [])
            procs.append(_start(["ip", "netns", "exec", n[side], "sysctl", "-q", "-w", *values]))
        _finish(*procs)

        lan, fwl, fww, wan = (TRANSIT[k] for k in ("lan", "fw-lan", "fw-wan", "wan"))
        fw_lines = [
            f"link add {fwl['dev']} address {fwl['mac']} type veth "
            f"peer name {lan['dev']} address {lan['mac']} netns {n['lan']}",
            f"link add {fww['dev']} address {fww['mac']} type veth "
            f"peer name {wan['dev']} address {wan['mac']} netns {n['wan']}",
            "link set lo up",
        ]
        for end, peer, plen6, plen4 in ((fwl, lan, 64, 30), (fww, wan, 64, 30)):
            dev = end["dev"]
            fw_lines += [
                f"address add {end['v4']}/{plen4} dev {dev}",
                f"address add {end['v6']}/{plen6} dev {dev} nodad",
                f"link set {dev} up",
                f"neighbour replace {peer['v4']} lladdr {peer['mac']} dev {dev} nud permanent",
                f"neighbour replace {peer['v6']} lladdr {peer['mac']} dev {dev} nud permanent",
            ]
        _finish(_ip_batch(fw_lines, ns=n["fw"]))

        procs = []
        for side, end, peer in (("lan", lan, fwl), ("wan", wan, fww)):
            dev = end["dev"]
            procs.append(_ip_batch([
                "link set lo up",
                f"address add {end['v4']}/30 dev {dev}",
                f"address add {end['v6']}/64 dev {dev} nodad",
                f"link set {dev} up",
                f"neighbour replace {peer['v4']} lladdr {peer['mac']} dev {dev} nud permanent",
                f"neighbour replace {peer['v6']} lladdr {peer['mac']} dev {dev} nud permanent",
                f"route add default via {peer['v4']} dev {dev}",
                f"route add default via {peer['v6']} dev {dev}",
            ], ns=n[side]))
        _finish(*procs)
        # Start the helpers of lan and wan now (Python takes ~0.15 s to start);
        # the first listen/probe waits for them.
        for side in ("lan", "wan"):
            self._agents[side] = _Agent(self, side)

    def close(self) -> None:
        """Kill the lab's processes and delete its namespaces (idempotent, never raises
        for a missing piece; errors of the final delete are raised)."""
        if self._state == "closed":
            return
        self._state = "closed"
        t0 = time.monotonic()
        try:
            self._kill_procs()
            self._kill_netns_residents()
            existing = [name for name in self.names.values()
                        if os.path.exists(f"/run/netns/{name}")]
            if existing:
                _finish(_ip_batch([f"netns del {name}" for name in existing], force=True),
                        check=False)
            left = [name for name in self.names.values()
                    if os.path.exists(f"/run/netns/{name}")]
            if left:
                raise LabError(f"could not delete namespaces {left}")
        finally:
            with _LIVE_LOCK:
                _LIVE.pop(id(self), None)
            if self.tmpdir and not self.keep_tmp:
                shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.timings["teardown"] = time.monotonic() - t0

    def _kill_procs(self):
        live = [p for p in self._procs if p.poll() is None]
        helpers = {id(a.proc) for a in self._agents.values()}
        for p in live:
            try:  # our helpers hold no state: no grace period for them
                os.killpg(p.pid, signal.SIGKILL if id(p) in helpers else signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + self.GRACE
        for p in live:
            try:
                p.wait(max(0.01, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                try:
                    p.wait(2)
                except subprocess.TimeoutExpired:
                    pass
        for p in self._procs:
            for stream in (p.stdout, p.stderr, p.stdin):
                try:
                    if stream:
                        stream.close()
                except OSError:
                    pass

    def _kill_netns_residents(self):
        """Processes in our namespaces that we did not keep track of (daemons)."""
        pids = _pids_in_netns(self.names.values())
        if not pids:
            return
        for sig, wait in ((signal.SIGTERM, self.GRACE), (signal.SIGKILL, 1.0)):
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                for p in self._procs:
                    p.poll()  # reap our own children
                pids = [pid for pid in pids if _pid_alive(pid)]
                if not pids:
                    return
                time.sleep(0.01)

    def _check_started(self):
        if self._state != "started":
            raise LabError(f"{self!r} is not running (use `with Lab() as lab` or start())")

    # -- names and commands ------------------------------------------------

    def ns(self, name: str) -> str:
        """The real namespace name of side ``lan``, ``fw`` or ``wan``."""
        if name in self.names:
            return self.names[name]
        if name in self.names.values():
            return name
        raise ValueError(f"unknown lab namespace {name!r}; use one of {SIDES}")

    def _side(self, name):
        for side, real in self.names.items():
            if name in (side, real):
                return side
        raise ValueError(f"unknown lab namespace {name!r}; use one of {SIDES}")

    def _next(self, stem):
        self._counter += 1
        return os.path.join(self.tmpdir, f"{self._counter:03d}-{stem}")

    def run(self, ns: str, *cmd, input=None, timeout: float = 60, check: bool = False,
            text: bool = True, **kwargs) -> subprocess.CompletedProcess:
        """Run a command in namespace ``ns`` (``ip netns exec``), capturing its output.

        ``cmd`` is the argv (``run("wan", "nft", "list", "ruleset")``) or one list.
        With ``check=True`` a non-zero exit raises :class:`LabError` with stderr."""
        self._check_started()
        argv = [str(c) for c in _flatten(cmd)]
        if not argv:
            raise ValueError("no command")
        cp = subprocess.run(["ip", "netns", "exec", self.ns(ns), *argv], input=input,
                            capture_output=True, text=text, timeout=timeout, **kwargs)
        if check and cp.returncode:
            raise LabError(f"in {ns}: {shlex.join(argv)} failed ({cp.returncode}):\n"
                           f"{cp.stderr}", cp.returncode, cp.stdout, cp.stderr)
        return cp

    def spawn(self, ns: str, cmd, *, name: str | None = None, stdin=subprocess.DEVNULL,
              stdout=None, stderr=None, **kwargs) -> subprocess.Popen:
        """Start a background process in namespace ``ns``; it is killed at teardown.

        ``cmd`` is an argv list (or a string, split like a shell would).  Output goes
        to a log file in the lab's temporary directory unless stdout/stderr are
        given; the path is in ``proc.log_path``.  The process gets its own process
        group; daemons that fork away are still killed (they stay in the namespace).
        """
        self._check_started()
        argv = shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]
        if not argv:
            raise ValueError("no command")
        log_path = self._next(f"{name or os.path.basename(argv[0])}-{self._side(ns)}.log")
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", self.ns(ns), *argv], stdin=stdin,
                stdout=log if stdout is None else stdout,
                stderr=log if stderr is None else stderr,
                start_new_session=True, **kwargs)
        proc.log_path = log_path
        self._procs.append(proc)
        return proc

    def log(self, proc: subprocess.Popen) -> str:
        """The output so far of a process started with spawn/listen."""
        try:
            with open(proc.log_path, errors="replace") as f:
                return f.read()
        except (AttributeError, OSError):
            return ""

    def describe(self) -> str:
        """A readable dump of the lab's state (for a failing test's report)."""
        out = [f"lab {self.prefix} ({self._state}): namespaces {self.names}",
               f"addresses: {self.addresses}"]
        if self._state == "started":
            for title, ns, cmd in (("fw ruleset", "fw", ["nft", "list", "ruleset"]),
                                   ("fw routes v4", "fw", ["ip", "route"]),
                                   ("fw routes v6", "fw", ["ip", "-6", "route"])):
                try:
                    cp = self.run(ns, *cmd, timeout=10)
                    out.append(f"--- {title}:\n{(cp.stdout + cp.stderr).rstrip()}")
                except (OSError, subprocess.SubprocessError) as e:
                    out.append(f"--- {title}: {e}")
        for p in self._procs:
            state = "running" if p.poll() is None else f"exit {p.returncode}"
            tail = "\n".join(self.log(p).splitlines()[-20:])
            out.append(f"--- {shlex.join(map(str, p.args[4:]))} [pid {p.pid}, {state}]"
                       + (f"\n{tail}" if tail else ""))
        return "\n".join(out)

    # -- nftables ----------------------------------------------------------

    def nft(self, args, ns: str = "fw", check: bool = True) -> str:
        """Run ``nft`` in ``ns`` (default ``fw``); returns stdout.

        ``args``: a list of arguments, a string (split like a shell), or the path of
        a ruleset file (os.PathLike, or a str naming an existing file) for ``-f``."""
        if isinstance(args, os.PathLike) or (
                isinstance(args, str) and "\n" not in args and os.path.isfile(args)):
            argv = ["-f", os.fspath(args)]
        elif isinstance(args, str):
            argv = shlex.split(args)
        else:
            argv = [str(a) for a in args]
        cp = self.run(ns, "nft", *argv)
        if check and cp.returncode:
            raise LabError(f"nft {shlex.join(argv)} failed in {ns} ({cp.returncode}):\n"
                           f"{cp.stderr.strip()}", cp.returncode, cp.stdout, cp.stderr)
        return cp.stdout

    def load(self, ruleset: str, ns: str = "fw", check_only: bool = False) -> str:
        """Load ruleset text with ``nft -f`` in ``ns`` (``nft -c -f`` if check_only).

        Raises :class:`LabError` carrying nft's stderr (which names the line).
        Returns the path of the file that was loaded (kept until teardown)."""
        self._check_started()
        path = self._next("ruleset.nft")
        with open(path, "w") as f:
            f.write(ruleset)
        self.nft(["-c", "-f", path] if check_only else ["-f", path], ns=ns)
        return path

    def flush(self, ns: str = "fw") -> None:
        """Remove every nftables table in ``ns`` (``nft flush ruleset``)."""
        self.nft(["flush", "ruleset"], ns=ns)

    # -- addresses ---------------------------------------------------------

    def add_lan(self, *addrs) -> list[str]:
        """Put host addresses on the lan side, routed through fw.  See :meth:`add`."""
        return self.add("lan", *addrs)

    def add_wan(self, *addrs) -> list[str]:
        """Put host addresses on the wan side, routed through fw.  See :meth:`add`."""
        return self.add("wan", *addrs)

    def add(self, side: str, *addrs) -> list[str]:
        """Put host addresses (v4/v6 strings, bare or /32, /128; any nesting of lists)
        on ``side``'s loopback and route them in fw.  Adding an address twice to the
        same side is a no-op; to both sides is an error.  Returns the addresses in
        canonical form.  One ``ip -batch`` per namespace, whatever the number."""
        self._check_started()
        side = self._side(side)
        parsed = []
        for item in _flatten(addrs):
            ip = _host(item)
            key = ip.compressed
            owner = self._side_of.get(key)
            if owner is not None and owner != side:
                raise ValueError(f"{key} is already on the {owner} side")
            parsed.append(ip)
        result = [ip.compressed for ip in parsed]
        new = list(dict.fromkeys(ip for ip in parsed if ip.compressed not in self._side_of))
        if not new:
            return result
        side_lines, fw_lines = [], []
        for ip in new:
            plen = ip.max_prefixlen
            side_lines.append(f"address add {ip}/{plen} dev lo"
                              + (" nodad" if ip.version == 6 else ""))
            if side != "fw":
                end, dev = (TRANSIT["lan"], "lan") if side == "lan" else (TRANSIT["wan"], "wan")
                via = end["v4"] if ip.version == 4 else end["v6"]
                fw_lines.append(f"route add {ip}/{plen} via {via} dev {dev}")
        procs = [_ip_batch(side_lines, ns=self.names[side])]
        if fw_lines:
            procs.append(_ip_batch(fw_lines, ns=self.names["fw"]))
        _finish(*procs)
        for ip in new:
            self._side_of[ip.compressed] = side
            self.addresses[side].append(ip.compressed)
        return result

    # -- servers and probes ------------------------------------------------

    def _agent(self, side: str) -> _Agent:
        side = self._side(side)
        agent = self._agents.get(side)
        if agent is None or agent.proc.poll() is not None:
            agent = self._agents[side] = _Agent(self, side)
        return agent

    def listen(self, side: str, ports, proto: str = "tcp") -> Listener:
        """Serve ``ports`` in ``side`` on every address, v4 and v6 (wildcard binds,
        ``IPV6_V6ONLY`` so that both families bind).

        ``ports``: an int, or a list of ints / ``"tcp/443"`` / ``"udp/53"`` /
        ``"8000-8010"`` items; ``proto`` (``tcp``, ``udp`` or ``both``) applies to
        items without one.  Returns once every socket is bound (raises LabError if
        one cannot be, e.g. port in use, binding none of them).  The sockets live
        in the side's agent process, killed at teardown; ``Listener.stop()``
        closes them earlier."""
        specs = _port_specs(ports, proto)
        side = self._side(side)
        reply = self._agent(side).request({"op": "listen", "specs": specs})
        return Listener(self, side, [tuple(s) for s in specs], reply["id"])

    def probe(self, side: str, checks, timeout: float = 1.0) -> list[bool]:
        """Run many checks at once from ``side``; True where the server answered.

        Each check is ``(src, dst, proto, port)``: ``proto`` is ``tcp``, ``udp`` or
        ``icmp`` (echo; port ignored, ``icmpv6`` also accepted); ``src`` is bound
        before connecting (None: let the kernel choose).  All checks run in one
        process, concurrently, so a batch takes about ``timeout`` seconds however
        many checks are dropped."""
        return [r["ok"] for r in self.probe_detail(side, checks, timeout)]

    def probe_detail(self, side: str, checks, timeout: float = 1.0) -> list[dict]:
        """Like :meth:`probe`, with ``{"ok", "answer", "error", "elapsed"}`` per check.

        ``answer`` is the server's line (it names the address the server saw the
        client come from); ``error`` is e.g. ``timeout`` or ``Connection refused``."""
        self._check_started()
        norm = [_norm_check(c) for c in checks]
        if not norm:
            return []
        reply = self._agent(side).request(
            {"op": "probe", "timeout": float(timeout), "checks": norm},
            timeout=float(timeout) * 2 + 30 + len(norm) / 100)
        results = reply["results"]
        if len(results) != len(norm):
            raise LabError(f"probe returned {len(results)} results for {len(norm)} checks")
        return results

    def connect(self, side: str, src, dst, port=None, proto: str = "tcp",
                timeout: float = 1.0) -> bool:
        """One check; see :meth:`probe`."""
        return self.probe(side, [(src, dst, proto, port)], timeout)[0]


class Listener:
    """Sockets opened by :meth:`Lab.listen`; ``stop()`` closes them."""

    def __init__(self, lab, side, specs, ident):
        self.lab, self.side, self.specs, self.id = lab, side, specs, ident
        self.stopped = False

    def __repr__(self):
        return f"<Listener {self.side} {self.specs}{' stopped' if self.stopped else ''}>"

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.lab._agent(self.side).request({"op": "unlisten", "id": self.id})


class _Agent:
    """The helper process of one side: it holds the servers and runs the probes,
    so that a probe batch costs a few milliseconds instead of starting Python."""

    def __init__(self, lab, side):
        self.lab, self.side = lab, side
        self.proc = lab.spawn(side, [*_PYTHON, LAB_FILE, "agent", "--name", side],
                              name="agent", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.buf = b""
        self.ready = False

    def _fail(self, what):
        code = self.proc.poll()
        state = f"exited with {code}" if code is not None else "still running"
        raise LabError(f"lab agent in {self.side} ({state}): {what}\n"
                       f"--- its log:\n{self.lab.log(self.proc)}")

    def _readline(self, deadline):
        import selectors
        while b"\n" not in self.buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._fail("no answer in time")
            with selectors.DefaultSelector() as sel:
                sel.register(self.proc.stdout, selectors.EVENT_READ)
                if not sel.select(remaining):
                    continue
            chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
            if not chunk:
                self._fail("it closed its output")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line

    def request(self, message, timeout=30.0):
        deadline = time.monotonic() + timeout
        if not self.ready:
            line = self._readline(time.monotonic() + 30)
            if line != b"ready":
                self._fail(f"unexpected greeting {line[:200]!r}")
            self.ready = True
        try:
            self.proc.stdin.write(json.dumps(message).encode() + b"\n")
            self.proc.stdin.flush()
        except OSError as e:
            self._fail(f"cannot send a request: {e}")
        reply = json.loads(self._readline(deadline))
        if reply.get("error"):
            raise LabError(f"in {self.side}: {reply['error']}")
        return reply


def _norm_check(check):
    try:
        src, dst, proto, port = check
    except (TypeError, ValueError):
        raise ValueError(f"a check is (src, dst, proto, port), not {check!r}") from None
    proto = str(proto).lower()
    if proto == "icmpv6":
        proto = "icmp"
    if proto not in ("tcp", "udp", "icmp"):
        raise ValueError(f"bad proto in check {check!r}: tcp, udp or icmp")
    d = ipaddress.ip_network(str(dst), strict=True)
    if d.prefixlen != d.max_prefixlen:
        raise ValueError(f"destination must be one address: {check!r}")
    s = None
    if src is not None:
        sn = ipaddress.ip_network(str(src), strict=True)
        if sn.prefixlen != sn.max_prefixlen or sn.version != d.version:
            raise ValueError(f"source and destination must be addresses of one family: {check!r}")
        s = sn.network_address.compressed
    if proto == "icmp":
        port = 0
    else:
        port = int(port)
        if not 1 <= port <= 65535:
            raise ValueError(f"bad port in check {check!r}")
    return [s, d.network_address.compressed, proto, port]


def cleanup_stale(verbose: bool = False, only=None) -> list[str]:
    """Delete lab namespaces (``eg<pid>-xxxx-side``) whose owner process is gone,
    after killing what still runs in them.  ``only``: consider these names only.
    Returns the names deleted."""
    stale = []
    for entry in sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else []:
        if only is not None and entry not in only:
            continue
        m = _NAME_RE.match(entry)
        if m and not _pid_alive(int(m.group(1))):
            stale.append(entry)
    if not stale:
        return []
    for pid in _pids_in_netns(stale):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _finish(_ip_batch([f"netns del {n}" for n in stale], force=True), check=False)
    if verbose:
        for n in stale:
            print(f"deleted {n}")
    return stale


# --------------------------------------------------------------------------- #
# Programs run inside the namespaces.

# They use the standard library only, and are started as
# `python -I -S lab.py agent|serve|probe`, so keep module-level imports cheap.

_HTTP_RE = re.compile(rb"^[A-Z]+ \S+ HTTP/1\.[01]\r?\n$")
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)  # Linux value; not exported by Python 3.11


def _raise_nofile():
    """Raise the soft limit of open files to the hard limit; returns the new limit."""
    import resource
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
        if want > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            soft = want
        return soft
    except (ValueError, OSError):
        return 1024


class _Servers:
    """The answering servers of one namespace (asyncio, in one process)."""

    def __init__(self, name):
        self.name = name
        self.groups = {}
        self.next_id = 0

    def banner(self, proto, local, peer):
        return (f"egress-lab {self.name} {proto} {local[0]} {local[1]} "
                f"from {peer[0]} {peer[1]}\n").encode()

    async def handle(self, reader, writer):
        import asyncio
        try:
            text = self.banner("tcp", writer.get_extra_info("sockname"),
                               writer.get_extra_info("peername"))
            try:
                first = await asyncio.wait_for(reader.readline(), 0.5)
            except (TimeoutError, ValueError):
                first = b""  # a client that sends nothing still gets the line
            if _HTTP_RE.match(first):
                while True:
                    header = await asyncio.wait_for(reader.readline(), 5)
                    if header in (b"\r\n", b"\n", b""):
                        break
                writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
                             b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(text)
                             + text)
            else:
                writer.write(text)
            await writer.drain()
        except Exception:
            pass
        finally:
            writer.close()

    def on_udp(self, sock):
        port = sock.getsockname()[1]
        while True:
            try:
                _data, anc, _flags, peer = sock.recvmsg(2048, 256)
            except OSError:  # BlockingIOError: drained
                return
            local = None
            for level, kind, cdata in anc:
                if level == socket.IPPROTO_IP and kind == IP_PKTINFO:
                    local = cdata[8:12]          # in_pktinfo.ipi_addr (header destination)
                elif level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO:
                    local = cdata[:16]           # in6_pktinfo.ipi6_addr
            if local is None:
                continue
            text = self.banner("udp", (socket.inet_ntop(sock.family, local), port), peer)
            # Answer from the address the datagram was sent to: a wildcard socket
            # would otherwise pick the route's source (the transit address), and the
            # client's connected socket would ignore the answer.
            if sock.family == socket.AF_INET:
                cmsg = (socket.IPPROTO_IP, IP_PKTINFO, struct.pack("=I4s4s", 0, local, bytes(4)))
            else:
                cmsg = (socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, struct.pack("=16sI", local, 0))
            try:
                sock.sendmsg([text], [cmsg], 0, peer)
            except OSError:
                pass

    async def listen(self, specs):
        import asyncio
        loop = asyncio.get_running_loop()
        opened = []
        try:
            for proto, port in specs:
                for family, wildcard in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
                    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
                    sock = socket.socket(family, kind)
                    try:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                        if family == socket.AF_INET6:
                            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                        sock.bind((wildcard, port))
                        sock.setblocking(False)
                    except OSError as e:
                        sock.close()
                        raise OSError(e.errno, f"cannot bind {proto} [{wildcard}]:{port}: "
                                               f"{e.strerror}") from None
                    if proto == "tcp":
                        opened.append(await asyncio.start_server(self.handle, sock=sock,
                                                                 backlog=1024))
                    else:
                        if family == socket.AF_INET:
                            sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
                        else:
                            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
                        loop.add_reader(sock.fileno(), self.on_udp, sock)
                        opened.append(sock)
        except BaseException:
            self._close(opened)
            raise
        self.next_id += 1
        self.groups[self.next_id] = opened
        return self.next_id

    def _close(self, items):
        import asyncio
        loop = asyncio.get_running_loop()
        for item in items:
            if isinstance(item, socket.socket):
                loop.remove_reader(item.fileno())
                item.close()
            else:
                item.close()

    def unlisten(self, ident):
        self._close(self.groups.pop(ident, []))


async def _probe_all(checks, timeout, limit):
    import asyncio
    loop = asyncio.get_running_loop()
    sem = asyncio.Semaphore(limit)

    async def exchange(sock, family, dst, proto, port):
        if proto == "tcp":
            await loop.sock_connect(sock, (dst, port))
            await loop.sock_sendall(sock, b"probe\n")
            data = b""
            while b"\n" not in data:
                chunk = await loop.sock_recv(sock, 4096)
                if not chunk:
                    break
                data += chunk
            return data.decode(errors="replace").strip()
        sock.connect((dst, port))  # datagram sockets: immediate, no resolver
        if proto == "udp":
            sock.send(b"probe\n")
            data = await loop.sock_recv(sock, 4096)
            return data.decode(errors="replace").strip()
        v4 = family == socket.AF_INET
        # ping socket: the kernel sets the identifier and the checksum
        sock.send(struct.pack("!BBHHH", 8 if v4 else 128, 0, 0, 0, 1) + b"egress-lab")
        while True:
            data = await loop.sock_recv(sock, 4096)
            if data and data[0] == (0 if v4 else 129):
                return f"echo reply from {dst}"

    async def one(src, dst, proto, port):
        async with sem:
            started = loop.time()
            family = socket.AF_INET6 if ":" in dst else socket.AF_INET
            sock = None
            try:
                if proto == "icmp":
                    sock = socket.socket(family, socket.SOCK_DGRAM,
                                         socket.IPPROTO_ICMP if family == socket.AF_INET
                                         else socket.IPPROTO_ICMPV6)
                else:
                    sock = socket.socket(family, socket.SOCK_STREAM if proto == "tcp"
                                         else socket.SOCK_DGRAM)
                sock.setblocking(False)
                if src:
                    sock.bind((src, 0))
                answer = await asyncio.wait_for(exchange(sock, family, dst, proto, port),
                                                timeout)
                error = None if answer else "empty answer"
            except TimeoutError:
                answer, error = None, "timeout"
            except OSError as e:
                answer, error = None, os.strerror(e.errno) if e.errno else str(e)
            finally:
                if sock is not None:
                    sock.close()
            return {"ok": bool(answer), "answer": answer or None, "error": error,
                    "elapsed": round(loop.time() - started, 4)}

    return await asyncio.gather(*(one(*c) for c in checks))


def _agent_main(name):
    """Serve JSON requests, one per line on stdin, one answer per line on stdout:
    {"op": "listen", "specs": [[proto, port]...]} -> {"ok": true, "id": N}
    {"op": "unlisten", "id": N}                    -> {"ok": true}
    {"op": "probe", "timeout": T, "checks": [...]}  -> {"ok": true, "results": [...]}
    Exits when stdin closes (the lab's process is gone) or on SIGTERM."""
    import asyncio

    limit = max(16, _raise_nofile() - 256)

    async def main():
        loop = asyncio.get_running_loop()
        servers = _Servers(name)
        out = sys.stdout.buffer

        def send(obj):
            out.write(json.dumps(obj).encode() + b"\n")
            out.flush()

        # add_signal_handler also sets the wakeup fd: a SIGTERM that lands on the
        # stdin thread would otherwise leave the main thread asleep in epoll.
        loop.add_signal_handler(signal.SIGTERM, os._exit, 0)
        out.write(b"ready\n")
        out.flush()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.buffer.readline)
            if not line:
                return
            try:
                req = json.loads(line)
                op = req["op"]
                if op == "listen":
                    send({"ok": True, "id": await servers.listen(req["specs"])})
                elif op == "unlisten":
                    servers.unlisten(req["id"])
                    send({"ok": True})
                elif op == "probe":
                    send({"ok": True, "results": await _probe_all(
                        req["checks"], float(req["timeout"]), limit)})
                else:
                    send({"error": f"unknown op {op!r}"})
            except Exception as e:
                send({"error": f"{type(e).__name__}: {e}"})

    asyncio.run(main())


def _serve_main(name, specs):
    """A standalone server process (for use by hand or with Lab.spawn)."""
    import asyncio

    async def main():
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, os._exit, 0)
        await _Servers(name).listen(specs)
        print("ready", flush=True)
        await asyncio.Event().wait()

    try:
        asyncio.run(main())
    except OSError as e:
        print(e, file=sys.stderr)
        return 1


def _probe_main():
    """One batch: JSON {"timeout": T, "checks": [[src, dst, proto, port]...]} on stdin."""
    import asyncio
    request = json.load(sys.stdin)
    checks = [_norm_check(c) for c in request["checks"]]
    limit = max(16, _raise_nofile() - 256)
    results = asyncio.run(_probe_all(checks, float(request.get("timeout", 1.0)), limit))
    json.dump(results, sys.stdout)
    print()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    usage = ("usage: lab.py agent [--name N]\n"
             "       lab.py serve [--name N] PORT...   (PORT: tcp/443, udp/53, 80, 8000-8010)\n"
             "       lab.py probe < {\"timeout\": 1, \"checks\": [[src, dst, proto, port]]}\n"
             "       lab.py cleanup                    (delete namespaces of dead labs)")
    if not argv or argv[0] in ("-h", "--help"):
        print(usage)
        return 0
    cmd, rest = argv[0], argv[1:]
    name = "lab"
    if len(rest) >= 2 and rest[0] == "--name":
        name, rest = rest[1], rest[2:]
    if cmd == "agent":
        _agent_main(name)
    elif cmd == "serve":
        return _serve_main(name, _port_specs(rest, "tcp"))
    elif cmd == "probe":
        _probe_main()
    elif cmd == "cleanup":
        cleanup_stale(verbose=True)
    else:
        print(usage, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

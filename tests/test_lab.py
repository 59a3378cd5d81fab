"""Tests of the network lab (tests/lab.py) and of the system-test gate (conftest.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import lab as lab_module
import pytest
from lab import Lab, LabError

system = pytest.mark.system("ip", "nft")

LAN4, LAN6 = "10.20.0.10", "2001:db8:20::10"
WAN4, WAN6 = "198.51.100.10", "2001:db8:100::10"

MINIMAL_RULESET = """
table inet t {
    chain f {
        type filter hook forward priority 0; policy drop;
        ct state established,related accept
        ip daddr 198.51.100.10 tcp dport 443 accept
    }
}
"""


def netns_names() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                         check=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def leftovers(prefix: str) -> list[str]:
    return [name for name in netns_names() if name.startswith(prefix + "-")]


def alive(pid: int) -> bool:
    return lab_module._pid_alive(pid)


def wait_dead(pid: int, seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.02)
    return False


def populate(lab):
    lab.add_lan(LAN4, LAN6)
    lab.add_wan([WAN4, WAN6 + "/128"])
    lab.listen("wan", [443, 80, "udp/53"])
    lab.listen("lan", [25, "udp/514"])


# ------------------------------------------------------------------ plain forwarding

@system
def test_forwarding_without_ruleset(lab):
    populate(lab)
    out = lab.probe_detail("lan", [
        (LAN4, WAN4, "tcp", 443),
        (LAN6, WAN6, "tcp", 443),
        (LAN4, WAN4, "udp", 53),
        (LAN6, WAN6, "udp", 53),
        (LAN4, WAN4, "icmp", None),
        (LAN6, WAN6, "icmpv6", None),
    ])
    assert [r["ok"] for r in out] == [True] * 6, out
    # no address translation: the server sees the zone address, answers from the
    # address it was asked on (UDP too)
    assert out[0]["answer"].startswith(f"egress-lab wan tcp {WAN4} 443 from {LAN4} ")
    assert out[3]["answer"].startswith(f"egress-lab wan udp {WAN6} 53 from {LAN6} ")

    back = lab.probe("wan", [
        (WAN4, LAN4, "tcp", 25),
        (WAN6, LAN6, "tcp", 25),
        (WAN4, LAN4, "udp", 514),
        (WAN6, LAN6, "udp", 514),
    ])
    assert back == [True] * 4
    assert lab.connect("wan", WAN4, LAN4, 25)


@system
def test_failures_are_told_apart(lab):
    populate(lab)
    out = lab.probe_detail("lan", [
        (LAN4, WAN4, "tcp", 444),            # nobody listens: refused at once
        (LAN4, "198.51.100.99", "tcp", 443),  # not in the lab: fw has no route
        (LAN6, WAN6, "udp", 54),             # nobody listens: ICMP port unreachable
    ], timeout=2.0)
    assert [r["ok"] for r in out] == [False] * 3
    assert out[0]["error"] == "Connection refused"
    assert "unreachable" in out[1]["error"].lower()
    assert out[2]["error"] == "Connection refused"
    assert all(r["elapsed"] < 1.0 for r in out), out


# ------------------------------------------------------------------ with a ruleset

@system
def test_minimal_ruleset_allows_one_flow(lab):
    populate(lab)
    lab.load(MINIMAL_RULESET)
    assert "table inet t" in lab.nft("list ruleset")
    checks = [
        (LAN4, WAN4, "tcp", 443),   # allowed
        (LAN4, WAN4, "tcp", 80),    # other port: dropped
        (LAN6, WAN6, "tcp", 443),   # v6 not allowed by the rule
        (LAN4, WAN4, "udp", 53),
        (LAN4, WAN4, "icmp", None),
    ]
    out = lab.probe_detail("lan", checks, timeout=0.5)
    assert [r["ok"] for r in out] == [True, False, False, False, False], out
    assert [r["error"] for r in out[1:]] == ["timeout"] * 4  # dropped, not refused
    assert lab.probe("wan", [(WAN4, LAN4, "tcp", 25)], timeout=0.5) == [False]

    lab.flush()
    assert lab.nft("list ruleset").strip() == ""
    assert lab.probe("lan", checks, timeout=0.5) == [True] * 5


@system
def test_load_reports_nft_errors(lab):
    with pytest.raises(LabError, match=r"(?s)ruleset.nft:4:\d+-\d+: Error: .*polcy"):
        lab.load(MINIMAL_RULESET.replace("policy drop", "polcy drop"))
    with pytest.raises(LabError):
        lab.load(MINIMAL_RULESET.replace("accept\n    }", "acept\n    }"), check_only=True)
    path = lab.load(MINIMAL_RULESET, check_only=True)
    assert lab.nft("list ruleset").strip() == ""   # -c loads nothing
    lab.nft(path)                                  # a path is loaded with -f
    assert "198.51.100.10" in lab.nft(["list", "table", "inet", "t"])


@system
def test_batch_of_100_with_half_dropped_takes_about_the_timeout(lab):
    lans = [f"10.20.1.{i}" for i in range(1, 11)]
    wans = [f"203.0.113.{i}" for i in range(1, 11)]
    lab.add_lan(lans)
    lab.add_wan(wans)
    lab.listen("wan", [443, 8443])
    lab.load("""
        table inet t {
            chain f {
                type filter hook forward priority 0; policy drop;
                ct state established,related accept
                tcp dport 443 accept
            }
        }
    """)
    checks = [(lans[i % 10], wans[i // 10], "tcp", 443 if i % 2 == 0 else 8443)
              for i in range(100)]
    timeout = 1.0
    started = time.monotonic()
    results = lab.probe("lan", checks, timeout=timeout)
    elapsed = time.monotonic() - started
    assert results == [i % 2 == 0 for i in range(100)]
    assert elapsed < 3 * timeout, elapsed


# ------------------------------------------------------------------ addresses

@system
def test_many_addresses_are_added_quickly(lab):
    lans = [f"10.30.{i // 250}.{i % 250 + 1}" for i in range(100)]
    wans = [f"2001:db8:200::{i + 1:x}" for i in range(100)]
    started = time.monotonic()
    lab.add_lan(lans, [f"2001:db8:30::{i + 1:x}" for i in range(100)])
    lab.add_wan(wans, [f"192.0.2.{i + 1}" for i in range(100)])
    assert time.monotonic() - started < 1.0
    lab.listen("wan", 443)
    assert lab.probe("lan", [(lans[-1], "192.0.2.100", "tcp", 443),
                             ("2001:db8:30::64", wans[-1], "tcp", 443)]) == [True, True]
    assert len(lab.addresses["lan"]) == 200 and len(lab.addresses["wan"]) == 200


@system
def test_add_checks_addresses(lab):
    assert lab.add_lan("10.20.0.10/32", "2001:DB8:20:0::10") == [LAN4, LAN6]
    assert lab.add_lan(LAN4) == [LAN4]                 # again: no-op
    with pytest.raises(ValueError, match="already on the lan"):
        lab.add_wan(LAN4)
    with pytest.raises(ValueError, match="not networks"):
        lab.add_wan("198.51.100.0/24")
    with pytest.raises(ValueError):
        lab.add_wan("198.51.100.1/24")                 # host bits set
    for reserved in ("100.64.0.1", "fd99:0:0:2::5", "127.0.0.2", "fe80::1", "::"):
        with pytest.raises(ValueError, match="reserved"):
            lab.add_lan(reserved)
    with pytest.raises(ValueError, match="not an IP"):
        lab.add_lan("mssante.fr")
    with pytest.raises(ValueError, match="one family"):
        lab.probe("lan", [(LAN4, WAN6, "tcp", 443)])


# ------------------------------------------------------------------ servers, processes

@system
def test_listener_stop_and_port_in_use(lab):
    populate(lab)
    with pytest.raises(LabError, match="443"):
        lab.listen("wan", [8080, 443])                # 443 is taken: nothing bound
    extra = lab.listen("wan", 8080, proto="both")      # so 8080 is still free
    assert lab.probe("lan", [(LAN4, WAN4, "tcp", 8080), (LAN6, WAN6, "udp", 8080)]) == [True, True]
    extra.stop()
    assert lab.probe("lan", [(LAN4, WAN4, "tcp", 8080)]) == [False]


@system
def test_http_clients_get_an_http_answer(lab):
    populate(lab)
    cp = lab.run("lan", "curl", "-sS", "--max-time", "5", "--interface", LAN4,
                 f"http://{WAN4}:80/x")
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.startswith(f"egress-lab wan tcp {WAN4} 80 from {LAN4} ")


@system
def test_run_spawn_and_namespace_names(lab):
    assert lab.ns("fw") == f"{lab.prefix}-fw"
    assert lab_module._NAME_RE.match(lab.ns("wan"))
    with pytest.raises(ValueError):
        lab.ns("dmz")
    cp = lab.run("wan", "ip", "-br", "addr", "show", "dev", "fw")
    assert "100.64.1.2/30" in cp.stdout and "fd99:0:0:2::2/64" in cp.stdout
    fwd = lab.run(lab.ns("fw"), "sysctl", "-n", "net.ipv4.ip_forward",
                  "net.ipv6.conf.all.forwarding", "net.ipv4.conf.all.rp_filter").stdout.split()
    assert fwd == ["1", "1", "0"]
    proc = lab.spawn("lan", ["sh", "-c", "echo hello; exec sleep 300"])
    deadline = time.monotonic() + 5
    while "hello" not in lab.log(proc) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "hello" in lab.log(proc)
    assert proc.poll() is None


def test_teardown_kills_processes_and_deletes_namespaces(tmp_path):
    lab_module_gate()
    pidfile = tmp_path / "daemon.pid"
    with Lab() as lab:
        prefix = lab.prefix
        assert sorted(leftovers(prefix)) == sorted(lab.names.values())
        populate(lab)
        child = lab.spawn("wan", ["sleep", "300"])
        # a daemon: forks away from the process we started, stays in the namespace
        lab.run("lan", "sh", "-c", f"setsid sleep 300 >/dev/null 2>&1 & echo $! > {pidfile}",
                check=True)
        daemon = int(pidfile.read_text())
        agents = [p.pid for p in lab._procs]
        assert alive(daemon) and alive(child.pid)
    assert leftovers(prefix) == []
    assert child.poll() is not None
    assert wait_dead(daemon)
    assert not any(alive(pid) for pid in agents)
    assert lab.timings["setup"] < 1.0 and lab.timings["teardown"] < 1.0, lab.timings
    lab.close()  # idempotent


def test_failed_setup_does_not_leak(monkeypatch):
    lab_module_gate()
    monkeypatch.setattr(lab_module, "_SYSCTL_FW",
                        lab_module._SYSCTL_FW + ["net.ipv4.no_such_setting=1"])
    lab = Lab()
    with pytest.raises(LabError, match="no_such_setting"), lab:
        pytest.fail("not reached")
    assert leftovers(lab.prefix) == []
    assert id(lab) not in lab_module._LIVE


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signals_tear_the_lab_down(signum, tmp_path):
    """SIGTERM (the atexit/signal backstop) and Ctrl-C (KeyboardInterrupt through
    the with-block) both leave nothing behind."""
    lab_module_gate()
    script = textwrap.dedent(f"""
        import signal, sys, time
        # Ctrl-C as on a terminal: a job started in the background by a shell without
        # job control (`cmd &` in a script) inherits SIGINT ignored, and Python then
        # never raises KeyboardInterrupt
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.path.insert(0, {os.path.dirname(lab_module.__file__)!r})
        from lab import Lab
        with Lab() as lab:
            p = lab.spawn("wan", ["sleep", "300"])
            print(lab.prefix, p.pid, flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        prefix, pid = proc.stdout.readline().split()
        assert leftovers(prefix)
        proc.send_signal(signum)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert leftovers(prefix) == []
    assert wait_dead(int(pid))


def test_cleanup_stale_removes_only_dead_owners():
    lab_module_gate()
    with open("/proc/sys/kernel/pid_max") as f:
        dead = int(f.read()) + 1                     # no process can have this pid
    stale = f"eg{dead}-{os.getpid() % 0xFFFF:04x}-fw"
    subprocess.run(["ip", "netns", "add", stale], check=True)
    try:
        with Lab() as lab:
            mine = list(lab.names.values())
            assert lab_module.cleanup_stale(only=[stale, *mine]) == [stale]
            assert sorted(leftovers(lab.prefix)) == sorted(mine)
    finally:
        subprocess.run(["ip", "netns", "del", stale], capture_output=True)
    assert stale not in netns_names()


def test_fixture_tears_down_after_a_failing_test(tmp_path):
    """Run a failing test that uses the real `lab` and `module_lab` fixtures in a
    child pytest, then check that nothing is left."""
    lab_module_gate()
    record = tmp_path / "record.txt"
    inner = tmp_path / "test_inner.py"
    inner.write_text(textwrap.dedent(f"""
        def test_uses_lab(lab, module_lab):
            p = lab.spawn("wan", ["sleep", "300"])
            q = module_lab.spawn("lan", ["sleep", "300"])
            with open({str(record)!r}, "w") as f:
                f.write(f"{{lab.prefix}} {{module_lab.prefix}} {{p.pid}} {{q.pid}}")
            assert False, "failing on purpose"
    """))
    env = dict(os.environ, PYTHONPATH=os.path.dirname(lab_module.__file__))
    cp = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                         "-p", "conftest", "--rootdir", str(tmp_path), str(inner)],
                        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert cp.returncode == 1, cp.stdout + cp.stderr
    assert "failing on purpose" in cp.stdout
    assert "fw ruleset" in cp.stdout     # the lab's state is printed for a failing test
    prefix, module_prefix, pid, qid = record.read_text().split()
    assert leftovers(prefix) == [] and leftovers(module_prefix) == []
    assert wait_dead(int(pid)) and wait_dead(int(qid))


def lab_module_gate():
    """The gate for tests that build a Lab directly instead of using the fixture."""
    gate = _conftest()
    gate.require_system(*gate.LAB_PROGRAMS, netns=True)


# ------------------------------------------------------------------ the gate itself

def _conftest():
    wanted = os.path.join(os.path.dirname(os.path.abspath(__file__)), "conftest.py")
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and os.path.abspath(path) == wanted:
            return module
    raise RuntimeError("tests/conftest.py is not loaded")


@pytest.fixture
def gate(monkeypatch):
    module = _conftest()
    monkeypatch.setattr(module, "_install_attempted", set())
    monkeypatch.setattr(module, "_install_errors", {})
    monkeypatch.delenv("EGRESS_SYSTEM_TESTS", raising=False)
    return module


def test_gate_skips_or_fails_when_not_root(gate, monkeypatch):
    monkeypatch.setattr(gate.os, "geteuid", lambda: 1000)
    with pytest.raises(pytest.skip.Exception, match="needs root"):
        gate.require_system("nft")
    monkeypatch.setenv("EGRESS_SYSTEM_TESTS", "1")
    with pytest.raises(pytest.fail.Exception, match=r"EGRESS_SYSTEM_TESTS=1.*needs root"):
        gate.require_system("nft")


def test_gate_installs_missing_programs_once(gate, monkeypatch):
    calls = []
    monkeypatch.setattr(gate.os, "geteuid", lambda: 0)
    monkeypatch.setattr(gate, "find_program", lambda name: None if name == "squid" else "/x")
    monkeypatch.setattr(gate, "_apt_install", lambda pkgs: calls.append(pkgs) or "no network")
    reason = gate.system_unavailable(("nft", "squid"))
    assert "squid" in reason and "squid-openssl" in reason and "no network" in reason
    assert gate.system_unavailable(("squid",)) is not None
    assert calls == [["squid-openssl"]]
    with pytest.raises(pytest.skip.Exception):
        gate.require_system("squid")
    monkeypatch.setenv("EGRESS_SYSTEM_TESTS", "1")
    with pytest.raises(pytest.fail.Exception):
        gate.require_system("squid")


def test_gate_passes_once_installed(gate, monkeypatch):
    installed = set()
    monkeypatch.setattr(gate.os, "geteuid", lambda: 0)
    monkeypatch.setattr(gate, "find_program",
                        lambda name: f"/usr/bin/{name}" if name in installed else None)
    monkeypatch.setattr(gate, "_apt_install",
                        lambda pkgs: installed.update({"curl", "dnsmasq"}) or None)
    assert gate.require_system("curl", "dnsmasq") == {"curl": "/usr/bin/curl",
                                                      "dnsmasq": "/usr/bin/dnsmasq"}


def test_apt_install_updates_and_retries(gate, monkeypatch):
    seen = []
    results = iter([1, 0, 0])

    def fake_run(argv, **kwargs):
        seen.append([a for a in argv if not a.startswith("DPkg")][1:])
        return subprocess.CompletedProcess(argv, next(results), "", "E: Unable to locate")

    monkeypatch.setattr(gate, "find_program", lambda name: "/usr/bin/apt-get")
    monkeypatch.setattr(gate.subprocess, "run", fake_run)
    assert gate._apt_install(["nftables"]) is None
    assert seen == [["-o", "install", "-y", "nftables"], ["-o", "update"],
                    ["-o", "install", "-y", "nftables"]]


def test_marker_is_registered(pytestconfig):
    assert any(line.startswith("system") for line in pytestconfig.getini("markers"))

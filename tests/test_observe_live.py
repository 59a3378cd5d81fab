"""`egress blocked` and `egress usage` on what the real programs write: the stage's
ruleset in the lab's firewall namespace, ulogd2 with its JSON plugin reading the policy's
nflog group, a live squid refusing names, dnsmasq with log-queries naming addresses.

The denials are made from the lab's LAN namespace with probes whose timeout (0.4 s) is
below TCP's first SYN retransmission (1 s): one refused connection is one logged packet,
so the hits are exact.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from egress.check import validate
from egress.cli import main
from egress.flows import resolve
from egress.targets import nftables

ROOT = Path(__file__).parent.parent
AT = "2024-01-01"
GROUP = 7

POLICY = """\
egress: 1
policy: observe-live
zones:
  workstations:
    addresses: [10.100.0.0/24, "fd00:100::/64"]
  lab:
    addresses: [10.30.0.0/24]
firewall: {log_group: GROUP}
services:
  partner:
    destinations: [{address: 198.51.100.10}, {address: "2001:db8:51::10"}]
    ports: [tcp/443, tcp/8443]
  archive:
    destinations: [{address: 198.51.100.20}]
    ports: [tcp/22]
stages:
  - id: s0-closed
    date: 2023-12-01
    grants: []
  - id: s1-partner
    date: 2023-12-02
    grants:
      - id: partner-lab
        from: lab
        to: partner
        ports: [tcp/443]
        reason: Results to the partner
""".replace("GROUP", str(GROUP))


def require_ulogd_json() -> None:
    """The JSON output plugin of ulogd2 (Debian package ulogd2-json), installed as root."""
    from tests.conftest import _apt_install, gate

    def present():
        return list(Path("/usr/lib").glob("*/ulogd/ulogd_output_JSON.so")) or list(Path("/usr/lib/ulogd").glob("ulogd_output_JSON.so"))

    if not present():
        error = _apt_install(["ulogd2-json"])
        if not present():
            gate(f"system test needs ulogd2's JSON plugin (Debian: ulogd2-json){'; ' + error if error else ''}")


def run(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result


def wait_lines(path: Path, count: int, timeout: float = 10) -> list[str]:
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count:
            return lines
        time.sleep(0.05)
    return lines


@pytest.fixture
def folder():
    path = Path(tempfile.mkdtemp(prefix="egress-observe-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.system("ip", "nft", "ulogd")
def test_ulogd2_json_of_refused_connections(lab, folder):
    policy_path, flows = load_policy(folder, POLICY, "s1-partner")
    lab.add_lan("10.100.0.5", "10.100.0.6", "fd00:100::5", "10.30.0.5")
    lab.add_wan(["198.51.100.10", "198.51.100.20", "198.51.100.99", "2001:db8:51::10"])
    lab.listen("wan", [443, 8443, 22, "udp/53"])
    lab.load(nftables.render(flows))
    log, ulogd = start_ulogd(lab, folder)

    allowed = ("10.30.0.5", "198.51.100.10", "tcp", 443)
    refused = [
        ("10.100.0.5", "198.51.100.10", "tcp", 443),  # partner-lab opens it to lab only: 3 times, 2 sources
        ("10.100.0.6", "198.51.100.10", "tcp", 443),
        ("10.100.0.5", "198.51.100.10", "tcp", 443),
        ("10.30.0.5", "198.51.100.10", "tcp", 8443),  # another port of the partner
        ("10.30.0.5", "198.51.100.20", "tcp", 22),    # archive: no grant
        ("10.30.0.5", "198.51.100.99", "udp", 53),    # nothing in the policy
        ("fd00:100::5", "2001:db8:51::10", "tcp", 443),  # IPv6
    ]
    results = lab.probe("lan", [allowed], timeout=2)
    assert results == [True]
    for check in refused:  # one at a time: each exactly one logged packet
        assert lab.probe("lan", [check], timeout=0.4) == [False]
    lines = wait_lines(log, len(refused))
    assert len(lines) == len(refused), (lines, lab.log(ulogd))

    result = run("blocked", policy_path, log, "--stage", "s1-partner", "--at", AT, "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    got = [(f["source"], f["destination"], f["port"], f["sources"], f["hits"], f["suggestion"]["kind"]) for f in doc["flows"]]
    assert got == [
        ("workstations", "198.51.100.10", "tcp/443", 2, 3, "add-zone"),
        ("lab", "198.51.100.10", "tcp/8443", 1, 1, "add-port"),
        ("lab", "198.51.100.20", "tcp/22", 1, 1, "service"),
        ("lab", "198.51.100.99", "udp/53", 1, 1, "new-service"),
        ("workstations", "2001:db8:51::10", "tcp/443", 1, 1, "add-zone"),
    ]
    assert doc["inputs"][0]["format"] == "ulogd2-json" and doc["inputs"][0]["bad"] == 0
    first = doc["flows"][0]
    assert first["suggestion"]["text"] == "grant partner-lab already opens this to zone lab: add zone workstations"
    now = time.time()
    seen = dt.datetime.strptime(first["last_seen"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp()
    assert now - 120 < seen <= now + 1


def start_ulogd(lab, folder: Path) -> tuple[Path, object]:
    """ulogd2 in the firewall namespace with examples/ulogd/ulogd.conf (group GROUP,
    files in `folder`), once it reads the group. (The JSON file, the process.)"""
    require_ulogd_json()
    conf = (ROOT / "examples/ulogd/ulogd.conf").read_text()
    log = folder / "egress.json"
    conf = conf.replace("group=0", f"group={GROUP}").replace("/var/log/ulog/egress.json", str(log))
    conf = conf.replace("/var/log/ulog/ulogd.log", str(folder / "ulogd.log"))
    (folder / "ulogd.conf").write_text(conf)
    return log, spawn_ulogd(lab, folder, "ulogd")


def spawn_ulogd(lab, folder: Path, name: str):
    """ulogd2 in the firewall namespace with `folder`/ulogd.conf (its own log in
    `folder`/ulogd.log), once it reads the group."""
    ulogd = lab.spawn("fw", ["ulogd", "-c", str(folder / "ulogd.conf")], name=name)
    deadline = time.monotonic() + 10
    own_log = folder / "ulogd.log"
    while "entering main loop" not in (own_log.read_text(errors="replace") if own_log.exists() else ""):
        assert time.monotonic() < deadline and ulogd.poll() is None, lab.log(ulogd)
        time.sleep(0.05)
    return ulogd


def load_policy(folder: Path, text: str, stage: str):
    path = folder / "policy.yaml"
    path.write_text(text)
    policy, diagnostics = validate(str(path), dt.date(2024, 1, 1))
    assert policy is not None and not [d for d in diagnostics if d.severity == "error"], diagnostics
    return path, resolve(policy, stage, dt.date(2024, 1, 1))


@pytest.mark.system("ip", "nft", "ulogd", "dnsmasq")
def test_dnsmasq_names_the_address_the_firewall_refused(lab, folder):
    """A client asks dnsmasq (log-queries) for portal.partner.example, then connects to
    the answer, which the stage does not open: the blocked flow carries the name."""
    policy_path, flows = load_policy(folder, POLICY, "s1-partner")
    lab.add_lan("10.100.0.5")
    lab.add_wan(["198.51.100.99"])
    lab.listen("wan", [443])
    lab.load(nftables.render(flows))
    log, _ = start_ulogd(lab, folder)

    upstream_port, port = 5354, 5353
    dns_log = folder / "dnsmasq.log"
    common = ["--no-resolv", "--no-hosts", "--listen-address=127.0.0.1", "--bind-interfaces",
              "--keep-in-foreground", "--user=root", "--pid-file="]
    lab.spawn("fw", ["dnsmasq", *common, "--log-facility=-", f"--port={upstream_port}",
                     "--address=/portal.partner.example/198.51.100.99"], name="dnsmasq-upstream")
    resolver = lab.spawn("fw", ["dnsmasq", *common, f"--port={port}", f"--server=127.0.0.1#{upstream_port}",
                                "--log-queries", f"--log-facility={dns_log}"], name="dnsmasq")
    script = ("import dns.message, dns.query\n"
              "q = dns.message.make_query('portal.partner.example', 'A')\n"
              f"r = dns.query.udp(q, '127.0.0.1', port={port}, timeout=3)\n"
              "print(' '.join(str(rr) for rrset in r.answer for rr in rrset))\n")
    deadline = time.monotonic() + 10
    while not (dns_log.exists() and "started" in dns_log.read_text()):
        assert time.monotonic() < deadline and resolver.poll() is None, lab.log(resolver)
        time.sleep(0.05)
    answer = lab.run("fw", sys.executable, "-c", script, check=True).stdout.strip()
    assert answer == "198.51.100.99"
    assert "reply portal.partner.example is 198.51.100.99" in dns_log.read_text()

    assert lab.probe("lan", [("10.100.0.5", "198.51.100.99", "tcp", 443)], timeout=0.4) == [False]
    assert len(wait_lines(log, 1)) == 1

    result = run("blocked", policy_path, log, dns_log, "--stage", "s1-partner", "--at", AT, "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    [flow] = doc["flows"]
    assert (flow["source"], flow["destination"], flow["name"], flow["port"], flow["hits"]) == (
        "workstations", "198.51.100.99", "portal.partner.example", "tcp/443", 1)
    assert [i["format"] for i in doc["inputs"]] == ["ulogd2-json", "syslog"]
    assert doc["inputs"][1]["dns_answers"] >= 1 and doc["inputs"][1]["bad"] == 0
    text = run("blocked", policy_path, log, dns_log, "--stage", "s1-partner", "--at", AT).stdout
    assert "workstations -> 198.51.100.99 (portal.partner.example) tcp/443  [firewall]" in text


PROXY_POLICY = """\
egress: 1
policy: observe-proxy
zones:
  proxy:
    addresses: [10.0.0.3]
  workstations:
    addresses: [10.100.0.0/24]
  lab:
    addresses: [10.30.0.0/24]
proxy: {zone: proxy, port: 3128}
services:
  sites:
    destinations: [{domain: allowed.example}]
    ports: [tcp/443, tcp/8443]
  journals:
    destinations: [{host: www.journal.example}]
    ports: [tcp/443]
  spare:
    destinations: [{host: spare.example}]
    ports: [tcp/443]
stages:
  - id: s0-closed
    grants: []
  - id: s1-web
    grants:
      - id: lab-web
        from: lab
        to: sites
        ports: [tcp/443]
        via: proxy
        reason: Reference sites for the lab
      - id: spare-web
        from: lab
        to: spare
        via: proxy
        reason: A site nobody uses
"""


@pytest.mark.system("ip", "squid", "curl")
def test_squid_refusals_and_usage(lab, folder):
    """A live squid with the stage's include: what it refuses is found by name with what
    would open it; what it lets through is credited to its grant; a grant without
    requests is unused."""
    import os
    import pwd

    from egress.targets.squid import render as squid_render

    policy_path, flows = load_policy(folder, PROXY_POLICY, "s1-web")
    lab.add_lan("10.0.0.3", "10.100.0.5", "10.100.0.6", "10.30.0.5")
    lab.add_wan(["198.51.100.10"])
    lab.listen("wan", [443, 8443])
    squid_dir = folder / "squid"
    squid_dir.mkdir()
    (squid_dir / "hosts").write_text("198.51.100.10 www.allowed.example www.journal.example www.unknown.example\n")
    (squid_dir / "squid-egress.conf").write_text(squid_render(flows))
    access = squid_dir / "access.log"
    (squid_dir / "squid.conf").write_text("\n".join([
        "http_port 10.0.0.3:3128", "tcp_outgoing_address 10.0.0.3", f"hosts_file {squid_dir}/hosts",
        "dns_nameservers 127.0.0.1", f"pid_filename {squid_dir}/squid.pid", f"cache_log {squid_dir}/cache.log",
        f"access_log stdio:{access} squid", "cache deny all", f"coredump_dir {squid_dir}", "pinger_enable off",
        "shutdown_lifetime 0 seconds", "visible_hostname egress-observe-test", f"include {squid_dir}/squid-egress.conf", ""]))
    user = pwd.getpwnam("proxy")
    folder.chmod(0o755)
    for path in (squid_dir, *squid_dir.iterdir()):
        os.chown(path, user.pw_uid, user.pw_gid)
    squid = lab.spawn("lan", ["squid", "-N", "-f", str(squid_dir / "squid.conf")], name="squid")
    deadline = time.monotonic() + 30
    while "Accepting HTTP Socket connections" not in ((squid_dir / "cache.log").read_text(errors="replace")
                                                      if (squid_dir / "cache.log").exists() else ""):
        assert time.monotonic() < deadline and squid.poll() is None, lab.log(squid)
        time.sleep(0.05)

    def connect(src: str, target: str) -> str:
        cp = lab.run("lan", "curl", "-sS", "--max-time", "8", "--interface", src, "--proxytunnel",
                     "-x", "http://10.0.0.3:3128", "-o", "/dev/null", "-w", "%{http_connect}", f"http://{target}/",
                     timeout=30)
        return cp.stdout.strip()

    cases = [
        ("10.30.0.5", "www.allowed.example:443", "200"),
        ("10.30.0.5", "www.allowed.example:443", "200"),
        ("10.100.0.5", "www.allowed.example:443", "403"),
        ("10.100.0.6", "www.allowed.example:443", "403"),
        ("10.100.0.5", "www.journal.example:443", "403"),
        ("10.30.0.5", "www.allowed.example:8443", "403"),
        ("10.30.0.5", "www.unknown.example:443", "403"),
    ]
    for src, target, code in cases:
        assert connect(src, target) == code, (src, target, lab.log(squid))
    deadline = time.monotonic() + 10
    while len(access.read_text().splitlines() if access.exists() else []) < len(cases):
        assert time.monotonic() < deadline, access.read_text() if access.exists() else "no access.log"
        time.sleep(0.1)

    result = run("blocked", policy_path, access, "--stage", "s1-web", "--at", AT, "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    got = {(f["source"], f["destination"], f["port"]): (f["sources"], f["hits"], f["suggestion"]["kind"],
                                                         f["suggestion"]["text"]) for f in doc["flows"]}
    assert got == {
        ("workstations", "www.allowed.example", "tcp/443"): (
            2, 2, "add-zone", "grant lab-web already opens this to zone lab: add zone workstations"),
        ("workstations", "www.journal.example", "tcp/443"): (
            1, 1, "service", "service journals names www.journal.example but no grant reaches it from workstations on tcp/443"),
        ("lab", "www.allowed.example", "tcp/8443"): (
            1, 1, "add-port", "grant lab-web reaches sites from lab on tcp/443, not tcp/8443"),
        ("lab", "www.unknown.example", "tcp/443"): (
            1, 1, "new-service", "nothing in the policy holds or names this: a new service"),
    }
    assert doc["flows"][0]["destination"] == "www.allowed.example"  # the most sources first
    assert doc["inputs"][0]["proxy_refusals"] == 5 and doc["inputs"][0]["bad"] == 0

    used = run("usage", policy_path, access, "--stage", "s1-web", "--at", AT, "--format", "json")
    assert used.exit_code == 0, used.output
    report = {g["grant"]: g for g in json.loads(used.stdout)["grants"]}
    assert (report["lab-web"]["proxy_requests"], report["lab-web"]["used"]) == (2, True)
    assert (report["spare-web"]["proxy_requests"], report["spare-web"]["used"], report["spare-web"]["observed"]) == (0, False, True)
    text = run("usage", policy_path, access, "--stage", "s1-web", "--at", AT).stdout
    assert "unused (candidates to revoke at the next stage):\n  spare-web (stage s1-web, lab -> spare, proxy)" in text


COUNTED_POLICY = """\
egress: 1
policy: observe-counted
zones:
  workstations:
    addresses: [10.100.0.0/24]
  lab:
    addresses: [10.30.0.0/24, "fd00:30::/64"]
  proxy:
    addresses: [198.51.100.3]
proxy: {zone: proxy, port: 3128}
services:
  partner:
    destinations: [{address: 198.51.100.10}, {address: "2001:db8:51::10"}]
    ports: [tcp/443]
  web:
    destinations: [{domain: allowed.example}]
    ports: [tcp/443]
  archive:
    destinations: [{address: 198.51.100.20}]
    ports: [tcp/22]
  backup:
    destinations: [{address: 198.51.100.30}]
    ports: [tcp/873]
stages:
  - id: s0-closed
    grants: []
  - id: s1-open
    grants:
      - id: partner-lab
        from: lab
        to: partner
        reason: Results to the partner
      - id: archive-lab
        from: lab
        to: archive
        reason: Archive
      - id: backup-ws
        from: workstations
        to: backup
        reason: Backups nobody runs
      - id: web-ws
        from: workstations
        to: web
        via: proxy
        reason: Web through the proxy
"""


@pytest.mark.system("ip", "nft")
def test_element_counters_per_grant(lab, folder):
    """Traffic through two grants in the kernel, none through a third: usage gives the
    two their packets (one per connection: the rest of a connection is `established`,
    accepted before the sets) and the third as unused. A proxied grant's firewall element
    (the way to the proxy, shared by every proxied grant of the zone) is not credited:
    its traffic comes from the proxy's log."""
    policy_path, flows = load_policy(folder, COUNTED_POLICY, "s1-open")
    lab.add_lan("10.30.0.5", "fd00:30::5", "10.100.0.5")
    lab.add_wan(["198.51.100.3", "198.51.100.10", "198.51.100.20", "198.51.100.30", "2001:db8:51::10"])
    lab.listen("wan", [443, 22, 873, 3128])
    lab.load(nftables.render(flows))
    checks = [("10.30.0.5", "198.51.100.10", "tcp", 443)] * 2 + [("fd00:30::5", "2001:db8:51::10", "tcp", 443)] \
        + [("10.30.0.5", "198.51.100.20", "tcp", 22), ("10.100.0.5", "198.51.100.3", "tcp", 3128)]
    assert lab.probe("lan", checks, timeout=2) == [True] * 5
    assert lab.probe("lan", [("10.100.0.5", "198.51.100.20", "tcp", 22)], timeout=0.4) == [False]  # not backup-ws
    listing = folder / "counters.json"
    listing.write_text(lab.nft(["-j", "list", "table", "inet", "egress"]))

    result = run("usage", policy_path, "--stage", "s1-open", "--at", AT, "--counters", listing, "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    got = {g["grant"]: (g["packets"], g["used"], g["observed"]) for g in doc["grants"]}
    assert got == {"partner-lab": (3, True, True), "archive-lab": (1, True, True), "backup-ws": (0, False, True),
                   "web-ws": (None, False, False)}
    assert doc["grants"][0]["bytes"] > 0 and [g["bytes"] for g in doc["grants"] if g["grant"] == "backup-ws"] == [0]
    assert doc["summary"] == {"grants": 4, "used": 2, "unused": 1, "not_observed": 1}
    access = folder / "access.log"
    access.write_text("1796131140.123    230 10.100.0.5 TCP_TUNNEL/200 5120 CONNECT www.allowed.example:443 - "
                      "HIER_DIRECT/198.51.100.40 -\n")
    both = run("usage", policy_path, access, "--stage", "s1-open", "--at", AT, "--counters", listing, "--format", "json")
    web = next(g for g in json.loads(both.stdout)["grants"] if g["grant"] == "web-ws")
    assert (web["proxy_requests"], web["packets"], web["used"]) == (1, None, True)
    text = CliRunner().invoke(main, ["usage", str(policy_path), "--stage", "s1-open", "--at", AT, "--counters", "-"],
                              input=listing.read_text())
    assert text.exit_code == 0, text.output
    assert "unused (candidates to revoke at the next stage):\n  backup-ws (stage s1-open, workstations -> backup, direct): " \
           "no packet since the ruleset was loaded" in text.stdout


def test_counters_input_errors(folder):
    path = folder / "policy.yaml"
    path.write_text(COUNTED_POLICY)
    (folder / "bad.json").write_text("table inet egress {\n")
    (folder / "other.json").write_text('{"nftables": [{"metainfo": {}}, {"table": {"family": "inet", "name": "other"}}]}')
    for name, message in (("bad.json", "not the JSON of `nft -j list table inet egress`"),
                          ("other.json", "holds no table inet egress"), ("missing.json", "cannot read")):
        result = run("usage", path, "--stage", "s1-open", "--at", AT, "--counters", folder / name)
        assert result.exit_code == 2 and message in result.stderr, result.output
    assert run("usage", path, "--stage", "s1-open", "--at", AT, "--counters", folder / "bad.json", "--live").exit_code == 2


@pytest.mark.system("ip", "nft", "ulogd")
def test_kernel_format_lines_as_ulogd2_logemu_writes_them(lab, folder):
    """The kernel's log format, written by a real program: the network namespaces of the
    lab do not reach the host's kernel log (nf_log_all_netns is a host-wide switch the
    tests leave alone), but ulogd2's LOGEMU plugin writes the same denials in the kernel's
    format (`egress <policy> drop: IN=... SRC=... DST=... PROTO=... DPT=...`)."""
    policy_path, flows = load_policy(folder, POLICY, "s1-partner")
    lab.add_lan("10.100.0.5", "fd00:100::5")
    lab.add_wan(["198.51.100.10", "2001:db8:51::10"])
    lab.listen("wan", [443])
    lab.load(nftables.render(flows))
    emu = folder / "syslogemu.log"
    (folder / "ulogd.conf").write_text("\n".join([
        "[global]", f'logfile="{folder / "ulogd.log"}"', "loglevel=3",
        "stack=log1:NFLOG,base1:BASE,ifi1:IFINDEX,ip2str1:IP2STR,print1:PRINTPKT,emu1:LOGEMU",
        "[log1]", f"group={GROUP}", "[emu1]", f'file="{emu}"', "sync=1", ""]))
    spawn_ulogd(lab, folder, "ulogd-logemu")
    for check in [("10.100.0.5", "198.51.100.10", "tcp", 443)] * 2 + [("fd00:100::5", "2001:db8:51::10", "tcp", 443)]:
        assert lab.probe("lan", [check], timeout=0.4) == [False]
    lines = wait_lines(emu, 3)
    assert len(lines) == 3 and all(" egress observe-live drop:  IN=lan OUT=wan " in line for line in lines), lines

    result = run("blocked", policy_path, emu, "--stage", "s1-partner", "--at", AT, "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["inputs"][0]["format"] == "syslog" and doc["inputs"][0]["bad"] == 0
    assert [(f["source"], f["destination"], f["port"], f["hits"]) for f in doc["flows"]] == [
        ("workstations", "198.51.100.10", "tcp/443", 2), ("workstations", "2001:db8:51::10", "tcp/443", 1)]
    assert doc["flows"][0]["first_seen"] is not None

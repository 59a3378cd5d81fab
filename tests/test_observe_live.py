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
    require_ulogd_json()
    policy_path = folder / "policy.yaml"
    policy_path.write_text(POLICY)
    policy, diagnostics = validate(str(policy_path), dt.date(2024, 1, 1))
    assert policy is not None and not [d for d in diagnostics if d.severity == "error"]
    lab.add_lan("10.100.0.5", "10.100.0.6", "fd00:100::5", "10.30.0.5")
    lab.add_wan(["198.51.100.10", "198.51.100.20", "198.51.100.99", "2001:db8:51::10"])
    lab.listen("wan", [443, 8443, 22, "udp/53"])
    lab.load(nftables.render(resolve(policy, "s1-partner", dt.date(2024, 1, 1))))

    conf = (ROOT / "examples/ulogd/ulogd.conf").read_text()
    assert "group=0" in conf and 'file="/var/log/ulog/egress.json"' in conf
    log = folder / "egress.json"
    conf = conf.replace("group=0", f"group={GROUP}").replace("/var/log/ulog/egress.json", str(log))
    conf = conf.replace("/var/log/ulog/ulogd.log", str(folder / "ulogd.log"))
    (folder / "ulogd.conf").write_text(conf)
    ulogd = lab.spawn("fw", ["ulogd", "-c", str(folder / "ulogd.conf")], name="ulogd")
    deadline = time.monotonic() + 10
    while "entering main loop" not in (folder / "ulogd.log").read_text(errors="replace") if (folder / "ulogd.log").exists() else True:
        assert time.monotonic() < deadline and ulogd.poll() is None, lab.log(ulogd)
        time.sleep(0.05)

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

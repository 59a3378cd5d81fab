"""The kernel-speed layout of the nftables ruleset, proved in a real kernel (issues 15,
11 and 12; lab of tests/lab.py).

- rules met by a new packet, read from `nft -j list ruleset`: at most 16, and the same
  with 4 or 24 services reached by name directly (flat), while a real dnsmasq feeds the
  dynamic sets and every host's dnsmasq-added address connects on its ports only;
- the packet mark: the bits set by a table that runs before egress are intact after
  it, and scratch bits set by such a table cannot open a flow;
- expiry: a direct grant closing a few seconds after the load lets connections through
  before its instant and not after, with no reload, while a grant without expiry in the
  same set keeps working (v4 and v6);
- per-element counters: traffic through two grants, none through a third, read back
  per grant with `grant_counters` from `nft -j`.

Needs root, ip and nft (and dnsmasq for the dnsmasq test): skips without them, fails
under EGRESS_SYSTEM_TESTS=1.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path

import pytest

from egress.flows import resolve
from egress.targets import dnsmasq, nftables
from tests.test_nftables import AT, grant, make_policy
from tests.test_nftables_kernel import _query

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import common

pytestmark = pytest.mark.system("ip", "nft")

LAB, LAB6 = "10.30.0.10", "fd00:30::10"
IMAGING, IMAGING6 = "10.20.0.10", "fd00:20::10"
ZONES = {"lab": ["10.30.0.0/24", "fd00:30::/64"], "imaging": ["10.20.0.0/24", "fd00:20::/64"]}
PORTS = ["tcp/443", "tcp/8443", "tcp/25", "udp/5000"]


def hosts_policy(count: int):
    """`count` services of two hosts each, on one or two of PORTS, all reached directly
    from lab, every third also from imaging; one locked address per host."""
    services, grants, lock = {}, [], {}
    for i in range(count):
        hosts = [f"h{i}a.example", f"h{i}b.example"]
        ports = [PORTS[i % 4]] + ([PORTS[(i + 1) % 4]] if i % 2 else [])
        services[f"svc{i:02d}"] = ([f"host:{h}" for h in hosts], ports)
        for j, host in enumerate(hosts):
            lock[host] = [f"198.51.100.{2 * i + j + 1}"]
        grants.append(grant(f"g{i:02d}", ["lab", "imaging"] if i % 3 == 0 else "lab", f"svc{i:02d}"))
    return make_policy(ZONES, services, [grants], lock=lock)


def new_address(i: int, j: int, version: int) -> str:
    """What dnsmasq answers today for host j of service i (not the locked address)."""
    return f"203.0.113.{2 * i + j + 1}" if version == 4 else f"2001:db8:99::{2 * i + j + 1:x}"


def loaded_rules_met(lab) -> int:
    return common.rules_met(json.loads(lab.nft(["-j", "list", "ruleset"])), "forward")


def test_rules_met_stay_flat_with_hosts(lab):
    counts = {}
    for count in (4, 24):
        lab.flush()
        lab.load(nftables.render(resolve(hosts_policy(count), "s0", AT)))
        counts[count] = loaded_rules_met(lab)
    assert counts[4] == counts[24] <= 16, counts


@pytest.mark.system("ip", "nft", "dnsmasq")
def test_every_host_added_by_dnsmasq_connects_on_its_ports_only(lab, tmp_path):
    count = 12
    policy = hosts_policy(count)
    flows = resolve(policy, "s0", AT)
    lab.add_lan(LAB, LAB6, IMAGING, IMAGING6)
    lab.add_wan([new_address(i, j, v) for i in range(count) for j in (0, 1) for v in (4, 6)])
    lab.listen("wan", list(PORTS))
    lab.load(nftables.render(flows))
    assert loaded_rules_met(lab) <= 16
    feed = tmp_path / "dnsmasq-egress.conf"
    feed.write_text(dnsmasq.render(flows))
    upstream_port, port = 5354, 5353
    common_args = ["--no-resolv", "--no-hosts", "--listen-address=127.0.0.1", "--bind-interfaces",
                   "--keep-in-foreground", "--log-facility=-", "--user=root", "--pid-file="]
    answers = [f"--address=/h{i}{'ab'[j]}.example/{new_address(i, j, v)}"
               for i in range(count) for j in (0, 1) for v in (4, 6)]
    lab.spawn("fw", ["dnsmasq", *common_args, f"--port={upstream_port}", *answers], name="upstream")
    feeder = lab.spawn("fw", ["dnsmasq", *common_args, f"--port={port}", f"--conf-file={feed}",
                              f"--server=127.0.0.1#{upstream_port}"], name="feeder")
    for _ in range(100):
        if "started" in lab.log(feeder):
            break
        time.sleep(0.05)
    allowed, denied = [], []
    for i in range(count):
        service = policy.services[f"svc{i:02d}"]
        granted = {(p.proto, p.first) for p in service.ports}
        for j in (0, 1):
            name = f"h{i}{'ab'[j]}.example"
            assert _query(lab, name, "A", port) == new_address(i, j, 4), lab.log(feeder)
            assert _query(lab, name, "AAAA", port) == new_address(i, j, 6), lab.log(feeder)
            for version, src, other in ((4, LAB, IMAGING), (6, LAB6, IMAGING6)):
                dst = new_address(i, j, version)
                for spec in PORTS:
                    proto, number = spec.split("/")
                    check = (src, dst, proto, int(number))
                    (allowed if (proto, int(number)) in granted else denied).append(check)
                proto, number = next(iter(sorted(granted)))
                (allowed if i % 3 == 0 else denied).append((other, dst, proto, number))
    results = lab.probe("lan", allowed + denied, timeout=0.5)
    wrong = [c for c, ok in zip(allowed + denied, results, strict=True) if ok != (c in allowed)]
    assert not wrong, f"{len(wrong)} of {len(results)} probes wrong: {wrong[:10]}"
    assert len(allowed) > 2 * count


# ------------------------------------------------------------------------- mark

BEFORE = """table inet before {
	chain forward {
		type filter hook forward priority filter - 10; policy accept;
		meta mark set %s
	}
}
table inet after {
	chain forward {
		type filter hook forward priority filter + 10; policy accept;
		meta mark 0x0000abcd counter
		meta mark and 0x0000ffff 0x0000abcd counter
	}
}
"""

PARTNER, PARTNER6, WEB = "203.0.113.20", "2001:db8:16::20", "198.51.100.80"


def mark_policy():
    return make_policy(
        {"lab": ["10.30.0.0/24", "fd00:30::/64"]},
        {"partner": (["address:203.0.113.16/28", "address:2001:db8:16::/48"], ["tcp/443"])},
        [[grant("to-partner", "lab", "partner")]],
    )


def _after_counters(lab) -> list[int]:
    listing = json.loads(lab.nft(["-j", "list", "chain", "inet", "after", "forward"]))
    return [next(e["counter"]["packets"] for e in item["rule"]["expr"] if "counter" in e)
            for item in listing["nftables"] if "rule" in item]


def test_mark_of_an_earlier_table_is_intact_after_egress(lab):
    lab.add_lan(LAB, LAB6)
    lab.add_wan(PARTNER, PARTNER6, WEB)
    lab.listen("wan", [443])
    lab.load(nftables.render(resolve(mark_policy(), "s0", AT)))
    lab.load(BEFORE % "0x0000abcd")
    assert lab.probe("lan", [(LAB, PARTNER, "tcp", 443), (LAB6, PARTNER6, "tcp", 443)]) == [True, True]
    exact, low = _after_counters(lab)
    # every packet of both connections (new and established) reached the later table
    # with the mark the earlier one set
    assert exact > 0 and exact == low


def test_scratch_bits_set_elsewhere_cannot_open_a_flow(lab):
    """A table that runs first sets the scratch bits to the tag of the partner: the
    zone dispatch clears them, so a destination with no tag stays closed."""
    lab.add_lan(LAB)
    lab.add_wan(PARTNER, WEB)
    lab.listen("wan", [443])
    ruleset = nftables.render(resolve(mark_policy(), "s0", AT))
    assert "203.0.113.16/28 : jump tag_1" in ruleset
    lab.load(ruleset)
    lab.load(BEFORE % "0x0001abcd")
    assert lab.probe("lan", [(LAB, PARTNER, "tcp", 443), (LAB, WEB, "tcp", 443)]) == [True, False]


# ------------------------------------------------------------------------ expiry

SOON, SOON6 = "203.0.113.40", "2001:db8:40::40"
KEEP, KEEP6 = "203.0.113.50", "2001:db8:50::50"


def test_a_grant_closes_at_its_instant_without_reload(lab):
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    closes = now + dt.timedelta(seconds=6)
    policy = make_policy(
        {"lab": ["10.30.0.0/24", "fd00:30::/64"]},
        {
            "vendor": ([f"address:{SOON}", f"address:{SOON6}"], ["tcp/443"]),
            "partner": ([f"address:{KEEP}", f"address:{KEEP6}"], ["tcp/443"]),
        },
        [[grant("support", "lab", "vendor", expires=closes), grant("partner", "lab", "partner")]],
    )
    ruleset = nftables.render(resolve(policy, "s0", now))
    instant = int(closes.timestamp())
    assert f"chain until_{instant} {{\n\t\tmeta time < {instant} meta mark set meta mark and 0x0000ffff accept" in ruleset
    lab.add_lan(LAB, LAB6)
    lab.add_wan(SOON, SOON6, KEEP, KEEP6)
    lab.listen("wan", [443])
    lab.load(ruleset)
    checks = [(LAB, SOON, "tcp", 443), (LAB6, SOON6, "tcp", 443), (LAB, KEEP, "tcp", 443), (LAB6, KEEP6, "tcp", 443)]
    before = lab.probe("lan", checks, timeout=0.5)
    assert time.time() < instant - 0.5, "the machine is too slow for this test"
    assert before == [True, True, True, True]
    time.sleep(max(0.0, instant - time.time()) + 1.0)
    assert lab.probe("lan", checks, timeout=0.5) == [False, False, True, True]


# ---------------------------------------------------------------------- counters


def test_per_element_counters_map_back_to_grants(lab):
    policy = make_policy(
        {"lab": ["10.30.0.0/24", "fd00:30::/64"], "proxy": ["10.0.0.3", "fd00::3"]},
        {
            "partner": ([f"address:{PARTNER}", f"address:{PARTNER6}"], ["tcp/443"]),
            "vendor": ([f"address:{SOON}"], ["tcp/443", "tcp/8443"]),
            "unused": ([f"address:{KEEP}"], ["tcp/443"]),
        },
        [[grant("to-partner", "lab", "partner"), grant("to-vendor", "lab", "vendor", ports=["tcp/8443"]),
          grant("never", "lab", "unused")]],
    )
    flows = resolve(policy, "s0", AT)
    lab.add_lan(LAB, LAB6)
    lab.add_wan(PARTNER, PARTNER6, SOON, KEEP)
    lab.listen("wan", [443, 8443])
    lab.load(nftables.render(flows))
    assert lab.probe("lan", [(LAB, PARTNER, "tcp", 443), (LAB6, PARTNER6, "tcp", 443),
                             (LAB, SOON, "tcp", 8443), (LAB, SOON, "tcp", 443)]) == [True, True, True, False]
    counters = nftables.grant_counters(flows, json.loads(lab.nft(["-j", "list", "table", "inet", "egress"])))
    assert counters["to-partner"]["packets"] == 2  # the first packet of each connection
    assert counters["to-vendor"]["packets"] == 1
    assert counters["never"] == {"packets": 0, "bytes": 0}
    assert counters["to-partner"]["bytes"] > 0

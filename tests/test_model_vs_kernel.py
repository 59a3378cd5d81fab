"""The model equals the kernel: `egress query` and the nftables ruleset in a real
kernel give the same decision for direct flows.

Hypothesis draws random flows over every stage of the shipped policy: sources inside
and outside the zones, destinations inside and outside the services (and the proxy's
own addresses, and private or shared space that is not `internet`), granted and other ports, tcp, udp and icmp, IPv4 and IPv6, egress (lan
to wan) and ingress (wan to lan). For each stage, the stage's `egress.nft` is loaded in
the lab's firewall namespace, the flows are sent as one batch of probes from each side,
and every result is compared with `query` (the model). Any difference is reported with
the flow, the model's reasons and the probe's error.

A second test does the same on random small policies (hypothesis): zones that overlap,
destinations that nest (so the ruleset's destination tags are shared and cut), hosts
with lock-file addresses, narrowed ports, ingress from the internet; 4 policies of 40
flows (EGRESS_KERNEL_EXAMPLES raises it).

Names are not in scope (the kernel sees addresses only: names are Squid's business,
tested with Squid itself), nor are the addresses that dnsmasq would add to the dynamic
sets (none are added here: the model judges the lock-file addresses only).

Bounded: three examples of 40 flows per stage (half of them aimed at a grant's
addresses, a quarter at the proxy's own openings), one probe batch per side and example,
no shrinking (a failure lists every mismatch of the example instead): about 25 s.
Needs root, ip and nft: skips without them, fails under EGRESS_SYSTEM_TESTS=1.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from netaddr import IPAddress, IPNetwork, IPSet

from egress.check import validate
from egress.flows import resolve, zone_addresses
from egress.query import query
from egress.targets import nftables

pytestmark = pytest.mark.system("ip", "nft")

SHIPPED = Path(__file__).resolve().parent.parent / "policies" / "chu-rennes-2023" / "policy.yaml"
AT = dt.date(2023, 7, 15)  # every grant of the policy is in force where its stage says
FLOWS_PER_STAGE = 40
PROBE_TIMEOUT = 0.5

# The ports the lab serves on both sides: every port the policy grants (a sample of the
# udp 10000-20000 range) and some it does not.
TCP_PORTS = [22, 25, 53, 80, 104, 110, 443, 465, 587, 993, 995, 2575, 3128, 3478, 8080, 11112]
UDP_PORTS = [53, 123, 161, 3478, 9999, 10000, 15000, 20000, 20001]

# The proxy zone (192.0.2.8/29, 2001:db8:35:8::/64) is split between the sides: the
# clients of the proxy reach its wan-side addresses, and its lan-side addresses reach
# the web.
PROXY_ON_WAN = {4: "192.0.2.9", 6: "2001:db8:35:8::9"}
PROXY_ON_LAN = {4: "192.0.2.10", 6: "2001:db8:35:8::10"}
# Addresses in no zone on the lan side: an unknown host of the hospital.
STRAY = {4: IPNetwork("10.99.0.0/16"), 6: IPNetwork("fd12:3456:789b::/48")}
# Outside addresses drawn at random (documentation ranges only; those in a zone are
# left out).
OUTSIDE = {
    4: [IPNetwork("192.0.2.0/24"), IPNetwork("198.51.100.0/24"), IPNetwork("203.0.113.0/24")],
    6: [IPNetwork("2001:db8::/32"), IPNetwork("2001:db8::/40"), IPNetwork("2001:db8:3000::/36")],
}


# Special space on the wan side (private-use, shared, ULA; not link-local: the lab refuses
# it): not `internet`, so the proxy does not reach it and ingress from internet does not
# admit it (the model and the kernel must agree on that too).
SPECIAL = {
    4: [IPNetwork("192.168.50.0/24"), IPNetwork("100.64.10.0/24"), IPNetwork("172.20.0.0/24")],
    6: [IPNetwork("fd99:1::/64")],
}


def _policy():
    """The shipped policy without its expiries: the ruleset enforces them against the
    kernel's clock (today), the model here judges at AT; expiry in the kernel has tests
    of its own (tests/test_nftables_kernel.py)."""
    import dataclasses

    policy, diagnostics = validate(str(SHIPPED), AT)
    assert policy is not None and not [d for d in diagnostics if d.severity == "error"], diagnostics
    stages = tuple(
        dataclasses.replace(s, grants=tuple(dataclasses.replace(g, expires=None) for g in s.grants))
        for s in policy.stages
    )
    return dataclasses.replace(policy, stages=stages)


POLICY = _policy()
ZONES = zone_addresses(POLICY)


def _pools():
    """Networks to draw addresses from, by role and family."""
    proxy = POLICY.proxy.zone if POLICY.proxy else None
    zone_nets = {4: [], 6: []}
    for name, zone in POLICY.zones.items():
        if name != proxy:
            for net in zone.addresses:
                zone_nets[net.version].append(net)
    service_nets = {4: [], 6: []}
    for service in POLICY.services.values():
        for d in service.of_kind("address"):
            service_nets[d.network.version].append(d.network)
    if POLICY.lock:
        for addresses in POLICY.lock.hosts.values():
            for net in addresses:
                service_nets[net.version].append(IPNetwork(net))
    return zone_nets, service_nets


ZONE_NETS, SERVICE_NETS = _pools()


def address_in(nets):
    """An address of one of `nets`: often an edge, else anywhere inside."""
    def inside(net):
        return st.one_of(st.just(net.first), st.just(net.last), st.integers(net.first, net.last)).map(
            lambda value: str(IPAddress(value, net.version))
        )
    return st.sampled_from(nets).flatmap(inside)


def wan_address(version):
    """A wan-side address: in a service, outside everything, or the proxy's wan side."""
    outside = address_in(OUTSIDE[version]).filter(lambda a: IPAddress(a) not in ZONES)
    return st.one_of(address_in(SERVICE_NETS[version]).filter(lambda a: IPAddress(a) not in ZONES), outside,
                     st.just(PROXY_ON_WAN[version]), address_in(SPECIAL[version]))


def lan_source(version):
    """A lan-side source: in a zone, the proxy's lan side, or in no zone."""
    return st.one_of(address_in(ZONE_NETS[version]), address_in(ZONE_NETS[version]),
                     st.just(PROXY_ON_LAN[version]), address_in([STRAY[version]]))


def port(version):
    icmp = "icmp" if version == 4 else "icmpv6"
    return st.one_of(
        st.sampled_from(TCP_PORTS).map(lambda n: f"tcp/{n}"),
        st.sampled_from(UDP_PORTS).map(lambda n: f"udp/{n}"),
        st.just(icmp),
    )


@st.composite
def flows(draw):
    """(direction, src, dst, port)."""
    version = draw(st.sampled_from([4, 6]))
    direction = draw(st.sampled_from(["egress", "egress", "ingress"]))
    if direction == "egress":
        src, dst = draw(lan_source(version)), draw(wan_address(version))
    else:
        src = draw(wan_address(version).filter(lambda a: a != PROXY_ON_WAN[version]))
        dst = draw(st.one_of(address_in(ZONE_NETS[version]), st.just(PROXY_ON_LAN[version])))
    return direction, src, dst, draw(port(version))


def _every_flow():
    """The direct flows of every grant of the policy, revoked and expired ones included,
    and the proxy's own openings: the draws aim at them (and at their edges)."""
    import dataclasses

    stages = tuple(dataclasses.replace(s, revoke=()) for s in POLICY.stages)
    unrevoked = dataclasses.replace(POLICY, stages=stages)
    return [f for f in resolve(unrevoked, stages[-1].id, AT).flows if f.via == "direct"]


EVERY_FLOW = _every_flow()
SERVED = {"tcp": TCP_PORTS, "udp": UDP_PORTS}


def _ports_of(flow, version):
    """The served ports that a flow grants, as query ports."""
    out = []
    for p in flow.ports:
        if p.proto in SERVED:
            out += [f"{p.proto}/{n}" for n in SERVED[p.proto] if p.first <= n <= p.last]
        elif p.proto == ("icmp" if version == 4 else "icmpv6"):
            out.append(p.proto)
    return out


@st.composite
def aimed_flows(draw):
    """A flow near a grant: its source and destination, its port or another."""
    flow = draw(st.sampled_from(EVERY_FLOW))
    versions = [v for v in (4, 6) if any(c.version == v for c in flow.dst.iter_cidrs())
                and (flow.source == "internet" or any(c.version == v for c in flow.src.iter_cidrs()))]
    if not versions:
        return draw(flows())
    version = draw(st.sampled_from(versions))
    if flow.source == "internet":
        src = draw(address_in(OUTSIDE[version]).filter(lambda a: IPAddress(a) not in ZONES))
    else:
        src = draw(address_in([c for c in flow.src.iter_cidrs() if c.version == version]))
    dst = draw(address_in([c for c in flow.dst.iter_cidrs() if c.version == version]))
    granted = _ports_of(flow, version)
    chosen = draw(st.one_of(st.sampled_from(granted), port(version)) if granted else port(version))
    return flow.direction, src, dst, chosen


@st.composite
def proxy_flows(draw):
    """The proxy's own openings: a zone to the proxy port, the proxy to the web."""
    version = draw(st.sampled_from([4, 6]))
    if draw(st.booleans()):
        src, dst = draw(address_in(ZONE_NETS[version])), PROXY_ON_WAN[version]
        chosen = draw(st.one_of(st.just(f"tcp/{POLICY.proxy.port}"), port(version)))
    else:
        src = PROXY_ON_LAN[version]
        outside = address_in(OUTSIDE[version]).filter(lambda a: IPAddress(a) not in ZONES)
        dst = draw(st.one_of(outside, outside, address_in(SPECIAL[version])))
        chosen = draw(st.one_of(st.sampled_from(["tcp/80", "tcp/443"]), port(version)))
    return "egress", src, dst, chosen


def any_flow():
    return st.one_of(aimed_flows(), aimed_flows(), proxy_flows(), flows())


def probe_check(src, dst, port):
    proto, _, number = port.partition("/")
    return (src, dst, "icmp" if proto.startswith("icmp") else proto, int(number) if number else None)


@pytest.fixture(scope="module")
def served(module_lab):
    """The module lab with servers on every port of both sides."""
    ports = [f"tcp/{n}" for n in TCP_PORTS] + [f"udp/{n}" for n in UDP_PORTS]
    module_lab.listen("wan", ports)
    module_lab.listen("lan", ports)
    return module_lab


EXAMPLES = int(os.environ.get("EGRESS_KERNEL_EXAMPLES", "3"))
"""Examples per stage (the first one hypothesis draws is its simplest: all flows alike).
A longer hunt: EGRESS_KERNEL_EXAMPLES=25 (about 4 minutes)."""


@pytest.mark.parametrize("stage_id", [stage.id for stage in POLICY.stages])
def test_query_and_kernel_agree_on_direct_flows(served, stage_id):
    lab = served
    stage_flows = resolve(POLICY, stage_id, AT)
    seen = {"checked": 0, "egress": 0, "ingress": 0}

    @settings(max_examples=EXAMPLES, deadline=None, phases=[Phase.generate], database=None,
              suppress_health_check=list(HealthCheck))
    @given(drawn=st.lists(any_flow(), min_size=FLOWS_PER_STAGE, max_size=FLOWS_PER_STAGE))
    def agree(drawn):
        lab.load(nftables.render(stage_flows))
        lab.add_lan([src if direction == "egress" else dst for direction, src, dst, _ in drawn])
        lab.add_wan([dst if direction == "egress" else src for direction, src, dst, _ in drawn])
        mismatches = []
        for side, direction in (("lan", "egress"), ("wan", "ingress")):
            batch = [f for f in drawn if f[0] == direction]
            if not batch:
                continue
            checks = [probe_check(src, dst, port) for _, src, dst, port in batch]
            results = lab.probe_detail(side, checks, timeout=PROBE_TIMEOUT)
            for (_, src, dst, port), result in zip(batch, results, strict=True):
                answer = query(stage_flows, src, dst, port)
                seen["checked"] += 1
                seen[direction] += answer.allowed
                if answer.allowed != result["ok"]:
                    mismatches.append(
                        f"{stage_id}: {direction} {src} -> {dst} {port}: model {answer.decision}"
                        f" (grant {answer.grant}; {'; '.join(answer.reasons)}), kernel "
                        f"{'allow' if result['ok'] else 'deny'} ({result['error'] or result['answer']})"
                    )
        assert not mismatches, f"{len(mismatches)} flows differ:\n" + "\n".join(mismatches)

    agree()
    assert seen["checked"] >= FLOWS_PER_STAGE * (EXAMPLES - 1), seen
    print(f"{stage_id}: model and kernel agree on {seen['checked']} flows "
          f"({seen['egress']} egress and {seen['ingress']} ingress allowed)")


KNOWN = [
    # (stage, src, dst, port, allowed): one of each kind, so that a draw that misses a
    # kind cannot hide a disagreement about it
    ("s1-inbound-mail", "198.51.100.7", "192.0.2.25", "tcp/25", True),  # ingress from internet
    ("s1-inbound-mail", "198.51.100.7", "192.0.2.25", "tcp/80", False),
    ("s1-inbound-mail", "10.1.0.53", "198.51.100.53", "udp/53", True),  # udp
    ("s1-inbound-mail", "fd12:3456:789a:1::1", "2001:db8:123::123", "udp/123", True),
    ("s2-secure-messaging", "10.10.0.5", "203.0.113.70", "tcp/25", True),  # lock-file address
    ("s2-secure-messaging", "10.10.0.5", "203.0.113.70", "tcp/995", False),
    ("s2-secure-messaging", "198.51.100.65", "192.0.2.105", "tcp/104", True),  # ingress from a partner
    ("s2-secure-messaging", "198.51.100.1", "192.0.2.105", "tcp/104", False),
    ("s2-secure-messaging", "10.100.0.7", "192.0.2.9", "tcp/3128", True),  # to the proxy
    ("s2-secure-messaging", "10.100.0.7", "198.51.100.250", "tcp/80", False),  # around the proxy
    ("s2-secure-messaging", "192.0.2.10", "198.51.100.250", "tcp/80", True),  # the proxy to the web
    ("s2-secure-messaging", "192.0.2.10", "198.51.100.250", "tcp/22", False),
    ("s3-continuity-sites", "10.40.0.9", "203.0.113.20", "tcp/587", True),
    ("s4-outbound-mail", "10.40.0.9", "203.0.113.20", "tcp/587", False),  # revoked
    ("s5-teleconsultation", "10.60.0.20", "203.0.113.140", "udp/15000", True),
    ("s5-teleconsultation", "10.99.0.1", "203.0.113.140", "udp/15000", False),  # source in no zone
    ("s5-teleconsultation", "10.60.0.20", "203.0.113.140", "icmp", False),
]


def test_known_flows_in_model_and_kernel(served):
    lab = served
    for stage_id in dict.fromkeys(k[0] for k in KNOWN):
        stage_flows = resolve(POLICY, stage_id, AT)
        lab.load(nftables.render(stage_flows))
        for wanted_side in ("lan", "wan"):
            batch = []
            for stage, src, dst, port, expected in KNOWN:
                side = "lan" if IPAddress(src) in ZONES or IPAddress(src) in IPSet(STRAY.values()) else "wan"
                if stage != stage_id or side != wanted_side:
                    continue
                lab.add(side, src)
                lab.add("wan" if side == "lan" else "lan", dst)
                batch.append((src, dst, port, expected))
            if not batch:
                continue
            results = lab.probe(wanted_side, [probe_check(s, d, p) for s, d, p, _ in batch], timeout=PROBE_TIMEOUT)
            for (src, dst, port, expected), ok in zip(batch, results, strict=True):
                answer = query(stage_flows, src, dst, port)
                assert (answer.allowed, ok) == (expected, expected), (stage_id, src, dst, port, answer.reasons)


# ------------------------------------------------- random small policies, with hosts

RANDOM_ZONES = {
    "a": ["10.30.0.0/24", "fd00:30::/64"],
    "b": ["10.40.0.0/24", "fd00:40::/64"],
    "ab": ["10.30.0.128/25"],  # overlaps a: the class a_ab gets the grants of both
    "proxy": ["10.0.0.2/31", "fd00::2/127"],
}
# destinations that nest and overlap, so that tags are shared and cut
RANDOM_NETS = ["203.0.113.0/26", "203.0.113.0/28", "203.0.113.8/29", "203.0.113.17", "203.0.113.64/27",
               "2001:db8:1::/48", "2001:db8:1:1::/64", "2001:db8:2::1"]
RANDOM_LOCKED = {f"h{i}.example": [f"198.51.100.{16 * i + 1}", f"2001:db8:9{i}::1"] for i in range(4)}
RANDOM_PORTS = ["tcp/443", "tcp/25", "tcp/8000-8100", "udp/53", "icmp", "icmpv6"]


@st.composite
def random_policies(draw):
    from tests.test_nftables import grant, make_policy

    services = {}
    for i in range(draw(st.integers(2, 5))):
        destinations = [f"address:{n}" for n in draw(st.lists(st.sampled_from(RANDOM_NETS), max_size=3, unique=True))]
        destinations += [f"host:{h}" for h in draw(st.lists(st.sampled_from(sorted(RANDOM_LOCKED)), max_size=2, unique=True))]
        if not destinations:
            destinations = [f"address:{RANDOM_NETS[i]}"]
        ports = draw(st.lists(st.sampled_from(RANDOM_PORTS), min_size=1, max_size=3, unique=True))
        services[f"s{i}"] = (destinations, ports)
    grants = []
    for i in range(draw(st.integers(1, 6))):
        target = draw(st.sampled_from(sorted(services)))
        ports = services[target][1]
        narrowed = draw(st.one_of(st.none(), st.lists(st.sampled_from(ports), min_size=1, max_size=len(ports), unique=True)))
        sources = draw(st.lists(st.sampled_from(["a", "b", "ab"]), min_size=1, max_size=2, unique=True))
        grants.append(grant(f"g{i}", sources, target, ports=narrowed))
    if draw(st.booleans()):
        grants.append(grant("smtp-in", "internet", "a", ports=["tcp/25"]))
    return make_policy(RANDOM_ZONES, services, [grants], lock=RANDOM_LOCKED)


def _random_addresses(version):
    nets = [IPNetwork(n) for n in RANDOM_NETS + [a for v in RANDOM_LOCKED.values() for a in v]]
    return address_in([n for n in nets if n.version == version] + [IPNetwork(OUTSIDE[version][0])])


@st.composite
def random_flows(draw):
    version = draw(st.sampled_from([4, 6]))
    zones = [IPNetwork(a) for z in ("a", "b", "ab") for a in RANDOM_ZONES[z] if IPNetwork(a).version == version]
    if draw(st.integers(0, 4)) == 0:  # ingress: from outside to a zone
        src = draw(address_in([IPNetwork(OUTSIDE[version][1])]))
        return "ingress", src, draw(address_in(zones)), draw(port(version))
    src = draw(st.one_of(address_in(zones), address_in([STRAY[version]])))
    return "egress", src, draw(_random_addresses(version)), draw(port(version))


def test_query_and_kernel_agree_on_random_policies(served):
    """Random small policies (overlapping zones and destinations, hosts with lock-file
    addresses, narrowed ports, ingress): the kernel decides as `query` on random flows."""
    lab = served
    seen = {"checked": 0, "allowed": 0}

    # derandomize: the same draws on every run, so that a run whose few random flows
    # happen to allow nothing cannot fail CI (seen once in 160 flows)
    @settings(max_examples=max(EXAMPLES, 4), deadline=None, phases=[Phase.generate], database=None,
              suppress_health_check=list(HealthCheck), derandomize=True)
    @given(policy=random_policies(), drawn=st.lists(random_flows(), min_size=FLOWS_PER_STAGE, max_size=FLOWS_PER_STAGE))
    def agree(policy, drawn):
        stage_flows = resolve(policy, "s0", AT)
        lab.load(nftables.render(stage_flows))
        lab.add_lan([src if d == "egress" else dst for d, src, dst, _ in drawn])
        lab.add_wan([dst if d == "egress" else src for d, src, dst, _ in drawn])
        mismatches = []
        for side, direction in (("lan", "egress"), ("wan", "ingress")):
            batch = [f for f in drawn if f[0] == direction]
            if not batch:
                continue
            results = lab.probe_detail(side, [probe_check(s, d, p) for _, s, d, p in batch], timeout=PROBE_TIMEOUT)
            for (_, src, dst, p), result in zip(batch, results, strict=True):
                answer = query(stage_flows, src, dst, p)
                seen["checked"] += 1
                seen["allowed"] += answer.allowed
                if answer.allowed != result["ok"]:
                    mismatches.append(f"{direction} {src} -> {dst} {p}: model {answer.decision} ({'; '.join(answer.reasons)}),"
                                      f" kernel {'allow' if result['ok'] else 'deny'} ({result['error'] or result['answer']})")
        assert not mismatches, f"{len(mismatches)} flows differ in {policy.services}:\n" + "\n".join(mismatches)

    agree()
    assert seen["checked"] >= FLOWS_PER_STAGE * 3 and seen["allowed"] > 0, seen

"""Generate a large, valid egress policy (and its lock file) for the benchmarks.

    python bench/gen_policy.py --out /tmp/egress-bench/bench.yaml           # default preset
    python bench/gen_policy.py --zones 10 --services 50 --destinations 10 \\
        --stages 4 --grants 100 --out /tmp/small.yaml

The default preset is the size the goals of bench/README.md are stated for: 2,000
services x 50 destinations = 100,000 destinations, 5,000 grants over 10 stages, 50 zones.

What the output holds (all of it passes `egress validate` with no error and, by
construction, no warning):
- zones: disjoint private networks (one /20 of 10.0.0.0/8 and one /48 of fd00::/8 each);
  one of them is the proxy's zone;
- services: either *direct* (mostly `address` destinations, some `host`s whose addresses
  go to the lock file) or *proxied* (`host` and `domain` destinations, tcp ports only);
  every service is the target of at least one grant;
- destinations: unique networks drawn at random (so that they do not collapse into a few
  large CIDRs) from 11.0.0.0/8 and 2001:db8::/32 (documentation): the address space of
  the internet (validation flags destinations and lock entries in special-purpose
  space, W109/E146/E145), never contacted since compile never uses the network; names
  under the reserved `.example` top-level domain, none nested in another;
- grants: egress grants from one zone (sometimes two) to one service (sometimes
  several of the same kind), direct to direct services and via the proxy to proxied
  ones; each (zone, service, via) pair is granted once, so no grant is redundant; a few
  grants narrow the ports, a few expire (far in the future), a few are revoked by a
  later stage, and a few are ingress from `internet` to a zone;
- stage 0 is isolation (no grants), the grants are spread over the other stages.

The generator is deterministic for a given set of parameters and `--seed`.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

# -- parameters -------------------------------------------------------------------------


@dataclass
class Params:
    zones: int = 50
    services: int = 2000
    destinations: int = 50  # per service
    stages: int = 10
    grants: int = 5000  # total
    proxied_fraction: float = 0.2  # of services (and so, about, of grants)
    host_fraction: float = 0.05  # of the destinations of direct services
    domain_fraction: float = 0.5  # of the destinations of proxied services (the rest: hosts)
    v6_fraction: float = 0.1  # of address destinations
    network_fraction: float = 0.1  # of v4 address destinations that are CIDRs, not /32s
    multi_target_fraction: float = 0.1  # of grants naming 2-3 services
    multi_source_fraction: float = 0.05  # of grants naming 2 zones
    narrow_fraction: float = 0.15  # of grants narrowing the service's ports
    expires_fraction: float = 0.05
    revoke_fraction: float = 0.02
    ingress: int = 5  # grants from internet to a zone
    icmp: bool = True  # whether services may offer icmp/icmpv6
    seed: int = 1


DEFAULTS = Params()

PRESETS = {
    "10k": Params(zones=20, services=200, grants=500),
    "100k": DEFAULTS,
}
"""The sizes the benches report (`--preset`): 200 services x 50 destinations, 500
grants, 20 zones; and the default preset."""

VERSION = 3
"""Bumped whenever the same parameters would give another policy (cached files are
regenerated when it changes)."""


def lock_path(policy_path: str) -> str:
    """The lock file beside a policy, as `egress.load.lock_path` names it."""
    path = Path(policy_path)
    return str(path.with_name(path.name.split(".")[0] + ".lock.yaml"))


# -- address pools ----------------------------------------------------------------------


class Pool:
    """Unique random networks of one prefix length drawn from a list of ranges.

    Each range is cut into slots of the pool's size; slots are drawn without
    replacement, so two networks of one pool never overlap. Pools of different sizes are
    given disjoint ranges by the caller.
    """

    def __init__(self, rng: random.Random, ranges: list[str], prefix: int):
        self.rng = rng
        self.prefix = prefix
        self.blocks = []  # (first address as int, number of slots, version)
        for text in ranges:
            net = ipaddress.ip_network(text)
            bits = net.max_prefixlen
            self.blocks.append((int(net.network_address), 1 << (prefix - net.prefixlen), net.version, bits))
        self.capacity = sum(b[1] for b in self.blocks)
        self.used: set[tuple[int, int]] = set()

    def take(self) -> str:
        if len(self.used) >= self.capacity * 0.7:
            raise SystemExit(f"gen_policy: address pool /{self.prefix} exhausted; lower --services/--destinations")
        while True:
            block = self.rng.randrange(len(self.blocks))
            first, slots, version, bits = self.blocks[block]
            slot = self.rng.randrange(slots)
            if (block, slot) in self.used:
                continue
            self.used.add((block, slot))
            start = first + (slot << (bits - self.prefix))
            address = ipaddress.ip_address(start) if version == 4 else ipaddress.IPv6Address(start)
            return str(address) if self.prefix == bits else f"{address}/{self.prefix}"


class Addresses:
    """Every pool the generator draws from, on disjoint ranges."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        # v4 hosts: 11.0.0.0-11.31.255.255 (space of the internet, not special-purpose)
        self.v4_host = Pool(rng, ["11.0.0.0/11"], 32)
        # v4 networks: /24 slots of 11.32.0.0/12 for /24s and /25s, /26 slots of
        # 11.48.0.0/12 for /26../29s; each slot holds one network
        self.v4_net = Pool(rng, ["11.32.0.0/12"], 24)
        self.v4_small_net = Pool(rng, ["11.48.0.0/12"], 26)
        self.v6_host = Pool(rng, ["2001:db8:1000::/36"], 128)
        self.v6_net = Pool(rng, ["2001:db8:8000::/33"], 48)
        # lock-file addresses of hosts: public unicast, apart from the destinations
        self.lock_v4 = Pool(rng, ["11.64.0.0/15"], 32)
        self.lock_v6 = Pool(rng, ["2001:db8:2000::/36"], 128)

    def destination(self, params: Params) -> str:
        if self.rng.random() < params.v6_fraction:
            if self.rng.random() < params.network_fraction:
                slot = ipaddress.ip_network(self.v6_net.take())
                prefix = self.rng.choice((48, 56, 64))
                return str(ipaddress.ip_network(f"{slot.network_address}/{prefix}"))
            return self.v6_host.take()
        if self.rng.random() < params.network_fraction:
            prefix = self.rng.choice((24, 25, 26, 27, 28, 28, 29, 29, 29, 29))
            slot = ipaddress.ip_network((self.v4_net if prefix < 26 else self.v4_small_net).take())
            return str(ipaddress.ip_network(f"{slot.network_address}/{prefix}"))
        return self.v4_host.take()

    def lock(self) -> list[str]:
        out = [self.lock_v4.take()]
        if self.rng.random() < 0.3:
            out.append(self.lock_v4.take())
        if self.rng.random() < 0.5:
            out.append(self.lock_v6.take())
        return out


# -- the policy as data ----------------------------------------------------------------

DIRECT_PORTS = [
    ["tcp/443"],
    ["tcp/443"],
    ["tcp/80", "tcp/443"],
    ["tcp/443", "tcp/8443"],
    ["tcp/25", "tcp/465", "tcp/587"],
    ["tcp/22"],
    ["udp/123"],
    ["udp/53", "tcp/53"],
    ["tcp/8000-8100"],
    ["tcp/1194", "udp/1194"],
    ["tcp/443", "icmp", "icmpv6"],
    ["tcp/104", "tcp/11112"],
]
PROXIED_PORTS = [["tcp/443"], ["tcp/443"], ["tcp/80", "tcp/443"], ["tcp/443", "tcp/8443"]]
INGRESS_PORTS = [["tcp/25"], ["tcp/443"], ["tcp/80", "tcp/443"], ["udp/1194"]]
TEAMS = ["crisis-cell", "ciso", "network-team", "medical-board"]


@dataclass
class Service:
    name: str
    proxied: bool
    ports: list[str]
    destinations: list[tuple[str, str]] = field(default_factory=list)  # (kind, value)


@dataclass
class Grant:
    id: str
    sources: list[str]
    targets: list[str]
    via: str
    ports: list[str] | None = None
    expires: str | None = None


@dataclass
class Generated:
    name: str
    zones: dict[str, tuple[str, str]]
    proxy_zone: str
    services: list[Service]
    stages: list[list[Grant]]  # grants of each stage
    revokes: list[list[str]]  # ids revoked at each stage
    lock: dict[str, list[str]]


def generate(params: Params) -> Generated:  # noqa: C901 - one section per part of the policy, in file order
    rng = random.Random(params.seed)
    pools = Addresses(rng)
    if params.zones < 2:
        raise SystemExit("gen_policy: --zones must be at least 2 (one of them is the proxy's)")
    if params.zones > 4096:
        raise SystemExit("gen_policy: at most 4096 zones (one /20 of 10.0.0.0/8 each)")

    zones = {}
    for i in range(params.zones):
        name = "proxy" if i == 0 else f"zone-{i:04d}"
        v4 = f"10.{i >> 4}.{(i & 15) << 4}.0/20"
        v6 = str(ipaddress.ip_network(f"fd00:0:{i:x}::/48"))
        zones[name] = (v4, v6)
    source_zones = [z for z in zones if z != "proxy"]

    # services and their destinations
    direct_ports = DIRECT_PORTS if params.icmp else [p for p in DIRECT_PORTS if not any(x.startswith("icmp") for x in p)]
    services: list[Service] = []
    proxied_count = round(params.services * params.proxied_fraction)
    proxied_ids = set(rng.sample(range(params.services), proxied_count))
    lock: dict[str, list[str]] = {}
    for i in range(params.services):
        proxied = i in proxied_ids
        service = Service(
            name=f"svc-{i:05d}",
            proxied=proxied,
            ports=list(rng.choice(PROXIED_PORTS if proxied else direct_ports)),
        )
        for j in range(params.destinations):
            if proxied:
                if rng.random() < params.domain_fraction:
                    service.destinations.append(("domain", f"svc{i}-d{j}.example"))
                else:
                    service.destinations.append(("host", f"www{j}.svc{i}-web.example"))
            elif rng.random() < params.host_fraction:
                host = f"h{j}.svc{i}.example"
                service.destinations.append(("host", host))
                lock[host] = pools.lock()
            else:
                service.destinations.append(("address", pools.destination(params)))
        services.append(service)
    by_name = {s.name: s for s in services}
    direct_names = [s.name for s in services if not s.proxied]
    proxied_names = [s.name for s in services if s.proxied]

    # egress grants: every service at least once, each (zone, service, via) pair once
    if params.grants < params.services:
        raise SystemExit("gen_policy: --grants must be at least --services (every service is granted)")
    if params.grants > len(source_zones) * params.services:
        raise SystemExit("gen_policy: more grants than (zone, service) pairs; add zones or services")
    order = [s.name for s in services]
    rng.shuffle(order)
    taken: set[tuple[str, str]] = set()
    reached = dict.fromkeys(order, 0)  # zones that reach each service so far
    egress_grants: list[Grant] = []
    ingress = max(0, min(params.ingress, len(source_zones), params.grants - params.services))
    count = params.grants - ingress
    pending = list(order)  # services not yet granted
    open_services = list(order)  # services that some zone does not reach yet

    def pick_open() -> str:
        while True:
            if not open_services:
                raise SystemExit("gen_policy: every zone reaches every service; add zones or services")
            index = rng.randrange(len(open_services))
            name = open_services[index]
            if reached[name] < len(source_zones):
                return name
            open_services[index] = open_services[-1]
            open_services.pop()

    for n in range(count):
        first = pending.pop() if pending else pick_open()
        kind_names = proxied_names if by_name[first].proxied else direct_names
        targets = [first]
        if rng.random() < params.multi_target_fraction and len(kind_names) > 3:
            extra = rng.randint(1, 2)
            for _ in range(10):
                if len(targets) == 1 + extra:
                    break
                if pending and by_name[pending[-1]].proxied == by_name[first].proxied:
                    name = pending.pop()
                else:
                    name = rng.choice(kind_names)
                    if name in pending:
                        continue
                if name not in targets:
                    targets.append(name)
        sources = []
        wanted = 2 if rng.random() < params.multi_source_fraction else 1
        for _ in range(200):
            zone = rng.choice(source_zones)
            if zone not in sources and all((zone, t) not in taken for t in targets):
                sources.append(zone)
                if len(sources) == wanted:
                    break
        if not sources:  # every zone already reaches one of these targets: grant the first alone
            pending += [t for t in targets[1:] if reached[t] == 0]  # and the others later
            targets = [first]
            sources = [rng.choice([z for z in source_zones if (z, first) not in taken])]
        for zone in sources:
            for target in targets:
                taken.add((zone, target))
                reached[target] += 1
        grant = Grant(
            id=f"g-{n:06d}",
            sources=sources,
            targets=targets,
            via="proxy" if by_name[first].proxied else "direct",
        )
        ports = by_name[first].ports
        if len(targets) == 1 and len(ports) > 1 and rng.random() < params.narrow_fraction:
            grant.ports = sorted(rng.sample(ports, rng.randint(1, len(ports) - 1)))
        if rng.random() < params.expires_fraction:
            grant.expires = f"{2030 + rng.randrange(5)}-{1 + rng.randrange(12):02d}-28"
        egress_grants.append(grant)

    ingress_grants = [
        Grant(
            id=f"in-{k:04d}",
            sources=["internet"],
            targets=[zone],
            via="direct",
            ports=list(rng.choice(INGRESS_PORTS)),
        )
        for k, zone in enumerate(rng.sample(source_zones, ingress))
    ]

    # stages: 0 is isolation, the grants are spread over the others
    grants = egress_grants + ingress_grants
    rng.shuffle(grants)
    if params.stages < 1:
        raise SystemExit("gen_policy: --stages must be at least 1")
    stages: list[list[Grant]] = [[] for _ in range(params.stages)]
    open_stages = list(range(1, params.stages)) or [0]
    for k, grant in enumerate(grants):
        stages[open_stages[k * len(open_stages) // len(grants)]].append(grant)

    # revokes: at stage k, some grants of earlier stages
    revokes: list[list[str]] = [[] for _ in range(params.stages)]
    earlier: list[str] = []
    for index in range(params.stages):
        if earlier and index >= 2:
            wanted = min(len(earlier), round(params.revoke_fraction * params.grants / max(1, params.stages - 2)))
            chosen = rng.sample(earlier, wanted)
            revokes[index] = sorted(chosen)
            earlier = [g for g in earlier if g not in set(chosen)]
        earlier += [g.id for g in stages[index]]

    return Generated(
        name=f"bench-{params.services}x{params.destinations}-{params.grants}",
        zones=zones,
        proxy_zone="proxy",
        services=services,
        stages=stages,
        revokes=revokes,
        lock=lock,
    )


# -- writing -----------------------------------------------------------------------------


def _flow(items: list[str]) -> str:
    return "[" + ", ".join(f'"{i}"' if ":" in i else i for i in items) + "]"


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else "[" + ", ".join(names) + "]"


def render_policy(gen: Generated, params: Params) -> str:
    out = [
        f"# Generated by bench/gen_policy.py: {params.zones} zones, {params.services} services x "
        f"{params.destinations} destinations, {params.grants} grants, {params.stages} stages, seed {params.seed}",
        "egress: 1",
        f"policy: {gen.name}",
        "description: Benchmark policy, generated",
        "",
        "zones:",
    ]
    for name, (v4, v6) in gen.zones.items():
        out.append(f"  {name}:")
        out.append(f"    addresses: [{v4}, \"{v6}\"]")
    out += ["", "proxy:", f"  zone: {gen.proxy_zone}", "  port: 3128", "  tls: none", "", "firewall:", "  hook: forward", "", "services:"]
    for service in gen.services:
        out.append(f"  {service.name}:")
        out.append(f"    description: Benchmark service {service.name} ({'proxied' if service.proxied else 'direct'})")
        out.append(f"    owner: team-{int(service.name[4:]) % 37}")
        out.append(f"    ports: {_flow(service.ports)}")
        out.append("    destinations:")
        for kind, value in service.destinations:
            shown = f'"{value}"' if ":" in value else value
            out.append(f"      - {kind}: {shown}")
    out += ["", "stages:"]
    for index, grants in enumerate(gen.stages):
        out.append(f"  - id: s{index}-{'isolation' if index == 0 else 'stage'}")
        out.append(f"    title: {'Internet cut' if index == 0 else f'Benchmark stage {index}'}")
        out.append(f"    date: 2026-01-{1 + index % 28:02d}" if index < 28 else f"    date: 2026-{1 + index // 28 % 12:02d}-{1 + index % 28:02d}")
        if gen.revokes[index]:
            out.append(f"    revoke: [{', '.join(gen.revokes[index])}]")
        if not grants:
            out.append("    grants: []")
            continue
        out.append("    grants:")
        for grant in grants:
            out.append(f"      - id: {grant.id}")
            out.append(f"        from: {_names(grant.sources)}")
            out.append(f"        to: {_names(grant.targets)}")
            if grant.via != "direct":
                out.append(f"        via: {grant.via}")
            if grant.ports:
                out.append(f"        ports: {_flow(grant.ports)}")
            out.append(f"        reason: Benchmark flow {grant.id} needed for care continuity")
            out.append(f"        approved_by: {TEAMS[int(grant.id.split('-')[1]) % len(TEAMS)]}")
            out.append(f"        ticket: BENCH-{grant.id.split('-')[1]}")
            if grant.expires:
                out.append(f"        expires: {grant.expires}")
    return "\n".join(out) + "\n"


def render_lock(gen: Generated) -> str:
    out = [
        "# egress lock file, generated by bench/gen_policy.py",
        "egress-lock: 1",
        f"policy: {gen.name}",
        'resolved: "2026-01-01T00:00:00Z"',
        "resolver: bench",
    ]
    if not gen.lock:
        out.append("hosts: {}")
    else:
        out.append("hosts:")
        for host in sorted(gen.lock):
            out.append(f"  {host}: {_flow(gen.lock[host])}")
    return "\n".join(out) + "\n"


def write(params: Params, out: str) -> tuple[str, str, Generated]:
    """Generate and write the policy and its lock file; returns their paths and the data."""
    gen = generate(params)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    lock = lock_path(out)
    for path, text in ((out, render_policy(gen, params)), (lock, render_lock(gen))):
        tmp = f"{path}.tmp-{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    return out, lock, gen


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = DEFAULTS
    parser.add_argument("--preset", choices=sorted(PRESETS),
                        help="one of the sizes the benches report (10k: 200 services x 50 destinations, 500 grants, "
                             "20 zones; 100k: the defaults); the options below are then ignored")
    parser.add_argument("--zones", type=int, default=d.zones, help=f"zones, one of them the proxy's (default {d.zones})")
    parser.add_argument("--services", type=int, default=d.services, help=f"services (default {d.services})")
    parser.add_argument("--destinations", type=int, default=d.destinations, help=f"destinations per service (default {d.destinations})")
    parser.add_argument("--stages", type=int, default=d.stages, help=f"stages, the first one empty (default {d.stages})")
    parser.add_argument("--grants", type=int, default=d.grants, help=f"grants in total (default {d.grants})")
    parser.add_argument("--proxied-fraction", type=float, default=d.proxied_fraction,
                        help=f"fraction of services reached via the proxy (default {d.proxied_fraction})")
    parser.add_argument("--seed", type=int, default=d.seed, help=f"random seed (default {d.seed})")


def params_from(args: argparse.Namespace) -> Params:
    if getattr(args, "preset", None):
        return PRESETS[args.preset]
    return Params(
        zones=args.zones,
        services=args.services,
        destinations=args.destinations,
        stages=args.stages,
        grants=args.grants,
        proxied_fraction=args.proxied_fraction,
        seed=args.seed,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--out", required=True, help="the policy file to write; the lock file goes beside it (<stem>.lock.yaml)")
    args = parser.parse_args(argv)
    params = params_from(args)
    policy, lock, gen = write(params, args.out)
    destinations = sum(len(s.destinations) for s in gen.services)
    grants = sum(len(g) for g in gen.stages)
    print(
        f"wrote {policy} ({os.path.getsize(policy):,} bytes): {len(gen.zones)} zones, {len(gen.services)} services, "
        f"{destinations:,} destinations, {grants:,} grants over {len(gen.stages)} stages; "
        f"{lock} ({len(gen.lock):,} hosts)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

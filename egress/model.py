"""The policy language as frozen dataclasses.

A `Policy` is what `egress.load` builds once the YAML has passed the schema: every
value is already parsed (addresses into `egress.addresses.Network`, ports into `PortRange`,
stage dates into `datetime.date`, expiries into aware `datetime.datetime` instants
(`egress.instants`)), and every object keeps the `Pos` of its YAML node so that
a semantic check can point at it. Nothing here knows YAML, files or targets.

The language these classes hold is described key by key in docs/policy-language.md; the
path from here to the kernel, in docs/architecture.md.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, NamedTuple

from egress.addresses import Network

if TYPE_CHECKING:  # flows imports the model: the index is built lazily, see Policy.index
    from netaddr import IPNetwork

    from egress.flows import PolicyIndex

INTERNET = "internet"
"""Reserved source name: any address outside the zones of the policy."""

STAGE_ALIASES = ("first", "last")
"""Names every command takes for the first and last stages of a policy, so that a script
or a CI job keeps meaning "the latest stage" when one is added."""

PROTOCOLS_WITH_PORTS = ("tcp", "udp")
PROTOCOLS_WITHOUT_PORTS = ("icmp", "icmpv6")


class Pos(NamedTuple):
    """Where a value stands in the policy sources: 1-based line and column.

    A named tuple rather than a frozen dataclass, like `Destination`: a policy holds
    one per destination, 10^5 of them, and a tuple is made three times faster (the
    loader makes them straight from `egress.yamlpos`'s `(path, line, column)` tuples);
    it compares, orders and hashes as (path, line, col), as the dataclass did."""

    path: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


@dataclass(frozen=True, order=True)
class PortRange:
    """`tcp/443`, `udp/123`, `tcp/8000-8100`, `icmp` or `icmpv6`.

    For `icmp`/`icmpv6` the range is 0-0 and means "every type".
    """

    proto: str
    first: int = 0
    last: int = 0

    @property
    def has_ports(self) -> bool:
        return self.proto in PROTOCOLS_WITH_PORTS

    def covers(self, other: PortRange) -> bool:
        return self.proto == other.proto and self.first <= other.first and other.last <= self.last

    def __str__(self) -> str:
        if not self.has_ports:
            return self.proto
        if self.first == self.last:
            return f"{self.proto}/{self.first}"
        return f"{self.proto}/{self.first}-{self.last}"


@dataclass(frozen=True)
class Zone:
    name: str
    addresses: tuple[Network, ...]
    description: str | None
    pos: Pos


class Destination(NamedTuple):
    """One destination of a service: `kind` is `domain`, `host` or `address`.

    For an address, `value` is the canonical CIDR text and `address` the parsed network.
    A named tuple, for speed (see `Pos`): immutable and compared by value all the same.
    """

    kind: str
    value: str
    pos: Pos
    address: Network | None = None

    @property
    def network(self) -> IPNetwork:
        """The netaddr network of an `address` destination (only valid for that kind)."""
        assert self.address is not None, f"{self.kind} destination {self.value} has no address"
        return self.address.to_netaddr()


@dataclass(frozen=True)
class Service:
    name: str
    destinations: tuple[Destination, ...]
    ports: tuple[PortRange, ...]
    description: str | None
    owner: str | None
    pos: Pos

    def of_kind(self, kind: str) -> tuple[Destination, ...]:
        return tuple(d for d in self.destinations if d.kind == kind)

    @property
    def addresses(self) -> tuple[Network, ...]:
        """The parsed networks of the `address` destinations, in order."""
        return tuple(d.address for d in self.destinations if d.address is not None)


@dataclass(frozen=True)
class Proxy:
    zone: str
    port: int
    tls: str  # "none" | "peek"
    pos: Pos


@dataclass(frozen=True)
class Firewall:
    hook: str = "forward"  # "forward" | "output"
    log_group: int | None = None
    mark_mask: int = 0xFFFF0000  # the packet-mark bits the ruleset uses as scratch
    mark_mask_pos: Pos | None = None  # where `mark_mask:` is written, for its diagnostic


@dataclass(frozen=True)
class Grant:
    """One opening decided by the crisis cell.

    `sources` and `targets` hold names as written (zones, services or `internet`);
    `ports` is None when the grant takes the ports of its services.
    """

    id: str
    stage: str
    stage_index: int
    sources: tuple[str, ...]
    targets: tuple[str, ...]
    ports: tuple[PortRange, ...] | None
    via: str  # "direct" | "proxy"
    reason: str | None
    approved_by: str | None
    requested_by: str | None
    ticket: str | None
    expires: dt.datetime | None  # the instant it closes (aware, in the policy's timezone)
    pos: Pos
    name_pos: tuple[tuple[str, str, Pos], ...] = field(default=(), compare=False)
    """(`from` or `to`, name, where the name is written): to point at a wrong name."""

    def where(self, side: str, name: str) -> Pos:
        """Where `name` is written on `side` (`from`/`to`), else the grant's own place."""
        return next((pos for s, n, pos in self.name_pos if s == side and n == name), self.pos)


@dataclass(frozen=True)
class Stage:
    id: str
    index: int
    title: str | None
    date: dt.date | None
    grants: tuple[Grant, ...]
    revoke: tuple[str, ...]
    pos: Pos
    revoke_pos: tuple[Pos, ...] = ()


@dataclass(frozen=True)
class Lock:
    """The lock file beside a policy: pinned addresses of hosts."""

    path: str
    hosts: dict[str, tuple[IPNetwork, ...]] = field(default_factory=dict)
    resolved: str | None = None
    resolver: str | None = None
    where: dict[str, tuple[Pos, ...]] = field(default_factory=dict)  # host -> where each address stands


@dataclass(frozen=True)
class Policy:
    path: str
    version: int
    name: str
    description: str | None
    zones: dict[str, Zone]
    services: dict[str, Service]
    stages: tuple[Stage, ...]
    proxy: Proxy | None
    firewall: Firewall
    lock: Lock | None
    pos: Pos
    timezone: str = "UTC"  # IANA name: the zone of plain dates (`expires`, `--at`)
    sources: tuple[str, ...] = ()
    """The files the policy was read from: the policy, its includes in order, its lock
    file if it has one (what a bundle's revision digests)."""

    def stage(self, stage_id: str) -> Stage:
        """The stage of that id; `first` and `last` name the first and last stages
        (unless a stage has that id). KeyError if there is none."""
        for stage in self.stages:
            if stage.id == stage_id:
                return stage
        if stage_id in STAGE_ALIASES and self.stages:
            return self.stages[0 if stage_id == "first" else -1]
        raise KeyError(stage_id)

    @property
    def grants(self) -> dict[str, Grant]:
        """Every grant of every stage, by id."""
        return {g.id: g for s in self.stages for g in s.grants}

    def direction(self, grant: Grant) -> str | None:
        """`egress` (zones -> services), `ingress` (`internet` or services -> zones), or
        None when the grant mixes kinds or names unknown ones (E134, E130, E131). Decided
        here once: the flows build a grant's flows by it, the checks judge by it."""
        sources, targets = grant.sources, grant.targets
        if not sources or not targets:
            return None
        if all(s in self.zones for s in sources) and all(t in self.services for t in targets):
            return "egress"
        if all(s == INTERNET or s in self.services for s in sources) and all(t in self.zones for t in targets):
            return "ingress"
        return None

    @cached_property
    def index(self) -> PolicyIndex:
        """The address sets and flows of this policy (`egress.flows.PolicyIndex`), built
        on first use and shared by every stage; a policy changed with
        `dataclasses.replace` (a lock file added) is a new object with its own."""
        from egress.flows import PolicyIndex

        return PolicyIndex(self)

"""Stages -> the flows in force: the intermediate form of the compiler.

Every target, the diff and the query read `StageFlows`; nothing downstream reads YAML
or walks stages itself. A `Flow` is one (source, target) pair of one grant, with its
addresses already normalised into netaddr `IPSet`s (collapsed, v4 and v6 together;
`v4()`/`v6()` split them for targets that need the families apart).

Stage resolution follows DESIGN.md section 2: the grants in force at stage N are those
of stages 0..N minus those revoked at or before N, minus those whose `expires` date is
before `at`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from netaddr import IPSet

from egress.model import INTERNET, Grant, Policy, PortRange, Stage

EVERYWHERE = ("0.0.0.0/0", "::/0")


@dataclass(frozen=True, eq=False)
class Flow:
    """What one grant lets through from one source to one target.

    `direction` is `egress` (zone -> service) or `ingress` (internet or a partner
    service -> zone). `dst` holds the destination addresses the firewall can match:
    address destinations plus the lock-file addresses of hosts (direct grants only).
    `hosts` and `domains` are the names: for a direct grant the hosts are also fed to
    the resolver (dnsmasq nftset); for a proxied grant the names are what Squid checks.
    """

    grant: Grant
    direction: str
    via: str
    source: str
    target: str
    src: IPSet
    dst: IPSet
    hosts: tuple[str, ...]
    domains: tuple[str, ...]
    ports: tuple[PortRange, ...]


@dataclass(frozen=True, eq=False)
class StageFlows:
    """The flows in force at one stage, and why the other grants are not."""

    policy: Policy
    stage: Stage
    at: dt.date
    flows: tuple[Flow, ...]
    grants: tuple[Grant, ...]
    revoked: dict[str, str]  # grant id -> id of the stage that revoked it
    expired: dict[str, dt.date]  # grant id -> its expiry date, for grants left out


def v4(addresses: IPSet) -> list:
    """The IPv4 CIDRs of a set, collapsed and sorted."""
    return [c for c in addresses.iter_cidrs() if c.version == 4]


def v6(addresses: IPSet) -> list:
    """The IPv6 CIDRs of a set, collapsed and sorted."""
    return [c for c in addresses.iter_cidrs() if c.version == 6]


def zone_addresses(policy: Policy) -> IPSet:
    """Every address of every zone: what `internet` is not."""
    return IPSet(a for zone in policy.zones.values() for a in zone.addresses)


def grants_in_force(policy: Policy, stage_id: str, at: dt.date):
    """(grants in force, revoked id -> stage, expired id -> date) at a stage."""
    index = policy.stage(stage_id).index
    revoked: dict[str, str] = {}
    for stage in policy.stages[: index + 1]:
        for grant_id in stage.revoke:
            revoked.setdefault(grant_id, stage.id)
    expired: dict[str, dt.date] = {}
    grants: list[Grant] = []
    for stage in policy.stages[: index + 1]:
        for grant in stage.grants:
            if grant.id in revoked:
                continue
            if grant.expires is not None and grant.expires < at:
                expired[grant.id] = grant.expires
                continue
            grants.append(grant)
    return grants, revoked, expired


def resolve(policy: Policy, stage_id: str, at: dt.date) -> StageFlows:
    """The flows in force at `stage_id` on date `at`."""
    grants, revoked, expired = grants_in_force(policy, stage_id, at)
    internet = IPSet(EVERYWHERE) - zone_addresses(policy)
    flows = [flow for grant in grants for flow in _grant_flows(policy, grant, internet)]
    return StageFlows(
        policy=policy,
        stage=policy.stage(stage_id),
        at=at,
        flows=tuple(flows),
        grants=tuple(grants),
        revoked=revoked,
        expired=expired,
    )


def _grant_flows(policy: Policy, grant: Grant, internet: IPSet):
    if all(t in policy.zones for t in grant.targets):
        yield from _ingress_flows(policy, grant, internet)
    else:
        yield from _egress_flows(policy, grant)


def _egress_flows(policy: Policy, grant: Grant):
    locked = policy.lock.hosts if policy.lock else {}
    for zone_name in grant.sources:
        src = IPSet(policy.zones[zone_name].addresses)
        for service_name in grant.targets:
            service = policy.services[service_name]
            hosts = tuple(sorted({d.value for d in service.of_kind("host")}))
            dst = IPSet(d.network for d in service.of_kind("address"))
            if grant.via == "direct":
                dst |= IPSet(a for host in hosts for a in locked.get(host, ()))
            yield Flow(
                grant=grant,
                direction="egress",
                via=grant.via,
                source=zone_name,
                target=service_name,
                src=src,
                dst=dst,
                hosts=hosts,
                domains=tuple(sorted({d.value for d in service.of_kind("domain")})),
                ports=grant.ports or service.ports,
            )


def _ingress_flows(policy: Policy, grant: Grant, internet: IPSet):
    locked = policy.lock.hosts if policy.lock else {}
    for source_name in grant.sources:
        if source_name == INTERNET:
            src, ports = internet, grant.ports
        else:
            service = policy.services[source_name]
            src = IPSet(d.network for d in service.of_kind("address"))
            src |= IPSet(
                a for d in service.of_kind("host") for a in locked.get(d.value, ())
            )
            ports = grant.ports or service.ports
        for zone_name in grant.targets:
            yield Flow(
                grant=grant,
                direction="ingress",
                via="direct",
                source=source_name,
                target=zone_name,
                src=src,
                dst=IPSet(policy.zones[zone_name].addresses),
                hosts=(),
                domains=(),
                ports=tuple(ports or ()),
            )

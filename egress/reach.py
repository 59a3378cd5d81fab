"""`egress reach`: everything a zone can reach at a stage, or everything that can reach a
destination, read from the stage's flows.

`reach_from(flows, NAME)`: the flows that start at NAME, a zone (its egress flows, and
for the proxy zone what it opens to the web), `internet` or a partner service (their
ingress flows). `reach_to(flows, DEST)`: the flows that end at DEST: an address (every
flow whose destination addresses hold it, the proxy's openings included), a host name
(the direct flows that list it, the proxied flows that name it or a domain above it), a
zone or a service (the flows whose target it is).

Both read `StageFlows.flows` and `StageFlows.proxy_flows` only, so they say what the
generated files enforce; each row carries the grant's record (stage, expiry, approver,
ticket) for the crisis cell.
"""

from __future__ import annotations

from dataclasses import dataclass

from netaddr import IPAddress

from egress import instants
from egress.flows import Flow, StageFlows
from egress.model import INTERNET
from egress.names import nearest_domain
from egress.query import QueryInputError, parse_destination


@dataclass(frozen=True)
class ReachRow:
    """One flow: who reaches what, how, on which ports, under which grant."""

    flow: Flow
    matched: tuple[str, ...] = ()  # for `--to NAME`: the entry of the flow that names it

    @property
    def kind(self) -> str:
        """`grant` (a grant's own flow), `to-proxy` or `from-proxy` (the proxy's plumbing)."""
        if self.flow.serves is None:
            return "grant"
        return "from-proxy" if self.flow.target == INTERNET else "to-proxy"

    def destination(self) -> list[str]:
        flow = self.flow
        if self.matched:
            return list(self.matched)
        if flow.target == INTERNET:
            return [INTERNET]
        names = list(flow.hosts) + ["." + d for d in flow.domains]
        if flow.via == "proxy":
            return names
        return [str(c) for c in flow.dst.iter_cidrs()] + names

    def as_json(self) -> dict:
        flow, grant = self.flow, self.flow.grant
        return {
            "grant": grant.id,
            "from": flow.source,
            "to": flow.target,
            "direction": flow.direction,
            "via": flow.via,
            "kind": self.kind,
            "ports": [str(p) for p in flow.ports],
            "destination": self.destination(),
            "source": [INTERNET] if flow.source == INTERNET else [str(c) for c in flow.src.iter_cidrs()],
            "stage": grant.stage,
            "expires": instants.show(grant.expires, end=True) if grant.expires else None,
            "approved_by": grant.approved_by,
            "ticket": grant.ticket,
        }


@dataclass(frozen=True)
class Reach:
    """The answer of `egress reach`: the question and the rows, in the policy's order."""

    question: str  # "from" | "to"
    subject: str
    stage: str
    rows: tuple[ReachRow, ...]

    def as_json(self) -> dict:
        return {self.question: self.subject, "stage": self.stage, "flows": [r.as_json() for r in self.rows]}


def _all(flows: StageFlows) -> tuple[Flow, ...]:
    return flows.flows + flows.proxy_flows


def _rows(flows) -> tuple[ReachRow, ...]:
    """One row per (grant, from, to, ports): the proxy's plumbing of one grant is the
    same opening for each of the grant's zones."""
    seen: dict[tuple, ReachRow] = {}
    for flow in flows:
        seen.setdefault((flow.grant.id, flow.source, flow.target, flow.ports), ReachRow(flow))
    return tuple(seen.values())


def known_names(flows: StageFlows) -> set[str]:
    policy = flows.policy
    return set(policy.zones) | set(policy.services) | {INTERNET}


def reach_from(flows: StageFlows, name: str) -> Reach:
    """Every flow that starts at `name` (a zone, a service or `internet`); KeyError if
    the policy has no such name."""
    if name not in known_names(flows):
        raise KeyError(name)
    return Reach("from", name, flows.stage.id, _rows(f for f in _all(flows) if f.source == name))


def reach_to(flows: StageFlows, destination: str) -> Reach:
    """Every flow that ends at `destination`: an address, a host name, a zone or a
    service. `QueryInputError` for a destination that is none of them."""
    text = destination.strip()
    if text in known_names(flows) and text != INTERNET:
        return Reach("to", text, flows.stage.id, _rows(f for f in _all(flows) if f.target == text))
    target = parse_destination(text)
    if isinstance(target, IPAddress):
        return Reach("to", str(target), flows.stage.id, _rows(f for f in _all(flows) if target in f.dst))
    rows = []
    for row in _rows(f for f in flows.flows if f.direction == "egress"):
        entry = _entry(row.flow, target)
        if entry is not None:
            rows.append(ReachRow(row.flow, (entry,)))
    return Reach("to", target, flows.stage.id, tuple(rows))


def _entry(flow: Flow, name: str) -> str | None:
    """The entry of a flow that reaches `name`: a direct flow, the hosts it lists; a
    proxied one, its hosts and every name under its domains (`.domain`)."""
    if name in flow.hosts:
        return name
    if flow.via != "proxy":
        return None
    domain = nearest_domain(name, flow.domains)
    return f".{domain}" if domain is not None else None


def render_text(reach: Reach) -> str:
    """A head line, then one line per flow: grant, from -> to, via, ports, destinations,
    and the grant's expiry when it has one."""
    what = "reaches" if reach.question == "from" else "is reached by"
    count = len(reach.rows)
    lines = [f"{reach.subject} {what} {count} flow{'s' * (count != 1)} at stage {reach.stage}"]
    for row in reach.rows:
        data = row.as_json()
        destinations = ", ".join(data["destination"][:8])
        if len(data["destination"]) > 8:
            destinations += f", ... (+{len(data['destination']) - 8} more; --format json lists all)"
        until = f"  (until {data['expires']})" if data["expires"] else ""
        plumbing = {"to-proxy": "  [to the proxy]", "from-proxy": "  [the proxy to the web]"}.get(row.kind, "")
        lines.append(f"  {data['grant']}: {data['from']} -> {data['to']}  {data['via']}  {' '.join(data['ports'])}  "
                     f"{destinations}{plumbing}{until}")
    if not reach.rows:
        lines.append("  nothing at this stage")
    return "\n".join(lines) + "\n"


__all__ = ["QueryInputError", "Reach", "ReachRow", "reach_from", "reach_to", "render_text"]

"""A draft stage from blocked flows: one grant per chosen flow that a grant can open.

`egress blocked --as-stage NEW_ID` writes a YAML file that the policy can take as it is
in its `include:` list (an included file may hold `services` and `stages`; its stages come
after the policy's own), or whose parts can be pasted into the policy:

- a new stage NEW_ID, dated `--at`, with one grant per flow whose suggestion names an
  opening (`Opening`): from the flow's zone, to the service that already holds or names
  the destination (with the flow's port as the grant's `ports`), or to a new service;
- the new services, one per destination: `host: NAME` for a name the proxy refused
  (reached `via: proxy`), `address: ADDR` for an address the firewall refused (reached
  directly; the name the resolver gave is in its description: a host needs
  `egress resolve` and the lock file, which a draft must not touch).

The draft approves nothing: every grant's `reason`, `approved_by` and `ticket` is the
placeholder `<fill in: ...>`, which `egress validate` refuses (E150) until a person
replaces it. Flows that no new grant opens (allowed already, through the proxy, from no
zone, ingress) are listed in a closing comment.
"""

from __future__ import annotations

import datetime as dt
import json
import re

from egress.check import DRAFT_PLACEHOLDER as PLACEHOLDER  # E150 refuses any grant text holding it
from egress.observe.clock import iso

ID_RE = re.compile(r"[a-z0-9][a-z0-9-]*\Z")


class DraftError(ValueError):
    """The draft cannot be made (a bad or taken stage id): exit 2."""


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def _slug(text: str) -> str:
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9]+", "-", text.lower())).strip("-") or "x"


def _unique(base: str, taken: set[str]) -> str:
    name, n = base, 2
    while name in taken:
        name = f"{base}-{n}"
        n += 1
    taken.add(name)
    return name


def draft(result, policy, stage_id: str, at: dt.date, top: int | None = None) -> str:
    """The YAML draft of stage `stage_id` for the flows of `result` (the first `top`)."""
    if not ID_RE.match(stage_id):
        raise DraftError(f"'{stage_id}' is not a stage id: lowercase letters, digits and hyphens, e.g. s7-from-complaints")
    if any(s.id == stage_id for s in policy.stages):
        raise DraftError(f"stage '{stage_id}' already exists in {policy.path}; give a new id")
    new_services, grants, skipped = _plan(result.flows[:top] if top else result.flows, policy)
    out = [
        f"# Draft of stage {stage_id}, written by `egress blocked` from the blocked flows judged at",
        f"# stage {result.stage} of policy {result.policy}. It approves nothing: a person fills in every",
        f"# `{PLACEHOLDER}: ...>` (egress validate refuses them: E150). Then add this file to the",
        "# policy's `include:` list, or paste its services and its stage into the policy.",
    ]
    if new_services:
        out.append("services:")
        for entry in new_services.values():
            out += _service(entry)
    out += ["stages:", f"  - id: {stage_id}", f"    title: {_q('Drafted from blocked flows')}", f"    date: {at.isoformat()}",
            "    grants:" if grants else "    grants: []"]
    for flow, opening, service, gid in grants:
        out += _grant(flow, opening, service, gid)
    if skipped:
        out.append("# not drafted (no new grant opens them):")
        for flow in skipped:
            why = flow.suggestion.text if flow.suggestion else "unknown"
            out.append(f"#   {flow.source} -> {flow.destination} {flow.port} ({flow.origin}): {why}")
    return "\n".join(out) + "\n"


def _plan(flows, policy):
    """(new services by destination, (flow, opening, service id, grant id) per drafted
    flow, flows not drafted). Ids are made from the names and kept unique."""
    names = set(policy.zones) | set(policy.services)
    grant_ids = set(policy.grants)
    new_services: dict[tuple, dict] = {}
    grants, skipped = [], []
    for flow in flows:
        opening = flow.suggestion.opening if flow.suggestion else None
        if opening is None:
            skipped.append(flow)
            continue
        service = opening.service
        if service is None:
            entry = new_services.get(opening.destination)
            if entry is None:
                kind, value = opening.destination
                base = _slug(value) if kind == "host" else "addr-" + _slug(value)
                entry = new_services[opening.destination] = {
                    "id": _unique(base, names), "kind": kind, "value": value, "ports": [], "name": opening.name,
                    "origin": flow.origin}
            if opening.port not in entry["ports"]:
                entry["ports"].append(opening.port)
            service = entry["id"]
        gid = _unique(_slug(f"{opening.zone}-to-{service}-{opening.port.replace('/', '')}"), grant_ids)
        grants.append((flow, opening, service, gid))
    return new_services, grants, skipped


def _service(entry: dict) -> list[str]:
    seen = "the proxy refused it" if entry["origin"] == "proxy" else "the firewall refused it"
    label = entry["value"] + (f" ({entry['name']})" if entry["name"] else "")
    out = [f"  {entry['id']}:",
           f"    description: {_q(f'Drafted by egress blocked: {label}, {seen}')}",
           "    destinations:",
           f"      - {entry['kind']}: {_q(entry['value'])}",
           f"    ports: [{', '.join(entry['ports'])}]"]
    if entry["name"] and entry["kind"] == "address":
        out.append(f"    # the resolver answered {entry['name']} with this address: to follow the name "
                   "instead, write `host:` and run `egress resolve`")
    return out


def _grant(flow, opening, service: str, gid: str) -> list[str]:
    seen = f"{iso(flow.first)} .. {iso(flow.last)}" if flow.first is not None else "time unknown"
    out = [
        f"      # {flow.source} -> {flow.destination} {flow.port} ({flow.origin}): {flow.sources} source"
        f"{'s' * (flow.sources != 1)}, {flow.hits} hit{'s' * (flow.hits != 1)}, {seen}",
        f"      # {flow.suggestion.text}",
        f"      - id: {gid}",
        f"        from: {opening.zone}",
        f"        to: {service}",
        f"        ports: [{opening.port}]",
    ]
    if opening.via == "proxy":
        out.append("        via: proxy")
    return out + [
        f"        reason: {_q(PLACEHOLDER + ': why this flow must open>')}",
        f"        approved_by: {_q(PLACEHOLDER + ': who decided>')}",
        f"        ticket: {_q(PLACEHOLDER + ': the decision or ticket reference>')}",
    ]

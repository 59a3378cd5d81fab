"""Rendering of `egress blocked` and `egress usage`: text for the terminal, markdown for
the crisis cell's minutes, JSON for scripts. One function per format; the library
computes, this module only lays out."""

from __future__ import annotations

import json
from collections.abc import Iterator

from egress import mdescape as md
from egress.observe.clock import iso


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _seen(first, last) -> str:
    a, b = iso(first), iso(last)
    if a is None and b is None:
        return "time unknown"
    if a == b:
        return f"at {a}"
    return f"{a or '?'} .. {b or '?'}"


def _to(flow) -> str:
    if flow.origin == "firewall" and flow.name:
        more = f", +{len(flow.names) - 1}" if len(flow.names) > 1 else ""
        return f"{flow.destination} ({flow.name}{more})"
    return flow.destination


def input_notes(files) -> list[str]:
    """One line per file that needs a word: bad lines, other policies, empty, cut short."""
    notes = []
    for f in files:
        if f.format == "empty":
            notes.append(f"{f.name}: empty")
        if f.bad:
            notes.append(f"{f.name}: {_plural(f.bad, 'bad line')} ignored (first at line {f.first_bad})")
        for policy, count in sorted(f.foreign.items()):
            notes.append(f"{f.name}: {_plural(count, 'line')} of another policy ('{policy}') ignored")
        if f.truncated:
            notes.append(f.truncated)
    return notes


def _read_summary(files) -> str:
    lines = sum(f.lines for f in files)
    parts = [f"{_plural(sum(f.denials for f in files), 'firewall denial')}",
             f"{_plural(sum(f.refusals for f in files), 'proxy refusal')}",
             f"{_plural(sum(f.answers for f in files), 'resolver answer')}"]
    bad = sum(f.bad for f in files)
    return f"read {_plural(lines, 'line')} of {_plural(len(files), 'file')}: {', '.join(parts)}" + (
        f", {_plural(bad, 'bad line')}" if bad else "")


# ----------------------------------------------------------------------------- blocked


def _flow_json(f) -> dict:
    return {
        "origin": f.origin,
        "source_zone": f.zone,
        "source": f.source,
        "destination": f.destination,
        "address": f.address,
        "name": f.name,
        "names": f.names,
        "port": f.port,
        "hits": f.hits,
        "sources": f.sources,
        "first_seen": iso(f.first),
        "last_seen": iso(f.last),
        "decision": f.decision,
        "reasons": f.reasons,
        "suggestion": f.suggestion.as_json() if f.suggestion else None,
    }


def blocked_json(result, top: int | None = None) -> Iterator[str]:
    """The JSON document, in pieces: `{"policy", "stage", "at", "summary", "flows",
    "inputs"}`, the text `json.dumps(..., indent=2)` would give, written flow by flow (a
    day of a large hospital's logs can hold tens of thousands of flows: the whole document
    as one object, then one string, cost several times the memory of the flows)."""
    flows = result.flows[:top] if top else result.flows
    head = {"policy": result.policy, "stage": result.stage, "at": result.at,
            "summary": {"flows": len(result.flows), "hits": sum(f.hits for f in result.flows),
                        **{name: {key: {"flows": n, "hits": h} for key, (n, h) in table.items()}
                           for name, table in tallies(result).items()}}}
    yield "{\n"
    for key, value in head.items():
        yield f"  {json.dumps(key)}: {_indented(value, 2)},\n"
    if not flows:
        yield '  "flows": [],\n'
    else:
        yield '  "flows": ['
        for i, flow in enumerate(flows):
            yield ("," if i else "") + "\n    " + _indented(_flow_json(flow), 4)
        yield "\n  ],\n"
    yield f'  "inputs": {_indented([f.as_json() for f in result.files], 2)}\n}}\n'


def _indented(value, by: int) -> str:
    return json.dumps(value, indent=2).replace("\n", "\n" + " " * by)


def tallies(result) -> dict[str, dict[str, list[int]]]:
    """{"by_zone": {zone or "no zone": [flows, hits]}, "by_kind": {suggestion kind:
    [flows, hits]}}, most hits first: the two lines the morning meeting reads first."""
    out: dict[str, dict[str, list[int]]] = {"by_zone": {}, "by_kind": {}}
    for f in result.flows:
        for table, key in (("by_zone", f.zone or "no zone"), ("by_kind", f.suggestion.kind if f.suggestion else "unknown")):
            entry = out[table].setdefault(key, [0, 0])
            entry[0] += 1
            entry[1] += f.hits
    return {name: dict(sorted(table.items(), key=lambda i: (-i[1][1], i[0]))) for name, table in out.items()}


def _tally_line(label: str, table: dict[str, list[int]]) -> str:
    return f"{label}: " + ", ".join(f"{key} {_plural(n, 'flow')} ({_plural(h, 'hit')})" for key, (n, h) in table.items())


def blocked_text(result, top: int | None = None) -> str:
    flows = result.flows[:top] if top else result.flows
    hits = sum(f.hits for f in result.flows)
    out = [f"blocked at stage {result.stage} of {result.policy} (judged at {result.at}): "
           f"{_plural(len(result.flows), 'flow')}, {_plural(hits, 'hit')}"
           + (f"; the first {len(flows)} shown" if len(flows) < len(result.flows) else "")]
    out.append(_read_summary(result.files))
    if result.flows:
        counts = tallies(result)
        out += [_tally_line("by source zone", counts["by_zone"]), _tally_line("what would open them", counts["by_kind"])]
    for i, f in enumerate(flows, 1):
        out.append("")
        out.append(f"{i:>3}. {f.source} -> {_to(f)} {f.port}  [{f.origin}]")
        out.append(f"     {_plural(f.sources, 'source')}, {_plural(f.hits, 'hit')}, {_seen(f.first, f.last)}")
        if f.suggestion:
            out.append(f"     open: {f.suggestion.text}")
        if f.decision == "deny" and f.reasons:
            out.append(f"     why:  {f.reasons[0]}")
            out += [f"           {r}" for r in f.reasons[1:]]
    return "\n".join(out) + "\n"


def blocked_markdown(result, top: int | None = None) -> str:
    flows = result.flows[:top] if top else result.flows
    hits = sum(f.hits for f in result.flows)
    out = [f"### Blocked at stage {md.code(result.stage, table=False)} of {md.code(result.policy, table=False)}", "",
           f"{_plural(len(result.flows), 'flow')}, {_plural(hits, 'hit')} (judged at {result.at}); "
           f"{_read_summary(result.files)}.", ""]
    if not flows:
        return "\n".join(out + ["Nothing blocked.", ""])
    counts = tallies(result)
    out += [f"- {md.text(_tally_line('by source zone', counts['by_zone']))}",
            f"- {md.text(_tally_line('what would open them', counts['by_kind']))}", ""]
    out += ["| # | from | to | port | via | sources | hits | first seen | last seen | what would open it |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for i, f in enumerate(flows, 1):
        out.append("| " + " | ".join(md.text(c) for c in (
            i, f.source, _to(f), f.port, f.origin, f.sources, f.hits, iso(f.first) or "", iso(f.last) or "",
            f.suggestion.text if f.suggestion else "")) + " |")
    notes = input_notes(result.files)
    if notes:
        out += ["", *[f"- {md.text(n)}" for n in notes]]
    return "\n".join(out) + "\n"


BLOCKED = {"text": blocked_text, "markdown": blocked_markdown}


# ------------------------------------------------------------------------------- usage


def _count(value) -> str:
    return "-" if value is None else f"{value:,}"


def usage_json(result) -> dict:
    return {
        "policy": result.policy,
        "stage": result.stage,
        "at": result.at,
        "counters": result.counters,
        "summary": {
            "grants": len(result.grants),
            "used": sum(g.used for g in result.grants),
            "unused": len(result.unused),
            "not_observed": sum(not g.observed for g in result.grants),
        },
        "grants": [
            {
                "grant": g.grant,
                "stage": g.stage,
                "via": g.via,
                "direction": g.direction,
                "from": g.sources,
                "to": g.targets,
                "used": g.used,
                "observed": g.observed,
                "proxy_requests": g.proxy_hits,
                "proxy_first_seen": iso(g.proxy_first),
                "proxy_last_seen": iso(g.proxy_last),
                "packets": g.packets,
                "bytes": g.bytes,
            }
            for g in result.grants
        ],
        "unattributed": [
            {"client": client, "host": host, "port": f"tcp/{port}", "hits": seen.hits,
             "first_seen": iso(seen.first), "last_seen": iso(seen.last)}
            for (client, host, port), seen in sorted(result.unattributed.items(), key=lambda i: (-i[1].hits, i[0]))
        ],
        "inputs": [f.as_json() for f in result.files],
    }


def _usage_head(result) -> str:
    used = sum(g.used for g in result.grants)
    return (f"usage at stage {result.stage} of {result.policy} (judged at {result.at}): "
            f"{_plural(len(result.grants), 'grant')} in force, {used} used, {len(result.unused)} unused"
            + (f", {sum(not g.observed for g in result.grants)} not observed" if any(not g.observed for g in result.grants) else ""))


def _sources_read(result) -> str:
    requests = sum(f.allowed for f in result.files)
    parts = [f"{_plural(requests, 'allowed proxy request')} from {_plural(len(result.files), 'file')}"] if result.files else []
    if result.counters:
        parts.append(f"firewall counters from {result.counters}")
    return "read: " + ("; ".join(parts) if parts else "nothing")


def usage_text(result) -> str:
    out = [_usage_head(result), _sources_read(result), ""]
    width = max([len(g.grant) for g in result.grants] + [5])
    out.append(f"  {'grant':<{width}}  {'via':<6}  {'requests':>9}  {'packets':>9}  {'bytes':>12}  last request")
    for g in result.grants:
        out.append(f"  {g.grant:<{width}}  {g.via:<6}  {_count(g.proxy_hits):>9}  {_count(g.packets):>9}  "
                   f"{_count(g.bytes):>12}  {iso(g.proxy_last) or '-'}")
    if result.unused:
        out += ["", "unused (candidates to revoke at the next stage):"]
        for g in result.unused:
            out.append(f"  {g.grant} (stage {g.stage}, {', '.join(g.sources)} -> {', '.join(g.targets)}, {g.via}): "
                       + ("no request through the proxy" if g.via == "proxy" else "no packet since the ruleset was loaded"))
    blind = [g.grant for g in result.grants if not g.observed]
    if blind:
        out += ["", "not observed (give the proxy's access.log, or the firewall's counters): " + ", ".join(blind)]
    if result.unattributed:
        hits = sum(s.hits for s in result.unattributed.values())
        out += ["", f"allowed by the proxy but by no grant of this stage: {_plural(hits, 'request')}"]
        for (client, host, port), seen in sorted(result.unattributed.items(), key=lambda i: (-i[1].hits, i[0]))[:10]:
            out.append(f"  {client} -> {host} tcp/{port}: {_plural(seen.hits, 'request')}")
    return "\n".join(out) + "\n"


def usage_markdown(result) -> str:
    out = [f"### Usage at stage {md.code(result.stage, table=False)} of {md.code(result.policy, table=False)}", "", md.text(_usage_head(result)) + ";", md.text(_sources_read(result)) + ".", "",
           "| grant | stage | from | to | via | proxy requests | packets | bytes | last request | used |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for g in result.grants:
        used = "yes" if g.used else ("**no**" if g.observed else "not observed")
        out.append("| " + " | ".join([*(md.text(c) for c in (
            g.grant, g.stage, ", ".join(g.sources), ", ".join(g.targets), g.via, _count(g.proxy_hits),
            _count(g.packets), _count(g.bytes), iso(g.proxy_last) or "")), used]) + " |")
    return "\n".join(out) + "\n"


USAGE = {"text": usage_text, "markdown": usage_markdown}

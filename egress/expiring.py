"""The agenda: grants in force whose expiry falls in a window, sorted by instant.

This is the list the crisis cell reviews each morning ("what closes by itself in the
next two weeks, and do we renew it?"). It reads the `StageFlows` of one stage (the
grants in force and the flows each holds), never YAML or the model: a grant already
revoked or already expired at the start of the window is not in force, so it is not on
the agenda (the expired ones are listed apart, for the record).

A grant's `expires` closes it at an instant (`egress.instants`); it is on the agenda
when that instant falls in `(start, start + within]`: a grant that closes tonight is on
the agenda of this morning, one that closed at the very start of the window is not.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from egress import instants, mdescape as md
from egress.flows import Flow, StageFlows
from egress.model import Grant

WITHIN_RE = re.compile(r"([0-9]{1,5})([wdh]?)\Z")
LAST = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)
UNITS = {"w": dt.timedelta(weeks=1), "d": dt.timedelta(days=1), "h": dt.timedelta(hours=1), "": dt.timedelta(days=1)}


def parse_within(text: str) -> dt.timedelta:
    """`14d`, `2w`, `36h` or `14` (days) -> a duration; ValueError otherwise."""
    match = WITHIN_RE.match(text.strip().lower())
    if not match:
        raise ValueError(f"'{text}' is not a duration: write a number of days, weeks or hours (14d, 2w, 36h)")
    return int(match.group(1)) * UNITS[match.group(2)]


@dataclass(frozen=True)
class Expiring:
    """One grant of the agenda: when it closes and the flows it holds."""

    grant: Grant
    instant: dt.datetime
    flows: tuple[Flow, ...]

    def as_json(self, start: dt.datetime) -> dict:
        g = self.grant
        return {
            "grant": g.id,
            "expires": self.instant.isoformat(),
            "seconds_left": int((self.instant - start).total_seconds()),
            "stage": g.stage,
            "reason": g.reason,
            "requested_by": g.requested_by,
            "approved_by": g.approved_by,
            "ticket": g.ticket,
            "flows": [flow_json(f) for f in self.flows],
        }


def flow_json(flow: Flow) -> dict:
    """The names of a flow (not its addresses): what the cell recognises."""
    return {
        "from": flow.source,
        "to": flow.target,
        "via": flow.via,
        "direction": flow.direction,
        "ports": [str(p) for p in flow.ports],
    }


@dataclass(frozen=True)
class Agenda:
    """The grants of a stage that close in `(start, end]`, and those already closed."""

    policy: str
    stage: str
    start: dt.datetime
    end: dt.datetime
    items: tuple[Expiring, ...]
    expired: tuple[tuple[str, dt.datetime], ...]  # grant id, instant: left out already

    def as_json(self) -> dict:
        return {
            "policy": self.policy,
            "stage": self.stage,
            "from": self.start.isoformat(),
            "until": self.end.isoformat(),
            "expiring": [item.as_json(self.start) for item in self.items],
            "expired": [{"grant": g, "expires": i.isoformat()} for g, i in self.expired],
        }


def agenda(flows: StageFlows, start: dt.datetime, within: dt.timedelta) -> Agenda:
    """The grants in force in `flows` whose expiry instant is in `(start, start + within]`."""
    try:
        end = start + within
    except OverflowError:  # a window past the year 9999: it ends where dates end
        end = LAST
    by_grant: dict[str, list[Flow]] = {}
    for flow in flows.flows:
        by_grant.setdefault(flow.grant.id, []).append(flow)
    items = []
    for grant in flows.grants:
        if grant.expires is None:
            continue
        instant = grant.expires
        if start < instant <= end:
            items.append(Expiring(grant, instant, tuple(by_grant.get(grant.id, ()))))
    items.sort(key=lambda e: (e.instant, e.grant.id))
    expired = sorted(flows.expired.items(), key=lambda x: (x[1], x[0]))
    return Agenda(flows.policy.name, flows.stage.id, start, end, tuple(items), tuple(expired))


# -- rendering ----------------------------------------------------------------------


def left(delta: dt.timedelta) -> str:
    """`in 3 days`, `in 5 hours`, `in 20 minutes`: how soon, for a reader."""
    seconds = int(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"in {n} {unit}{'s' if n != 1 else ''}"
    return "in less than a minute"


def _flow_text(flow: Flow) -> str:
    return f"{flow.source} -> {flow.target}  {flow.via}  {' '.join(str(p) for p in flow.ports)}"


def headline(a: Agenda) -> str:
    n = len(a.items)
    return (
        f"{a.policy}, stage {a.stage}: {n} grant{'s' if n != 1 else ''} "
        f"expire{'s' if n == 1 else ''} between {instants.show(a.start)} and {instants.show(a.end)}"
    )


def render_text(a: Agenda) -> str:
    lines = [headline(a)]
    for item in a.items:
        g = item.grant
        lines.append("")
        lines.append(f"{instants.show(item.instant, end=True)} ({left(item.instant - a.start)})  {g.id}  (opened at stage {g.stage})")
        if g.reason:
            lines.append(f"    reason: {g.reason}")
        bits = [f"{label}: {value}" for label, value in (
            ("requested by", g.requested_by), ("approved by", g.approved_by), ("ticket", g.ticket)) if value]
        if bits:
            lines.append("    " + " | ".join(bits))
        for flow in item.flows:
            lines.append(f"    flow: {_flow_text(flow)}")
    if a.expired:
        lines.append("")
        lines.append("already expired (out of the rules): " + ", ".join(f"{g} ({instants.show(i, end=True)})" for g, i in a.expired))
    return "\n".join(lines) + "\n"


def render_markdown(a: Agenda) -> str:
    lines = [f"### egress expiring: {md.code(a.policy, table=False)}, stage {md.code(a.stage, table=False)}", "",
             md.text(headline(a)) + ".", ""]
    if a.items:
        lines.append("| expires | in | grant | opened at | flows | reason | approved by | ticket |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for item in a.items:
            g = item.grant
            flows = "<br>".join(md.text(_flow_text(f)) for f in item.flows)
            lines.append("| " + " | ".join([
                instants.show(item.instant, end=True), left(item.instant - a.start)[3:], md.text(g.id), md.text(g.stage), flows,
                md.text(g.reason), md.text(g.approved_by), md.text(g.ticket),
            ]) + " |")
        lines.append("")
    else:
        lines += ["Nothing expires in this window.", ""]
    if a.expired:
        lines.append("Already expired (out of the rules): " + ", ".join(f"{md.text(g)} ({instants.show(i, end=True)})" for g, i in a.expired) + ".")
    return "\n".join(lines).rstrip("\n") + "\n"

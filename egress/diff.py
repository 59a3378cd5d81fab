"""Semantic diff: what one set of flows opens and closes compared with another.

The diff reads `StageFlows` (egress.flows), never YAML text or generated files, so
reordering entries, splitting a CIDR into halves or moving a service into an included
file changes nothing, while one more address, port or source zone is a change.

Reach, exactly
--------------
Each flow is normalised into an *atom* keyed by
`(grant id, direction, via, source name, target name)`. An atom's reach is a *box*,
the product of four sets:

- `src`: the source addresses (a zone, `internet`, or a partner service's addresses);
- `dst`: the destination addresses (service addresses and lock-file addresses of hosts
  for direct egress, the zone's addresses for ingress);
- `names`: the destination names, `("host", name)` (exactly that name) and
  `("domain", name)` (the name and every name below it);
- `ports`: every (protocol, port) the flow allows.

Addresses and ports are held as sorted, merged integer intervals (`Ranges`), so a set
difference is a linear merge, and equal sets (the usual case for a large, unchanged
service) are detected by one tuple comparison. What a key *opened* is
`new box - old box`, written as at most three disjoint boxes:

    (S1 - S0) x D1 x P1   +   (S1 & S0) x (D1 - D0) x P1   +   (S1 & S0) x (D1 & D0) x (P1 - P0)

which is exact: `10.0.0.0/24` replaced by `10.0.0.0/25` closes `10.0.0.128/25` on every
port and source of the flow, and nothing else. *Closed* is `old - new` the same way.

Grants and net reachability
---------------------------
`opened`/`closed` are reported per grant (the contract's FLOW has a `grant` key): if a
flow moves from grant A to grant B with the same reach, A closes it and B opens it,
which is what the crisis cell's register needs (B's reason, approver and expiry now
apply). Beside them, `net` says what became reachable (or unreachable) at all, whatever
the grant: each per-grant opened box minus the union of every old box of the same
direction and `via`. A flow that only moved between grants is in `opened`/`closed` but
not in `net`. Net reach never crosses `via`: a name reached directly is not the same
opening as the name through the proxy.

Names are compared with their meaning: a host below a domain that was already open is
not opened again; a domain counts as opened whole unless an equal or parent domain was
already open (a domain that replaces a few hosts below it opens the whole domain).

Grant metadata (reason, approver, requester, ticket, expiry, stage) that changed for a
grant in force on both sides is reported in `changed`, even when its reach is the same.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from dataclasses import dataclass, field

from netaddr import IPAddress, iprange_to_cidrs

from egress import instants, mdescape as md
from egress.flows import Ranges as FlowRanges, StageFlows, policy_index
from egress.intervals import Intervals, intersect, merge, subtract
from egress.model import Grant, PortRange
from egress.names import domains_of

# -- interval sets over integers ---------------------------------------------------

V6_OFFSET = 1 << 33
"""IPv6 addresses are stored as `int + V6_OFFSET`, so v4 and v6 share one sorted list
without ever touching (2**32 .. 2**33 is a gap)."""

PROTO_INDEX = {"tcp": 0, "udp": 1, "icmp": 2, "icmpv6": 3}
PROTO_NAMES = {v: k for k, v in PROTO_INDEX.items()}
PROTO_SHIFT = 17
"""A port is stored as `protocol index << 17 | port`: the protocols never touch."""

Ranges = Intervals  # addresses (v6 shifted by V6_OFFSET) or ports (protocol << PROTO_SHIFT)


def address_ranges(ranges: FlowRanges) -> Ranges:
    """A flow's `(version, first, last)` ranges -> Ranges (v6 shifted by V6_OFFSET).

    The flow's ranges are sorted v4 first and merged within each version; the shift
    puts every v6 address above 2**33, so the result is sorted and merged as well."""
    return tuple((first + V6_OFFSET, last + V6_OFFSET) if version == 6 else (first, last) for version, first, last in ranges)


def address_int(address) -> int:
    """One netaddr IPAddress -> its integer in Ranges."""
    return int(address) + (V6_OFFSET if address.version == 6 else 0)


def port_ranges(ports) -> Ranges:
    return merge(((PROTO_INDEX[p.proto] << PROTO_SHIFT) | p.first, (PROTO_INDEX[p.proto] << PROTO_SHIFT) | p.last) for p in ports)


def cidrs(ranges: Ranges) -> list[str]:
    """Ranges of addresses -> CIDR strings, v4 then v6."""
    out: list[str] = []
    for lo, hi in ranges:
        version = 6 if lo >= V6_OFFSET else 4
        shift = V6_OFFSET if version == 6 else 0
        out.extend(str(c) for c in iprange_to_cidrs(IPAddress(lo - shift, version), IPAddress(hi - shift, version)))
    return out


def port_strings(ranges: Ranges) -> list[str]:
    """Ranges of ports -> `tcp/443`, `udp/10000-20000`, `icmp`."""
    out = []
    mask = (1 << PROTO_SHIFT) - 1
    for lo, hi in ranges:
        proto = PROTO_NAMES[lo >> PROTO_SHIFT]
        out.append(str(PortRange(proto, lo & mask, hi & mask)))
    return out


# -- names ------------------------------------------------------------------------

Names = frozenset  # of ("host" | "domain", name)


def covered(name: tuple[str, str], names: Names) -> bool:
    """True if every name `name` stands for is reachable through `names`."""
    if name in names:
        return True
    return any(("domain", domain) in names for domain in domains_of(name[1]))


def n_minus(a: Names, b: Names) -> Names:
    if not b or a == b:
        return frozenset() if a == b else a
    return frozenset(n for n in a if not covered(n, b))


def n_inter(a: Names, b: Names) -> Names:
    if not a or not b:
        return frozenset()
    if a == b:
        return a
    return frozenset([n for n in a if covered(n, b)] + [n for n in b if covered(n, a)])


def name_strings(names: Names) -> list[str]:
    """Hosts as themselves, domains with a leading dot (Squid's notation: the domain
    and every name below it)."""
    return sorted((("." + v) if k == "domain" else v) for k, v in names)


# -- boxes ------------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    """src x (dst addresses + names) x ports: a set of reachable (source, destination,
    protocol, port) tuples."""

    src: Ranges
    dst: Ranges
    names: Names
    ports: Ranges

    def __bool__(self) -> bool:
        return bool(self.src) and (bool(self.dst) or bool(self.names)) and bool(self.ports)


def box_minus(a: Box, b: Box) -> list[Box]:
    """`a - b` as at most three disjoint boxes (empty ones left out)."""
    s_in = intersect(a.src, b.src)
    if not s_in:
        return [a]
    d_in, n_in = intersect(a.dst, b.dst), n_inter(a.names, b.names)
    if not d_in and not n_in:
        return [a]
    p_in = intersect(a.ports, b.ports)
    if not p_in:
        return [a]
    pieces = [
        Box(subtract(a.src, b.src), a.dst, a.names, a.ports),
        Box(s_in, subtract(a.dst, b.dst), n_minus(a.names, b.names), a.ports),
        Box(s_in, d_in, n_in, subtract(a.ports, b.ports)),
    ]
    return [p for p in pieces if p]


def boxes_minus(boxes: list[Box], others: list[Box]) -> list[Box]:
    """Every box of `boxes` minus the union of `others`."""
    out = [b for b in boxes if b]
    for other in others:
        if not out:
            break
        out = [piece for box in out for piece in box_minus(box, other)]
    return out


# -- atoms ------------------------------------------------------------------------

Key = tuple  # (grant id, direction, via, source name, target name)


def atoms(flows: StageFlows) -> dict[Key, list[Box]]:
    """The boxes of every flow, by key, from the flows' own integer ranges. Each flow's
    box is memoised in the policy's `PolicyIndex.memo`: flows are immutable and the same
    objects at every stage where their grant is in force, so diffing several stages of a
    policy (the report diffs each stage with the one before) converts each flow once,
    and the boxes go with the policy. Within a call, the flows of one zone or service share
    one ranges object (flows.PolicyIndex), so each is converted once: kept by name, used
    while it is the same object."""
    converted: dict[tuple[str, ...], tuple[FlowRanges, Ranges]] = {}

    def conv(ranges: FlowRanges, *key: str) -> Ranges:
        hit = converted.get(key)
        if hit is None or hit[0] is not ranges:
            hit = converted[key] = (ranges, address_ranges(ranges))
        return hit[1]

    memo = policy_index(flows.policy).memo.setdefault(__name__, {})
    assert isinstance(memo, dict)
    out: dict[Key, list[Box]] = {}
    for flow in flows.flows:
        key = (flow.grant.id, flow.direction, flow.via, flow.source, flow.target)
        box = memo.get(flow)
        if box is None:
            names = frozenset([("host", h) for h in flow.hosts] + [("domain", d) for d in flow.domains])
            src = conv(flow.src_ranges, "src", flow.direction, flow.via, flow.source)
            dst = conv(flow.dst_ranges, "dst", flow.direction, flow.via, flow.target)
            box = memo[flow] = Box(src, dst, names, port_ranges(flow.ports))
        if box:
            boxes = out.setdefault(key, [])
            if box not in boxes:
                boxes.append(box)
    return out


# -- the diff ---------------------------------------------------------------------

METADATA = ("reason", "approved_by", "requested_by", "ticket", "expires", "stage")


@dataclass(frozen=True)
class Piece:
    """One box of reach that a grant opened or closed, with the flow it belongs to."""

    key: Key
    box: Box
    whole_src: bool  # the box holds every source address of the flow
    grant: Grant  # the model Grant (new side for opened, old side for closed)
    status: str  # opened: "added" | "widened"; closed: "narrowed" | "revoked" | "expired" | "removed"
    detail: str | None = None  # e.g. the revoking stage, the expiry date

    @property
    def grant_id(self) -> str:
        return self.key[0]

    def as_flow(self) -> dict:
        """The contract FLOW, with added keys."""
        grant_id, direction, via, source, target = self.key
        grant = self.grant
        return {
            "grant": grant_id,
            "from": source,
            "to": target,
            "destination": cidrs(self.box.dst) + name_strings(self.box.names),
            "ports": port_strings(self.box.ports),
            "via": via,
            "direction": direction,
            "source": None if self.whole_src else cidrs(self.box.src),
            "status": self.status,
            "detail": self.detail,
            "stage": grant.stage,
            "reason": grant.reason,
            "requested_by": grant.requested_by,
            "approved_by": grant.approved_by,
            "ticket": grant.ticket,
            "expires": instants.show(grant.expires, end=True) if grant.expires else None,
        }


@dataclass
class Diff:
    """The result of `diff`: per-grant pieces, net reach and metadata changes."""

    label_from: str
    label_to: str
    at: dt.datetime | None
    opened: list[Piece] = field(default_factory=list)
    closed: list[Piece] = field(default_factory=list)
    net_opened: list[Piece] = field(default_factory=list)
    net_closed: list[Piece] = field(default_factory=list)
    changed: list[dict] = field(default_factory=list)
    not_opened: list[dict] = field(default_factory=list)  # grants of the new side left out (expired)
    policy: str | None = None
    stage: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.opened or self.closed or self.changed)

    @property
    def net_same(self) -> bool:
        """True when net reach equals the per-grant pieces (no flow moved between grants)."""
        return _piece_set(self.opened) == _piece_set(self.net_opened) and _piece_set(self.closed) == _piece_set(self.net_closed)

    def summary(self) -> dict:
        return {
            "opened": len(self.opened),
            "closed": len(self.closed),
            "changed": len(self.changed),
            "grants_opening": _grant_ids(self.opened),
            "grants_closing": _grant_ids(self.closed),
            "net_opened": len(self.net_opened),
            "net_closed": len(self.net_closed),
        }

    def as_json(self) -> dict:
        """The contract object `{"from", "to", "opened", "closed"}` with added keys."""
        return {
            "from": self.label_from,
            "to": self.label_to,
            "opened": [p.as_flow() for p in self.opened],
            "closed": [p.as_flow() for p in self.closed],
            "changed": self.changed,
            "net": {
                "opened": [p.as_flow() for p in self.net_opened],
                "closed": [p.as_flow() for p in self.net_closed],
            },
            "not_opened": self.not_opened,
            "summary": self.summary(),
            "policy": self.policy,
            "stage": self.stage,
            "at": instants.show(self.at) if self.at else None,
            "differs": not self.empty,
        }


def _piece_set(pieces: list[Piece]) -> set:
    return {(p.key, p.box) for p in pieces}


def _grant_ids(pieces: list[Piece]) -> list[str]:
    return list(dict.fromkeys(p.grant_id for p in pieces))


def _order(flows: StageFlows | None) -> dict[str, int]:
    return flows.policy.index.order if flows is not None else {}


def diff(old: StageFlows | None, new: StageFlows | None, label_from: str, label_to: str, at: dt.datetime | None = None,
         net: bool = True) -> Diff:
    """What `new` opens and closes compared with `old` (None: nothing in force).

    With `net=False`, `net_opened` and `net_closed` are left empty: for callers that show
    the per-grant pieces only (the HTML report), which skips most of the cost."""
    old_atoms = atoms(old) if old else {}
    new_atoms = atoms(new) if new else {}
    old_grants = {g.id: g for g in old.grants} if old else {}
    new_grants = {g.id: g for g in new.grants} if new else {}
    result = Diff(label_from, label_to, at)

    for key in _sorted_keys(new_atoms, new):
        boxes = new_atoms[key]
        before = old_atoms.get(key, [])
        grant = new_grants[key[0]]
        status = "widened" if key[0] in old_grants else "added"
        for box in boxes_minus(boxes, before):
            result.opened.append(Piece(key, box, _whole(box, boxes), grant, status))

    for key in _sorted_keys(old_atoms, old):
        boxes = old_atoms[key]
        after = new_atoms.get(key, [])
        grant = old_grants[key[0]]
        status, detail = _closing(key[0], new_grants, new)
        for box in boxes_minus(boxes, after):
            result.closed.append(Piece(key, box, _whole(box, boxes), grant, status, detail))

    if net:
        result.net_opened = _net(result.opened, old_atoms)
        result.net_closed = _net(result.closed, new_atoms)

    for grant_id in sorted(set(old_grants) & set(new_grants), key=_order(new).__getitem__):
        changes = _metadata_changes(old_grants[grant_id], new_grants[grant_id])
        if changes:
            result.changed.append({"grant": grant_id, "fields": changes})

    if new is not None:
        for grant_id, expiry in sorted(new.expired.items()):
            if grant_id not in (old.expired if old else {}) and grant_id not in old_grants:
                result.not_opened.append({"grant": grant_id, "status": "expired", "expires": instants.show(expiry, end=True)})
    return result


def _sorted_keys(table: dict[Key, list[Box]], flows: StageFlows | None) -> list[Key]:
    order = _order(flows)
    return sorted(table, key=lambda k: (order.get(k[0], 1 << 30), k))


def _whole(box: Box, boxes: list[Box]) -> bool:
    return any(box.src == b.src for b in boxes)


def _closing(grant_id: str, new_grants: dict, new: StageFlows | None) -> tuple[str, str | None]:
    if grant_id in new_grants:
        return "narrowed", None
    if new is not None and grant_id in new.revoked:
        return "revoked", new.revoked[grant_id]
    if new is not None and grant_id in new.expired:
        return "expired", instants.show(new.expired[grant_id], end=True)
    return "removed", None


class _Index:
    """The boxes of one side, found by destination: which boxes may intersect a box.

    Addresses: every destination range, sorted by its first address, with the running
    maximum of the last addresses, so that the ranges overlapping a query are found by
    one bisection and a short walk back (ranges of different services rarely overlap;
    a huge range makes the walk longer, never wrong). Boxes with equal destinations
    (one service granted to several zones) share their ranges. Names: by value, by
    domain, and by every parent of a name (for a domain covering names below it). A
    query costs the ranges and names it touches, not the number of boxes."""

    def __init__(self, boxes: list[Box]):
        self.boxes = boxes
        by_dst: dict[Ranges, list[int]] = {}
        for i, box in enumerate(boxes):
            if box.dst:
                by_dst.setdefault(box.dst, []).append(i)
        self.groups = list(by_dst.values())
        entries = sorted((lo, hi, g) for g, dst in enumerate(by_dst) for lo, hi in dst)
        self.firsts = [e[0] for e in entries]
        self.lasts = [e[1] for e in entries]
        self.owner = [e[2] for e in entries]
        self.reach: list[int] = []  # running maximum of lasts
        top = -1
        for last in self.lasts:
            top = last if last > top else top
            self.reach.append(top)
        self.exact: dict[str, set[int]] = {}
        self.domains: dict[str, set[int]] = {}
        self.below: dict[str, set[int]] = {}
        for i, box in enumerate(boxes):
            for kind, value in box.names:
                self.exact.setdefault(value, set()).add(i)
                if kind == "domain":
                    self.domains.setdefault(value, set()).add(i)
                for parent in domains_of(value, strict=True):
                    self.below.setdefault(parent, set()).add(i)

    def candidates(self, box: Box) -> list[Box]:
        groups: set[int] = set()
        for lo, hi in box.dst:
            k = bisect_right(self.firsts, hi) - 1
            while k >= 0 and self.reach[k] >= lo:
                if self.lasts[k] >= lo:
                    groups.add(self.owner[k])
                k -= 1
        found: set[int] = {i for g in groups for i in self.groups[g]}
        for kind, value in box.names:
            found |= self.exact.get(value, set())
            for parent in domains_of(value, strict=True):
                found |= self.domains.get(parent, set())
            if kind == "domain":
                found |= self.below.get(value, set())
        return [self.boxes[i] for i in sorted(found)]


def _net(pieces: list[Piece], other_side: dict[Key, list[Box]]) -> list[Piece]:
    """The pieces minus every box of the other side with the same direction and via."""
    groups: dict[tuple[str, str], list[Box]] = {}
    for key, boxes in other_side.items():
        groups.setdefault((key[1], key[2]), []).extend(boxes)
    indexes: dict[tuple[str, str], _Index] = {}
    out = []
    for piece in pieces:
        group = (piece.key[1], piece.key[2])
        if group not in indexes:
            indexes[group] = _Index(groups.get(group, []))
        others = indexes[group].candidates(piece.box)
        for box in boxes_minus([piece.box], others):
            out.append(Piece(piece.key, box, piece.whole_src and box.src == piece.box.src, piece.grant, piece.status, piece.detail))
    return out


def _value(value):
    if isinstance(value, dt.datetime):
        return instants.show(value, end=True)
    return value


def _metadata_changes(old, new) -> dict:
    changes = {}
    for name in METADATA:
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            changes[name] = {"from": _value(before), "to": _value(after)}
    return changes


# -- the two forms of the command ------------------------------------------------


def stage_diff(policy, from_id: str, to_id: str, at: dt.date | dt.datetime, stage_dates: bool = False) -> Diff:
    """What stage `to_id` opens and closes compared with stage `from_id`.

    Expiries are judged at `at` for both stages; with `stage_dates`, each stage is
    judged at its own date instead (a stage without a date at `at`), so a grant that
    expired between the two stages shows as closed, as the crisis cell saw it."""
    from egress.flows import resolve

    def when(stage_id: str) -> dt.date | dt.datetime:
        stage = policy.stage(stage_id)
        return stage.date if stage_dates and stage.date else at

    old = resolve(policy, from_id, when(from_id))
    new = resolve(policy, to_id, when(to_id))
    result = diff(old, new, from_id, to_id, None if stage_dates else new.at)
    result.policy = policy.name
    return result


def version_diff(old_policy, new_policy, stage_id: str, at: dt.date | dt.datetime, label_from: str, label_to: str) -> Diff:
    """What the new version of a policy opens and closes at one stage compared with the
    old one. A stage missing on one side counts as nothing in force there (a new stage
    opens all it holds); missing on both sides is a KeyError. `last` (or `first`) is
    each version's own last (first) stage: a version that adds a stage is compared at
    its new last stage with the old version's last."""
    from egress.flows import resolve

    sides: list[StageFlows | None] = []
    for policy in (old_policy, new_policy):
        try:
            policy.stage(stage_id)
        except KeyError:
            sides.append(None)
        else:
            sides.append(resolve(policy, stage_id, at))
    if sides == [None, None]:
        raise KeyError(stage_id)
    judged = next(side.at for side in reversed(sides) if side is not None)
    result = diff(sides[0], sides[1], label_from, label_to, judged)
    result.policy = new_policy.name if new_policy.name == old_policy.name else f"{old_policy.name} -> {new_policy.name}"
    result.stage = next(side.stage.id for side in reversed(sides) if side is not None)
    return result


# -- rendering --------------------------------------------------------------------

TEXT_LIMIT = 12
"""Destinations shown per flow in text and markdown (JSON always has them all)."""


def _list(items: list[str], limit: int | None = TEXT_LIMIT) -> str:
    if limit is not None and len(items) > limit:
        return ", ".join(items[:limit]) + f", ... (+{len(items) - limit} more; --format json lists all)"
    return ", ".join(items)


def counted(n: int, word: str) -> str:
    """`1 flow`, `2 flows`: a count and its noun, for summary lines."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def headline(d: Diff) -> str:
    s = d.summary()
    line = (
        f"{d.label_from} -> {d.label_to}: "
        f"{counted(s['opened'], 'flow')} opened by {counted(len(s['grants_opening']), 'grant')}, "
        f"{counted(s['closed'], 'flow')} closed by {counted(len(s['grants_closing']), 'grant')}, "
        f"{counted(s['changed'], 'grant')} with changed metadata"
    )
    if not d.net_same:
        line += f"; net reachability: {s['net_opened']} opened, {s['net_closed']} closed (the rest moved between grants)"
    return line


def _grant_lines(piece: Piece) -> tuple[str, str | None]:
    """The head line of a grant (id, stage, status) and its metadata line."""
    g = piece.grant
    head = f"grant {piece.grant_id} (stage {g.stage}): {_status_text(piece)}"
    bits = []
    if g.reason:
        bits.append(f"reason: {g.reason}")
    if g.requested_by:
        bits.append(f"requested by: {g.requested_by}")
    if g.approved_by:
        bits.append(f"approved by: {g.approved_by}")
    if g.ticket:
        bits.append(f"ticket: {g.ticket}")
    if g.expires:
        bits.append(f"expires: {instants.show(g.expires, end=True)}")
    return head, " | ".join(bits) or None


def _status_text(piece: Piece) -> str:
    return {
        "added": "new grant",
        "widened": "grant widened",
        "narrowed": "grant narrowed",
        "revoked": f"revoked at stage {piece.detail}",
        "expired": f"expired at {piece.detail}",
        "removed": "grant no longer in force",
    }[piece.status]


def _flow_text(piece: Piece) -> str:
    flow = piece.as_flow()
    source = flow["from"] if flow["source"] is None else f"{flow['from']} [{_list(flow['source'], 4)}]"
    return f"{source} -> {flow['to']}  {flow['via']}  {' '.join(flow['ports'])}  {_list(flow['destination'])}"


def _grouped(pieces: list[Piece]) -> list[tuple[Piece, list[Piece]]]:
    groups: dict[str, list[Piece]] = {}
    for piece in pieces:
        groups.setdefault(piece.grant_id, []).append(piece)
    return [(items[0], items) for items in groups.values()]


_ANSI = {"red": "31", "green": "32", "yellow": "33"}


def _ansi(text: str, fg: str | None = None, bold: bool = False) -> str:
    """`text` in a terminal colour (ANSI SGR codes, as `click.style` writes them)."""
    codes = ([f"\x1b[{_ANSI[fg]}m"] if fg else []) + (["\x1b[1m"] if bold else [])
    return "".join(codes) + text + "\x1b[0m"


def render_text(d: Diff, color: bool = False) -> str:
    """The diff as text: a headline, then + opened and - closed flows by grant, metadata
    changes and net reachability; in colour (ANSI) when `color`."""

    def style(text: str, **kw) -> str:
        return _ansi(text, **kw) if color else text

    lines = [style(headline(d), bold=True)]
    if d.empty:
        lines.append("no change")
    for sign, colour, pieces in (("+", "green", d.opened), ("-", "red", d.closed)):
        for first, items in _grouped(pieces):
            lines.append("")
            head, meta = _grant_lines(first)
            lines.append(style(f"{sign} {head}", fg=colour, bold=True))
            if meta:
                lines.append(f"    {meta}")
            for piece in items:
                lines.append(style(f"    {sign} {_flow_text(piece)}", fg=colour))
    for change in d.changed:
        lines.append("")
        lines.append(style(f"~ grant {change['grant']}: metadata changed", fg="yellow", bold=True))
        for name, values in change["fields"].items():
            lines.append(style(f"    ~ {name}: {values['from']} -> {values['to']}", fg="yellow"))
    if not d.net_same:
        lines.append("")
        lines.append(style("net reachability (whatever the grant):", bold=True))
        for sign, colour, pieces in (("+", "green", d.net_opened), ("-", "red", d.net_closed)):
            for piece in pieces:
                lines.append(style(f"    {sign} {_flow_text(piece)}  (grant {piece.grant_id})", fg=colour))
        if not d.net_opened and not d.net_closed:
            lines.append("    none: every flow only moved between grants")
    for note in d.not_opened:
        lines.append("")
        lines.append(f"note: grant {note['grant']} expired at {note['expires']}; not in force at {d.label_to}")
    return "\n".join(lines) + "\n"


def render_markdown(d: Diff) -> str:
    """A table for a merge-request comment or the crisis cell's minutes."""
    lines = [f"### egress diff: {md.code(d.label_from, table=False)} → {md.code(d.label_to, table=False)}", ""]
    if d.policy or d.stage or d.at:
        facts = []
        if d.policy:
            facts.append(f"policy {md.code(d.policy, table=False)}")
        if d.stage:
            facts.append(f"stage {md.code(d.stage, table=False)}")
        if d.at:
            facts.append(f"expiries judged at {instants.show(d.at)}")
        lines += [", ".join(facts), ""]
    s = d.summary()
    lines.append(
        f"**{counted(s['opened'], 'flow')} opened** by {counted(len(s['grants_opening']), 'grant')}, "
        f"**{counted(s['closed'], 'flow')} closed** by {counted(len(s['grants_closing']), 'grant')}, "
        f"**{counted(s['changed'], 'grant')} changed** (metadata)."
    )
    if not d.net_same:
        lines.append(f"Net reachability: {s['net_opened']} opened, {s['net_closed']} closed; the other flows moved between grants.")
    lines.append("")
    if d.empty:
        lines.append("No change.")
        return "\n".join(lines) + "\n"
    if d.opened or d.closed:
        lines.append("| | grant | from | to | via | ports | destination | reason | approved by | ticket | expires |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for sign, pieces in (("**+** opened", d.opened), ("**\N{MINUS SIGN}** closed", d.closed)):
            for piece in pieces:
                f = piece.as_flow()
                what = sign if piece.status in ("added", "widened", "narrowed") else f"{sign} ({_status_text(piece)})"
                source = f["from"] if f["source"] is None else f"{f['from']} ({_list(f['source'], 4)})"
                lines.append(
                    "| " + " | ".join([
                        what,
                        md.code(f["grant"]),
                        md.text(source),
                        md.text(f["to"]),
                        md.text(f["via"]),
                        md.text(", ".join(f["ports"])),
                        md.code(_list(f["destination"])) if f["destination"] else "",
                        md.text(f["reason"]),
                        md.text(f["approved_by"]),
                        md.text(f["ticket"]),
                        md.text(f["expires"]),
                    ]) + " |"
                )
        lines.append("")
    if d.changed:
        lines.append("| grant | field | before | after |")
        lines.append("|---|---|---|---|")
        for change in d.changed:
            for name, values in change["fields"].items():
                lines.append(f"| {md.code(change['grant'])} | {name} | {md.text(values['from'])} | {md.text(values['to'])} |")
        lines.append("")
    for note in d.not_opened:
        lines.append(f"Note: grant {md.code(note['grant'], table=False)} expired at {md.text(note['expires'])}; "
                     f"not in force at {md.code(d.label_to, table=False)}.")
    return "\n".join(lines).rstrip("\n") + "\n"

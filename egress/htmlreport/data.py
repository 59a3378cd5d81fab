"""What the report shows, computed from the flows, the diff and the agenda.

Nothing here reads YAML or walks grants to decide what is open: the matrix is the
`StageFlows` of the chosen stage (egress.flows, what every target and `query` read),
the stage sections and the counts of the timeline are `egress.diff` between each stage
and the one before, the agenda is `egress.expiring`. The template only lays these out.

Each stage of the history is judged at its own date (`diff --stage-dates`), so a grant
that expired between two stages shows as closed by the later one, as the cell saw it;
the matrix and the agenda are judged at `--at`.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from dataclasses import dataclass, field

from egress import __version__, diff as diffs, expiring
from egress.flows import StageFlows, policy_index, resolve
from egress.model import INTERNET, Policy
from egress.observe.blocked import Blocked, blocked as judge_blocked
from egress.observe.observations import Observations
from egress.observe.usage import Usage, usage as count_usage

FULL_MATRIX_CELLS = 2500
"""Above this many cells (rows x zones), the matrix is summarised by zone and the open
flows are listed in a collapsible section instead (the 100k preset has 100,000 cells)."""
FULL_MATRIX_ROWS = 120
TABLE_ROWS_OPEN = 60
"""A stage's table of opened or closed flows longer than this is collapsed (<details>)."""
DESTINATIONS_SHOWN = 8
AGENDA_DAYS = 14
BLOCKED_SHOWN = 20
"""The blocked flows shown (the most distinct sources first, as `egress blocked` sorts)."""


@dataclass(frozen=True)
class Revision:
    """Where the policy comes from: git commit and whether its sources are modified."""

    commit: str | None
    dirty: bool | None


@dataclass(frozen=True)
class Entry:
    """One grant's flow in one cell of the matrix."""

    direction: str  # egress | ingress
    via: str
    ports: tuple[str, ...]
    since: int  # index of the stage that opened it
    until: object  # the grant's expires, or None
    grant: str


@dataclass(frozen=True)
class Gone:
    """A flow of the cell that is no longer in force at the chosen stage."""

    grant: str
    why: str  # revoked | expired
    detail: object  # the revoking stage index, or the expiry


@dataclass
class Cell:
    row: str
    zone: str
    entries: list[Entry] = field(default_factory=list)
    gone: list[Gone] = field(default_factory=list)

    @property
    def open(self) -> bool:
        return bool(self.entries)


@dataclass
class Matrix:
    rows: list[str]  # services (and `internet` first when a grant comes from it)
    zones: list[str]
    cells: dict[tuple[str, str], Cell]
    full: bool
    proxy_port: int | None

    @property
    def size(self) -> int:
        return len(self.rows) * len(self.zones)

    def open_cells(self) -> list[Cell]:
        return [self.cells[key] for key in sorted(self.cells) if self.cells[key].open]

    def by_zone(self) -> list[dict]:
        """The summary of a large matrix: per zone, how many services it reaches and how."""
        out = []
        for zone in self.zones:
            direct, proxied, incoming = set(), set(), set()
            for (row, z), cell in self.cells.items():
                if z != zone:
                    continue
                for e in cell.entries:
                    if e.direction == "ingress":
                        incoming.add(row)
                    elif e.via == "proxy":
                        proxied.add(row)
                    else:
                        direct.add(row)
            out.append({"zone": zone, "direct": len(direct), "proxy": len(proxied), "incoming": len(incoming)})
        return out


@dataclass
class StageHistory:
    index: int
    id: str
    title: str | None
    date: dt.date | None
    diff: diffs.Diff

    @property
    def opened(self) -> int:
        return len(self.diff.opened)

    @property
    def closed(self) -> int:
        return len(self.diff.closed)


@dataclass(frozen=True)
class Temporary:
    """A grant with an expiry, for the timeline: from its stage to its expiry."""

    grant: str
    stage: int
    start: dt.date | None
    expires: object
    revoked_at: int | None


@dataclass
class Report:
    policy: Policy
    path: str
    revision: Revision
    version: str
    stage: StageFlows
    start: dt.datetime
    history: list[StageHistory]
    temporary: list[Temporary]
    matrix: Matrix
    agenda: expiring.Agenda
    blocked: Blocked | None = None
    usage: Usage | None = None


def build(policy: Policy, stage_id: str, start: dt.datetime, sources: list[str],
          denials: Observations | None = None, requests: Observations | None = None) -> Report:
    """Everything the report shows for `stage_id`, the matrix and agenda judged at `start`.

    `denials` and `requests` are the observations of `egress blocked` and `egress usage`
    (egress.observe), judged here against the same flows as the matrix."""
    chosen = resolve(policy, stage_id, start)
    history = stage_history(policy, start)
    return Report(
        policy=policy,
        path=policy.path,
        revision=git_revision(sources),
        version=__version__,
        stage=chosen,
        start=start,
        history=history,
        temporary=temporary_openings(policy, history),
        matrix=matrix(chosen),
        agenda=expiring.agenda(chosen, start, dt.timedelta(days=AGENDA_DAYS)),
        blocked=judge_blocked(denials, chosen) if denials is not None else None,
        usage=count_usage(requests, chosen, proxy_read=True) if requests is not None else None,
    )


def stage_history(policy: Policy, at: dt.date | dt.datetime) -> list[StageHistory]:
    """What each stage opened and closed compared with the one before (the first: with
    nothing), each judged at its own date (`at` for a stage without one)."""
    out = []
    previous: StageFlows | None = None
    for stage in policy.stages:
        flows = resolve(policy, stage.id, stage.date or at)
        label_from = previous.stage.id if previous else "-"
        d = diffs.diff(previous, flows, label_from, stage.id, None, net=False)
        d.policy = policy.name
        out.append(StageHistory(stage.index, stage.id, stage.title, stage.date, d))
        previous = flows
    return out


def piece_row(piece: diffs.Piece) -> dict:
    """What a stage table shows of one opened or closed piece: the fields of
    `Piece.as_flow()`, with only the first `DESTINATIONS_SHOWN` destinations written out
    and the rest counted (ranges and names), because writing every range of a large
    service as CIDR text would be most of the cost of the report."""
    box = piece.box
    grant_id, direction, via, source, target = piece.key
    destinations, more = _first(box.dst, diffs.name_strings(box.names), DESTINATIONS_SHOWN)
    sources, more_sources = ([], 0) if piece.whole_src else _first(box.src, [], 4)
    return {
        "grant": grant_id, "from": source, "to": target, "via": via, "direction": direction,
        "ports": diffs.port_strings(box.ports),
        "destinations": destinations, "more": more,
        "sources": sources, "more_sources": more_sources,
    }


def _first(ranges, names: list[str], limit: int) -> tuple[list[str], int]:
    """The first `limit` addresses (as CIDRs) then names, and how many are left out."""
    shown: list[str] = []
    hidden = 0
    for i, one in enumerate(ranges):
        if len(shown) >= limit:
            hidden += len(ranges) - i
            break
        texts = diffs.cidrs((one,))
        taken = texts[: limit - len(shown)]
        shown += taken
        hidden += len(texts) - len(taken)
    taken = names[: max(limit - len(shown), 0)]
    return shown + taken, hidden + len(names) - len(taken)


def temporary_openings(policy: Policy, history: list[StageHistory]) -> list[Temporary]:
    """Grants with an expiry that some stage opened, in the order of their expiry."""
    revoked: dict[str, int] = {}
    found: dict[str, Temporary] = {}
    for entry in history:
        for piece in entry.diff.closed:
            if piece.status == "revoked":
                revoked.setdefault(piece.grant_id, entry.index)
        for piece in entry.diff.opened:
            grant = piece.grant
            if grant.expires is not None and grant.id not in found:
                found[grant.id] = Temporary(grant.id, grant.stage_index, policy.stages[grant.stage_index].date,
                                            grant.expires, None)
    out = [Temporary(t.grant, t.stage, t.start, t.expires, revoked.get(t.grant)) for t in found.values()]
    out.sort(key=lambda t: (t.expires, t.grant))
    return out


def matrix(flows: StageFlows) -> Matrix:
    """Services (rows) x zones (columns) at the chosen stage, from its flows."""
    policy = flows.policy
    uses_internet = any(INTERNET in g.sources for g in policy.grants.values())
    rows = ([INTERNET] if uses_internet else []) + list(policy.services)
    zones = list(policy.zones)
    cells: dict[tuple[str, str], Cell] = {}

    def cell(row: str, zone: str) -> Cell:
        key = (row, zone)
        if key not in cells:
            cells[key] = Cell(row, zone)
        return cells[key]

    def place(flow):
        return (flow.target, flow.source) if flow.direction == "egress" else (flow.source, flow.target)

    for flow in flows.flows:
        g = flow.grant
        cell(*place(flow)).entries.append(
            Entry(flow.direction, flow.via, tuple(str(p) for p in flow.ports), g.stage_index, g.expires, g.id))
    index = policy_index(policy)
    grants = policy.grants
    for grant_id, stage in sorted(flows.revoked.items()):
        for flow in index.flows(grants[grant_id]):
            cell(*place(flow)).gone.append(Gone(grant_id, "revoked", policy.stage(stage).index))
    for grant_id, expiry in sorted(flows.expired.items()):
        for flow in index.flows(grants[grant_id]):
            cell(*place(flow)).gone.append(Gone(grant_id, "expired", expiry))
    full = len(rows) * len(zones) <= FULL_MATRIX_CELLS and len(rows) <= FULL_MATRIX_ROWS
    if full:
        for row in rows:
            for zone in zones:
                cell(row, zone)
    proxy_port = policy.proxy.port if policy.proxy else None
    return Matrix(rows, zones, cells, full, proxy_port)


def git_revision(sources: list[str]) -> Revision:
    """The commit of the repository holding the policy, and whether any of its source
    files differ from it (modified or not in the commit); (None, None) outside git.

    The repository may come from elsewhere (a policy folder mailed as an archive): its
    `.git/config` must not make the report run a program. `git status` runs
    `core.fsmonitor` and the clean filters that `.gitattributes` names, so it is not
    used: each source's bytes are hashed as they are (`hash-object --no-filters`) and
    compared with its blob in the commit."""
    folder = os.path.dirname(os.path.abspath(sources[0]))

    def git(*args: str) -> str | None:
        try:
            result = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, check=False, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return result.stdout.strip() if result.returncode == 0 else None

    commit = git("rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    if commit is None:
        return Revision(None, None)
    for source in sources:
        path = os.path.abspath(source)
        committed = git("rev-parse", "--verify", "--quiet", f"HEAD:./{os.path.relpath(path, folder)}")
        if committed is None or git("hash-object", "--no-filters", "--", path) != committed:
            return Revision(commit, True)
    return Revision(commit, False)

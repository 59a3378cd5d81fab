"""The geometry of the SVG timeline: stages on a date axis, temporary openings as bars.

One row per stage (its label on the left, a marker at its date, the counts of flows it
opened and closed beside the marker), then one row per temporary opening (a bar from
the date of the stage that opened it to its expiry, or to the stage that revoked it).
Rows never share a line, so labels cannot overlap however close the dates are. The
template draws what this computes; nothing here is HTML.

Stages without a date sit between their dated neighbours (by position). Expiries far
beyond the last stage (more than `HORIZON` after it) do not stretch the axis: their bar
runs to the edge with an arrow and the date written.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

WIDTH = 1000
LABELS = 300  # the left column of labels
RIGHT = 110  # room for the last counts and expiry labels
TOP = 34  # the axis
STAGE_ROW = 34
BAR_ROW = 20
HORIZON = dt.timedelta(days=200)
MAX_BARS = 40


@dataclass(frozen=True)
class Tick:
    x: float
    date: dt.date


@dataclass(frozen=True)
class StageMark:
    id: str
    index: int
    title: str
    date: dt.date | None
    x: float
    y: float
    opened: int
    closed: int


@dataclass(frozen=True)
class Bar:
    grant: str
    x0: float
    x1: float
    y: float
    expires: object
    clipped: bool
    revoked_at: str | None


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    axis_y: float
    plot_left: float
    plot_right: float
    ticks: list[Tick]
    stages: list[StageMark]
    bars: list[Bar]
    more_bars: int
    bars_y: float  # where the heading of the temporary openings goes
    at_x: float | None
    at: dt.date


def layout(history, temporary, at: dt.date) -> Timeline:
    """`history`: StageHistory list; `temporary`: Temporary list (data.py)."""
    dated = [h.date for h in history if h.date]
    first = min(dated + [at]) if dated else at
    last_stage = max(dated) if dated else at
    ends = [t.expires.date() for t in temporary]
    horizon = last_stage + min(HORIZON, dt.date.max - last_stage)
    last = max([last_stage, min(at, horizon)] + [e for e in ends if e <= horizon])
    span = max((last - first).days, 1)
    left, right = LABELS + 10, WIDTH - RIGHT

    def x_of(day: dt.date) -> float:
        return round(left + (min(day, last) - first).days / span * (right - left), 1)

    xs = _stage_xs(history, x_of, left, right)
    stages = [
        StageMark(h.id, h.index, h.title or "", h.date, xs[i], TOP + 10 + i * STAGE_ROW + STAGE_ROW / 2, h.opened, h.closed)
        for i, h in enumerate(history)
    ]
    bars_y = TOP + 10 + len(history) * STAGE_ROW + 14
    bars = []
    for j, t in enumerate(temporary[:MAX_BARS]):
        end = t.expires.date()
        revoked_at = None
        if t.revoked_at is not None and history[t.revoked_at].date and history[t.revoked_at].date < end:
            end, revoked_at = history[t.revoked_at].date, history[t.revoked_at].id
        start = t.start or first
        bars.append(Bar(t.grant, x_of(start), x_of(end), bars_y + 16 + j * BAR_ROW, t.expires, end > last, revoked_at))
    height = int(bars_y + 16 + max(len(bars), 1) * BAR_ROW + (BAR_ROW if len(temporary) > MAX_BARS else 0) + 6)
    at_x = x_of(at) if first <= at <= last else None
    return Timeline(WIDTH, height, TOP, left, right, _ticks(first, last, x_of), stages, bars,
                    max(len(temporary) - MAX_BARS, 0), bars_y, at_x, at)


def _stage_xs(history, x_of, left: float, right: float) -> list[float]:
    """x of each stage: its date, or between its dated neighbours."""
    known = {i: x_of(h.date) for i, h in enumerate(history) if h.date}
    if not known:
        n = max(len(history) - 1, 1)
        return [round(left + i / n * (right - left), 1) for i in range(len(history))]
    out = []
    for i in range(len(history)):
        if i in known:
            out.append(known[i])
            continue
        before = [k for k in known if k < i]
        after = [k for k in known if k > i]
        lo = (before[-1], known[before[-1]]) if before else (-1, float(left))
        hi = (after[0], known[after[0]]) if after else (len(history), float(right))
        out.append(round(lo[1] + (i - lo[0]) / (hi[0] - lo[0]) * (hi[1] - lo[1]), 1))
    return out


def _ticks(first: dt.date, last: dt.date, x_of) -> list[Tick]:
    """The first day of each month (every 3rd month past two years, yearly past eight)."""
    months = (last.year - first.year) * 12 + last.month - first.month
    step = 1 if months <= 24 else 3 if months <= 96 else 12
    day = dt.date(first.year, first.month, 1)
    ticks = [Tick(x_of(first), first)]
    while True:
        month = day.month - 1 + step
        if day.year + month // 12 > dt.MAXYEAR:
            break
        day = dt.date(day.year + month // 12, month % 12 + 1, 1)
        if day > last:
            break
        if (day - first).days >= 3:  # leave room for the first label
            ticks.append(Tick(x_of(day), day))
    return ticks

"""The crisis cell's report: one self-contained HTML file (`egress report`).

`data.build` computes what the report shows from the flows, the diff and the agenda;
`timeline.layout` places the stages and temporary openings on a date axis; `render`
lays both out with the Jinja2 templates of `templates/` (autoescaped: policy text is
shown as written, never read as HTML) in one of the languages of `labels`.

The file stands alone, because hospital networks are cut off and the report is mailed
around: CSS and SVG inline, no script, no font, image or link to fetch (the favicon is
an empty data: URL so that a browser does not ask for one). It prints on A4 with the
policy, stage and date at the top of each page. The same inputs give the same bytes:
nothing in it depends on the clock except through `--at`.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache

import jinja2

from egress import instants
from egress.atomic import write_atomically
from egress.htmlreport import data, labels, timeline
from egress.htmlreport.data import Report, build

__all__ = ["LANGUAGES", "Report", "build", "render", "write"]

LANGUAGES = labels.LANGUAGES


@cache
def _environment(lang: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("egress.htmlreport", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
        keep_trailing_newline=True,
    )
    words = labels.LABELS[lang]
    env.filters.update(
        day=lambda d: labels.date_text(d, lang),
        short=lambda d: labels.short_date(d, lang),
        instant=instants.show,  # unambiguous: the policy's timezone, named, and UTC
        epoch=lambda seconds: instants.show(dt.datetime.fromtimestamp(seconds, dt.UTC)),
        day_of=lambda value: instants.show(value, end=True),  # an expiry at midnight reads 24:00 (not translated)
        until=lambda value: short_expiry(value, lang),
        soon=lambda delta: soon_text(delta, words),
        css_string=css_string,
    )
    return env


def short_expiry(value: dt.datetime, lang: str) -> str:
    """An expiry in few words, for the narrow places (matrix cells, timeline bars):
    the last day it is open (`31 Aug 2023`), or that day and the time when it closes
    during a day (`30 Sep 2023 18:00`), on the policy's clock (the legend names the
    zone; the full instant is in the tooltip and in the tables)."""
    if (value.hour, value.minute, value.second) == (0, 0, 0):
        return labels.date_text(value.date() - dt.timedelta(days=1), lang)
    return f"{labels.date_text(value.date(), lang)} {value.strftime('%H:%M:%S' if value.second else '%H:%M')}"


def soon_text(delta: dt.timedelta, words: dict[str, str]) -> str:
    hours = int(delta.total_seconds() // 3600)
    if hours >= 48:
        return words["in_days"].format(n=hours // 24)
    return words["in_hours"].format(n=max(hours, 0))


def css_string(text: str) -> jinja2.utils.markupsafe.Markup:
    """A CSS string literal for `@page` headers: anything but plain characters is a
    hex escape, so no value can close the string or the rule."""
    escaped = re.sub(r"[^A-Za-z0-9 .,:_#/()+-]", lambda m: f"\\{ord(m.group(0)):x} ", text)
    return jinja2.utils.markupsafe.Markup(f'"{escaped}"')


def render(report: Report, lang: str = "en") -> str:
    """The report as one HTML document."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language '{lang}' (known: {', '.join(LANGUAGES)})")
    stage = report.stage.stage
    header = f"{report.policy.name} · {stage.id} · {instants.show(report.start)}"
    return _environment(lang).get_template("report.html.j2").render(
        report=report,
        lang=lang,
        t=labels.LABELS[lang],
        page_header=header,
        timeline=timeline.layout(report.history, report.temporary, report.start.date()),
        agenda_days=data.AGENDA_DAYS,
        table_rows_open=data.TABLE_ROWS_OPEN,
        row=data.piece_row,
        blocked_shown=data.BLOCKED_SHOWN,
    )


def write(path: str, html: str) -> None:
    """Write the file whole or not at all (egress.atomic: a temporary file, then a rename)."""
    write_atomically(path, html, mode=0o644)

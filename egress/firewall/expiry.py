"""What closes when, seen from the firewall: the expiries a bundle's manifest records.

A bundle is compiled for one instant (`--at`, default: the time of the compile). Grants
whose expiry came before it are left out; the others are in the ruleset, their expiry
recorded in the manifest (egress/bundle.py). Applied long after its compile, a bundle may
therefore still hold grants that have expired since. `apply` warns about that (a bundle
compiled for an instant far from now, grants already past their expiry) and refuses with
`--strict`; `status` shows the next expiry of the stage in force and what it closes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from egress import instants
from egress.manifest import Manifest

#: A bundle compiled for an instant further than this from now gets a warning.
FAR = dt.timedelta(days=2)


def _instant(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        return instants.moment(text, instants.DEFAULT_TIMEZONE)
    except (ValueError, TypeError):
        return None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _span(delta: dt.timedelta) -> str:
    seconds = abs(delta.total_seconds())
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.0f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.0f} hours"
    return f"{seconds / 60:.0f} minutes"


def closes(entry: dict[str, Any]) -> str:
    """`grant G (lab -> vendor, via proxy)`."""
    return f"grant {entry['grant']} ({', '.join(entry['from'])} -> {', '.join(entry['to'])}, {entry['via']})"


def warnings(manifest: Manifest, now: dt.datetime | None = None) -> list[str]:
    """What `apply` says before loading: a compile instant far from now, expired grants."""
    now = now or _now()
    found = []
    compiled = _instant(manifest.at)
    if compiled is not None and abs(now - compiled) > FAR:
        when = "ago" if compiled < now else "from now"
        found.append(f"this bundle was compiled for {manifest.at}, {_span(now - compiled)} {when}: compile the "
                     "stage again for now (without --at) so that its expiries are judged today")
    for entry in manifest.expiries:
        at = _instant(entry["at"])
        if at is not None and at <= now:
            found.append(f"{closes(entry)} expired at {entry['at']} and is in this bundle")
    return found


def next_expiry(expiries: list[dict[str, Any]] | None, now: dt.datetime | None = None) -> dict[str, Any] | None:
    """The next expiry instant of a loaded stage, the grants it closes, and those past
    their expiry already; None when the stage has no expiry."""
    if not expiries:
        return None
    now = now or _now()
    ordered = sorted(expiries, key=lambda e: _instant(e["at"]) or now)
    past = [e for e in ordered if (_instant(e["at"]) or now) <= now]
    future = [e for e in ordered if e not in past]
    result: dict[str, Any] = {"at": None, "in_seconds": None, "closes": [], "past": [closes(e) for e in past]}
    if future:
        first = future[0]["at"]
        result["at"] = first
        result["in_seconds"] = round(((_instant(first) or now) - now).total_seconds())
        result["closes"] = [closes(e) for e in future if e["at"] == first]
    return result

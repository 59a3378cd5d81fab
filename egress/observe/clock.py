"""Timestamps of log lines -> epoch seconds (UTC), parsed lazily.

Parsing a time costs more than parsing the rest of a line, and a blocked flow only needs
its first and last: the parsers keep the raw text of those two per flow and file, and
only they are parsed here, once the file is read.

Syslog times (`Dec  1 13:19:00`) have no year and are in the host's local time: the
year is the one that puts the time at most a day after the file's modification time
(`reference`), so a December line read in January is dated the December before.
"""

from __future__ import annotations

import datetime as dt
import re

MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
_ISO = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?")
_BSD = re.compile(r"([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d)")
_CTIME = re.compile(r"\[[A-Z][a-z]{2} ([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4})\]")


def epoch(text: str) -> float | None:
    """`1796131140.123` (Squid, ulogd's oob.time.sec) -> seconds, or None."""
    try:
        return float(text)
    except ValueError:
        return None


def syslog_time(prefix: str, reference: float) -> float | None:
    """The time at the start of a syslog, journal or `dmesg -T` line, or None (plain
    `dmesg` counts from boot and has no wall-clock time)."""
    prefix = prefix.lstrip()
    match = _ISO.match(prefix)
    if match:
        try:
            when = dt.datetime.fromisoformat(match.group(0).replace("Z", "+00:00"))
        except ValueError:
            return None
        return (when if when.tzinfo else when.astimezone()).timestamp()
    match = _BSD.match(prefix)
    if match:
        month, day, hh, mm, ss = match.groups()
        year = None
    else:
        match = _CTIME.search(prefix)
        if not match:
            return None
        month, day, hh, mm, ss, year = match.groups()
    if month not in MONTHS:
        return None
    ref = dt.datetime.fromtimestamp(reference)
    try:
        when = dt.datetime(int(year) if year else ref.year, MONTHS[month], int(day), int(hh), int(mm), int(ss))
        if year is None and when - ref > dt.timedelta(days=1):
            when = when.replace(year=ref.year - 1)
    except ValueError:
        return None
    return when.astimezone().timestamp()


def iso(seconds: float | None) -> str | None:
    """Epoch seconds -> `2026-12-01T13:19:00Z` (UTC, to the second), or None."""
    if seconds is None:
        return None
    return dt.datetime.fromtimestamp(int(seconds), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

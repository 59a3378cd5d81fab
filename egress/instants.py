"""Instants: when a grant closes, when its rules are judged, and how both are shown.

Every expiry and every `--at` is an aware `datetime.datetime` (an instant), never a
bare date, so that "closed" means the same thing in the validator, the compiler, the
kernel and the proxy, whatever the timezone of the machine that runs them:

- `expires: 2023-09-30` (a date) closes the grant at the END of that day in the
  policy's `timezone:` (UTC when absent), i.e. at 00:00 of 2023-10-01 there;
  `expires: 2023-09-30T18:00:00+02:00` closes it at that instant. A date-time without
  an offset is refused: its instant would depend on who reads it.
- `--at 2023-07-01` (a date) means 00:00 of that day in the policy's timezone (the
  start of the day: a grant written `expires: 2023-07-01` is still in force that day);
  `--at` may also be a date-time with offset; no `--at` means now.
- a grant has expired at `at` when its expiry is at or before `at` (`expired`).

`show` is the one way an instant is written for people, in every text output
(diagnostics, diff, query, comments of generated files): the wall-clock time in the
policy's timezone, named, then the same instant in UTC, e.g.
`2023-09-30 24:00 Europe/Paris (2023-09-30T22:00:00Z)`. An expiry at midnight is
written as 24:00 of the day before (`end=True`), so that `expires: 2023-09-30` reads
back as 2023-09-30. `iso` is the form for machines (JSON, manifests): RFC 3339 in UTC.
`epoch` gives the integer seconds that generated rules compare against (`meta time`),
which do not depend on the loader's timezone.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

UTC = dt.UTC
DEFAULT_TIMEZONE = "UTC"

FORMS = ("YYYY-MM-DD (for expires: the end of that day; for --at: the start of that day) or "
         "YYYY-MM-DDTHH:MM[:SS] with an offset (Z or +HH:MM), e.g. 2023-09-30T18:00:00+02:00")
"""The accepted forms, as said in every error about an instant."""

FIRST_DAY, LAST_DAY = dt.date(1, 1, 2), dt.date(9999, 12, 30)
FIRST, LAST = dt.datetime.combine(FIRST_DAY, dt.time(), UTC), dt.datetime.combine(LAST_DAY, dt.time(), UTC)
"""The instants accepted with a time of day: a day's margin at each end of the calendar,
so that the same instant in UTC and in any timezone is a date Python can hold. A plain
date is judged in the policy's timezone (`_held`): 9999-12-31 starts in any zone, but
does not end (0001-01-01 in Paris starts on 0000-12-31 in UTC)."""
RANGE = f"write a day between {FIRST_DAY} and {LAST_DAY}"

_DATE = r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})"
_TIME = r"(?P<time>[0-9]{2}:[0-9]{2}(?::[0-9]{2})?)"
_OFFSET = r"(?P<offset>[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)"
INSTANT_RE = re.compile(rf"{_DATE}(?:[Tt ]{_TIME}[ ]?{_OFFSET}?)?\Z")
"""A date, or a date-time with an optional offset (its absence is refused with its own
message): what YAML's timestamp form allows, minus fractions of seconds."""


class InstantError(ValueError):
    """A value that is not an instant; the message says why and gives the forms."""


@lru_cache(maxsize=64)
def zone(name: str) -> dt.tzinfo:
    """The IANA timezone `name`; `InstantError` if there is no such zone.

    Only names of the IANA database count: `localtime` (the machine's own zone) and
    the `posix/`, `right/` copies are refused, so a policy means the same everywhere.
    """
    if name == DEFAULT_TIMEZONE:
        return ZoneInfo(name)
    if not isinstance(name, str) or name not in _known_zones():
        raise InstantError(f"{name!r} is not a known IANA timezone name (e.g. Europe/Paris, UTC)")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # pragma: no cover - listed but unreadable
        raise InstantError(f"{name!r} cannot be read from the timezone database") from None


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(
        name for name in available_timezones()
        if name not in ("localtime", "Factory") and not name.startswith(("posix/", "right/"))
    )


def start_of_day(day: dt.date, timezone: str) -> dt.datetime:
    """00:00 of `day` in `timezone` (the first instant of that day there)."""
    return dt.datetime.combine(day, dt.time(), tzinfo=zone(timezone))


def end_of_day(day: dt.date, timezone: str) -> dt.datetime:
    """The instant `day` ends in `timezone`: 00:00 of the next day there."""
    return start_of_day(day + dt.timedelta(days=1), timezone)


def parse(text: str) -> dt.date | dt.datetime:
    """`YYYY-MM-DD` -> a date; a date-time with offset -> an aware datetime.

    `InstantError` for anything else, with a message that names the problem (a
    date-time without offset, an impossible date or time) and gives `FORMS`.
    """
    return _within_calendar(_parse(text), text)


def _parse(text: str) -> dt.date | dt.datetime:
    match = INSTANT_RE.match(text) if isinstance(text, str) else None
    if not match:
        raise InstantError(f"{text!r} is not a date or an instant; write {FORMS}")
    try:
        day = dt.date.fromisoformat(match["date"])
    except ValueError:
        raise InstantError(f"{text!r}: no such day; write {FORMS}") from None
    if match["time"] is None:
        return day
    if match["offset"] is None:
        raise InstantError(f"{text!r} has no UTC offset, so its instant depends on who reads it; write {FORMS}")
    try:
        time = dt.time.fromisoformat(match["time"])
    except ValueError:
        raise InstantError(f"{text!r}: no such time of day; write {FORMS}") from None
    offset = match["offset"]
    if offset in ("Z", "z"):
        tz = UTC
    else:
        digits = offset[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:] or 0)
        if hours > 23 or minutes > 59:
            raise InstantError(f"{text!r}: offset {offset} is out of range; write {FORMS}")
        sign = -1 if offset[0] == "-" else 1
        tz = dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
    return dt.datetime.combine(day, time, tzinfo=tz)


def _within_calendar(value: dt.date | dt.datetime, text: object = None) -> dt.date | dt.datetime:
    """`value` if it is a date, or an aware date-time within `FIRST`..`LAST`;
    `InstantError` otherwise, instead of an overflow later (for what people write: the
    instants egress derives itself are checked where they are made, `_held`)."""
    if isinstance(value, dt.datetime) and value.utcoffset() is not None and not FIRST <= value <= LAST:
        shown = text if isinstance(text, str) else value.isoformat()
        raise InstantError(f"{shown!r} is out of range; {RANGE}")
    return value


def _in_zone(instant: dt.datetime, timezone: str) -> dt.datetime:
    return instant.astimezone(zone(timezone))


def _held(day: dt.date, timezone: str, edge) -> dt.datetime:
    """`edge(day, timezone)` (`start_of_day`, `end_of_day`, or `_in_zone` of a date-time),
    checked to be an instant Python can also write in UTC; `InstantError` otherwise (the
    ends of the calendar)."""
    try:
        instant = edge(day, timezone)
        instant.astimezone(UTC)
    except OverflowError:
        raise InstantError(f"'{day.isoformat()}' is out of range in {timezone}; {RANGE}") from None
    return instant


def _instant(value: dt.date | dt.datetime | str, timezone: str, day_edge) -> dt.datetime:
    """`value` as an instant in `timezone`: a date-time itself (aware; a naive one is an
    `InstantError`), or `day_edge` (`start_of_day` or `end_of_day`) of a plain date."""
    value = parse(value) if isinstance(value, str) else value
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InstantError(f"'{value.isoformat()}' has no UTC offset; write {FORMS}")
        return _held(value, timezone, _in_zone)
    return _held(value, timezone, day_edge)


def expiry(value: dt.date | dt.datetime | str, timezone: str) -> dt.datetime:
    """The instant a grant closes: the end of a plain date's day in `timezone`, or the
    date-time itself (aware; a naive one is an `InstantError`)."""
    return _instant(value, timezone, end_of_day)


def moment(at: dt.date | dt.datetime | str | None, timezone: str) -> dt.datetime:
    """The instant at which expiries are judged (`--at`): 00:00 of a plain date in
    `timezone`, a date-time itself (aware), or now (to the second) when None."""
    if at is None:
        return dt.datetime.now(UTC).replace(microsecond=0).astimezone(zone(timezone))
    return _instant(at, timezone, start_of_day)


def expired(expires: dt.datetime | None, at: dt.datetime) -> bool:
    """True when a grant closing at `expires` is closed at `at` (closed AT its instant)."""
    return expires is not None and expires <= at


def epoch(instant: dt.datetime) -> int:
    """Whole seconds since 1970-01-01T00:00:00Z (what nftables `meta time` compares)."""
    return int(instant.timestamp())


def iso(instant: dt.datetime) -> str:
    """RFC 3339 in UTC, for machines: `2023-09-30T22:00:00Z`."""
    return instant.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def show(instant: dt.datetime, end: bool = False) -> str:
    """An instant for people: wall-clock time in its own timezone (the policy's: every
    instant of a policy is kept in the policy's zone), named, then in UTC.

    `2023-10-01 00:00 Europe/Paris (2023-09-30T22:00:00Z)`; with `end` (an expiry),
    midnight is written as 24:00 of the day before, as the policy says it:
    `2023-09-30 24:00 Europe/Paris (2023-09-30T22:00:00Z)`.
    """
    local = instant
    name = getattr(instant.tzinfo, "key", None) or _offset_name(instant)
    day, clock = local.date(), local.strftime("%H:%M:%S" if local.second else "%H:%M")
    if end and (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0):
        day, clock = day - dt.timedelta(days=1), "24:00"
    return f"{day.isoformat()} {clock} {name} ({iso(instant)})"


def _offset_name(instant: dt.datetime) -> str:
    offset = instant.utcoffset() or dt.timedelta(0)
    if not offset:
        return "UTC"
    sign = "-" if offset < dt.timedelta(0) else "+"
    minutes = abs(offset) // dt.timedelta(minutes=1)
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"

"""Integer intervals: the one implementation of merging, covering and subtracting.

Addresses (as integers) and ports are sets of integers written as inclusive intervals
`(first, last)`. `Intervals` is the normal form: a tuple of intervals sorted, disjoint
and not touching (adjacent intervals are merged), so that two equal sets are equal
tuples and a set operation is a linear merge. The flows (address ranges of zones and
services), the diff (reach as boxes of intervals), the Squid target (its port lists),
the checks (does a service offer a grant's ports) and the nftables target use these
functions, tested once in tests/test_shared.py against Python sets.

Intersection and difference switch to bisection when one side is much smaller than the
other (a single address against a 100,000-network service), so a query costs the small
side, not the large one.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable

Interval = tuple[int, int]
Intervals = tuple[Interval, ...]
"""Sorted, disjoint, not touching `(first, last)` pairs, both ends included."""


def merge_sorted(pairs: Iterable[Interval]) -> Intervals:
    """Pairs already sorted by `first` -> `Intervals` (overlapping or adjacent joined)."""
    out: list[Interval] = []
    last: Interval | None = None
    for pair in pairs:
        if last is not None and pair[0] <= last[1] + 1:
            if pair[1] > last[1]:
                last = out[-1] = (last[0], pair[1])
        else:
            last = (pair[0], pair[1]) if type(pair) is not tuple else pair
            out.append(last)
    return tuple(out)


def merge(pairs: Iterable[Interval]) -> Intervals:
    """Any pairs -> `Intervals`."""
    return merge_sorted(sorted(pairs))


def union(a: Intervals, b: Intervals) -> Intervals:
    if not a or a == b:
        return b
    if not b:
        return a
    return merge_sorted(sorted(a + b))


def _much_smaller(a: Intervals, b: Intervals) -> bool:
    """True when `a` is so much smaller than `b` that bisecting `b` beats a merge."""
    return len(a) * 16 < len(b)


def _meeting(b: Intervals, lasts: list[int], lo: int, hi: int) -> Iterable[Interval]:
    """The intervals of `b` that meet `lo..hi`, found by bisection (`lasts`: the last
    ends of `b`): the small-side loop shared by `intersect` and `subtract`."""
    i = bisect_left(lasts, lo)
    while i < len(b) and b[i][0] <= hi:
        yield b[i]
        i += 1


def intersect(a: Intervals, b: Intervals) -> Intervals:
    if not a or not b:
        return ()
    if a == b:
        return a
    if _much_smaller(b, a):
        a, b = b, a
    out: list[Interval] = []
    if _much_smaller(a, b):
        lasts = [hi for _, hi in b]
        for lo, hi in a:
            out += ((max(lo, first), min(hi, last)) for first, last in _meeting(b, lasts, lo, hi))
        return tuple(out)
    i = j = 0
    while i < len(a) and j < len(b):
        lo = max(a[i][0], b[j][0])
        hi = min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def subtract(a: Intervals, b: Intervals) -> Intervals:
    """`a - b`."""
    if not a or not b:
        return a
    if a == b:
        return ()
    out = []
    if _much_smaller(a, b):
        lasts = [hi for _, hi in b]
        for lo, hi in a:
            for first, last in _meeting(b, lasts, lo, hi):
                if first > lo:
                    out.append((lo, first - 1))
                lo = last + 1
            if lo <= hi:
                out.append((lo, hi))
        return tuple(out)
    j = 0
    for lo, hi in a:
        while j < len(b) and b[j][1] < lo:
            j += 1
        k = j
        while k < len(b) and b[k][0] <= hi:
            if b[k][0] > lo:
                out.append((lo, b[k][0] - 1))
            lo = max(lo, b[k][1] + 1)
            if b[k][1] > hi:
                break
            k += 1
        if lo <= hi:
            out.append((lo, hi))
    return tuple(out)


def contains(a: Intervals, value: int) -> bool:
    i = bisect_right(a, (value, float("inf"))) - 1
    return i >= 0 and a[i][0] <= value <= a[i][1]


def covers(a: Intervals, first: int, last: int) -> bool:
    """True if every integer of `first..last` is in `a`."""
    i = bisect_right(a, (first, float("inf"))) - 1
    return i >= 0 and a[i][0] <= first and last <= a[i][1]

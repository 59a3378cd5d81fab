"""The shared helpers, tested once: egress/intervals.py (against Python sets),
egress/names.py (is this name under that domain)."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from egress import intervals as I
from egress.names import domains_of, nearest_domain


def test_domains_of_a_name_nearest_first():
    assert domains_of("a.b.example.org") == ["a.b.example.org", "b.example.org", "example.org"]
    assert domains_of("a.b.example.org", strict=True) == ["b.example.org", "example.org"]
    assert domains_of("example.org", strict=True) == []  # a top-level domain is never a domain here


def test_nearest_domain():
    domains = {"example.org", "b.example.org"}
    assert nearest_domain("a.b.example.org", domains) == "b.example.org"
    assert nearest_domain("b.example.org", domains) == "b.example.org"
    assert nearest_domain("b.example.org", domains, strict=True) == "example.org"
    assert nearest_domain("example.org", domains, strict=True) is None
    assert nearest_domain("xexample.org", domains) is None
    assert nearest_domain("www.xa.fr", {"a.fr"}) is None


def test_library_renderers_do_not_need_click():
    """diff renders its own colours (the CLI only says whether stdout is a terminal);
    the CLI's --target choices are the registry's."""
    import ast
    from pathlib import Path

    import click

    from egress import diff
    from egress.cli import compile as compile_command
    from egress.targets import TARGETS

    tree = ast.parse(Path(diff.__file__).read_text(encoding="utf-8"))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert "click" not in imported
    for kw in ({"fg": "green", "bold": True}, {"fg": "yellow"}, {"bold": True}, {"fg": "red"}):
        assert diff._ansi("x", **kw) == click.style("x", **kw)
    option = next(p for p in compile_command.params if p.name == "target")
    assert list(option.type.choices) == list(TARGETS)


# -- intervals ------------------------------------------------------------------------

small_ranges = st.lists(st.tuples(st.integers(0, 40), st.integers(0, 6)), max_size=6).map(
    lambda items: I.merge((lo, lo + n) for lo, n in items)
)


def members(ranges) -> set[int]:
    return {v for lo, hi in ranges for v in range(lo, hi + 1)}


@settings(max_examples=200, deadline=None)
@given(small_ranges, small_ranges)
def test_ranges_algebra(a, b):
    assert members(I.union(a, b)) == members(a) | members(b)
    assert members(I.intersect(a, b)) == members(a) & members(b)
    assert members(I.subtract(a, b)) == members(a) - members(b)
    assert I.subtract(a, b) == I.merge(I.subtract(a, b))  # stays normalised
    for v in range(50):
        assert I.contains(a, v) == (v in members(a))


@settings(max_examples=100, deadline=None)
@given(small_ranges, st.lists(st.integers(0, 2000), max_size=40))
def test_ranges_small_against_large(a, starts):
    big = I.merge((s * 3, s * 3 + 1) for s in starts)  # large and sparse: the bisect path
    assert members(I.intersect(a, big)) == members(a) & members(big)
    assert members(I.intersect(big, a)) == members(a) & members(big)
    assert members(I.subtract(a, big)) == members(a) - members(big)


@settings(max_examples=200, deadline=None)
@given(small_ranges, st.integers(0, 50), st.integers(0, 6))
def test_covers_and_merge(a, first, size):
    assert I.covers(a, first, first + size) == (set(range(first, first + size + 1)) <= members(a))
    assert I.merge(reversed(a)) == a and I.merge([(1, 3), (4, 6), (2, 2)]) == ((1, 6),)  # adjacent join

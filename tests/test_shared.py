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


def test_direction_is_decided_once_by_the_model(tmp_path):
    """Policy.direction is what the flows are built by and what the checks judge by."""
    import datetime as dt

    from egress.flows import resolve
    from tests.test_diff import BASE, load, write

    policy = load(write(tmp_path, BASE))
    grants = policy.grants
    assert policy.direction(grants["to-partner"]) == "egress"
    mixed = grants["to-partner"].__class__(**{**grants["to-partner"].__dict__, "targets": ("partner", "lab")})
    assert policy.direction(mixed) is None
    flows = resolve(policy, "last", dt.date(2023, 7, 1))
    assert {f.direction for f in flows.flows} == {"egress"}


def test_query_reads_the_flows_index_not_a_rebuilt_policy(tmp_path):
    """Every flow of every grant (for the reasons of a denial) and the grants' order come
    from the policy's index, built once; query neither resolves nor rewrites a policy."""
    import datetime as dt
    from pathlib import Path

    from egress import query
    from egress.flows import resolve
    from tests.test_diff import BASE, load, write

    source = Path(query.__file__).read_text(encoding="utf-8")
    assert "resolve(" not in source and "dataclasses.replace(self.policy" not in source
    policy = load(write(tmp_path, BASE))
    assert [f.grant.id for f in policy.index.every_flow] == ["to-partner", "web"]
    assert policy.index.order == {"to-partner": 0, "web": 1}
    denied = query.query(resolve(policy, "s1", dt.date(2023, 7, 1)), "10.30.0.5", "www.vidal.fr", "tcp/443")
    assert "comes with stage s2" in " ".join(denied.reasons)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([4, 6]), st.integers(0, 60), st.integers(0, 8)), max_size=12))
def test_merge_ranges_merges_within_each_version(raw):
    from egress.flows import merge_ranges

    ranges = [(v, first, first + size) for v, first, size in raw]
    expected = tuple((v, lo, hi) for v in (4, 6) for lo, hi in I.merge((f, last) for w, f, last in ranges if w == v))
    assert merge_ranges(ranges) == expected


@settings(max_examples=300, deadline=None)
@given(version=st.sampled_from([4, 6]), a=st.integers(0, 2**128 - 1), b=st.integers(0, 2**128 - 1))
def test_range_cidrs_cover_exactly_the_range(version, a, b):
    from netaddr import IPAddress, IPRange

    from egress.flows import _cidrs

    top = 2**32 - 1 if version == 4 else 2**128 - 1
    first, last = sorted((a & top, b & top))
    if version == 4 and a % 3 == 0:  # also ranges of one address, and the whole space
        first, last = (first, first) if a % 2 else (0, top)
    found = _cidrs(version, first, last)
    expected = IPRange(IPAddress(first, version), IPAddress(last, version)).cidrs()
    assert found == expected


def test_address_sets_built_from_the_ranges_equal_those_of_the_networks():
    """`flows.Addresses` builds a zone's or service's IPSet from its merged ranges, and
    only when it is read: the same CIDRs, in the same order, as the set of the networks
    written (and of the lock file's addresses of its hosts), v4 and v6, for every zone
    and service of the shipped policy; resolving reads none of them."""
    import datetime as dt
    from pathlib import Path

    from netaddr import IPSet

    from egress.check import validate
    from egress.flows import resolve

    path = Path(__file__).resolve().parent.parent / "policies" / "chu-rennes-2023" / "policy.yaml"
    policy, _ = validate(str(path), dt.date(2023, 7, 1))
    assert policy is not None and policy.lock is not None
    flows = resolve(policy, "last", dt.date(2023, 7, 1))
    assert all(f.destinations._ipset is None for f in flows.flows if f.direction == "egress")
    index, versions = policy.index, set()
    for name, service in policy.services.items():
        for locked in (False, True):
            networks = [a.to_netaddr() for a in service.addresses]
            if locked:
                networks += [n for d in service.of_kind("host") for n in policy.lock.hosts.get(d.value, ())]
            ipset, ranges = index.service(name, locked)
            assert list(ipset.iter_cidrs()) == list(IPSet(networks).iter_cidrs()), name
            versions |= {v for v, _, _ in ranges}
    for name, zone in policy.zones.items():
        assert list(index.zone(name)[0].iter_cidrs()) == list(IPSet(a.to_netaddr() for a in zone.addresses).iter_cidrs()), name
    assert versions == {4, 6}


def test_load_returns_the_files_it_read_and_gitsource_follows_its_include_rules(tmp_path):
    from egress import gitsource
    from egress.load import load_policy
    from tests.test_diff import BASE

    folder = tmp_path / "p"
    folder.mkdir()
    start, end = BASE.index("  sites:\n"), BASE.index("stages:")
    (folder / "policy.yaml").write_text(BASE[:start] + BASE[end:] + "include: [web.yaml]\n")
    (folder / "web.yaml").write_text("services:\n" + BASE[start:end])
    policy, _ = load_policy(str(folder / "policy.yaml"))
    assert policy is not None and policy.sources == (str(folder / "policy.yaml"), str(folder / "web.yaml"))
    (folder / "policy.lock.yaml").write_text("egress-lock: 1\nhosts: {}\n")
    policy, _ = load_policy(str(folder / "policy.yaml"))
    assert policy is not None and policy.sources[-1] == str(folder / "policy.lock.yaml")
    text = b"egress: 1\ninclude: [a.yaml, ../b.yaml, sub/c.yaml, policy.yaml, /etc/d.yaml, 7]\n"
    assert gitsource._includes(text, str(folder / "policy.yaml")) == ["a.yaml"]
    assert gitsource._includes(b"include: [a.yaml\n", str(folder / "policy.yaml")) == []  # not YAML: none

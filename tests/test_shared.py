"""The shared helpers, tested once: egress/names.py (is this name under that domain)."""

from __future__ import annotations

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

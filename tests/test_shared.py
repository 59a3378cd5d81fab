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

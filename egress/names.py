"""DNS names: "is this name under that domain", written once.

A `domain:` destination stands for the domain and every name below it; a `host:` for
exactly that name. The proxy target (which drops dstdomain entries that another covers),
the diff (a host under an open domain opens nothing new), `query` and `reach` (which
grant names this host) all ask the same question, and get the same answer from here.
Names are compared as written: lowercase, no trailing dot (the loader guarantees it).
"""

from __future__ import annotations

from collections.abc import Container


def domains_of(name: str, strict: bool = False) -> list[str]:
    """The domains that hold `name`, nearest first: the name itself (unless `strict`),
    then each parent of two labels or more. `a.b.example.org` -> `a.b.example.org`,
    `b.example.org`, `example.org`."""
    labels = name.split(".")
    return [".".join(labels[i:]) for i in range(1 if strict else 0, len(labels) - 1)]


def nearest_domain(name: str, domains: Container[str], strict: bool = False) -> str | None:
    """The nearest of `domains` that `name` is (unless `strict`) or is below; None."""
    for domain in domains_of(name, strict):
        if domain in domains:
            return domain
    return None


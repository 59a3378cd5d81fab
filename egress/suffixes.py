"""Public suffixes: is a `domain:` destination one, or above one (W102)?

The data is the Public Suffix List (ICANN and private sections) as the `publicsuffixlist`
package ships it, offline; the rules of a lookup are the package's own (a wildcard
`*.ck` makes every `x.ck` public, an exception `!www.ck` takes `www.ck` back out, a name
the list does not know has its last label public). The package's answers and ours are
compared on every rule of the list by tests/test_suffixes.py.

Why not the package's `PublicSuffixList` object: building it encodes every rule of the
list to IDNA (about 20,000 `encode("idna")` calls, 0.1 s), and a pre-commit hook runs
`egress validate` on every commit. Here the file is read only when a policy has a domain
to judge, split into a set of its lines (C speed, a few milliseconds), and the IDNA forms
of the ~450 non-ASCII rules are computed only for a domain that can match them: one with
an `xn--` label or non-ASCII characters. A plain ASCII domain without `xn--` can only
meet ASCII rules, and IDNA leaves ASCII rules as written, so for it the raw lines are the
whole answer.
"""

from __future__ import annotations

from functools import lru_cache


def public_suffix_problem(domain: str) -> str | None:
    """Why a `domain:` destination reaches names anyone can register, or None."""
    idn = not domain.isascii() or "xn--" in domain.lower()
    if is_public_suffix(domain, idn):
        return f"'{domain}' is a public suffix: anyone can register a name under it"
    if domain in _above(idn):
        return f"'{domain}' holds public suffixes below it (names anyone can register under, as in the Public Suffix List)"
    return None


def is_public_suffix(domain: str, idn: bool = True) -> bool:
    """Whether the list makes `domain` itself public, as `PublicSuffixList.is_public`
    says (unknown top-level labels count as public). `idn=False` is a promise that the
    domain is ASCII without `xn--` labels: then the IDNA forms are not needed."""
    labels = domain.removesuffix(".").lower().split(".")
    if "" in labels:
        return False
    return _public_depth(labels, _rules(idn)) == len(labels)


def _public_depth(labels: list[str], rules: frozenset[str]) -> int:
    """How many trailing labels of a name are public: the longest matching suffix wins,
    and at each length an exception rule beats a wildcard, which beats a plain rule."""
    if len(labels) == 1:
        return 1
    for start in range(len(labels)):
        depth = len(labels) - start
        suffix = ".".join(labels[start:])
        if "!" + suffix in rules:
            return depth - 1
        if "*." + suffix in rules:
            return depth + 1 if start else depth
        if suffix in rules:
            return depth
    return 1


@lru_cache(maxsize=1)
def _lines() -> frozenset[str]:
    """Every rule of the list as the package reads it: each line lowercased, up to its
    first space, comment lines left out."""
    from publicsuffixlist import PSLFILE

    with open(PSLFILE, encoding="utf-8", newline="") as file:
        lines = file.read().split("\n")
    rules = {line.split(" ")[0].rstrip().lower() for line in lines if not line.startswith("//")}
    rules.discard("")
    return frozenset(rules)


@lru_cache(maxsize=2)
def _rules(idn: bool) -> frozenset[str]:
    """The rules to look names up in: the raw lines, plus (idn) the IDNA form of each
    non-ASCII rule, as the package adds them."""
    lines = _lines()
    if not idn:
        return lines
    encoded = set()
    for rule in lines:
        if not rule.isascii():
            bare = rule.lstrip("!")
            encoded.add(("!" if bare != rule else "") + bare.encode("idna").decode("ascii"))
    return lines | encoded


@lru_cache(maxsize=2)
def _above(idn: bool) -> frozenset[str]:
    """Every name under which the list has a public suffix: `amazonaws.com` (for
    `s3.amazonaws.com`), `io`... A `domain:` grant to one of them reaches names that
    anyone can register. The names are in IDNA form when `idn`; else only their ASCII
    ones can be asked for, and those are the same in both forms."""
    bare = {rule.lstrip("!").removeprefix("*.") for rule in _lines()}
    if idn:
        bare = {encoded for rule in bare if (encoded := _idna(rule))}
    above: set[str] = set()
    parents = {rule.partition(".")[2] for rule in bare} - {""}
    while parents:
        above |= parents
        parents = {name.partition(".")[2] for name in parents} - above - {""}
    return frozenset(above)


def _idna(name: str) -> str | None:
    """`name` in IDNA form, or None where IDNA has no form for it."""
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return None

"""Public suffixes: is a `domain:` destination one, or above one (W102)?

The data is the Public Suffix List (ICANN and private sections) as the `publicsuffixlist`
package ships it, offline; the rules of a lookup are the package's own (a wildcard
`*.ck` makes every `x.ck` public, an exception `!www.ck` takes `www.ck` back out, a name
the list does not know has its last label public). The package's answers and ours are
compared on every rule of the list by tests/test_suffixes.py.

Why not the package's `PublicSuffixList` object: building it encodes every rule of the
list to IDNA (about 20,000 `encode("idna")` calls, 0.1 s), and a pre-commit hook runs
`egress validate` on every commit. The file is read only when a policy has a domain to
judge, and in one of two ways:

- the first `SEARCHED_NAMES` plain names (lowercase ASCII labels, what the schema lets
  through, unless in IDNA form) are looked up by searching the file's bytes (`_searched`): one search for the
  name's last two labels finds every rule that can decide it (a rule for the name or a
  suffix of it, a rule below it), and only those lines are read: about 1 ms, where
  parsing the list takes 7;
- past that, or for other names, the file is split into a set of its rules once
  (`_lines`), and the IDNA forms of the ~450 non-ASCII rules are computed only for a
  name that can match them: one with an `xn--` label or non-ASCII characters. A plain
  ASCII name can only meet ASCII rules, and IDNA leaves ASCII rules as written.
"""

from __future__ import annotations

import re
from collections.abc import Container
from functools import lru_cache
from itertools import count

SEARCHED_NAMES = 16
"""Names looked up by searching the file before it is parsed into sets: a search costs
a few hundred microseconds, the parse about 7 ms, paid once for any number of names."""

_PLAIN = re.compile(r"(?!.*xn--)[a-z0-9_-]+(?:\.[a-z0-9_-]+)+\Z")
"""A name `_searched` can look up: lowercase ASCII labels, two at least, none in IDNA form
(those meet the IDNA forms of the list's rules, which are not in the file)."""
_searches = count()


def public_suffix_problem(domain: str) -> str | None:
    """Why a `domain:` destination reaches names anyone can register, or None."""
    found = _searched(domain) if _PLAIN.match(domain) and next(_searches) < SEARCHED_NAMES else None
    public, above = found if found is not None else _looked_up(domain)
    if public:
        return f"'{domain}' is a public suffix: anyone can register a name under it"
    if above:
        return f"'{domain}' holds public suffixes below it (names anyone can register under, as in the Public Suffix List)"
    return None


def _looked_up(domain: str) -> tuple[bool, bool]:
    """(a public suffix, holds public suffixes below it), from the rules as sets."""
    idn = not domain.isascii() or "xn--" in domain.lower()
    return is_public_suffix(domain, idn), domain in _above(idn)


def _searched(domain: str) -> tuple[bool, bool] | None:
    """The same for a plain name, from the lines of the file that hold its last two
    labels; None if the file cannot be searched (`_text`).

    Every rule that can decide the name holds those two labels: the name's own rules
    and those of its suffixes down to two labels (`x.example.fr`, `*.example.fr`,
    `!www.example.fr`...), and the rules below it. The top label alone matters only to
    a two-label name, whose `*.fr` or `!fr` would make it public or not: those lines
    are searched too."""
    text = _text()
    if text is None:
        return None
    labels = domain.split(".")
    rules = _rules_on_lines_with(text, ".".join(labels[-2:]).encode())
    if len(labels) == 2:
        rules |= _rules_on_lines_with(text, b"\n!" + labels[-1].encode())
        rules |= _rules_on_lines_with(text, b"\n*." + labels[-1].encode())
    above = any(rule.lstrip("!").removeprefix("*.").endswith("." + domain) for rule in rules)
    return _public_depth(labels, rules) == len(labels), above


@lru_cache(maxsize=1)
def _text() -> bytes | None:
    """The list file with its ASCII letters lowercased, a newline at each end; None if
    it holds a KELVIN SIGN, the one character outside ASCII that lowercases to ASCII
    (k) alone: a search for ASCII text would miss the rule the package reads."""
    from publicsuffixlist import PSLFILE

    with open(PSLFILE, "rb") as file:
        data = file.read()
    return None if "\u212a".encode() in data else b"\n" + data.lower() + b"\n"


def _rules_on_lines_with(text: bytes, needle: bytes) -> set[str]:
    """The rule of every line of `text` that holds `needle`, as the package reads it: the
    line lowercased, up to its first space, comment lines left out."""
    rules = set()
    at = text.find(needle)
    while at >= 0:
        start = text.rfind(b"\n", 0, at + 1) + 1
        end = text.find(b"\n", at + 1)
        rule = text[start:end].decode("utf-8", "surrogateescape").lower().split(" ")[0].rstrip()
        if rule and not rule.startswith("//"):
            rules.add(rule)
        at = text.find(needle, end)
    return rules


def is_public_suffix(domain: str, idn: bool = True) -> bool:
    """Whether the list makes `domain` itself public, as `PublicSuffixList.is_public`
    says (unknown top-level labels count as public). `idn=False` is a promise that the
    domain is ASCII without `xn--` labels: then the IDNA forms are not needed."""
    labels = domain.removesuffix(".").lower().split(".")
    if "" in labels:
        return False
    return _public_depth(labels, _rules(idn)) == len(labels)


def _public_depth(labels: list[str], rules: Container[str]) -> int:
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
    """Every rule of the list as the package reads it (`_rules_on_lines_with`)."""
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

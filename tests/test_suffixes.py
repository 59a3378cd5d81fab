"""`egress.suffixes` gives the answers of the `publicsuffixlist` package (W102), on every
rule of the list it ships, without building the package's object on each run."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest
from publicsuffixlist import PSLFILE, PublicSuffixList

from egress import suffixes

ROOT = Path(__file__).resolve().parent.parent


def listed_rules() -> list[str]:
    """The rules of the shipped list, as written."""
    lines = Path(PSLFILE).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("//")]


def reference_above() -> frozenset[str]:
    """What `check.py` computed before `egress.suffixes`: every proper parent of every
    rule, in IDNA form. Kept here as the oracle of the lazy version."""
    above: set[str] = set()
    for line in listed_rules():
        rule = line.lstrip("!").removeprefix("*.")
        try:
            rule = rule.encode("idna").decode("ascii")
        except UnicodeError:
            continue
        labels = rule.split(".")
        above.update(".".join(labels[i:]) for i in range(1, len(labels)))
    return frozenset(above)


def idna(name: str) -> str:
    return name.encode("idna").decode("ascii")


def names_around(rule: str) -> set[str]:
    """Names whose answer the rule decides: itself, its parents, names below it."""
    bare = rule.lstrip("!").removeprefix("*.")
    labels = bare.split(".")
    names = {".".join(labels[i:]) for i in range(len(labels))}
    names |= {f"x.{bare}", f"a.b.{bare}"}
    if not bare.isascii():
        names |= {idna(name) for name in names}
    return names


@pytest.fixture(scope="module")
def package():
    return PublicSuffixList(only_icann=False)


@pytest.fixture(scope="module")
def every_name() -> list[str]:
    names: set[str] = set()
    for rule in listed_rules():
        names |= names_around(rule)
    return sorted(names)


def test_the_list_holds_the_kinds_of_rules_we_compare():
    rules = set(listed_rules())
    assert {"*.ck", "!www.ck", "github.io", "s3.amazonaws.com"} <= rules
    assert any(not rule.isascii() for rule in rules)  # IDN rules, e.g. 政府.hk
    assert len(rules) > 9000


def test_public_as_the_package_says_on_every_rule(package, every_name):
    differ = [name for name in every_name if suffixes.is_public_suffix(name) != package.is_public(name)]
    assert not differ, differ[:20]


def test_the_plain_ascii_lookup_agrees_for_names_without_idn(package, every_name):
    plain = [name for name in every_name if name.isascii() and "xn--" not in name]
    assert len(plain) > 20000
    differ = [name for name in plain if suffixes.is_public_suffix(name, idn=False) != package.is_public(name)]
    assert not differ, differ[:20]


def test_searching_the_file_agrees_on_a_sample_of_names(package):
    """Every name around a wildcard or exception rule, and one in 32 of the others (a
    search reads the file: every name would take half a minute)."""
    special = {name for rule in listed_rules() if rule.startswith(("*", "!")) for name in names_around(rule)}
    others = sorted({name for rule in listed_rules() for name in names_around(rule)} - special)
    chosen = ["www.ck", "x.ck", "x.www.ck", "s3.amazonaws.com", "amazonaws.com", "gouv.fr", "has-sante.fr", "example.unknown-tld"]
    sample = [name for name in chosen + sorted(special) + others[::32] if suffixes._PLAIN.match(name)]
    assert len(sample) > 1500 and set(chosen) <= set(sample)
    above = reference_above()
    expected = [(package.is_public(name), name in above) for name in sample]
    assert [suffixes._searched(name) for name in sample] == expected


def test_the_first_names_are_searched_then_the_list_is_parsed(monkeypatch):
    for cached in (suffixes._lines, suffixes._rules, suffixes._above):
        cached.cache_clear()
    monkeypatch.setattr(suffixes, "_searches", itertools.count())
    for i in range(suffixes.SEARCHED_NAMES):
        assert suffixes.public_suffix_problem(f"name{i}.example.fr") is None
    assert suffixes._lines.cache_info().currsize == 0
    assert "public suffix" in suffixes.public_suffix_problem("gouv.fr")
    assert suffixes._lines.cache_info().currsize == 1


def test_above_as_before_on_every_rule(every_name):
    above = reference_above()
    said = {name for name in every_name if (suffixes.public_suffix_problem(name) or "").endswith("Public Suffix List)")}
    expected = {name for name in every_name if name in above and not suffixes.is_public_suffix(name)}
    assert said == expected
    assert {"amazonaws.com", "io", "ck"} <= above


@pytest.mark.parametrize("name, public", [
    ("ck", True), ("foo.ck", True), ("www.ck", False), ("a.www.ck", False), ("a.b.ck", False),
    ("政府.hk", True), (idna("政府.hk"), True), ("x.政府.hk", False), (idna("x.政府.hk"), False),
    ("GOUV.FR", True), ("gouv.fr.", True), ("example..fr", False), ("ameli.fr", False),
    ("unknown-tld", True), ("example.unknown-tld", False),
])
def test_wildcards_exceptions_idn_and_odd_spellings(package, name, public):
    assert suffixes.is_public_suffix(name) is public
    assert package.is_public(name) is public


@pytest.mark.parametrize("domain, says", [
    ("gouv.fr", "is a public suffix"),
    ("foo.ck", "is a public suffix"),
    ("amazonaws.com", "holds public suffixes below it"),
    ("ck", "is a public suffix"),
    (idna("政府.hk"), "is a public suffix"),
    ("www.ck", None),
    ("legifrance.gouv.fr", None),
])
def test_problem(domain, says):
    problem = suffixes.public_suffix_problem(domain)
    assert (problem is None) if says is None else (says in problem)


def test_the_list_is_not_read_for_a_policy_without_domains_and_searched_for_one(tmp_path):
    text = (ROOT / "examples" / "minimal" / "policy.yaml").read_text(encoding="utf-8")
    assert "domain: has-sante.fr" in text
    cases = {"no-domain": text.replace("- domain: has-sante.fr", "- host: has-sante.fr"), "domain": text}
    read = {}
    for name, policy in cases.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "policy.yaml").write_text(policy, encoding="utf-8")
        code = ("import sys; from egress.check import validate; from egress import suffixes; "
                f"validate({str(tmp_path / name / 'policy.yaml')!r}, None); "
                "print(suffixes._text.cache_info().currsize, suffixes._lines.cache_info().currsize)")
        read[name] = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert read == {"no-domain": ["0", "0"], "domain": ["1", "0"]}

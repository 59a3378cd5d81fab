"""Every diagnostic code: a minimal failing input, the exact code and the exact position.

Each case edits a small valid policy (BASE) and names the text the diagnostic must
point at; the expected line and column are where that text first appears in the
edited file, so the cases stay readable and exact.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from egress.check import validate
from egress.diagnostics import CATALOGUE

AT = dt.date(2023, 7, 1)

BASE = """\
egress: 1
policy: base
zones:
  lan:
    addresses: [10.0.0.0/24, "fd00:1::/64"]
  proxy:
    addresses: [10.0.1.3]
  dmz:
    addresses: [192.0.2.25]
proxy:
  zone: proxy
  port: 3128
services:
  partner:
    destinations:
      - address: 203.0.113.0/24
      - host: mx.partner.example
    ports: [tcp/25, tcp/443]
  web:
    destinations:
      - domain: example.org
    ports: [tcp/443]
stages:
  - id: s0
    date: 2023-06-21
    grants: []
  - id: s1
    date: 2023-06-22
    grants:
      - id: g-partner
        from: lan
        to: partner
        reason: Partner flow
      - id: g-web
        from: lan
        to: web
        via: proxy
        reason: Web for care
      - id: g-in
        from: internet
        to: dmz
        ports: [tcp/25]
        reason: Inbound mail
"""

LOCK = """\
egress-lock: 1
policy: base
hosts:
  mx.partner.example: [203.0.113.25]
"""


def write(tmp_path: Path, text: str, lock: str | None = LOCK, extra: dict[str, str] | None = None) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    if lock is not None:
        (tmp_path / "policy.lock.yaml").write_text(lock)
    for name, content in (extra or {}).items():
        (tmp_path / name).write_text(content)
    return path


def found(path: Path, at: dt.date = AT) -> list[tuple[str, str, int, int]]:
    _, diagnostics = validate(str(path), at)
    return [(Path(d.path).name, d.code, d.line, d.column) for d in diagnostics]


def where(text: str, marker: str) -> tuple[int, int]:
    index = text.index(marker)
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def test_base_is_clean(tmp_path):
    assert found(write(tmp_path, BASE)) == []


# (code, edit of BASE as (old, new), marker the diagnostic points at)
CASES = [
    ("E101", ("policy: base", "policy: [base"), None),
    ("E104", ("policy: base", "policy: base\npolicy: again"), "policy: again"),
    ("E110", ("  port: 3128", "  port: 3128\n  prot: 1"), "prot: 1"),
    ("E110", ("        reason: Partner flow", "        reason: Partner flow\n        aproved_by: me"), "aproved_by"),
    ("E111", ("      - host: mx.partner.example\n    ports: [tcp/25, tcp/443]", "      - host: mx.partner.example"), "destinations:"),
    ("E112", ("  port: 3128", "  port: [3128]"), "[3128]"),
    ("E112", ("  - id: s0\n    date: 2023-06-21", "  - id: s0\n    date: 2023-02-30"), "2023-02-30"),
    ("E113", ("egress: 1", "egress: 2"), "2"),
    ("E120", ("10.0.1.3]", "10.0.1.300]"), "10.0.1.300"),
    ("E120", ('"fd00:1::/64"', '"fd00:1::/64", "fe80::1%eth0/128"'), '"fe80::1%eth0/128"'),
    ("E121", ("10.0.0.0/24", "10.0.0.1/24"), "10.0.0.1/24"),
    ("E122", ("host: mx.partner.example", 'host: "mx.partner.example;"'), '"mx.partner.example;"'),
    ("E122", ("host: mx.partner.example", "host: mx.partner.example."), "mx.partner.example."),
    ("E123", ("domain: example.org", 'domain: "*.example.org"'), '"*.example.org"'),
    ("E124", ("[tcp/25, tcp/443]", "[tcp/25, tcp/443, tcp/http]"), "tcp/http"),
    ("E124", ("[tcp/25, tcp/443]", "[tcp/25, tcp/443, tcp/90-80]"), "tcp/90-80"),
    ("E130", ("        from: lan\n        to: partner", "        from: lab\n        to: partner"), "lab\n        to: partner"),
    ("E130", ("  zone: proxy", "  zone: proxies"), "zone: proxies"),
    ("E131", ("        to: partner", "        to: partners"), "partners"),
    ("E132", ("      - id: g-web", "      - id: g-partner"), "id: g-partner\n        from: lan\n        to: web"),
    ("E133", ("    grants: []", "    grants: []\n    revoke: [g-partner]"), "g-partner]"),
    ("E134", ("        to: partner", "        to: dmz"), "id: g-partner"),
    ("E135", ("        ports: [tcp/25]\n", "        ports: [tcp/25]\n      - id: g-narrow\n        from: lan\n        to: partner\n        ports: [tcp/80]\n        reason: r\n"), "id: g-narrow"),
    ("E136", ("        ports: [tcp/25]\n", ""), "id: g-in"),
    ("E137", ("proxy:\n  zone: proxy\n  port: 3128\n", ""), "id: g-web"),
    ("E138", ("      - domain: example.org", "      - domain: example.org\n      - address: 198.51.100.0/24"), "198.51.100.0/24"),
    ("E139", ("        to: web\n        via: proxy\n", "        to: web\n"), "id: g-web"),
    ("E141", ("        reason: Partner flow\n", ""), "id: g-partner"),
    ("E112", ("        reason: Partner flow", "        reason: Partner flow\n        expires: 2023-09-30T18:00:00"), "2023-09-30T18:00:00"),
    ("E112", ("        reason: Partner flow", "        reason: Partner flow\n        expires: 31/12/2023"), "31/12/2023"),
    ("E143", ("policy: base", "policy: base\ntimezone: Europe/Rennes"), "Europe/Rennes"),
    ("E144", ("        reason: Partner flow", "        reason: Partner\u200b flow"), "Partner"),
    ("E143", ("policy: base", "policy: base\ntimezone: localtime"), "localtime"),
    ("E148", ("policy: base", "policy: base\nfirewall:\n  mark_mask: 0xff00ff00"), "0xff00ff00"),
    ("E149", ("policy: base", "policy: base\nfirewall:\n  mark_mask: 0x80000000"), "0x80000000"),
    ("E150", ("        reason: Partner flow", '        reason: "<fill in: why this flow must open>"'), "id: g-partner"),
    ("E146", ("address: 203.0.113.0/24", "address: 127.0.0.1"), "127.0.0.1"),
    ("W109", ("address: 203.0.113.0/24", "address: 172.16.5.0/24"), "172.16.5.0/24"),
    ("W110", ("address: 203.0.113.0/24", "address: 192.0.2.25"), "192.0.2.25\n"),
    ("E147", ("addresses: [192.0.2.25]", "addresses: [10.0.1.0/24]"), "dmz:"),
    ("W101", ("address: 203.0.113.0/24", "address: 0.0.0.0/0"), "0.0.0.0/0"),
    ("W102", ("domain: example.org", "domain: gouv.fr"), "gouv.fr"),
    ("W103", ("addresses: [192.0.2.25]", "addresses: [10.0.0.128/25]"), "dmz:"),
    ("W104", ("        ports: [tcp/25]\n", "        ports: [tcp/25]\n      - id: g-again\n        from: lan\n        to: partner\n        ports: [tcp/443]\n        reason: r\n"), "id: g-again"),
    ("W105", ("        reason: Partner flow", "        reason: Partner flow\n        expires: 2023-06-30"), "id: g-partner"),
    ("W106", ("        reason: Partner flow", "        reason: Partner flow\n        expires: 2023-07-10"), "id: g-partner"),
    ("W107", ("services:\n", "services:\n  spare:\n    destinations: [{address: 198.51.100.7}]\n    ports: [tcp/22]\n"), "spare:"),
    ("W108", ("    date: 2023-06-22", "    date: 2023-06-01"), "id: s1"),
]


@pytest.mark.parametrize("code, edit, marker", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_each_code_at_its_position(tmp_path, code, edit, marker):
    old, new = edit
    assert old in BASE, old
    text = BASE.replace(old, new, 1)
    got = [f for f in found(write(tmp_path, text)) if f[1] == code]
    assert got, f"no {code} in {found(write(tmp_path, text))}"
    if marker is not None:
        line, col = where(text, marker)
        assert ("policy.yaml", code, line, col) in got


def test_E100_not_utf8(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_bytes(BASE.encode().replace(b"policy: base", b"policy: b\xe9se"))
    _line, _col = where(BASE, "ase\n")
    assert found(path) == [("policy.yaml", "E100", 2, 10)]


def test_E100_huge_file(tmp_path, monkeypatch):
    from egress import yamlpos

    monkeypatch.setattr(yamlpos, "MAX_BYTES", 1024)
    path = write(tmp_path, BASE + "#" * 2000 + "\n")
    assert found(path) == [("policy.yaml", "E100", 1, 1)]


@pytest.mark.parametrize("text", ["", "# only a comment\n", "- a list\n", "just a string\n"])
def test_E102_not_a_mapping(tmp_path, text):
    assert found(write(tmp_path, text)) == [("policy.yaml", "E102", 1, 1)]


def test_E103_alias_bomb_refused_fast(tmp_path):
    import time

    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    start = time.perf_counter()
    got = found(write(tmp_path, "\n".join(lines) + "\n"))
    assert time.perf_counter() - start < 1.0
    assert [g[1] for g in got] == ["E103"]


def test_E103_deep_nesting(tmp_path):
    assert [g[1] for g in found(write(tmp_path, "a: " + "[" * 200 + "]" * 200 + "\n"))] == ["E103"]


def test_E105_include_leaving_folder(tmp_path):
    (tmp_path / "inner").mkdir()
    text = BASE.replace("policy: base", "policy: base\ninclude: [../outside.yaml]")
    (tmp_path / "outside.yaml").write_text("zones: {}\n")
    path = write(tmp_path / "inner", text)
    line, col = where(text, "../outside.yaml")
    assert ("policy.yaml", "E105", line, col) in found(path)


def test_E105_include_missing_and_bad_key(tmp_path):
    text = BASE.replace("policy: base", "policy: base\ninclude: [more.yaml, gone.yaml]")
    path = write(tmp_path, text, extra={"more.yaml": "zones:\n  lab:\n    addresses: [10.9.0.0/24]\npolicy: other\n"})
    got = found(path)
    assert ("more.yaml", "E105", 4, 1) in got
    assert ("policy.yaml", "E105", *where(text, "gone.yaml")) in got


def test_include_merges_services_with_positions(tmp_path):
    text = BASE.replace("policy: base", "policy: base\ninclude: [web.yaml]").replace(
        "  web:\n    destinations:\n      - domain: example.org\n    ports: [tcp/443]\n", ""
    )
    path = write(tmp_path, text, extra={"web.yaml": "services:\n  web:\n    destinations:\n      - domain: Example.org\n    ports: [tcp/443]\n"})
    assert found(path) == [("web.yaml", "E123", 4, 17)]


def test_E132_zone_defined_in_policy_and_include(tmp_path):
    text = BASE.replace("policy: base", "policy: base\ninclude: [z.yaml]")
    path = write(tmp_path, text, extra={"z.yaml": "zones:\n  lan:\n    addresses: [10.5.0.0/24]\n"})
    assert ("z.yaml", "E132", 2, 3) in found(path)


def test_E140_host_missing_from_lock(tmp_path):
    got = found(write(tmp_path, BASE, lock=None))
    assert got == [("policy.yaml", "E140", *where(BASE, "mx.partner.example"))]


def test_E142_bad_lock(tmp_path):
    got = found(write(tmp_path, BASE, lock="egress-lock: 1\nhosts:\n  mx.partner.example: [999.1.1.1]\n"))
    assert ("policy.lock.yaml", "E142", 3, 24) in got


def test_E145_lock_address_positioned_in_the_lock_file(tmp_path):
    lock = LOCK.replace("[203.0.113.25]", "[203.0.113.25, 127.0.0.1]")
    path = write(tmp_path, BASE, lock=lock)
    line, col = where(lock, "127.0.0.1")
    assert ("policy.lock.yaml", "E145", line, col) in found(path)


def test_every_code_is_tested():
    tested = {c[0] for c in CASES} | {"E100", "E102", "E103", "E105", "E140", "E142", "E145"}
    assert tested == set(CATALOGUE)


def test_every_code_the_code_emits_is_in_the_catalogue():
    """A code used in egress/ but missing from the catalogue would have no docs row and no test."""
    root = Path(__file__).parent.parent / "egress"
    used = {code for path in root.rglob("*.py") for code in re.findall(r'"([EW]1\d\d)"', path.read_text())}
    assert used <= set(CATALOGUE), sorted(used - set(CATALOGUE))


def test_all_diagnostics_of_a_file_in_one_run(tmp_path):
    text = BASE.replace("10.0.0.0/24", "10.0.0.1/24").replace("tcp/25, tcp/443", "tcp/25, tcp/x").replace(
        "        to: partner", "        to: partners"
    )
    codes = sorted(g[1] for g in found(write(tmp_path, text)))
    assert codes == ["E121", "E124", "E131", "W107"]  # W107: 'partner' is now used by no grant


def test_docs_table_lists_every_code():
    doc = (Path(__file__).parent.parent / "docs" / "diagnostics.md").read_text()
    for code, (_summary, _) in CATALOGUE.items():
        assert f"| {code} |" in doc, code


@pytest.mark.parametrize("field, value", [
    ("expires", "x" * 5000),
    ("reason", "Partner flow\n        via: " + "y" * 5000),
    ("id", "g-" + "z" * 5000),
])
def test_an_over_long_value_is_echoed_cut(tmp_path, field, value):
    """A 5,000-character value comes back as its first 80 characters and an ellipsis,
    with the rest of the message (what to write) intact."""
    text = BASE.replace("        reason: Partner flow", f"        reason: Partner flow\n        {field}: {value}" if field != "reason" else f"        reason: {value}")
    if field == "id":
        text = BASE.replace("      - id: g-partner", f"      - id: {value}")
    _, diagnostics = validate(str(write(tmp_path, text)), dt.date(2023, 7, 1))
    assert diagnostics
    for d in diagnostics:
        assert len(d.message) < 400, d.message
    assert any("…" in d.message for d in diagnostics)

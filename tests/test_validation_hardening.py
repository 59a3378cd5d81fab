"""Issue 10, validation: dangerous policies that used to pass, crash or hang.

One section per item (9 loader part, 12, 13, 14, 15, 16, 19, 20). Each case failed on
the code before the fix: an exit 3, a hang, a silent acceptance or a missing warning.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from egress import yamlpos
from egress.check import validate
from tests.test_cli_validate import run
from tests.test_diagnostics import BASE, where, write

AT = dt.date(2023, 7, 1)


def diagnostics(path: Path):
    return validate(str(path), AT)[1]


def codes_at(text: str, path: Path) -> list[tuple[str, int, int]]:
    return [(d.code, d.line, d.column) for d in diagnostics(path)]


# -- 19: YAML tags and deep documents ---------------------------------------------------


@pytest.mark.parametrize("value, says", [
    ("!!python/object:os.system x", "YAML tag '!!python/object:os.system' is not allowed"),
    ("!!python/object/apply:os.system [ls]", "YAML tag '!!python/object/apply:os.system' is not allowed"),
    ('!!int "abc"', "'abc' is not a valid !!int"),
    ('!!float "x"', "'x' is not a valid !!float"),
    ('!!bool "maybe"', "'maybe' is not a valid !!bool"),
    ('!!binary "AAAA"', "YAML tag '!!binary' is not allowed"),
    ("!!set {a: 1}", "YAML tag '!!set' is not allowed"),
    ("!local x", "YAML tag '!local' is not allowed"),
])
def test_yaml_tags_are_positioned_errors_exit_1(tmp_path, value, says):
    text = BASE.replace("policy: base", f"policy: base\ndescription: {value}")
    path = write(tmp_path, text)
    result = run("validate", str(path))
    assert result.exit_code == 1, result.output
    line, col = where(text, value)
    assert f"policy.yaml:{line}:{col}: error E112 {says}" in result.stdout


def test_a_900_deep_document_is_refused_in_both_loaders(tmp_path):
    text = "egress: 1\npolicy: x\ndescription: " + "[" * 900 + "]" * 900 + "\n"
    result = run("validate", str(write(tmp_path, text)))
    assert result.exit_code == 1 and "E103" in result.stdout
    # the node-tree path (git:REV:path, anchors, tags) with the pure-Python composer,
    # which recurses once per level
    for loader in (yaml.SafeLoader, yamlpos._Loader):
        saved = yamlpos._Loader
        yamlpos._Loader = loader
        try:
            with pytest.raises(yamlpos.YamlError) as err:
                yamlpos.to_data(yamlpos.compose(text, "p.yaml"), "p.yaml")
        finally:
            yamlpos._Loader = saved
        assert err.value.diagnostic.code == "E103"


def test_deep_document_through_git(tmp_path, monkeypatch):
    import subprocess

    text = "egress: 1\npolicy: x\ndescription: &a " + "[" * 900 + "]" * 900 + "\n"
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "policy.yaml").write_text(text)
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(git + ["add", "."], cwd=repo, check=True)
    subprocess.run(git + ["commit", "-qm", "deep"], cwd=repo, check=True)
    monkeypatch.chdir(repo)
    result = run("diff", "git:HEAD:policy.yaml", "policy.yaml", "--stage", "s0")
    assert result.exit_code == 1 and "E103" in result.output


# -- 12: floats are not integers ----------------------------------------------------------


@pytest.mark.parametrize("old, new, marker, says", [
    ("  port: 3128", "  port: 8080.0", "8080.0", "proxy.port must be a whole number, not the float 8080.0; write 8080"),
    ("egress: 1", "egress: 1.0", "1.0", "egress must be a whole number, not the float 1.0; write 1"),
    ("\nproxy:\n", "\nfirewall:\n  log_group: 5.0\nproxy:\n", "5.0", "firewall.log_group must be a whole number"),
])
def test_floats_are_refused_where_integers_are_due(tmp_path, old, new, marker, says):
    text = BASE.replace(old, new, 1)
    path = write(tmp_path, text)
    result = run("validate", str(path), "--strict")
    assert result.exit_code == 1
    line, col = where(text, marker)
    assert f"policy.yaml:{line}:{col}: error E112 {says}" in result.stdout


def test_float_names_follow_maps_and_sequences():
    """The name given to a float walks maps (`a.b`) and sequences (`[i]`), whatever the depth."""
    from egress import yamlpos
    from egress.load import float_diagnostics

    text = "a:\n  b: [1, [2, 3.5]]\n  c:\n    - d: 4.0\n7: 1.25\n"
    doc, _ = yamlpos.load(text, "p.yaml")
    assert [(d.line, d.column, d.message) for d in float_diagnostics(doc)] == [
        (2, 14, "a.b[1][1] must be a whole number, not the float 3.5"),
        (4, 10, "a.c[0].d must be a whole number, not the float 4.0; write 4"),
        (5, 4, "7 must be a whole number, not the float 1.25"),
    ]


# -- 20: invisible and bidirectional characters in text fields --------------------------

INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
             "\u2066", "\u2067", "\u2068", "\u2069", "\u061c", "\ufeff"]
TEXT_FIELDS = [
    ("        reason: Partner flow", "        reason: Partner{c} flow", "Partner"),
    ("  - id: s1\n", "  - id: s1\n    title: Second{c} stage\n", "Second"),
    ("    ports: [tcp/25, tcp/443]\n", "    ports: [tcp/25, tcp/443]\n    owner: La{c}b\n", "La"),
    ("        reason: Partner flow", "        reason: Partner flow\n        approved_by: cell{c}", "cell"),
    ("        reason: Partner flow", "        reason: Partner flow\n        requested_by: lab{c}", "lab"),
    ("        reason: Partner flow", "        reason: Partner flow\n        ticket: T-{c}1", "T-"),
    ("policy: base", "policy: base\ndescription: a {c}policy", "a "),
    ("    addresses: [10.0.1.3]", "    addresses: [10.0.1.3]\n    description: the {c}proxy", "the "),
]


@pytest.mark.parametrize("char", INVISIBLE, ids=[f"U+{ord(c):04X}" for c in INVISIBLE])
def test_every_invisible_character_is_refused(tmp_path, char):
    text = BASE.replace("        reason: Partner flow", f"        reason: Partner{char} flow")
    found = [d for d in diagnostics(write(tmp_path, text)) if d.code == "E144"]
    assert [(d.line, d.column) for d in found] == [where(text, "Partner")]
    assert f"U+{ord(char):04X}" in found[0].message and char not in found[0].message


@pytest.mark.parametrize("old, new, marker", TEXT_FIELDS, ids=[f[2] for f in TEXT_FIELDS])
def test_every_text_field_refuses_them(tmp_path, old, new, marker):
    assert old in BASE
    text = BASE.replace(old, new.format(c="\u202e"), 1)
    result = run("validate", str(write(tmp_path, text)))
    assert result.exit_code == 1
    line, col = where(text, marker)
    assert f"policy.yaml:{line}:{col}: error E144" in result.stdout
    assert "\u202e" not in result.output


# -- 16: the Public Suffix List itself ------------------------------------------------------


@pytest.mark.parametrize("domain, says", [
    ("s3.amazonaws.com", "is a public suffix"),
    ("ngrok.io", "is a public suffix"),
    ("duckdns.org", "is a public suffix"),
    ("r2.dev", "is a public suffix"),
    ("gouv.fr", "is a public suffix"),
    ("amazonaws.com", "holds public suffixes below it"),
])
def test_public_suffixes_from_the_list(tmp_path, domain, says):
    text = BASE.replace("domain: example.org", f"domain: {domain}")
    found = [d for d in diagnostics(write(tmp_path, text)) if d.code == "W102"]
    assert [(d.line, d.column) for d in found] == [where(text, domain)]
    assert says in found[0].message


@pytest.mark.parametrize("domain", ["ameli.fr", "legifrance.gouv.fr", "example.org", "booking-vendor.example"])
def test_registrable_domains_pass(tmp_path, domain):
    text = BASE.replace("domain: example.org", f"domain: {domain}")
    assert [d for d in diagnostics(write(tmp_path, text)) if d.code == "W102"] == []


# -- 14: lock file entries ------------------------------------------------------------------

LOCK_OF = "egress-lock: 1\npolicy: base\nhosts:\n  mx.partner.example: [{}]\n"


@pytest.mark.parametrize("address, says", [
    ("0.0.0.0/0", "is a network of 4,294,967,296 addresses"),
    ("203.0.113.0/24", "is a network of 256 addresses"),
    ("10.0.0.5", "private-use"),
    ("127.0.0.1", "loopback"),
    ("224.0.0.1", "multicast"),
    ("100.64.1.1", "shared address space"),
    ("169.254.169.254", "link-local"),
    ('"fe80::1"', "link-local"),
    ('"::"', "unspecified"),
    ('"::ffff:203.0.113.5"', "IPv4-mapped"),
    ("240.0.0.1", "reserved"),
    ('"fd00::5"', "unique local"),
])
def test_lock_entries_are_single_public_addresses(tmp_path, address, says):
    lock = LOCK_OF.format(f"203.0.113.25, {address}")
    found = [d for d in diagnostics(write(tmp_path, BASE, lock=lock)) if d.code == "E145"]
    assert len(found) == 1 and says in found[0].message
    assert (Path(found[0].path).name, found[0].line, found[0].column) == ("policy.lock.yaml", *where(lock, address))


def test_lock_entry_inside_a_zone(tmp_path):
    lock = LOCK_OF.format("203.0.113.25, 192.0.2.25")
    found = [d for d in diagnostics(write(tmp_path, BASE, lock=lock)) if d.code == "E145"]
    assert [(Path(d.path).name, d.line, d.column) for d in found] == [("policy.lock.yaml", *where(lock, "192.0.2.25"))]
    assert "inside zone 'dmz'" in found[0].message


def test_lock_documentation_and_public_addresses_pass(tmp_path):
    lock = LOCK_OF.format('203.0.113.25, 198.51.100.3, "2001:db8::5", 8.8.8.8, "2a00:1450::1"')
    assert diagnostics(write(tmp_path, BASE, lock=lock)) == []


def test_refused_lock_addresses_are_not_compiled(tmp_path):
    lock = LOCK_OF.format("0.0.0.0/0")
    result = run("compile", str(write(tmp_path, BASE, lock=lock)), "--stage", "s1", "--target", "nftables")
    assert result.exit_code == 1 and "E145" in result.output


# -- 15: special-purpose destinations, and destinations inside a zone ------------------------


@pytest.mark.parametrize("address, code, says", [
    ('"::ffff:0:0/96"', "E146", "IPv4-mapped"),
    ('"::ffff:203.0.113.5"', "E146", "IPv4-mapped"),
    ("127.0.0.1", "E146", "loopback"),
    ("169.254.169.254", "E146", "link-local"),
    ('"fe80::/64"', "E146", "link-local"),
    ("224.0.0.0/24", "E146", "multicast"),
    ('"ff02::1"', "E146", "multicast"),
    ("255.255.255.255", "E146", "reserved"),
    ("0.0.0.0/8", "E146", "this network"),
    ('"4000::/16"', "E146", "outside IPv6 global unicast"),
    ('"2002::/16"', "W109", "6to4"),
    ('"64:ff9b::/96"', "W109", "NAT64"),
    ('"2001::/32"', "W109", "IETF protocol assignments"),
    ("10.20.0.0/16", "W109", "private-use"),
    ("192.168.1.0/24", "W109", "private-use"),
    ("100.64.0.0/10", "W109", "shared address space"),
    ('"fd12::/48"', "W109", "unique local"),
    ("198.18.0.0/15", "W109", "benchmarking"),
    ("0.0.0.0/0", "W109", "covers the \"this network\""),
])
def test_special_destinations_have_a_code_each(tmp_path, address, code, says):
    text = BASE.replace("address: 203.0.113.0/24", f"address: {address}")
    found = [d for d in diagnostics(write(tmp_path, text)) if d.code == code]
    assert [(d.line, d.column) for d in found] == [where(text, address)], diagnostics(write(tmp_path, text))
    assert says in found[0].message


@pytest.mark.parametrize("address", ["203.0.113.0/24", "198.51.100.7", "192.0.2.200", '"2001:db8:5::/48"', "8.8.8.0/24",
                                     '"2a00:1450::/32"'])
def test_documentation_and_public_destinations_pass(tmp_path, address):
    text = BASE.replace("address: 203.0.113.0/24", f"address: {address}")
    assert [d.code for d in diagnostics(write(tmp_path, text))] == []


def test_a_service_address_inside_a_zone_is_flagged(tmp_path):
    text = BASE.replace("address: 203.0.113.0/24", "address: 192.0.2.0/24")  # holds the dmz zone 192.0.2.25
    found = [d for d in diagnostics(write(tmp_path, text)) if d.code == "W110"]
    assert [(d.line, d.column) for d in found] == [where(text, "192.0.2.0/24")]
    assert "inside zone 'dmz'" in found[0].message
    result = run("validate", str(write(tmp_path, text)), "--strict")
    assert result.exit_code == 1


# -- 13: every overlapping pair of zones; the proxy zone's overlaps are errors --------------

NESTED = BASE.replace("""  lan:
    addresses: [10.0.0.0/24, "fd00:1::/64"]
  proxy:
    addresses: [10.0.1.3]
""", """  site:
    addresses: [10.0.0.0/8]
  lan:
    addresses: [10.1.0.0/16, "fd00:1::/64"]
  proxy:
    addresses: [10.1.2.0/24]
""")


def test_nested_zones_give_every_pair_with_its_range(tmp_path):
    found = sorted((d.code, d.message) for d in diagnostics(write(tmp_path, NESTED)) if d.code in ("W103", "E147"))
    assert found == [
        ("E147", "zone 'lan' overlaps the proxy zone 'proxy' on 10.1.2.0/24: the proxy's traffic would count as "
                 "'lan''s and 'lan''s as the proxy's; make them disjoint"),
        ("E147", "zone 'site' overlaps the proxy zone 'proxy' on 10.1.2.0/24: the proxy's traffic would count as "
                 "'site''s and 'site''s as the proxy's; make them disjoint"),
        ("W103", "zones 'lan' and 'site' overlap on 10.1.0.0/16; an address in both gets the grants of both"),
    ]
    result = run("validate", str(write(tmp_path, NESTED)))
    assert result.exit_code == 1


def test_overlap_positions_and_families(tmp_path):
    text = BASE.replace("addresses: [192.0.2.25]", 'addresses: [10.0.0.128/25, "fd00:1::5"]')
    found = [d for d in diagnostics(write(tmp_path, text)) if d.code == "W103"]
    assert [(d.line, d.column) for d in found] == [where(text, "dmz:")]
    assert "on 10.0.0.128/25" in found[0].message
    # an IPv4 and an IPv6 network whose integers overlap are no overlap
    text = BASE.replace("addresses: [192.0.2.25]", 'addresses: ["::a00:0/120"]')
    assert [d for d in diagnostics(write(tmp_path, text)) if d.code == "W103"] == []


def test_overlap_that_is_not_one_network_is_a_range(tmp_path):
    text = BASE.replace("addresses: [192.0.2.25]", "addresses: [10.0.0.0/25, 10.0.0.128/26]").replace(
        "addresses: [10.0.0.0/24", "addresses: [10.0.0.64/26, 10.0.0.128/25")
    found = [d.message for d in diagnostics(write(tmp_path, text)) if d.code == "W103"]
    assert found == ["zones 'dmz' and 'lan' overlap on 10.0.0.64/26; an address in both gets the grants of both"]


# -- 9 (loader): FIFOs, devices and symlink loops never hang, never exit 3 -----------------

HOSTED = BASE.replace("policy: base", "policy: base\ninclude: [more.yaml]")


def _validate_within(path: Path, seconds: float = 10):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "egress.cli", "validate", str(path)], capture_output=True, text=True,
                          timeout=seconds, cwd=Path(__file__).parent.parent)


@pytest.mark.parametrize("make, says", [
    (lambda p: __import__("os").mkfifo(p), "it is a FIFO, not a regular file"),
    (lambda p: p.symlink_to("/dev/zero"), "leaves the policy's folder"),
    (lambda p: p.symlink_to(p.name), "cannot be resolved (a symlink loop?)"),
    (lambda p: p.mkdir(), "(Is a directory)"),
])
def test_include_that_is_not_a_regular_file(tmp_path, make, says):
    path = write(tmp_path, HOSTED)
    make(tmp_path / "more.yaml")
    result = _validate_within(path)
    assert result.returncode == 1, result.stderr
    line, col = where(HOSTED, "more.yaml]")
    assert f"policy.yaml:{line}:{col}: error E105 include 'more.yaml' " in result.stdout and says in result.stdout


@pytest.mark.parametrize("make, says", [
    (lambda p: __import__("os").mkfifo(p), "it is a FIFO, not a regular file"),
    (lambda p: p.symlink_to("/dev/zero"), "it is a device, not a regular file"),
    (lambda p: p.symlink_to(p.name), "Too many levels of symbolic links"),
])
def test_lock_file_that_is_not_a_regular_file(tmp_path, make, says):
    path = write(tmp_path, BASE, lock=None)
    make(tmp_path / "policy.lock.yaml")
    result = _validate_within(path)
    assert result.returncode == 1, result.stderr
    assert "policy.lock.yaml:1:1: error E142" in result.stdout and says in result.stdout


@pytest.mark.parametrize("make", [lambda p: __import__("os").mkfifo(p), lambda p: p.symlink_to("/dev/zero")])
def test_policy_that_is_not_a_regular_file_is_unreadable(tmp_path, make):
    path = tmp_path / "policy.yaml"
    make(path)
    result = _validate_within(path)
    assert result.returncode == 2 and "not a regular file" in result.stderr and "Traceback" not in result.stderr

"""The static scope check of egress.nft (egress/firewall/scope.py), issue 10 item 6.

Each refused case is a file that `nft -f` would really run against another table (the
kernel test below proves the lexical rules on nft itself); each accepted case is what
the compiler writes, for every stage of the shipped policies."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from egress.firewall import scope

ROOT = Path(__file__).resolve().parent.parent
POLICIES = [ROOT / "examples" / "minimal" / "policy.yaml", ROOT / "policies" / "chu-rennes-2023" / "policy.yaml"]

GOOD = "table inet egress {\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy drop;\n\t}\n}\n"

ATTACKS = {
    # the exact attack of the issue: declare, then delete, the host's table
    "declare then delete": "table inet filter {}\ndelete table inet filter\n" + GOOD,
    "delete another": GOOD + "delete table inet filter\n",
    "flush ruleset": "flush ruleset\n" + GOOD,
    "flush another": GOOD + "flush table ip filter\n",
    "after semicolon": GOOD + "add table inet egress; delete table inet filter\n",
    "after a comment with a backslash": "add table inet egress # see \\\ndelete table inet filter\n",
    "line continuation": GOOD + "delete \\\n table inet filter\n",
    "continuation inside the spec": GOOD + "delete table inet\\\nfilter\n",
    "by handle": GOOD + "delete table inet handle 1\n",
    "omitted family is ip": "table egress {}\n",
    "omitted family, delete": GOOD + "delete table filter\n",
    "other family": "table ip egress {}\n",
    "quoted other name": GOOD + 'delete table inet "filter"\n',
    "upper-case family": GOOD + "delete table INET egress\n",
    "chain in another table": GOOD + "add chain ip filter sneaky\n",
    "rule in another table": GOOD + "add rule ip filter input accept\n",
    "short rule form": GOOD + "add ip filter input accept\n",
    "insert rule": GOOD + "insert rule inet filter input accept\n",
    "element of another set": GOOD + "add element inet filter allow { 10.0.0.1 }\n",
    "delete a set": GOOD + "delete set inet filter allow\n",
    "ct helper": GOOD + 'add ct helper ip filter ftp { type "ftp" protocol tcp; }\n',
    "include": 'include "/etc/nftables.d/*.nft"\n' + GOOD,
    "include in a block": 'table inet egress {\n\tinclude "/tmp/x"\n}\n',
    "define": "define T = filter\n" + GOOD,
    "variable": GOOD + "delete table inet $T\n",
    "list": GOOD + "list ruleset\n",
    "reset": GOOD + "reset counters\n",
    "rename": GOOD + "rename chain inet filter input x\n",
    "dormant": "table inet egress { flags dormant; }\n",
    "owner flag": "table inet egress {\n\tflags owner;\n\tchain forward { type filter hook forward priority 0; policy drop; }\n}\n",
    "owner among flags": "table inet egress { flags persist,owner; }\n",
    # an offloaded flow skips the forward hook of every table, the host's own too
    "flowtable": "table inet egress {\n\tflowtable ft { hook ingress priority filter; devices = { lo }; }\n}\n",
    "flow offload": GOOD.replace("policy drop;\n", "policy drop;\n\t\tip protocol tcp flow add @ft\n"),
    "words after the block": "table inet egress { } delete table inet filter\n",
    "carriage return": "add table inet egress\rdelete table inet filter\n",
    "stray backslash": GOOD + "add rule inet egress forward \\ accept\n",
    "unterminated string": 'table inet egress { comment "a\nb" }\n',
    "unbalanced": "table inet egress {\n",
    "no table at all": "",
    # inside table inet egress, but failing open
    "base chain policy accept": GOOD.replace("policy drop", "policy accept"),
    "base chain without policy": GOOD.replace(" policy drop;", ""),
    "base chain made accept later": GOOD + "add chain inet egress forward { type filter hook forward priority filter; "
                                           "policy accept; }\n",
    "second base chain accept": GOOD.replace("}\n}", "}\n\tchain output {\n\t\ttype filter hook output "
                                                     "priority filter; policy accept;\n\t}\n}"),
    "ends in flush table": GOOD + "flush table inet egress\n",
    "ends in delete table": GOOD + "delete \\\n table inet egress\n",
    "ends in destroy table": GOOD + "destroy table inet egress\n",
    "ends in delete chain": GOOD + "delete chain inet egress forward\n",
    "ends in flush chain": GOOD + "flush chain inet egress forward\n",
    "base chain deleted between blocks": GOOD + "delete chain inet egress forward\ntable inet egress {\n}\n",
    "chain deleted by handle": "delete chain inet egress handle 3\n" + GOOD,
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attacks_are_refused(name):
    with pytest.raises(scope.ScopeError) as err:
        scope.check(ATTACKS[name])
    assert str(err.value).startswith("line ")


def test_messages_say_why_and_where():
    with pytest.raises(scope.ScopeError, match=r"^line 1: `table inet filter \{ ... \}` names another table"):
        scope.check(ATTACKS["declare then delete"])
    with pytest.raises(scope.ScopeError, match=r"^line 6: `delete table inet filter` names another table"):
        scope.check(ATTACKS["delete another"])
    with pytest.raises(scope.ScopeError, match="touches every table"):
        scope.check(ATTACKS["flush ruleset"])
    with pytest.raises(scope.ScopeError, match="by its handle"):
        scope.check(ATTACKS["by handle"])
    with pytest.raises(scope.ScopeError, match="family ip"):
        scope.check(ATTACKS["omitted family is ip"])
    with pytest.raises(scope.ScopeError, match="`include` reads another file"):
        scope.check(ATTACKS["include"])


def test_excerpts_are_short_and_printable():
    with pytest.raises(scope.ScopeError) as err:
        scope.check(GOOD + "delete table inet filter" + "x" * 500 + "\n")
    assert len(str(err.value)) < 160
    with pytest.raises(scope.ScopeError) as err:
        scope.check(GOOD + "delete table inet fil\x1bter\n")
    assert "\x1b" not in str(err.value)


@pytest.mark.parametrize("text", [
    GOOD,
    "table inet egress\ndelete table inet egress\n" + GOOD,
    "add table inet egress\nflush chain inet egress forward # comment; delete table inet filter\n" + GOOD,
    'add rule inet egress forward ip daddr 192.0.2.1 counter accept comment "table inet filter"\n' + GOOD,
    "add inet egress forward accept\n" + GOOD,
    "add ct helper inet egress ftp { type \"ftp\" protocol tcp; }\n" + GOOD,
    # the reload pattern: a base chain of the other hook declared (policy accept), then deleted
    GOOD.replace("}\n}", "}\n\tchain output {\n\t\ttype filter hook output priority filter; policy accept;\n\t}\n}")
    + "flush chain inet egress forward\nflush chain inet egress output\ndelete chain inet egress output\n" + GOOD,
])
def test_what_names_only_inet_egress_passes(text):
    scope.check(text)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    out = tmp_path_factory.mktemp("compiled")
    files = []
    for policy in POLICIES:
        folder = out / policy.parent.name
        cp = subprocess.run([sys.executable, "-m", "egress.cli", "compile", str(policy), "--all-stages",
                             "--out", str(folder), "--at", "2023-07-01"], capture_output=True, text=True)
        assert cp.returncode == 0, cp.stderr
        files += sorted(folder.glob("*/egress.nft"))
    return files


def test_every_compiled_stage_passes(compiled):
    assert len(compiled) >= 10
    for path in compiled:
        scope.check(path.read_text())


def _nft_leaves(text: str, tmp_path: Path) -> str:
    """The tables left after loading `text` in a scratch namespace holding table inet filter."""
    path = tmp_path / "t.nft"
    path.write_text(text)
    nft = shutil.which("nft") or "/usr/sbin/nft"
    cp = subprocess.run(["unshare", "--net", "--", "sh", "-c",
                         f'{nft} add table inet filter && {nft} -f "$1"; {nft} list tables', "sh", str(path)],
                        capture_output=True, text=True)
    return cp.stdout


@pytest.mark.system("nft")
@pytest.mark.parametrize("name", ["declare then delete", "after a comment with a backslash", "line continuation",
                                  "continuation inside the spec", "by handle", "after semicolon"])
def test_refused_cases_really_delete_the_table_in_nft(name, tmp_path):
    """The lexical rules are nft's own: each of these files, loaded by nft, removes
    `table inet filter` (so the static check is what stands between it and the host)."""
    assert "table inet filter" in _nft_leaves("", tmp_path)
    assert "table inet filter" not in _nft_leaves(ATTACKS[name], tmp_path)


@pytest.mark.system("nft")
def test_an_owned_table_is_gone_when_nft_exits(tmp_path):
    """Why the `owner` flag is refused: nft loads the table, the kernel deletes it as
    nft exits, and no table inet egress filters anything."""
    assert "table inet egress" in _nft_leaves(GOOD, tmp_path)
    assert "table inet egress" not in _nft_leaves(ATTACKS["owner flag"], tmp_path)


def test_a_compiled_output_hook_stage_passes(tmp_path):
    """With `hook: output` the reload declares the forward base chain (policy accept)
    and deletes it: the fail-closed check must read that order."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICIES[0].read_text().replace("\nservices:", "\nfirewall: {hook: output}\nservices:", 1))
    cp = subprocess.run([sys.executable, "-m", "egress.cli", "compile", str(policy), "--stage", "s2-reference-sites",
                         "--target", "nftables", "--at", "2023-07-01"], capture_output=True, text=True)
    assert cp.returncode == 0, cp.stderr
    assert "policy accept" in cp.stdout and "delete chain inet egress forward" in cp.stdout
    scope.check(cp.stdout)


def test_rollback_files_pass():
    """What the firewall side writes to roll back (egress/firewall/nft.py) passes."""
    from egress.firewall import nft

    scope.check(nft.deny_all_script(GOOD, "test"))
    scope.check(nft.deny_all_script("", "test"))
    scope.check(nft.restore_script(GOOD, "2023-07-01T00:00:00Z"))


def test_emptied_sets_are_read_from_the_statements():
    """What a rollback must not carry learned addresses into (snapshots.restore): the
    sets a file empties; unknown (None) when it empties the whole table or names a set
    by its handle."""
    head = "table inet egress {\n\tchain forward { type filter hook forward priority filter; policy drop; }\n}\n"
    text = head + ("flush set inet egress dyn_a_b_v4\ndelete set inet egress allow_v4\n"
                   "delete element inet egress dyn_c_v4 { 192.0.2.1 }\nflush chain inet egress forward\n"
                   "add rule inet egress forward accept\n")
    assert scope.emptied_sets(scope.check(text)) == ["allow_v4", "dyn_a_b_v4", "dyn_c_v4"]
    assert scope.emptied_sets(scope.check(head)) == []
    assert scope.emptied_sets(scope.check("table inet egress\ndelete table inet egress\n" + head)) is None
    assert scope.emptied_sets(scope.check(head + "delete set inet egress handle 4\n")) is None

"""The static scope check of egress.nft (egress/firewall/scope.py), issue 10 item 6.

Each refused case is a file that `nft -f` would really run against another table (the
kernel test below proves the lexical rules on nft itself); each accepted case is what
the compiler writes, for every stage of the shipped policies."""

from __future__ import annotations

import re
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
    # inside table inet egress, but not what egress writes (allowlist.py)
    "short rule form in the table": "add inet egress forward accept\n" + GOOD,
    "ct helper in the table": 'add ct helper inet egress ftp { type "ftp" protocol tcp; }\n' + GOOD,
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
    with pytest.raises(scope.ScopeError, match="not something egress writes"):
        scope.check(head + "delete set inet egress handle 4\n")  # by handle: which set is not known


# --------------------------------------------------------------------------- the allow-list (allowlist.py)

GOLDEN = sorted((ROOT / "tests" / "golden").glob("*.nft"))
BASE = (ROOT / "tests" / "golden" / "minimal-s2-reference-sites.nft").read_text()
LOG_RULE = '\t\tcounter limit rate 10/second burst 20 packets log prefix "egress minimal-lab drop: "\n'

# Statements that stay inside table inet egress but do something else than filter: each
# is refused wherever it stands. (name, rule put before the drop log of the forward chain)
STATEMENTS = {
    "dup to": "dup to 192.0.2.1",
    "dup to device": 'dup to 192.0.2.1 device "eth0"',
    "fwd to": 'fwd to "eth1"',
    "notrack": "notrack",
    "queue": "queue num 3",
    "queue bypass": "queue num 0-3 bypass fanout",
    "queue verdict map": "meta l4proto vmap { tcp : queue }",
    "ct mark set": "ct mark set 0x2a",
    "ct zone set": "ct zone set 1",
    "ct helper set": 'ct helper set "ftp"',
    "meta mark set a constant": "meta mark set 0x2a accept",
    "meta mark set outside the mask": "meta mark set meta mark and 0x0000ffff or 0x00000001",
    "meta mark set another mask": "meta mark set meta mark and 0x00ffffff",
    "meta mark and another mask": "meta mark and 0x000000ff . meta l4proto . th dport vmap @svc_lab_v4",
    "meta nftrace set": "meta nftrace set 1",
    "meta priority set": "meta priority set 1:1",
    "payload set": "ip daddr set 192.0.2.1",
    "dscp set": "ip dscp set 46",
    "tcp option set": "tcp option maxseg size set 536",
    "synproxy": "synproxy mss 1460 wscale 7",
    "tproxy": "meta l4proto tcp tproxy ip to :3128",
    "redirect": "redirect to :3128",
    "masquerade": "masquerade",
    "snat": "snat to 192.0.2.1",
    "dnat": "dnat to 192.0.2.1",
    "reject": "reject",
    "reject with tcp reset": "reject with tcp reset",
    "reject with icmpx": "reject with icmpx type admin-prohibited",
    "limit over": "limit rate over 1/second drop",
    "limit bytes": "limit rate 1 mbytes/second accept",
    "log level": 'log prefix "x" level emerg',
    "counter named": "counter name c1",
    "quota": "quota 10 mbytes",
    "ct count": "ct count over 10 drop",
    "fib": "fib daddr type local accept",
    "iifname": 'iifname "eth0" accept',
    "set add from the rule": "add @out_proxy_v4 { ip saddr }",
    "words after the verdict": "accept drop",
    "continue": "continue",
    "return": "return",
    "osf": 'osf name "Linux" accept',
    "secmark": 'meta secmark set "s"',
}

# Other places than a rule: the table block, a chain's head, a set, an element.
ELSEWHERE = {
    "a nat base chain": ("\tchain forward {\n\t\ttype filter hook forward priority filter; policy drop;\n",
                         "\tchain forward {\n\t\ttype nat hook postrouting priority srcnat; policy drop;\n"),
    "a prerouting hook": ("\tchain forward {\n\t\ttype filter hook forward priority filter; policy drop;\n",
                          "\tchain forward {\n\t\ttype filter hook prerouting priority filter; policy drop;\n"),
    "a route chain": ("\tchain forward {\n\t\ttype filter hook forward priority filter; policy drop;\n",
                      "\tchain forward {\n\t\ttype route hook output priority filter; policy drop;\n"),
    "another priority": ("\tchain forward {\n\t\ttype filter hook forward priority filter; policy drop;\n",
                         "\tchain forward {\n\t\ttype filter hook forward priority -400; policy drop;\n"),
    "a chain on a device": ("\tchain forward {\n\t\ttype filter hook forward priority filter; policy drop;\n",
                            '\tchain forward {\n\t\ttype filter hook forward device "eth0" priority filter; '
                            "policy drop;\n"),
    "a counter object": ("\tchain allow {\n\t}\n", "\tchain allow {\n\t}\n\tcounter c1 {\n\t}\n"),
    "a quota object": ("\tchain allow {\n\t}\n", "\tchain allow {\n\t}\n\tquota q1 { 1 mbytes }\n"),
    "a ct helper object": ("\tchain allow {\n\t}\n", '\tchain allow {\n\t}\n\tct helper h { type "ftp" protocol tcp; }\n'),
    "a synproxy object": ("\tchain allow {\n\t}\n", "\tchain allow {\n\t}\n\tsynproxy s { mss 1460; }\n"),
    "a table comment": ("table inet egress {\n", 'table inet egress {\n\tcomment "x"\n'),
    "a set of another type": ("\t\ttype ipv4_addr : verdict\n", "\t\ttype ipv4_addr : mark\n"),
    "a set size": ("\t\ttype ipv6_addr : verdict\n", "\t\ttype ipv6_addr : verdict\n\t\tsize 1\n"),
    "a dynamic set flag": ("\t\tflags interval\n", "\t\tflags interval,dynamic\n"),
    "a queue element": ("10.0.0.3 : goto out_proxy_v4,", "10.0.0.3 : queue,"),
    "an element with a comment": ("10.0.0.3 : jump tag_1", '10.0.0.3 comment "x" : jump tag_1'),
    "a top-level rule": ("\n# 3. The ruleset", "\nadd rule inet egress forward dup to 192.0.2.1\n# 3. The ruleset"),
    "a top-level counter": ("\n# 3. The ruleset", "\nadd counter inet egress c1\n# 3. The ruleset"),
    "a replaced rule": ("\n# 3. The ruleset", "\nreplace rule inet egress forward handle 2 accept\n# 3. The ruleset"),
    "two blocks on a line": ("\tchain allow {\n\t}\n", "\tchain allow {\n\t} chain other { }\n"),
    "two element blocks": ("\t\t\t10.0.0.3 : jump tag_1\n\t\t}", "\t\t\t10.0.0.3 : jump tag_1\n\t\t} { 10.0.0.4 : jump tag_1 }"),
    "words after a deleted table": ("\n# 3. The ruleset", "\ndelete table inet egress forward\n# 3. The ruleset"),
    "a rule deleted by handle": ("\n# 3. The ruleset", "\ndelete rule inet egress forward handle 2\n# 3. The ruleset"),
}


def with_rule(rule: str) -> str:
    assert BASE.count(LOG_RULE) == 1
    return BASE.replace(LOG_RULE, f"\t\t{rule}\n{LOG_RULE}")


def test_the_base_file_passes():
    scope.check(BASE)


@pytest.mark.parametrize("name", sorted(STATEMENTS))
def test_statements_egress_does_not_write_are_refused(name):
    text = with_rule(STATEMENTS[name])
    line = text.splitlines().index("\t\t" + STATEMENTS[name]) + 1
    with pytest.raises(scope.ScopeError) as err:
        scope.check(text)
    message = str(err.value)
    assert message.startswith(f"line {line}: "), message
    assert "refused" in message and "\n" not in message and len(message) < 220, message


def test_the_message_names_the_line_the_statement_and_the_chain():
    with pytest.raises(scope.ScopeError) as err:
        scope.check(with_rule("ct state new dup to 192.0.2.1"))
    line = with_rule("ct state new dup to 192.0.2.1").splitlines().index("\t\tct state new dup to 192.0.2.1") + 1
    assert str(err.value) == f"line {line}: `dup to 192.0.2.1` in chain forward: not something egress writes; refused"


@pytest.mark.parametrize("name", sorted(ELSEWHERE))
def test_objects_and_shapes_egress_does_not_write_are_refused(name):
    old, new = ELSEWHERE[name]
    assert old in BASE, name
    with pytest.raises(scope.ScopeError, match=r"^line \d+: (element `|`|a `}` that closes a block)"):
        scope.check(BASE.replace(old, new, 1))


def test_the_deny_all_and_hand_written_rulesets_of_the_tests_pass():
    """What the firewall side writes, and the shapes of the apply tests' own rulesets."""
    from egress.firewall import nft

    scope.check(nft.deny_all_script(BASE, "test"))
    scope.check(nft.deny_all_script(BASE.replace("hook forward", "hook output"), "test"))
    scope.check("table inet egress {\n\tset dyn_web_v4 { type ipv4_addr; flags timeout; timeout 1d; }\n"
                "\tchain forward { type filter hook forward priority filter; policy drop; }\n}\n"
                "add element inet egress dyn_web_v4 { 198.51.100.7 }\n"
                "add rule inet egress forward ct state established,related accept\n"
                'add rule inet egress forward ip daddr @dyn_web_v4 tcp dport { 443, 80 } accept comment "grant web"\n')


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    """Every stage of the shipped policies at several instants (expiring grants and
    their `until_` chains, revoked ones), the hook-output layout with another mark mask
    and no log group, and two small bench policies (hosts fed by dnsmasq, ingress)."""
    out = tmp_path_factory.mktemp("layouts")
    chu = POLICIES[1]
    variant = out / "variant"
    shutil.copytree(chu.parent, variant)
    text = chu.read_text()
    assert "  hook: forward " in text and "  log_group: 5 " in text
    (variant / "policy.yaml").write_text(text.replace("  hook: forward ", "  hook: output\n  mark_mask: 0x0000ff00 #", 1)
                                         .replace("  log_group: 5 ", "  # log_group: 5 ", 1))
    jobs = [(POLICIES[0], "2023-07-01"), (chu, "2023-07-01"), (chu, "2023-08-20"), (chu, "2023-09-05"),
            (variant / "policy.yaml", "2023-07-01")]
    for seed in (1, 2):
        generated = out / f"bench{seed}.yaml"
        subprocess.run([sys.executable, str(ROOT / "bench" / "gen_policy.py"), "--zones", "5", "--services", "30",
                        "--destinations", "4", "--stages", "4", "--grants", "40", "--seed", str(seed),
                        "--out", str(generated)], check=True, capture_output=True)
        jobs.append((generated, "2026-12-01"))
    files = []
    for n, (policy, at) in enumerate(jobs):
        folder = out / f"build{n}"
        cp = subprocess.run([sys.executable, "-m", "egress.cli", "compile", str(policy), "--all-stages",
                             "--out", str(folder), "--at", at], capture_output=True, text=True)
        assert cp.returncode == 0, cp.stderr
        files += sorted(folder.glob("*/egress.nft"))
    return files


def test_every_layout_egress_writes_passes(layouts):
    texts = [path.read_text() for path in [*GOLDEN, *layouts]]
    for what in ("meta time < ", "hook output priority filter; policy drop", "0x0000ff00", "flags timeout",
                 "until_", "@in_", "@out_proxy", " group 5", "log prefix", "oifname \"lo\""):
        assert any(what in text for text in texts), f"no layout with {what!r}: the test lost its coverage"
    for path, text in zip([*GOLDEN, *layouts], texts, strict=True):
        try:
            scope.check(text)
        except scope.ScopeError as err:
            pytest.fail(f"{path}: {err}")


def _loads_in_a_namespace(text: str, tmp_path: Path, then: str = "true") -> subprocess.CompletedProcess:
    path = tmp_path / "t.nft"
    path.write_text(text)
    nft = shutil.which("nft") or "/usr/sbin/nft"
    return subprocess.run(["unshare", "--net", "--", "sh", "-c", f'ip link set lo up && {nft} -f "$1" && {then}',
                           "sh", str(path)], capture_output=True, text=True)


@pytest.mark.system("nft", "ip")
@pytest.mark.parametrize("name", ["ct mark set", "ct zone set", "meta mark set a constant", "meta mark set another mask",
                                  "notrack", "meta nftrace set", "synproxy", "reject with tcp reset"])
def test_the_refused_statements_are_real_nft(name, tmp_path):
    """Not hypothetical: the kernel loads each refused statement in table inet egress.
    (`dup to` and `fwd to` in an inet table need nft 1.0.8 or later, the nft here is
    1.0.6; `queue` needs nft_queue, which this kernel lacks; `tproxy` the prerouting hook:
    for those the static
    refusal is the proof.)"""
    cp = _loads_in_a_namespace(with_rule(STATEMENTS[name]), tmp_path, "nft list chain inet egress forward")
    assert cp.returncode == 0, cp.stderr
    assert STATEMENTS[name].split()[0] in cp.stdout


@pytest.mark.system("nft", "ip")
def test_a_mark_written_by_the_egress_table_reaches_the_hosts_own_table(tmp_path):
    """The harm of `ct mark set`: the host's own table (here one that counts marked
    connections; policy routing or a NAT rule in real life) reads what egress wrote.
    The same file without the statement (what egress writes) marks nothing."""
    host_table = ("table inet host {\n\tchain out {\n\t\ttype filter hook output priority 10; policy accept;\n"
                  "\t\tct mark 0x2a counter\n\t}\n}\n")
    send = "python3 -c \"import socket; socket.socket(2, 2).sendto(b'x', ('127.0.0.1', 9))\""
    marked = {}
    for rule in ("ct mark set 0x2a", None):
        text = BASE.replace("hook forward", "hook output").replace(
            LOG_RULE, "".join(f"\t\t{r}\n" for r in (rule, 'oifname "lo" accept') if r) + LOG_RULE)
        if rule:
            with pytest.raises(scope.ScopeError, match="`ct mark set 0x2a` in chain forward"):
                scope.check(text)
        else:
            scope.check(text)
        cp = _loads_in_a_namespace(host_table + text, tmp_path, f"{send} && nft list table inet host")
        assert cp.returncode == 0, cp.stderr
        marked[rule] = re.search(r"counter packets (\d+)", cp.stdout).group(1)
    assert marked == {"ct mark set 0x2a": "2", None: "0"}  # the datagram and its ICMP port-unreachable

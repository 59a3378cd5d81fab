"""Attacks on `_block_data`, the line-by-line reader of `egress.yamlpos`.

A policy that YAML reads one way and egress another is an allow-list bypass: the
reviewer approves what the YAML says, the compiler opens what egress read. So the two
fast readers (`_block_data`, `_plain_data`) must, on every text they accept, give
exactly what the node tree (`compose` + `to_data`) gives: same values, types, key order
and positions; and never accept a text the node tree refuses (a syntax error, a
duplicate key, a limit). Stepping aside (`_NotPlain`) is always allowed.

Hand-written cases cover the edges a line reader can get wrong (YAML 1.1 resolvers,
comments, document markers, indentation, quoting, flow sequences, characters, limits);
a generator mutates the shipped policies line by line; `egress validate` of mutants
must give the same diagnostics whichever reader reads the files (the lock file too).
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from contextlib import ExitStack
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from egress import yamlpos
from egress.check import validate
from egress.yamlpos import YamlError, _block_data, _NotPlain, _plain_data, compose, to_data
from tests.test_property import _same

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = [
    "policies/chu-rennes-2023/policy.yaml",
    "policies/chu-rennes-2023/continuity-sites.yaml",
    "policies/chu-rennes-2023/policy.lock.yaml",
    "examples/minimal/policy.yaml",
]
OTHER_YAML = ["examples/ci/gitlab-ci.yml", "examples/ci/github-workflow.yml", "examples/ansible/push-stage.yml"]
"""Not policies, but YAML of other shapes (a sequence at the root, block scalars, `on:`)
for the mutants to start from."""
AT = dt.date(2023, 7, 1)


def _agree(text: str) -> list[str]:
    """Check the property on `text`; the names of the fast readers that accepted it."""
    accepted = []
    for reader in (_block_data, _plain_data):
        try:
            fast = reader(text, "p.yaml")
        except _NotPlain:
            continue
        accepted.append(reader.__name__)
        try:
            node = compose(text, "p.yaml")
            assert node is not None, f"{reader.__name__} read an empty document"
            full, duplicates = to_data(node, "p.yaml")
        except YamlError as err:
            raise AssertionError(f"{reader.__name__} accepted a text the node tree refuses: {err}") from None
        assert not duplicates, f"{reader.__name__} accepted duplicate keys: {duplicates}"
        assert _same(fast, full), f"{reader.__name__} reads {text!r} otherwise than the node tree"
    return accepted


# -- hand-written cases -------------------------------------------------------------------

VALUES = [
    # YAML 1.1 resolvers: bools, nulls, ints (octal, hex, binary, underscores, sexagesimal),
    # floats, timestamps (strings here), and near misses of each
    "yes", "no", "on", "off", "Yes", "NO", "y", "n", "True", "tRUE", "null", "Null", "NULL", "nULL", "~",
    "0", "-0", "00", "012", "08", "0o17", "0x1F", "0x", "0x_", "0b101", "0b", "0b_", "1_000", "1__0", "_1", "1_",
    "+1", "1:20", "190:20:30", "1:60", "1e3", "1.0e+3", "1.0e3", "1.", "._", ".5", "+.5", ".inf", "-.inf", ".Inf", ".NaN",
    ".nan", "685_230.15", "190:20:30.15", "2023-01-01", "2023-13-01", "2023-1-1", "12:30:00", "2001-12-14 21:59:43.10 -5",
    "2001-12-14t21:59:43.10-05:00", "=", "<<",
    # `: ` and ` #` inside plain scalars, `#` and `:` without a space, trailing spaces
    "x #c", "x#c", "x # c: d", "a:b", "a: b", "x:", "x :", "x : y", "x :y", "x  ", "http://x:80/a#f", "10.0.0.0/8", "fd00::1",
    "tcp/443", "x #", "x\u00a0#c", "x \u00a0#c", "x:\u00a0y",
    # indicators, first and inside
    "-", "-1", "- x", "-x", "?x", ":x", ",x", "[x", "]x", "{x", "}x", "#x", "&a x", "*a", "!x", "!!str x", "|", ">", "%x",
    "@x", "`x", "a,b", "a]b", "a}b", "a{b", "a[b", "a?b", "a|b", "a>b", "a'b", 'a"b', "a!b", "a&b", "a*b", "a%b", "a@b",
    "--- x", "---", "...", "x...", "x---",
    # quoted: escapes, comments, what follows the closing quote
    "'s'", "'a''b'", "''", "'a' #c", "'a'#c", "'a' b", "'a': b", "'#'", "'a: b'", '"d"', '""', '"a\\"b"', '"a\\tb"', '"a" #c',
    '"a"#c', '"a"x', '"#"', '"a" "b"', "'x", '"x',
    # flow sequences
    "[]", "[ ]", "[a]", "[a, b]", "[a,b]", "[ a , 'b' ,\"c\" ]", "[a, b,]", "[a,]", "[a b]", "[a: b]", "[a, [b]]", "[[a]]",
    "[a", "[a]]", "[a] x", "[a] #c", "[a]#c", "['a]', \"b,\"]", "[yes, 1, .5, 1_0, 0x1f, ~, 2023-01-01]", "[fd00::/48]",
    "[-1]", "[+1]", "[a#b]", "['a''b']", "{}", "{a: b}",
    # characters: non-ASCII, invisible and bidirectional ones (E144 must see them), breaks
    "é", "日本", "x\u00a0", "\u00a0x", "\u200bx", "x\u200b", "\u202ex", "\u2066x\u2069", "\u200e", "'\u202e'", "[\u200b]",
    "x\u2028y", "x\u0085y", "x\ufeffy", "x\x7fy", "x\ty", "x\rz", "\U0001f600", "x\u3000y",
    "x" * 2000,
]


@pytest.mark.parametrize("value", VALUES)
def test_values_read_alike(value):
    for text in (f"a: {value}\n", f"a: {value}", f"a:\n- {value}\n", f"a:\n  - {value}\n", f"k:\n- b: {value}\n  c: 1\n",
                 f"a: [{value}]\n", f"a:\n  b:  {value}  \n  c: 1\n"):
        _agree(text)


KEYS = [
    "on", "yes", "No", "null", "Null", "1", "0", "00", "08", "012", "1.5", "1.", "0x1f", "0b1", "1_0", "1e3", "2023-01-01",
    "a.b", "a/b", "a-", "_", "y", "n", "x\u200b", "\u202ek", "é", "日本", "a:b", "a b", "a" * 253, "a" * 254, "a" * 1030,
    "'a'", '"a"', "'a''b'", '"a\\"b"', "? a", "-a", ".a", "<<", "=", "~",
]


@pytest.mark.parametrize("key", KEYS, ids=lambda key: key[:20])
def test_keys_read_alike(key):
    for text in (f"{key}: 1\n", f"a:\n  {key}: 1\n", f"a:\n- {key}: 1\n", f"a:\n- b: 1\n  {key}: 2\n", f"{key}:\n  x: 1\n",
                 f"{key}:\n- x\n", f"{key}: 1\n{key}: 2\n", f"a: 1\n{key}: 2\n"):
        _agree(text)


STRUCTURES = [
    # document markers and directives
    "---\na: 1\n", "--- \na: 1\n", "---\n---\na: 1\n", "a: 1\n---\n", "a: 1\n---\nb: 2\n", "a: 1\n...\n", "a: 1\n...\nb: 2\n",
    "%YAML 1.1\n---\na: 1\n", "%TAG ! x\n---\na: 1\n", " ---\na: 1\n", "# c\n---\na: 1\n", "---a: 1\n", "--- a: 1\n",
    "...a: 1\n", "---\n", "", "\n", "# only\n",
    # comments and blank lines, at odd indentations
    "a: 1\n  # c\nb: 2\n", "a:\n# c\n  b: 1\n", "a:\n   \n  b: 1\n", "a: 1\n \n", "a: 1\n  \nb: 2", "a: b\n# end", "a: b\n#",
    "a: b\n   ", "a: 1 # c\n# d\n", "a:\n\n\n  b: 1\n", "a: b\n  # c\n  d: e\n", "a: # c\n  b: 1\n", "a:  # c\n- x\n",
    "a:\n  b: 1\n      # deep\n  c: 2\n",
    # dashes: alone, nested, with trailing spaces
    "a:\n-\n", "a:\n-   \n", "a:\n- \n- x\n", "a:\n- - x\n", "a:\n- -\n", "a:\n  - x\n  -\n", "-\n", "- a: 1\n", "- x\n",
    "a:\n- # c\n  b: 1\n", "a:\n-   x\n-  y\n", "a:\n -  x\n -  y\n",
    # `- key: v` and the keys after it, well and badly indented
    "a:\n- b: 1\n  c: 2\n", "a:\n- b: 1\n c: 2\n", "a:\n- b: 1\n   c: 2\n", "a:\n -   b: 1\n     c: 2\n",
    "a:\n -   b: 1\n    c: 2\n", "a:\n- b:\n  - x\n  c: 1\n", "a:\n- b:\n  - x\n- c\n", "a:\n- b:\n- x\n",
    "a:\n- b:\n   c: 1\n  d: 2\n", "a:\n- b:\n   c: 1\n d: 2\n", "a:\n-  b: 1\n   c:\n   - 2\n", "a:\n- b\n-\n  c: 1\n",
    "a:\n- b: 1\n  b: 2\n",
    # indentless sequences, and what follows them
    "a:\n- x\nb: 1\n", "a:\n  b:\n  - x\n  c: 1\n", "a:\n- x\n b: 1\n", "a:\n- x\n  b: 1\n", "a:\n  - x\n- y\n",
    "x: 1\ny:\n  z:\n  - 1\n  - 2\n  w: 3\nv: 4\n", "a:\n- b:\n  - c:\n    - x\n  d: 1\ne: 2\n",
    # continuation lines (multi-line plain scalars), mis-indented keys
    "a: x\n  y\n", "a: x\n y: z\n", "a:\n- x\n  y\n", "a:\n- x\n - y\n", "a:\n  - x\n - y\n", "a:\n- x\n  - y\n",
    "a: x\n  - y\n", "a: [x]\n  y\n", "a: 'x'\n  y\n", "a: \"x\n  y\"\n", "a: 'x\n  y'\n", "a:\n  b: x\n    c: y\n",
    "a:\n    b: 1\n  c: 2\n", "a:\n  b: 1\n c: 2\n", " a: 1\n b: 2\n", " a: 1\nb: 2\n", "a: 1\n b: 2\n", "a\n", "a: 1\nb\n",
    "a: 1\nb:c\n", "a:\n  x\n", "a:\n  'x'\n", "a:\n  [x]\n",
    # empty values, duplicate keys, `key:value`
    "a:\n", "a:\n# c\n", "a: \n", "a:\nb: 1\n", "a:  \n  b: 1\n", "a:value\n", "a:\n  b:\n", "a: 1\na: 2\n",
    "a:\n  b: 1\n  b: 2\n", "a: 1\nb: 2\na: 3\n", "a:\n  x: 1\na: 2\n",
    # what the subset leaves to libyaml
    "'a': 1\n", '"a": 1\n', "a: 1\n'b': 2\n", "? a\n: 1\n", "a: |\n  x\n", "a: >\n  x\n", "a: &x 1\nb: *x\n", "a: !!str 1\n",
    "a: {b: 1}\n", "<<: {a: 1}\n", "a: [\n  x]\n",
    # line breaks and characters outside the subset
    "a: 1\r\nb: 2\r\n", "a: 1\rb: 2\n", "a: 1\x85b: 2\n", "a: 1\u2028b: 2\n", "a: 1\u2029b: 2\n", "\ufeffa: 1\n",
    "a:\tx\n", "a: x\t\n", "\ta: 1\n", "a: 1\n\tb: 2\n", "a:\n\t- x\n", "a: 1\x00\n", "a: \U0001f600\n",
]


@pytest.mark.parametrize("text", STRUCTURES)
def test_structures_read_alike(text):
    _agree(text)


def _nested(depth: int, leaf: str) -> str:
    return "".join(" " * i + f"k{i}:\n" for i in range(depth)) + " " * depth + leaf + "\n"


@pytest.mark.parametrize("depth", [60, 61, 62, 63, 64, 65, 70])
def test_depth_limit_read_alike(depth):
    """`MAX_DEPTH` nesting: the line reader never accepts what `to_data` refuses (E103)."""
    for leaf in ("v: 1", "v: [a]", "- x", "- [a]", "- v: [a]"):
        _agree(_nested(depth, leaf))
    _agree("a:\n" + "".join("  " * i + "- k:\n" for i in range(depth)) + "  " * depth + "- 1\n")


def test_a_long_document_is_refused_alike(monkeypatch):
    """Regression: both fast readers accepted a document of more values than
    `MAX_NODES`, which the node path refuses (E103): the same file validated or not
    depending on which reader read it. They now step aside and the node path says why.
    (Shown with a small limit: at the real one such a file is tens of megabytes.)"""
    monkeypatch.setattr(yamlpos, "MAX_NODES", 10)
    for text in ("a:\n" + "- 1\n" * 20, "a: [" + ", ".join(["x"] * 20) + "]\n", "".join(f"k{i}: v\n" for i in range(6))):
        for reader in (_block_data, _plain_data):
            with pytest.raises(_NotPlain):
                reader(text, "p.yaml")
        with pytest.raises(YamlError, match="E103"):
            yamlpos.load(text, "p.yaml")
    assert _agree("a: [x]\n") == ["_block_data", "_plain_data"]  # shorter than the limit: still read fast


def test_a_document_too_large_is_told_what_to_do(monkeypatch):
    """E103 says to remove the aliases only when aliases made the document too large;
    a document that is simply too long is told to split into included files."""
    monkeypatch.setattr(yamlpos, "MAX_NODES", 10)
    with pytest.raises(YamlError) as long:
        yamlpos.load("a:\n" + "- 1\n" * 20, "p.yaml")
    assert "split the policy into files (include:)" in long.value.diagnostic.message
    with pytest.raises(YamlError) as bomb:
        yamlpos.load("a: &a [x, x, x]\nb: [*a, *a, *a, *a]\n", "p.yaml")
    assert "remove the aliases" in bomb.value.diagnostic.message


@pytest.mark.parametrize("text", [
    "a: yes\nb: 0b11\nc: 0x1F\nd: .nan\ne: ~\nf: 2023-01-01\ng: 1_000\nh: on\ni: 1:20.5\nj: 0o17\n",
    "host: \u200bexample.org\nname: caf\u00e9 \u65e5\u672c\nbidi: '\u202eabc'\nlist: [\"\u2066x\u2069\", '\u200e']\n",
    "a:\n- b: 1\n  c:\n  - x\n  - 'y'\nd: [a, \"b\", 'c'] # c\n",
    "k" * 253 + ": 1\n",
])
def test_the_line_reader_reads_the_common_cases(text):
    """So that the agreement tests compare something: the line reader does accept
    resolved scalars, invisible and bidirectional characters (E144 then sees the same
    strings), non-ASCII letters, indentless sequences and long keys."""
    assert "_block_data" in _agree(text)


# -- mutants of the shipped policies ------------------------------------------------------

_TOKENS = ["-", "- ", " ", "  ", ":", ": ", "#", " #", "'", '"', "[", "]", ",", "a", "yes", "1", "1:2", "é", "\u200b",
           "---", "...", "~", "null", ".5", "\\", "''", "&a", "*a", "!", "|", "?", "{", "}", "%", "@", "\t", "\r", "\u00a0",
           "2023-01-01", "k" * 30]


@st.composite
def line_mutants(draw, text: str):
    """`text` with one to four lines inserted, deleted, indented, dedented, doubled,
    swapped, split, joined, or with a character replaced or inserted."""
    lines = text.split("\n")
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["insert", "delete", "indent", "dedent", "double", "swap", "split", "join", "replace", "token"]))
        line = lines[at]
        if action == "insert":
            new = draw(st.sampled_from(lines)) if draw(st.booleans()) else (
                " " * draw(st.integers(0, 6)) + "".join(draw(st.lists(st.sampled_from(_TOKENS), min_size=1, max_size=4))))
            lines.insert(at, new)
        elif action == "delete" and len(lines) > 1:
            del lines[at]
        elif action == "indent":
            lines[at] = " " * draw(st.integers(1, 3)) + line
        elif action == "dedent":
            lines[at] = line[draw(st.integers(1, 3)):] if line.startswith(" ") else line
        elif action == "double":
            lines.insert(at, line)
        elif action == "swap":
            other = draw(st.integers(0, len(lines) - 1))
            lines[at], lines[other] = lines[other], line
        elif action == "split" and line:
            cut = draw(st.integers(0, len(line)))
            lines[at:at + 1] = [line[:cut], line[cut:]]
        elif action == "join" and at + 1 < len(lines):
            lines[at:at + 2] = [line + lines[at + 1]]
        elif action in ("replace", "token"):
            cut = draw(st.integers(0, len(line)))
            lines[at] = line[:cut] + draw(st.sampled_from(_TOKENS)) + line[cut + (action == "replace"):]
    return "\n".join(lines)


_TEXTS = {name: (ROOT / name).read_text() for name in SHIPPED + OTHER_YAML}


@st.composite
def shipped_mutants(draw):
    return draw(line_mutants(_TEXTS[draw(st.sampled_from(SHIPPED + OTHER_YAML))]))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(text=shipped_mutants())
def test_mutants_of_the_shipped_policies_read_alike(text):
    _agree(text)


def _validated(path: Path, fast: str) -> tuple[object, list[str]]:
    """`egress validate` of `path` with the fast readers `fast` names ("block", "plain",
    or "none": the node tree only) reading every file: the policy, its includes, its lock."""
    with ExitStack() as stack:
        if fast in ("plain", "none"):
            stack.enter_context(mock.patch.object(yamlpos, "_block_data", side_effect=_NotPlain))
        if fast == "none":
            stack.enter_context(mock.patch.object(yamlpos, "_plain_data", side_effect=_NotPlain))
        policy, diagnostics = validate(str(path), AT)
    return policy, [str(d) for d in diagnostics]


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_validate_of_mutants_is_the_same_whichever_reader(data):
    """The diagnostics (E144 on invisible characters included) and the policy of `egress
    validate` do not depend on which reader read the policy, its include or its lock."""
    name = data.draw(st.sampled_from(SHIPPED))
    mutant = data.draw(line_mutants(_TEXTS[name]))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "p"
        shutil.copytree((ROOT / name).parent, folder)
        (folder / Path(name).name).write_text(mutant)
        policy = folder / "policy.yaml"
        results = [_validated(policy, fast) for fast in ("block", "plain", "none")]
    assert results[0] == results[1] == results[2]


@pytest.mark.parametrize("edit", [
    ("  proxy:\n", "  pro\u200bxy:\n"),
    ("description: Web proxies", "description: Web \u202eproxies"),
    ("api.mss-operator.example:", "api.mss-operator.example\u2066:"),
    ("policy: chu-rennes-2023\n", "policy: chu-rennes-2023\npolicy: other\n"),
    ("hosts:\n", "hosts:\n  api.mss-operator.example:\n    - 203.0.113.99\n"),
    ("egress-lock: 1", "egress-lock: 2"),
])
def test_validate_of_edited_files_is_the_same_whichever_reader(tmp_path, edit):
    """E144 (invisible characters), duplicate keys, lock entries: the same
    diagnostics whichever reader read the policy and its lock."""
    folder = tmp_path / "p"
    shutil.copytree(ROOT / "policies/chu-rennes-2023", folder)
    old, new = edit
    for name in ("policy.yaml", "policy.lock.yaml"):
        text = (folder / name).read_text()
        (folder / name).write_text(text.replace(old, new, 1))
    results = [_validated(folder / "policy.yaml", fast) for fast in ("block", "plain", "none")]
    assert results[0] == results[1] == results[2]
    assert results[0][1], "each edit makes a diagnostic"


def test_loads_keep_nothing_behind():
    """Regression: the event reader and the node path constructed numbers and booleans
    through the shared constructor's `construct_object`, which remembers every node it
    constructed: ~4 MB more held after each load of a 10,000-number document."""
    texts = ["a:\n" + "".join(f"- {i}\n" for i in range(50)),  # the line reader
             "a: {b: [1, yes, .5, ~]}\n",  # the event reader
             "a: &x [1, yes, 1_0]\nb: *x\nc: !!int '7'\nd: !!float '1.5'\n"]  # the node tree
    for text in texts:
        yamlpos.load(text, "p.yaml")
    with pytest.raises(YamlError, match="E112"):
        yamlpos.load("a: !!int abc\n", "p.yaml")
    assert not yamlpos._constructor.constructed_objects


@pytest.mark.parametrize("version", ["yes", "on", "true", "1.0", "0x1", "'1'"])
def test_a_lock_file_version_is_the_number_one(tmp_path, version):
    """Regression: `egress-lock: yes` (or `on`, `true`, `1.0`) was taken for version 1,
    since Python finds True and 1.0 equal to 1; `egress: yes` in a policy is refused
    (E113), and so is such a lock file now (E142). `0x1` is the integer 1: accepted."""
    folder = tmp_path / "p"
    shutil.copytree(ROOT / "policies/chu-rennes-2023", folder)
    lock = folder / "policy.lock.yaml"
    lock.write_text(lock.read_text().replace("egress-lock: 1\n", f"egress-lock: {version}\n"))
    _, diagnostics = _validated(folder / "policy.yaml", "block")
    refused = [d for d in diagnostics if "E142" in d and "not an egress lock file" in d]
    assert bool(refused) == (version != "0x1")


_HIDDEN_GRANT = ["      - id: maintenance", "        from: internet", "        to: dicom-gateway", "        ports: [tcp/22]",
                 "        reason: Vendor maintenance", "        requested_by: Vendor", "        approved_by: Vendor",
                 "        ticket: CRISE-2023-004"]


@pytest.mark.parametrize("brk", ["\u2028", "\u2029", "\x85", "\r"], ids=["LS", "PS", "NEL", "CR"])
def test_a_grant_hidden_after_a_comment_is_refused(tmp_path, brk):
    """Regression (allow-list bypass): YAML starts a new line at NEL, LS, PS and a lone
    CR; git, diff views and most editors do not. This one-line diff reads in review as
    a comment after a ticket, but every reader (libyaml's too) read a new grant opening
    SSH from the internet to the DICOM gateway, and `egress validate` said 0 errors.
    Such a file is now refused (E100), at the place an editor shows, whichever reader."""
    folder = tmp_path / "p"
    shutil.copytree(ROOT / "policies/chu-rennes-2023", folder)
    policy = folder / "policy.yaml"
    text = policy.read_text()
    line = "        ticket: CRISE-2023-004 # see the register"
    text = text.replace("        ticket: CRISE-2023-004\n", brk.join([line, *_HIDDEN_GRANT]) + "\n", 1)
    policy.write_bytes(text.encode())  # no newline translation
    assert brk in policy.read_bytes().decode()
    number = text[:text.index(line)].count("\n") + 1
    for fast in ("block", "plain", "none"):
        loaded, diagnostics = _validated(policy, fast)
        assert loaded is None
        assert diagnostics == [f"{policy}:{number}:{len(line) + 1}: error E100 " + diagnostics[0].split(" E100 ", 1)[1]]
        assert "line break for YAML but not for git" in diagnostics[0]


@pytest.mark.parametrize("text", ["a: 1 # c\u2028b: 2\n", "a: [x, y]\u2029", "a: 'x\x85y'\n", "a: 1\rb: 2\r", "a: 1\r\rb: 2\n"])
def test_hidden_line_breaks_are_refused_by_load(text):
    with pytest.raises(YamlError, match=r"E100 .* is a line break for YAML"):
        yamlpos.load(text, "p.yaml")


def test_crlf_line_ends_are_still_read():
    assert yamlpos.load("a: 1 # c\r\nb: [x]\r\n", "p.yaml")[0] == {"a": 1, "b": ["x"]}


def test_a_byte_order_mark_that_shifts_a_line_is_refused():
    """libyaml skips a byte-order mark at the start of any line but counts its column:
    `\\ufeff c: 2` shows under `a` (column 1) and was read as a sibling of `b` (column
    2); PyYAML without libyaml read a key "\\ufeff c". Now E100 there; at the start of
    the file it is the usual byte-order mark, and inside a text E144 names it."""
    with pytest.raises(YamlError, match=r"p.yaml:3:1: error E100 an invisible U\+FEFF"):
        yamlpos.load("a:\n  b: 1\n\ufeff c: 2\n", "p.yaml")
    with pytest.raises(YamlError, match=r"p.yaml:2:1: error E100"):
        yamlpos.load("a: 1\r\n\ufeff b: 2\r\n", "p.yaml")
    assert yamlpos.load("\ufeffa: 1\n", "p.yaml")[0] == {"a": 1}
    assert yamlpos.load("a: x\ufeffy\n", "p.yaml")[0] == {"a": "x\ufeffy"}


@pytest.mark.parametrize("spelling, meaning", [("0443", "octal number 291"), ("03128", None), ("53:20", "base-60 number 3200"),
                                               ("-012", "octal number -10"), ("1:0", "base-60 number 60")])
def test_an_integer_that_reads_otherwise_than_it_shows_is_refused(tmp_path, spelling, meaning):
    """Regression: `port: 0443` was the YAML 1.1 octal number 291, so the proxy
    listened, and the firewall opened the zones to it, on tcp/291 while the policy
    showed 443 (53:20 was 3200). Now E112 names the number, whichever reader reads the
    file; 0x and 0b spellings, which say what they are, are still read."""
    folder = tmp_path / "p"
    shutil.copytree(ROOT / "policies/chu-rennes-2023", folder)
    policy = folder / "policy.yaml"
    policy.write_text(policy.read_text().replace("  port: 3128\n", f"  port: {spelling}\n", 1))
    results = [_validated(policy, fast) for fast in ("block", "plain", "none")]
    assert results[0] == results[1] == results[2]
    errors = [d for d in results[0][1] if " error " in d]
    if meaning is None:  # 03128 is no octal number: a string, which the schema refuses
        assert errors and all("YAML 1.1" not in d for d in errors)
    else:
        assert len(errors) == 1 and f"E112 {spelling!r} is the YAML 1.1 {meaning}" in errors[0]
    assert yamlpos.load("a: 0x1F\nb: 0b11\nc: 1_000\n", "p.yaml")[0] == {"a": 31, "b": 3, "c": 1000}


def test_an_unquoted_address_read_as_a_number_says_to_quote_it():
    with pytest.raises(YamlError, match=r"1:25: error E112 '2001:0:0:0:0:0:0:12' is the YAML 1.1 base-60 .* quote it if it is a text"):
        yamlpos.load("addresses: [10.0.0.0/8, 2001:0:0:0:0:0:0:12]\n", "p.yaml")

"""Property: any mutation of a valid policy validates or gives positioned errors, never a crash.

Two kinds of mutation: structural (a value replaced, a key dropped or renamed, an item
duplicated; then dumped back to YAML) and textual (characters inserted, deleted or
swapped anywhere, which also makes broken YAML and bad encodings).
"""

from __future__ import annotations

import copy
import datetime as dt
import sys
from pathlib import Path

import yaml
from hypothesis import HealthCheck, example, given, settings, strategies as st

from egress.check import validate
from egress.diagnostics import CATALOGUE, ERROR
from egress.fastschema import Refused
from egress.load import _fast_validator, _validator
from egress.yamlpos import Map, Seq, _block_data, _NotPlain, _plain_data, compose, to_data
from tests.test_diagnostics import BASE, LOCK

AT = dt.date(2023, 7, 1)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-70000, 70000),
    st.text(max_size=12),
    st.sampled_from(["tcp/443", "udp/0", "10.0.0.1/8", "::/0", "a.example", "*.x", "internet", "proxy", "lan", "s0", "2023-13-01"]),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, prefix + (index,))


def _parent(doc, path):
    node = doc
    for step in path[:-1]:
        node = node[step]
    return node


@st.composite
def structural_mutation(draw):
    doc = yaml.safe_load(BASE)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        path = draw(st.sampled_from(paths))
        parent, last = _parent(doc, path), path[-1]
        action = draw(st.sampled_from(["replace", "drop", "rename", "duplicate"]))
        if action == "replace":
            parent[last] = draw(junk)
        elif action == "drop":
            del parent[last]
        elif action == "rename" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = parent.pop(last)
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[last]))
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


@st.composite
def textual_mutation(draw):
    data = bytearray(BASE.encode())
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["insert", "delete", "swap"]))
        if action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=3)) if draw(st.booleans()) else draw(
                st.sampled_from([b":", b"-", b"[", b"{", b"\n", b"  ", b"&a", b"*a", b'"', b"#", b"\t", b"!!python/object:os.system"])
            )
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        else:
            other = draw(st.integers(0, len(data) - 1))
            data[at], data[other] = data[other], data[at]
    return bytes(data)


def _check(tmp_path, content: bytes):
    path = tmp_path / "policy.yaml"
    path.write_bytes(content)
    (tmp_path / "policy.lock.yaml").write_text(LOCK)
    policy, diagnostics = validate(str(path), AT)  # must not raise
    errors = [d for d in diagnostics if d.severity == ERROR]
    for d in diagnostics:
        assert d.code in CATALOGUE
        assert d.line >= 1 and d.column >= 1
        assert d.path in (str(path), str(tmp_path / "policy.lock.yaml"))
        assert "\n" not in d.message
    if not errors:
        assert policy is not None


@SETTINGS
@given(text=structural_mutation())
def test_structural_mutations_never_crash(tmp_path, text):
    _check(tmp_path, text.encode())


@SETTINGS
@given(content=textual_mutation())
def test_textual_mutations_never_crash(tmp_path, content):
    _check(tmp_path, content)


def test_control_characters_in_keys_and_names_stay_on_one_line(tmp_path):
    text = BASE.replace("  dmz:", '  "d\\nmz":').replace("policy: base", 'policy: base\n"po\\nlicy": 1')
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    _, diagnostics = validate(str(path), AT)
    assert diagnostics
    assert all("\n" not in str(d) for d in diagnostics)


@settings(max_examples=400, deadline=None)
@given(text=structural_mutation())
@example(text=BASE)  # valid: both must accept it
@example(text=BASE.replace("policy: base", "policy: base\nextra: 1"))  # both must refuse
def test_fast_and_full_schema_validators_agree(text):
    """`schema_diagnostics` trusts fastjsonschema's "valid" and only asks jsonschema
    for the list of errors, so the two must accept exactly the same documents: a
    document that one accepts and the other refuses would lose or invent errors."""
    doc, _ = to_data(compose(text, "policy.yaml"), "policy.yaml")  # as validate reads it
    try:
        _fast_validator()(doc)
        fast_valid = True
    except Refused:
        fast_valid = False
    assert fast_valid == _validator().is_valid(doc)


def _same(a, b) -> bool:
    """Same data, same types and same positions, recursively."""
    if type(a) is not type(b):
        return False
    if isinstance(a, Map):
        return (
            (a.where, a.key_where, a.value_where, list(a)) == (b.where, b.key_where, b.value_where, list(b))
            and all(_same(a[key], b[key]) for key in a)
        )
    if isinstance(a, Seq):
        return (a.where, a.item_where, len(a)) == (b.where, b.item_where, len(b)) and all(map(_same, a, b))
    return a == b or (a != a and b != b)  # NaN (`.nan`) is itself


def _both_loaders_agree(text: str) -> None:
    """Each fast reader that accepts `text` gives what the node-tree path gives (which
    must then accept it too: a fast reader never takes a document libyaml refuses)."""
    full = None
    for reader in (_block_data, _plain_data):
        try:
            fast = reader(text, "p.yaml")
        except _NotPlain:
            continue  # the next reader handles it
        if full is None:
            full = to_data(compose(text, "p.yaml"), "p.yaml")[0]
        assert _same(fast, full), reader.__name__


@settings(max_examples=300, deadline=None)
@given(text=structural_mutation())
def test_one_pass_loader_equals_the_node_tree_path_on_structural_mutations(text):
    _both_loaders_agree(text)


@settings(max_examples=300, deadline=None)
@given(content=textual_mutation())
def test_one_pass_loader_equals_the_node_tree_path_on_textual_mutations(content):
    try:
        text = content.decode()
    except UnicodeDecodeError:
        return
    _both_loaders_agree(text)


_KEYS = ["a", "b", "c", "key", "a.b", "x-y", "_k", "A1", "yes", "on", "null", "1", "0x1f", "2026-01-01", "<<", '"q"', "'s'", "a b", "k" * 300]
_SEPARATORS = [": ", ":", ":  ", " : ", ": #c ", ":#"]
_VALUES = [
    "x", "x y", "a  b ", "1", "-1", "1.5", "1_000", "0o7", "012", "0x1f", "1e3", "1.0e+3", ".inf", ".nan", "yes", "No", "on", "null",
    "~", "2026-01-01", "2026-01-01 10:00:00", "1:30", "tcp/443", "10.0.0.1", "10.0.0.0/8", "fd00::/48", "http://x", "a:b", "x:",
    "a: b", "a #c", "a#c", "a # c: d", "- x", "-x", "?x", ":x", "&a x", "*a", "!!str x", "!x y", "|", ">", "%x", "@x", "`x",
    "'s'", "'a''b'", "'a' #c", "'a'#c", "'a' b", '"d"', '"a\\"b"', '"a\\tb"', '"a" #c', '"a"x', "[]", "[ ]", "[a]", "[a, b]",
    "[a,b]", "[ a , 'b' ,\"c\" ]", "[a, b,]", "[a b]", "[a: b]", "[1, yes, ~]", "[fd00::/48]", "[a] #c", "[a]#c", "[a", "[[a]]",
    "{}", "{a: b}", "é", "\u00a0x", "x\u00a0", "\u2028", "\u0085", "\t", "x\ty", "\ufeff", "\U0001f600", "\x7f", "<<", "=",
]


_PLAIN = ["x", "x y", "1", "yes", "1.5", "tcp/443", "10.0.0.1", "2026-01-01", "'s'", '"d"', "[a, 'b']", "[]", "a #c", "é"]
_values = st.one_of(st.sampled_from(_PLAIN), st.sampled_from(_PLAIN), st.sampled_from(_VALUES))
_keys = st.one_of(st.sampled_from(["a", "b", "c", "d", "e", "f", "g", "h"]), st.sampled_from(_KEYS))


@st.composite
def block_documents(draw):
    """Block-style documents near the edges of `_block_data`'s subset: nested mappings
    and sequences (indentless ones too) at every indentation step, with tricky keys and
    values, comments and blank lines; then, often, one line shifted, doubled, dropped or
    replaced, so that both sides of each edge are drawn."""
    lines: list[str] = []

    def extras(indent: str) -> None:
        for _ in range(draw(st.integers(0, 1))):
            lines.append(draw(st.sampled_from(["", "  ", f"{indent}# c", "# c: [x", f"{indent}  # deeper"])))

    def value(indent: int, depth: int, prefix: str) -> None:
        """`prefix` (`key:` or `- `) and a value, on this line and the next ones."""
        kind = draw(st.sampled_from(["scalar", "scalar", "scalar", "map", "seq"] if depth < 4 else ["scalar"]))
        if kind == "scalar":
            lines.append(f"{' ' * indent}{prefix}{'' if prefix.endswith(' ') else ' '}{draw(_values)}")
            return
        if prefix.startswith("-") and kind == "map" and draw(st.booleans()):  # `- key: value` and its siblings
            inner = indent + len(prefix)
            first = True
            for _ in range(draw(st.integers(1, 3))):
                key = draw(_keys)
                if first:
                    value(indent, depth + 1, f"{prefix}{key}:")
                    first = False
                else:
                    value(inner, depth + 1, f"{key}:")
            return
        lines.append(f"{' ' * indent}{prefix.rstrip()}{draw(st.sampled_from(['', ' # c', '  ']))}")
        step = draw(st.sampled_from([1, 2, 2, 4] + ([0] if kind == "seq" and not prefix.startswith("-") else [])))
        child = indent + step
        for _ in range(draw(st.integers(1, 3))):
            extras(" " * child)
            if kind == "map":
                value(child, depth + 1, f"{draw(_keys)}:")
            else:
                value(child, depth + 1, draw(st.sampled_from(["- ", "- ", "-  "])))

    if draw(st.booleans()):
        lines.append(draw(st.sampled_from(["---", "# head", ""])))
    for _ in range(draw(st.integers(1, 4))):
        extras("")
        value(0, 0, f"{draw(_keys)}:")
    if draw(st.booleans()) and lines:
        _perturb(draw, lines)
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\n\n"]))


def _perturb(draw, lines: list[str]) -> None:
    """One line of `lines` shifted, unshifted, doubled, dropped or replaced."""
    at = draw(st.integers(0, len(lines) - 1))
    action = draw(st.sampled_from(["shift", "unshift", "double", "drop", "replace"]))
    if action == "shift":
        lines[at] = " " + lines[at]
    elif action == "unshift":
        lines[at] = lines[at][1:]
    elif action == "double":
        lines.insert(at, lines[at])
    elif action == "drop":
        del lines[at]
    else:
        lines[at] = draw(st.sampled_from(["...", "--- x", "%YAML 1.1", "x", "- x", "a: b: c", "\tx: 1", "[a]", "&a x: 1"]))


@settings(max_examples=1500, deadline=None)
@given(text=block_documents())
@example(text="a:\n- x\n- y\nb: 1\n")  # an indentless sequence, then the next key
@example(text="- a: 1\n  b:\n  - x\n")  # an indentless sequence in an item
@example(text="a: x\n  y\n")  # a continuation line: a multi-line plain scalar
@example(text="---\n---\na: 1\n")  # two documents
def test_line_reader_equals_the_node_tree_path_near_its_edges(text):
    _both_loaders_agree(text)


def test_plain_policies_take_the_line_reader():
    """So the agreement tests above compare something: the shipped policies and the
    generated bench policies are read line by line."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    import gen_policy

    texts = [(Path(__file__).parent.parent / path).read_text() for path in (
        "policies/chu-rennes-2023/policy.yaml", "policies/chu-rennes-2023/continuity-sites.yaml",
        "policies/chu-rennes-2023/policy.lock.yaml", "examples/minimal/policy.yaml")]
    params = gen_policy.Params(zones=4, services=6, destinations=20, grants=12, stages=3)
    generated = gen_policy.generate(params)
    texts += [gen_policy.render_policy(generated, params), gen_policy.render_lock(generated)]
    for text in texts:
        full = to_data(compose(text, "p.yaml"), "p.yaml")[0]
        assert _same(_block_data(text, "p.yaml"), full)
        assert _same(_plain_data(text, "p.yaml"), full)

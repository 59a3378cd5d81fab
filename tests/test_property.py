"""Property: any mutation of a valid policy validates or gives positioned errors, never a crash.

Two kinds of mutation: structural (a value replaced, a key dropped or renamed, an item
duplicated; then dumped back to YAML) and textual (characters inserted, deleted or
swapped anywhere, which also makes broken YAML and bad encodings).
"""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import yaml
from hypothesis import HealthCheck, example, given, settings, strategies as st

from egress.check import validate
from egress.diagnostics import CATALOGUE, ERROR
from egress.fastschema import Refused
from egress.load import _fast_validator, _validator
from egress.yamlpos import Map, Seq, _NotPlain, _plain_data, compose, to_data
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
    return a == b


def _both_loaders_agree(text: str) -> None:
    try:
        fast = _plain_data(text, "p.yaml")
    except _NotPlain:
        return  # the full path alone handles it
    assert _same(fast, to_data(compose(text, "p.yaml"), "p.yaml")[0])


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


def test_plain_policies_take_the_one_pass_loader():
    """So the agreement tests above compare something: the shipped policy is plain."""
    for path in ("policies/chu-rennes-2023/policy.yaml", "examples/minimal/policy.yaml"):
        text = (Path(__file__).parent.parent / path).read_text()
        assert _same(_plain_data(text, path), to_data(compose(text, path), path)[0])

"""The shortcuts of the loader give what the long way gives.

`egress validate` takes a few fast paths on the common case; each must be invisible:
- `addresses.parse` reads canonical dotted-quad IPv4 itself, and must agree with the
  standard library (`_parse_with_ipaddress`) on every text;
- `load._maybe_special` skips `special.not_internet` for a lock address only where it
  would find nothing;
- `load.float_diagnostics` of a document the schema accepts looks only at the schema's
  integer fields (`INTEGER_FIELDS`), which must be every place a float can pass the
  schema.
"""

from __future__ import annotations

import ipaddress

import yaml
from hypothesis import example, given, settings, strategies as st

from egress import addresses
from egress.load import INTEGER_FIELDS, _maybe_special, _schema, float_diagnostics, schema_diagnostics
from egress.special import NOT_INTERNET, not_internet
from egress.yamlpos import compose, to_data
from tests.test_diagnostics import BASE
from tests.test_property import structural_mutation

_parts = st.sampled_from(["0", "1", "9", "10", "99", "100", "199", "200", "249", "250", "255", "256", "300", "999",
                          "01", "00", "001", "1000", "", "-1", "1a"])
_prefixes = st.sampled_from(["", "/0", "/1", "/8", "/9", "/10", "/19", "/20", "/29", "/30", "/31", "/32", "/33", "/39",
                             "/40", "/99", "/08", "/032", "/", "/-1", "/100", "%eth0"])


def _outcome(parse, text):
    try:
        return "ok", tuple(parse(text))
    except addresses.AddressError as err:
        return "error", str(err), err.network


@settings(max_examples=2000, deadline=None)
@given(parts=st.lists(_parts, min_size=3, max_size=5), prefix=_prefixes)
@example(parts=["10", "0", "0", "0"], prefix="/08")  # ipaddress reads it: so must parse
@example(parts=["10", "0", "0", "1"], prefix="/24")  # host bits
@example(parts=["1", "2", "3", "256"], prefix="")
def test_ipv4_fast_path_agrees_with_ipaddress(parts, prefix):
    text = ".".join(parts) + prefix
    assert _outcome(addresses.parse, text) == _outcome(addresses._parse_with_ipaddress, text)


def _edges():
    """Addresses at and around the ends of every special range, and of 2000::/3."""
    out = []
    for special in NOT_INTERNET:
        net = ipaddress.ip_network(special.network)
        for end in (int(net.network_address), int(net.broadcast_address)):
            out += [(net.version, end + delta) for delta in (-1, 0, 1)]
    out += [(6, (0x2000 << 112) + delta) for delta in (-1, 0, 1)] + [(6, (0x4000 << 112) + delta) for delta in (-1, 0, 1)]
    return [(v, a) for v, a in out if 0 <= a < (1 << (32 if v == 4 else 128))]


@settings(max_examples=1500, deadline=None)
@given(st.one_of(
    st.sampled_from(_edges()),
    st.tuples(st.just(4), st.integers(0, 2**32 - 1)),
    st.tuples(st.just(6), st.integers(0, 2**128 - 1)),
))
def test_lock_special_filter_never_hides_a_special_address(version_address):
    version, value = version_address
    ip = ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value)
    network = addresses.Network(version, value, 32 if version == 4 else 128)
    if not _maybe_special(network):
        assert not_internet(ip) is None


def test_every_edge_of_a_special_range_is_seen():
    for version, value in _edges():
        ip = ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value)
        assert _maybe_special(addresses.Network(version, value, 32 if version == 4 else 128)) == (not_internet(ip) is not None)


def _number_places(node, path=()):
    """The paths of the schema whose value may be a number: an integer or number type,
    or no type at all unless an enum or const of strings says otherwise."""
    defs = _schema()["$defs"]
    if "$ref" in node:
        yield from _number_places(defs[node["$ref"].rsplit("/", 1)[1]], path)
        return
    kinds = node.get("type")
    kinds = [kinds] if isinstance(kinds, str) else kinds
    if kinds is None:
        allowed = node.get("enum", [node["const"]] if "const" in node else None)
        if allowed is None or not all(isinstance(v, str) for v in allowed):
            yield path
    elif "integer" in kinds or "number" in kinds:
        yield path
    for key, sub in node.get("properties", {}).items():
        yield from _number_places(sub, path + (key,))
    for keyword in ("items", "additionalProperties"):
        if isinstance(node.get(keyword), dict):
            yield from _number_places(node[keyword], path + ("*",))


def test_integer_fields_are_the_schemas_number_places():
    assert sorted(_number_places(_schema())) == sorted(INTEGER_FIELDS)


@settings(max_examples=300, deadline=None)
@given(text=structural_mutation())
@example(text=BASE.replace("port: 3128", "port: 3128.0"))
@example(text=BASE.replace("egress: 1", "egress: 1.0"))
def test_floats_of_a_schema_valid_document_are_in_the_integer_fields(text):
    doc, _ = to_data(compose(text, "policy.yaml"), "policy.yaml")
    if not schema_diagnostics(doc):
        assert float_diagnostics(doc, schema_valid=True) == float_diagnostics(doc)


def test_a_float_port_is_reported_either_way():
    doc, _ = to_data(compose(BASE.replace("port: 3128", "port: 3128.0"), "policy.yaml"), "policy.yaml")
    assert not schema_diagnostics(doc)
    (only,) = float_diagnostics(doc, schema_valid=True)
    assert only.message == "proxy.port must be a whole number, not the float 3128.0; write 3128"
    assert yaml.safe_load(BASE)["proxy"]["port"] == 3128  # the mutation above is what it says

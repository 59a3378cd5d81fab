"""The shortcuts of the loader and the checks give what the long way gives.

`egress validate` takes a few fast paths on the common case; each must be invisible:
- `addresses.parse` reads canonical dotted-quad IPv4 itself and parses anything else
  once, and must agree with the plain use of the standard library on every text;
- `load._maybe_special` skips `special.not_internet` for a lock address only where it
  would find nothing;
- `load.float_diagnostics` of a document the schema accepts looks only at the schema's
  integer fields (`INTEGER_FIELDS`), which must be every place a float can pass the
  schema;
- `load._valid_in_parts` proves a document valid with the destinations checked apart:
  it must decide as the whole validator does;
- `check._Spans.meets` (one bisection) says whether `meeting` finds anything, which
  lets `special_destination` and `_zones_holding` answer the common case at once.
"""

from __future__ import annotations

import copy
import ipaddress

import yaml
from hypothesis import example, given, settings, strategies as st

from egress import addresses, check, instants
from egress.check import REFUSED_SPECIAL, _Spans, _special_spans, special_destination
from egress.fastschema import Refused
from egress.load import (
    INTEGER_FIELDS,
    _destination_checker,
    _fast_validator,
    _maybe_special,
    _schema,
    _valid_in_parts,
    float_diagnostics,
    load_policy,
    schema_diagnostics,
)
from egress.special import NOT_INTERNET, not_internet
from egress.yamlpos import compose, to_data
from tests.test_diagnostics import BASE
from tests.test_property import _same, structural_mutation

_parts = st.sampled_from(["0", "1", "9", "10", "99", "100", "199", "200", "249", "250", "255", "256", "300", "999",
                          "01", "00", "001", "1000", "", "-1", "1a"])
_prefixes = st.sampled_from(["", "/0", "/1", "/8", "/9", "/10", "/19", "/20", "/29", "/30", "/31", "/32", "/33", "/39",
                             "/40", "/99", "/08", "/032", "/", "/-1", "/100", "%eth0"])


def _outcome(parse, text):
    try:
        return "ok", tuple(parse(text))
    except addresses.AddressError as err:
        return "error", str(err), err.network


def _reference(text: str) -> addresses.Network:
    """What `addresses.parse` did before its fast paths: `ip_network`, then
    `ip_interface` for the host bits."""
    if "%" in text:
        raise addresses.AddressError("carries an IPv6 zone index; write the address alone")
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise addresses.AddressError("not an IPv4/IPv6 address or CIDR") from None
    if "/" in text and int(network.network_address) != int(ipaddress.ip_interface(text).ip):
        raise addresses.AddressError("host bits set", str(network))
    return addresses.Network(network.version, int(network.network_address), network.prefixlen)


@settings(max_examples=2000, deadline=None)
@given(parts=st.lists(_parts, min_size=3, max_size=5), prefix=_prefixes)
@example(parts=["10", "0", "0", "0"], prefix="/08")  # ipaddress reads it: so must parse
@example(parts=["10", "0", "0", "1"], prefix="/24")  # host bits
@example(parts=["1", "2", "3", "256"], prefix="")
def test_ipv4_paths_agree_with_ipaddress(parts, prefix):
    text = ".".join(parts) + prefix
    assert _outcome(addresses.parse, text) == _outcome(_reference, text)


_hextets = st.sampled_from(["0", "1", "db8", "2001", "fd00", "ffff", "FFFF", "0000", "00000", "12345", "g", "", "1.2.3.4",
                            "01.2.3.4", "::", ":"])


@st.composite
def _ipv6_texts(draw):
    """Mostly well-formed IPv6 (1 to 8 groups, often with `::`), sometimes with odd
    groups (5 digits, not hex, an IPv4 tail with a leading zero, stray colons)."""
    groups = draw(st.lists(st.one_of(st.sampled_from(["0", "1", "db8", "2001", "fd00", "ffff", "FFFF", "0000", "abcd"]),
                                     _hextets), min_size=0, max_size=8))
    if draw(st.booleans()):
        at = draw(st.integers(0, len(groups)))
        return ":".join(groups[:at]) + "::" + ":".join(groups[at:])
    return ":".join(groups)


@settings(max_examples=2000, deadline=None)
@given(text=_ipv6_texts(), prefix=_prefixes)
@example(text="2001:db8::1", prefix="/32")  # host bits
@example(text="::ffff:1.2.3.4", prefix="")  # an IPv4-mapped address
def test_ipv6_paths_agree_with_ipaddress(text, prefix):
    text += prefix.replace("/3", "/12")
    assert _outcome(addresses.parse, text) == _outcome(_reference, text)


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


_spans = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 20)).map(lambda fl: (fl[0], fl[0] + fl[1], "x")), max_size=8)


@settings(max_examples=1000, deadline=None)
@given(spans=_spans, first=st.integers(-5, 90), width=st.integers(0, 30))
def test_spans_meet_exactly_when_meeting_finds_one(spans, first, width):
    index = _Spans(spans)
    assert index.meets(first, first + width) == bool(index.meeting(first, first + width))


def _special_destination_the_long_way(version, first, last):
    """`special_destination` as it was before its one-bisection shortcut."""
    met = _special_spans()[version].meeting(first, last)
    for lo, hi, special in met:
        if lo <= first and last <= hi:
            code = "E146" if special.network in REFUSED_SPECIAL else "W109"
            return code, f"is in the {special.what} range {special.network} ({special.rfc})"
    if version == 6 and (last < 0x2000 << 112 or first > (0x4000 << 112) - 1):
        return "E146", "is outside IPv6 global unicast 2000::/3 (reserved by the IETF, RFC 4291)"
    if met:
        special = met[0][2]
        return "W109", f"covers the {special.what} range {special.network} ({special.rfc})"
    return None


@settings(max_examples=1500, deadline=None)
@given(edge=st.sampled_from(_edges()), width=st.sampled_from([0, 1, 255, 2**16, 2**32 - 1, 2**100]),
       random=st.integers(0, 2**128 - 1), pick=st.booleans())
def test_special_destination_shortcut_changes_nothing(edge, width, random, pick):
    version, first = edge if pick else (6, random)
    last = min(first + width, (1 << (32 if version == 4 else 128)) - 1)
    assert special_destination(version, first, last) == _special_destination_the_long_way(version, first, last)


_BAD_DESTINATIONS = [
    "- host: mx.partner.example\n        domain: b.example",  # two keys
    "- host: 3",  # not a string
    "- hots: mx.partner.example",  # not one of the keys
    "- host: " + "a" * 250 + ".example",  # longer than maxLength
    "- host: MX.partner.example",  # not the pattern
    "- address: 1.2.3.4/8/8",
    "- {}",
    "- [mx.partner.example]",
]


@settings(max_examples=400, deadline=None)
@given(text=structural_mutation())
@example(text=BASE)
def test_schema_in_parts_decides_as_the_whole_validator(text):
    """`_valid_in_parts` says valid exactly when the generated validator does (on this
    schema its shape holds), and leaves the document as the validator leaves it (the
    defaults it fills in)."""
    doc, _ = to_data(compose(text, "policy.yaml"), "policy.yaml")
    whole, parts = copy.deepcopy(doc), copy.deepcopy(doc)
    try:
        _fast_validator()(whole)
        valid = True
    except Refused:
        valid = False
    assert _valid_in_parts(parts) == valid
    if valid:
        assert _same(whole, parts)


def test_schema_in_parts_refuses_each_bad_destination():
    assert _destination_checker() is not None  # the shortcut is on for the shipped schema
    for bad in _BAD_DESTINATIONS:
        text = BASE.replace("- host: mx.partner.example", bad, 1)
        assert text != BASE
        doc, _ = to_data(compose(text, "policy.yaml"), "policy.yaml")
        assert not _valid_in_parts(doc), bad
        assert schema_diagnostics(doc), bad  # and the whole validator lists the error


def _addresses_near_edges():
    """CIDR texts at, inside and around the special ranges, the zones of `BASE` and
    2000::/3, of a few widths, plus ordinary ones."""
    out = []
    for version, value in _edges() + [(4, 10 << 24), (4, (10 << 24) + 255), (4, (10 << 24) + 256), (4, (192 << 24) + (2 << 8) + 25),
                                      (6, 0xFD000001 << 96), (4, 0x0B400000)]:
        bits = 32 if version == 4 else 128
        for prefixlen in (bits, bits - 8, bits - 24, 7 if version == 4 else 15, 8 if version == 4 else 16):
            first = value & ~((1 << (bits - prefixlen)) - 1)
            address = ipaddress.IPv4Address(first) if version == 4 else ipaddress.IPv6Address(first)
            out.append(f'"{address}/{prefixlen}"')
    return out


@settings(max_examples=150, deadline=None)
@given(chosen=st.lists(st.sampled_from(_addresses_near_edges()), min_size=1, max_size=12, unique=True))
def test_broad_destinations_shortcut_changes_nothing(tmp_path_factory, chosen):
    """`rule_broad_destinations` skips an address that meets no zone and no special
    range in one bisection: its diagnostics are those of the rule without the skip."""
    lines = "".join(f"\n      - address: {a}" for a in chosen)
    text = BASE.replace("\n      - address: 203.0.113.0/24", lines, 1)
    path = tmp_path_factory.mktemp("p") / "policy.yaml"
    path.write_text(text)
    policy, _ = load_policy(str(path))
    assert policy is not None
    at = instants.moment(None, policy.timezone)
    found = list(check.rule_broad_destinations(policy, at))
    everything = {4: check._Spans([(0, 2**32 - 1, None)]), 6: check._Spans([(0, 2**128 - 1, None)])}
    original = check._watched_spans
    check._watched_spans = lambda zones: everything  # nothing is skipped: the long way
    try:
        assert found == list(check.rule_broad_destinations(policy, at))
    finally:
        check._watched_spans = original


def test_the_collector_resumes_without_rescanning_the_load(tmp_path):
    """After `load_policy`, the collector is on again and what the load made is in the
    oldest generation, not counted as young: the checks that follow set off no
    collection over it. Cyclic garbage made before is still collected by the next full
    collection."""
    import gc
    import weakref

    class Node:
        pass

    cycle = Node()
    cycle.me = cycle
    gone = weakref.ref(cycle)
    del cycle
    path = tmp_path / "policy.yaml"
    many = "".join(f"\n      - host: h{i}.partner.example" for i in range(3000))  # more than a young generation holds
    path.write_text(BASE.replace("\n      - host: mx.partner.example", many, 1))
    assert gc.isenabled()
    policy, _ = load_policy(str(path))
    assert policy is not None and gc.isenabled()
    oldest = {id(o) for o in gc.get_objects(generation=2)}
    assert id(policy.services["partner"]) in oldest  # moved there unscanned, not left young
    gc.collect()
    assert gone() is None

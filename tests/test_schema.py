"""The JSON Schema of the policy language (schemas/policy-v1.schema.json).

The schema is contract (docs/policy-language.md): these tests pin what it accepts, what it
refuses, and where jsonschema reports each refusal (`absolute_path`), which the loader
turns into a YAML position. The loader validates the document after `include:` files
are merged, with YAML dates already turned into "YYYY-MM-DD" strings, so the documents
here are plain dicts of that shape.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "policy-v1.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

# Keywords that only annotate: safe beside a `$ref` (see test_ref_siblings_only_annotate).
ANNOTATIONS = {"description", "title", "default", "examples", "$comment", "deprecated"}


def example() -> dict:
    """The example policy of the language's design (docs/policy-language.md), as the loader hands it to the schema."""
    return {
        "egress": 1,
        "policy": "chu-example",
        "description": "Staged reopening after the attack of 21 June",
        "zones": {
            "mail-gateway": {
                "description": "Mail relay in the DMZ",
                "addresses": ["192.0.2.25", "2001:db8:25::25"],
            },
            "imaging": {"addresses": ["10.20.0.0/24"]},
            "workstations": {"addresses": ["10.100.0.0/16"]},
            "proxy": {"addresses": ["10.0.0.3"]},
        },
        "proxy": {"zone": "proxy", "port": 3128, "tls": "none"},
        "firewall": {"hook": "forward", "log_group": 0},
        "services": {
            "mssante": {
                "description": "MS Santé secure messaging operators",
                "destinations": [
                    {"domain": "mssante.fr"},
                    {"host": "mx1.example-op.fr"},
                    {"address": "203.0.113.0/24"},
                ],
                "ports": ["tcp/25", "tcp/465", "tcp/587"],
            },
            "continuity-sites": {
                "destinations": [
                    {"domain": "ameli.fr"},
                    {"host": "www.legifrance.gouv.fr"},
                ],
                "ports": ["tcp/443"],
            },
        },
        "stages": [
            {"id": "s0-isolation", "title": "Internet cut", "date": "2023-06-21", "grants": []},
            {
                "id": "s1-inbound-mail",
                "title": "Inbound mail",
                "date": "2023-06-22",
                "grants": [
                    {
                        "id": "inbound-smtp",
                        "from": "internet",
                        "to": "mail-gateway",
                        "ports": ["tcp/25"],
                        "reason": "Receive mail from the outside again",
                        "approved_by": "crisis-cell",
                        "ticket": "CRISIS-12",
                    }
                ],
            },
            {
                "id": "s2-secure-messaging",
                "date": "2023-06-28",
                "grants": [
                    {
                        "id": "mssante-out",
                        "from": "mail-gateway",
                        "to": "mssante",
                        "reason": "Secure messaging between health professionals",
                        "approved_by": "crisis-cell",
                    }
                ],
            },
            {
                "id": "s3-continuity-sites",
                "date": "2023-07-01",
                "grants": [
                    {
                        "id": "continuity-web",
                        "from": "workstations",
                        "to": "continuity-sites",
                        "via": "proxy",
                        "reason": "Sites needed for care continuity",
                        "approved_by": "crisis-cell",
                        "expires": "2023-09-30",
                    }
                ],
                "revoke": [],
            },
        ],
    }


def errors(doc) -> list:
    return sorted(VALIDATOR.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))


# Paths into example() used by the cases below.
SMTP = ["stages", 1, "grants", 0]
MSSANTE = ["services", "mssante"]
DEST_DOMAIN = MSSANTE + ["destinations", 0]
DEST_HOST = MSSANTE + ["destinations", 1]
DEST_ADDRESS = MSSANTE + ["destinations", 2]


def at(doc, path):
    for step in path:
        doc = doc[step]
    return doc


def put(path, value):
    """A mutation that sets the value at `path`."""

    def mutate(doc):
        at(doc, path[:-1])[path[-1]] = value

    return mutate


def rename(path, old, new):
    """A mutation that renames key `old` of the mapping at `path`."""

    def mutate(doc):
        mapping = at(doc, path)
        mapping[new] = mapping.pop(old)

    return mutate


# --- the schema itself -------------------------------------------------------------


def test_schema_is_valid_draft_2020_12():
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["$id"].endswith("/policy-v1.schema.json")
    assert SCHEMA["title"]
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def walk(node, where=""):
    """Every subschema (dict) in the schema document, with a JSON-pointer-ish place."""
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            if key in ("enum", "const", "default", "examples", "required"):
                continue
            yield from walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{where}/{i}")


def test_every_object_is_closed():
    """A misspelt key must be an error: every object schema sets additionalProperties."""
    for where, node in walk(SCHEMA):
        if node.get("type") == "object" or "properties" in node:
            assert "additionalProperties" in node, where
        if "properties" in node:
            assert node["additionalProperties"] is False, where


def test_every_property_and_definition_is_described():
    for where, node in walk(SCHEMA):
        for name, prop in node.get("properties", {}).items():
            if isinstance(prop, dict):
                assert prop.get("description", "").strip(), f"{where}/properties/{name}"
    for name, definition in SCHEMA["$defs"].items():
        assert definition.get("description", "").strip(), f"$defs/{name}"


def test_every_pattern_compiles_and_ends_at_end_of_text():
    """Python's `$` also matches before a final newline: every pattern ends `$(?!\\n)`."""
    patterns = [(w, n["pattern"]) for w, n in walk(SCHEMA) if "pattern" in n]
    assert patterns
    for where, pattern in patterns:
        re.compile(pattern)
        assert pattern.startswith("^") and pattern.endswith("$(?!\\n)"), where
        assert "\\d" not in pattern, f"{where}: \\d matches non-ASCII digits in Python"


def test_refs_are_local_and_resolve():
    for where, node in walk(SCHEMA):
        if "$ref" in node:
            ref = node["$ref"]
            assert ref.startswith("#/$defs/"), where
            assert ref.removeprefix("#/$defs/") in SCHEMA["$defs"], where


def test_ref_siblings_only_annotate():
    """Only annotations stand beside a `$ref`, and no definition refers to itself:
    so a loader may inline the `$defs` mechanically (about 2.5 times faster with
    jsonschema on very large policies) without changing what is accepted."""
    for where, node in walk(SCHEMA):
        if "$ref" in node:
            assert set(node) - {"$ref"} <= ANNOTATIONS, where
    for name, definition in SCHEMA["$defs"].items():
        assert f"#/$defs/{name}" not in json.dumps(definition), name


def inline_refs(schema):
    """The schema with every `$ref` replaced by a copy of its definition."""
    defs = schema["$defs"]

    def expand(node):
        if isinstance(node, list):
            return [expand(v) for v in node]
        if not isinstance(node, dict):
            return node
        node = {k: expand(v) for k, v in node.items()}
        while "$ref" in node:
            target = expand(copy.deepcopy(defs[node.pop("$ref").removeprefix("#/$defs/")]))
            node = {**target, **node}
        return node

    inlined = expand({k: v for k, v in schema.items() if k != "$defs"})
    return inlined


# --- what is accepted -------------------------------------------------------------


def test_design_example_validates():
    assert errors(example()) == []


def test_minimal_policy_validates():
    doc = {
        "egress": 1,
        "policy": "p",
        "zones": {"lan": {"addresses": ["10.0.0.0/8"]}},
        "services": {"ntp": {"destinations": [{"address": "192.0.2.123"}], "ports": ["udp/123"]}},
        "stages": [{"id": "s0", "grants": []}],
    }
    assert errors(doc) == []


def test_every_optional_form_validates():
    doc = example()
    doc["include"] = ["services.yaml", "partners/efs.yml", "zones_2023-v2.yaml"]
    doc["proxy"]["tls"] = "peek"
    doc["firewall"] = {"hook": "output", "log_group": 65535}
    doc["zones"]["imaging"]["addresses"] += ["::ffff:192.0.2.1", "2001:db8::/32", "::/0"]
    doc["services"]["mssante"]["owner"] = "Messagerie — équipe SIH"
    doc["services"]["mssante"]["destinations"] += [
        {"host": "xn--hpital-exa.example.fr"},
        {"host": "a.b-c.d1.example"},
        {"domain": "xn--80ak6aa92e.com"},
        {"address": "2001:db8:ffff::1/128"},
    ]
    doc["services"]["mssante"]["ports"] += ["udp/123", "tcp/8000-8100", "icmp", "icmpv6", "tcp/65535"]
    grant = at(doc, SMTP)
    grant.update(
        {
            "from": ["internet", "mssante"],
            "to": ["mail-gateway", "imaging"],
            "via": "direct",
            "requested_by": "Dr Martin, radiologie",
            "expires": "2023-12-31",
        }
    )
    doc["stages"][3]["revoke"] = ["inbound-smtp"]
    doc["firewall"] = {}
    assert errors(doc) == []
    del doc["firewall"], doc["proxy"], doc["description"]
    assert errors(doc) == []


def test_names_at_the_length_limit():
    doc = example()
    at(doc, SMTP)["id"] = "a" * 63
    at(doc, DEST_HOST)["host"] = ".".join(["a" * 63] * 3) + ".fr"
    assert errors(doc) == []
    at(doc, SMTP)["id"] = "a" * 64
    assert [list(e.absolute_path) for e in errors(doc)] == [SMTP + ["id"]]


# --- what is refused, and where ---------------------------------------------------

# (id, mutation, absolute_path of every error, keyword of one of the errors, text in
# that error's message or None)
REFUSED = [
    # the brief's list
    ("unknown-top-level-key", put(["zone"], {}), [], "additionalProperties", "'zone'"),
    ("unknown-key-in-grant", put(SMTP + ["aproved_by"], "x"), SMTP, "additionalProperties", "'aproved_by'"),
    ("misspelt-key-in-zone", rename(["zones", "imaging"], "addresses", "adresses"),
     ["zones", "imaging"], "additionalProperties", "'adresses'"),
    ("destination-two-kinds", put(DEST_HOST + ["domain"], "example-op.fr"), DEST_HOST, "maxProperties", None),
    ("host-star", put(DEST_HOST + ["host"], "*.example-op.fr"), DEST_HOST + ["host"], "pattern", None),
    ("host-semicolon", put(DEST_HOST + ["host"], "mx1.example.fr;drop"), DEST_HOST + ["host"], "pattern", None),
    ("host-space", put(DEST_HOST + ["host"], "mx1.example.fr all"), DEST_HOST + ["host"], "pattern", None),
    ("host-brace", put(DEST_HOST + ["host"], "mx1.example.fr}"), DEST_HOST + ["host"], "pattern", None),
    ("host-newline-inside", put(DEST_HOST + ["host"], "mx1.example.fr\nacl x"), DEST_HOST + ["host"], "pattern", None),
    ("host-newline-at-end", put(DEST_HOST + ["host"], "mx1.example.fr\n"), DEST_HOST + ["host"], "pattern", None),
    ("host-trailing-dot", put(DEST_HOST + ["host"], "mx1.example.fr."), DEST_HOST + ["host"], "pattern", None),
    ("host-port", put(DEST_HOST + ["host"], "mx1.example.fr:8080"), DEST_HOST + ["host"], "pattern", None),
    ("host-double-quote", put(DEST_HOST + ["host"], 'mx1.example.fr"'), DEST_HOST + ["host"], "pattern", None),
    ("host-single-quote", put(DEST_HOST + ["host"], "mx1.example.fr'"), DEST_HOST + ["host"], "pattern", None),
    ("host-non-ascii", put(DEST_HOST + ["host"], "hôpital.example.fr"), DEST_HOST + ["host"], "pattern", None),
    ("domain-wildcard", put(DEST_DOMAIN + ["domain"], "*.example.com"), DEST_DOMAIN + ["domain"], "pattern", None),
    ("address-not-hex", put(DEST_ADDRESS + ["address"], "203.0.113.0/24x"), DEST_ADDRESS + ["address"], "pattern", None),
    ("address-name", put(["zones", "proxy", "addresses", 0], "proxy.local"),
     ["zones", "proxy", "addresses", 0], "pattern", None),
    ("port-not-number", put(MSSANTE + ["ports", 0], "tcp/abc"), MSSANTE + ["ports", 0], "pattern", None),
    ("port-sctp", put(MSSANTE + ["ports", 0], "sctp/1"), MSSANTE + ["ports", 0], "pattern", None),
    ("egress-2", put(["egress"], 2), ["egress"], "const", None),
    ("grant-id-uppercase", put(SMTP + ["id"], "Inbound-smtp"), SMTP + ["id"], "pattern", None),
    ("zone-name-uppercase", rename(["zones"], "imaging", "Imaging"), ["zones"], "pattern", "'Imaging'"),
    ("policy-name-uppercase", put(["policy"], "CHU-example"), ["policy"], "pattern", None),
    ("reason-newline", put(SMTP + ["reason"], "Receive mail\nfrom outside"), SMTP + ["reason"], "pattern", None),
    ("via-tunnel", put(SMTP + ["via"], "tunnel"), SMTP + ["via"], "enum", None),
    ("empty-destinations", put(MSSANTE + ["destinations"], []), MSSANTE + ["destinations"], "minItems", None),
    ("empty-stages", put(["stages"], []), ["stages"], "minItems", None),
    # more of the same kinds
    ("host-uppercase", put(DEST_HOST + ["host"], "MX1.example-op.fr"), DEST_HOST + ["host"], "pattern", None),
    ("host-single-label", put(DEST_HOST + ["host"], "localhost"), DEST_HOST + ["host"], "pattern", None),
    ("host-is-an-address", put(DEST_HOST + ["host"], "192.0.2.1"), DEST_HOST + ["host"], "pattern", None),
    ("host-label-leading-hyphen", put(DEST_HOST + ["host"], "-mx.example.fr"), DEST_HOST + ["host"], "pattern", None),
    ("host-label-too-long", put(DEST_HOST + ["host"], "a" * 64 + ".example.fr"), DEST_HOST + ["host"], "pattern", None),
    ("host-too-long", put(DEST_HOST + ["host"], ".".join(["a" * 63] * 4) + ".fr"), DEST_HOST + ["host"], "maxLength", None),
    ("host-underscore", put(DEST_HOST + ["host"], "_sip.example.fr"), DEST_HOST + ["host"], "pattern", None),
    ("host-empty-label", put(DEST_HOST + ["host"], "mx1..example.fr"), DEST_HOST + ["host"], "pattern", None),
    ("host-url", put(DEST_HOST + ["host"], "https://mx1.example.fr/"), DEST_HOST + ["host"], "pattern", None),
    ("domain-leading-dot", put(DEST_DOMAIN + ["domain"], ".example.com"), DEST_DOMAIN + ["domain"], "pattern", None),
    ("domain-tld-alone", put(DEST_DOMAIN + ["domain"], "fr"), DEST_DOMAIN + ["domain"], "pattern", None),
    ("domain-star-alone", put(DEST_DOMAIN + ["domain"], "*"), DEST_DOMAIN + ["domain"], "pattern", None),
    ("address-zone-id", put(DEST_ADDRESS + ["address"], "fe80::1%eth0"), DEST_ADDRESS + ["address"], "pattern", None),
    ("address-newline-at-end", put(DEST_ADDRESS + ["address"], "203.0.113.0/24\n"), DEST_ADDRESS + ["address"], "pattern", None),
    ("address-integer", put(DEST_ADDRESS + ["address"], 3405803776), DEST_ADDRESS + ["address"], "type", None),
    ("destination-unknown-kind", put(DEST_HOST, {"url": "https://x.example"}), DEST_HOST, "additionalProperties", "'url'"),
    ("destination-empty", put(DEST_HOST, {}), DEST_HOST, "minProperties", None),
    ("destination-bare-string", put(DEST_HOST, "mx1.example-op.fr"), DEST_HOST, "type", None),
    ("port-integer", put(MSSANTE + ["ports", 0], 25), MSSANTE + ["ports", 0], "type", None),
    ("port-zero", put(MSSANTE + ["ports", 0], "tcp/0"), MSSANTE + ["ports", 0], "pattern", None),
    ("port-leading-zero", put(MSSANTE + ["ports", 0], "tcp/025"), MSSANTE + ["ports", 0], "pattern", None),
    ("port-uppercase", put(MSSANTE + ["ports", 0], "TCP/25"), MSSANTE + ["ports", 0], "pattern", None),
    ("port-icmp-with-type", put(MSSANTE + ["ports", 0], "icmp/8"), MSSANTE + ["ports", 0], "pattern", None),
    ("port-newline-at-end", put(MSSANTE + ["ports", 0], "tcp/25\n"), MSSANTE + ["ports", 0], "pattern", None),
    ("service-ports-empty", put(MSSANTE + ["ports"], []), MSSANTE + ["ports"], "minItems", None),
    ("grant-ports-empty", put(SMTP + ["ports"], []), SMTP + ["ports"], "minItems", None),
    ("zone-addresses-empty", put(["zones", "imaging", "addresses"], []), ["zones", "imaging", "addresses"], "minItems", None),
    ("zones-empty", put(["zones"], {}), ["zones"], "minProperties", None),
    ("services-empty", put(["services"], {}), ["services"], "minProperties", None),
    ("name-newline-at-end", put(SMTP + ["id"], "inbound-smtp\n"), SMTP + ["id"], "pattern", None),
    ("name-leading-hyphen", put(SMTP + ["id"], "-smtp"), SMTP + ["id"], "pattern", None),
    ("name-underscore", put(SMTP + ["id"], "inbound_smtp"), SMTP + ["id"], "pattern", None),
    ("from-uppercase", put(SMTP + ["from"], "Internet"), SMTP + ["from"], "pattern", None),
    ("from-empty-list", put(SMTP + ["from"], []), SMTP + ["from"], "minItems", None),
    ("to-list-bad-item", put(SMTP + ["to"], ["mail-gateway", "Imaging"]), SMTP + ["to", 1], "pattern", None),
    ("to-mapping", put(SMTP + ["to"], {"zone": "imaging"}), SMTP + ["to"], "type", None),
    ("revoke-bad-name", put(["stages", 3, "revoke"], ["Inbound smtp"]), ["stages", 3, "revoke", 0], "pattern", None),
    ("reason-newline-at-end", put(SMTP + ["reason"], "Receive mail\n"), SMTP + ["reason"], "pattern", None),
    ("reason-tab", put(SMTP + ["reason"], "Receive\tmail"), SMTP + ["reason"], "pattern", None),
    ("reason-line-separator", put(SMTP + ["reason"], "Receive\u2028mail"), SMTP + ["reason"], "pattern", None),
    ("reason-bidi-override", put(SMTP + ["reason"], "Receive \u202email"), SMTP + ["reason"], "pattern", None),
    ("reason-null", put(SMTP + ["reason"], None), SMTP + ["reason"], "type", None),
    ("reason-too-long", put(SMTP + ["reason"], "x" * 201), SMTP + ["reason"], "maxLength", None),
    ("ticket-escape", put(SMTP + ["ticket"], "CRISIS-12\x1b[2J"), SMTP + ["ticket"], "pattern", None),
    ("description-newline", put(["zones", "mail-gateway", "description"], "a\nb"),
     ["zones", "mail-gateway", "description"], "pattern", None),
    ("via-boolean", put(SMTP + ["via"], True), SMTP + ["via"], "enum", None),
    ("grant-without-to", lambda d: at(d, SMTP).pop("to"), SMTP, "required", "'to'"),
    ("stage-without-grants", lambda d: d["stages"][0].pop("grants"), ["stages", 0], "required", "'grants'"),
    ("stage-unknown-key", put(["stages", 0, "grant"], []), ["stages", 0], "additionalProperties", "'grant'"),
    ("stage-date-short", put(["stages", 0, "date"], "2023-6-21"), ["stages", 0, "date"], "pattern", None),
    ("stage-date-month-13", put(["stages", 0, "date"], "2023-13-01"), ["stages", 0, "date"], "pattern", None),
    ("stage-date-arabic-digits", put(["stages", 0, "date"], "٢٠٢٣-٠٦-٢١"), ["stages", 0, "date"], "pattern", None),
    ("expires-with-time", put(["stages", 3, "grants", 0, "expires"], "2023-09-30T00:00:00"),
     ["stages", 3, "grants", 0, "expires"], "pattern", None),
    ("egress-string", put(["egress"], "1"), ["egress"], "type", None),
    ("egress-boolean", put(["egress"], True), ["egress"], "type", None),
    ("policy-missing", lambda d: d.pop("policy"), [], "required", "'policy'"),
    ("proxy-port-too-high", put(["proxy", "port"], 65536), ["proxy", "port"], "maximum", None),
    ("proxy-port-string", put(["proxy", "port"], "3128"), ["proxy", "port"], "type", None),
    ("proxy-tls-bump", put(["proxy", "tls"], "bump"), ["proxy", "tls"], "enum", None),
    ("proxy-without-zone", lambda d: d["proxy"].pop("zone"), ["proxy"], "required", "'zone'"),
    ("firewall-hook-input", put(["firewall", "hook"], "input"), ["firewall", "hook"], "enum", None),
    ("firewall-log-group-negative", put(["firewall", "log_group"], -1), ["firewall", "log_group"], "minimum", None),
    ("firewall-unknown-key", put(["firewall", "policy"], "accept"), ["firewall"], "additionalProperties", "'policy'"),
    ("include-parent", put(["include"], ["../other.yaml"]), ["include", 0], "pattern", None),
    ("include-absolute", put(["include"], ["/etc/egress.yaml"]), ["include", 0], "pattern", None),
    ("include-not-yaml", put(["include"], ["services.json"]), ["include", 0], "pattern", None),
    ("include-hidden", put(["include"], [".secret.yaml"]), ["include", 0], "pattern", None),
    ("include-twice", put(["include"], ["a.yaml", "a.yaml"]), ["include"], "uniqueItems", None),
    ("include-string", put(["include"], "services.yaml"), ["include"], "type", None),
]


@pytest.mark.parametrize(
    "mutate, path, keyword, text",
    [case[1:] for case in REFUSED],
    ids=[case[0] for case in REFUSED],
)
def test_refused_at_the_right_place(mutate, path, keyword, text):
    doc = example()
    mutate(doc)
    found = errors(doc)
    assert found, "accepted"
    assert [list(e.absolute_path) for e in found] == [path] * len(found), [
        (list(e.absolute_path), e.message) for e in found
    ]
    matching = [e for e in found if e.validator == keyword]
    assert matching, [(e.validator, e.message) for e in found]
    if text is not None:
        assert any(text in e.message for e in matching), [e.message for e in matching]


def test_case_ids_are_unique():
    ids = [case[0] for case in REFUSED]
    assert len(ids) == len(set(ids))


def test_inlined_schema_decides_the_same():
    """The loader may inline the `$defs` for speed: same verdicts, same places."""
    inlined = jsonschema.Draft202012Validator(inline_refs(SCHEMA))
    assert list(inlined.iter_errors(example())) == []
    for _, mutate, *_ in REFUSED:
        doc = example()
        mutate(doc)
        ours = sorted((list(map(str, e.absolute_path)), e.validator, e.message) for e in VALIDATOR.iter_errors(doc))
        theirs = sorted((list(map(str, e.absolute_path)), e.validator, e.message) for e in inlined.iter_errors(doc))
        assert ours == theirs

"""Policy files -> one positioned document -> schema check -> `Policy`.

The steps, each collecting diagnostics rather than stopping at the first:
1. read the file and its `include:`s (same folder only) into `Map`/`Seq` data that
   remember where every value stands (`egress.yamlpos`);
2. check the merged document against `schemas/policy-v1.schema.json`, turning each
   schema error into a diagnostic at the offending key or value;
3. build the frozen model (`egress.model`), parsing values strictly (addresses, ports,
   dates, names) so that nothing malformed can reach a generated file;
4. read the lock file beside the policy (`<stem>.lock.yaml`), if there is one.
A value the schema refused is left out of the model instead of crashing the build, so
the semantic checks (`egress.check`) still run on the rest.
"""

from __future__ import annotations

import datetime as dt
import difflib
import gc
import ipaddress
import json
import os
import re
from bisect import bisect_right
from contextlib import contextmanager
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from egress import addresses, fastschema, instants, yamlpos
from egress.addresses import Network
from egress.diagnostics import Diagnostic
from egress.model import (
    PROTOCOLS_WITH_PORTS,
    Destination,
    Firewall,
    Grant,
    Lock,
    Policy,
    PortRange,
    Pos,
    Proxy,
    Service,
    Stage,
    Zone,
)
from egress.special import NOT_INTERNET, not_internet as special_range
from egress.yamlpos import Map, Seq, Where, YamlError

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from netaddr import IPNetwork

SCHEMA_PATH = Path(__file__).parent / "schemas" / "policy-v1.schema.json"
INCLUDABLE = ("zones", "services", "stages")

NAME_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}\Z")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
HOST_RE = re.compile(rf"(?=.{{1,253}}\Z){_LABEL}(?:\.{_LABEL})+\Z")
INVISIBLE_RE = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
"""Bidirectional and zero-width formatting characters: refused in every text field (E144),
since they make a reason or a title display otherwise than it reads (Trojan Source)."""
TIMEZONE_RE = re.compile(r"[A-Za-z0-9_+-]{1,30}(?:/[A-Za-z0-9_+-]{1,30}){0,2}\Z")
PORT_RE = re.compile(r"(tcp|udp)/([0-9]{1,5})(?:-([0-9]{1,5}))?\Z|(icmp|icmpv6)\Z")


class Unreadable(Exception):
    """The file cannot be opened at all: a usage error (exit 2), not an invalid policy.
    `reason` is the why alone (`No such file or directory`, `it is a FIFO, ...`)."""

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason or message


def lock_path(policy_path: str) -> str:
    """`policies/x/policy.yaml` -> `policies/x/policy.lock.yaml`."""
    path = Path(policy_path)
    return str(path.with_name(path.name.split(".")[0] + ".lock.yaml"))


def load_policy(path: str) -> tuple[Policy | None, list[Diagnostic]]:
    """The model of the policy at `path` and every diagnostic found on the way.

    The policy is None when the document is too broken to build (unreadable YAML, a
    root that is not a mapping). `Unreadable` if the file cannot be opened.
    """
    with collector_paused():
        return _load_policy(path)


@contextmanager
def collector_paused():
    """Pause Python's cyclic garbage collector while loading (and, the same way, while
    `egress compile` resolves and renders, and while the nftables target labels its
    tags: one pause for all of them).

    Loading allocates millions of objects that all stay alive and hold no reference
    cycles; each allocation burst triggers a full collection that rescans everything
    built so far, for nothing: on a 100,000-destination policy that is half the load
    time (and 40% of a render, half of the tag labelling). Reference counting still frees everything as usual; the collector resumes
    (if it was on) when the block ends.

    Resuming alone would only put the cost off: every object allocated meanwhile is
    still counted in the youngest generation, so the next allocations (the semantic
    checks) would set off a young collection over all of them, then a middle and a
    full one (about 15% of `egress validate` at 100,000 destinations, collector on).
    So the objects the process tracks are moved to the oldest generation first,
    unscanned (`gc.freeze` then `gc.unfreeze`: two list splices): where long-lived
    data belongs, scanned at the next full collection like any other; nothing is kept
    from being collected.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.unfreeze()
            gc.enable()


def _load_policy(path: str) -> tuple[Policy | None, list[Diagnostic]]:
    files: list[str] = []
    doc, diagnostics = load_document(path, files)
    if doc is None:
        return None, diagnostics
    schema = schema_diagnostics(doc)
    diagnostics += schema
    diagnostics += float_diagnostics(doc, schema_valid=not schema)
    policy, model_diagnostics = build_model(doc, path)
    diagnostics += model_diagnostics
    lock, lock_diagnostics = load_lock(lock_path(path))
    diagnostics += lock_diagnostics
    if lock is not None:
        files.append(lock.path)
    if policy is not None:
        policy = replace(policy, lock=lock, sources=tuple(files))
    return policy, _unique(diagnostics)


def _unique(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """One diagnostic per position and code: the schema and the builder may both see a
    bad value; the first (the schema's, with the field's name) is kept."""
    seen: dict[tuple, Diagnostic] = {}
    for d in diagnostics:
        seen.setdefault((d.path, d.line, d.column, d.code), d)
    return list(seen.values())


# -- 1. files and includes ------------------------------------------------------------


def _read_yaml(path: str) -> tuple[object, list[Diagnostic]]:
    try:
        text = yamlpos.read_text(path)
    except OSError as err:
        reason = err.strerror or str(err)
        raise Unreadable(f"{path}: cannot read: {reason}", reason) from None
    return yamlpos.load(text, path)


def load_document(path: str, files: list[str] | None = None) -> tuple[Map | None, list[Diagnostic]]:
    """The root document with its includes merged in; `files` (if given) receives the
    path of every file read, the policy first."""
    try:
        doc, diagnostics = _read_yaml(path)
    except YamlError as err:
        return None, [err.diagnostic]
    if files is not None:
        files.append(path)
    if not isinstance(doc, Map):
        return None, [Diagnostic(path, 1, 1, "E102", "the document is not a mapping; a policy starts with `egress: 1`")]
    for name, where in include_names(doc):
        diagnostics += _merge_include(doc, path, name, where, files)
    return doc, diagnostics


def include_names(doc: Map) -> list[tuple[object, Where]]:
    """The entries of the document's `include:` list, with their positions."""
    includes = doc.get("include")
    if not isinstance(includes, Seq):
        return []
    return list(zip(includes, includes.item_where, strict=True))


def include_problem(policy_path: str, name: str) -> str | None:
    """Why `name` cannot be an include of the policy at `policy_path`, or None: the
    file must lie beside the policy (no absolute path, no `..`, no sub-folder) and not
    be the policy itself. The loader and `egress.gitsource` both apply it."""
    try:
        folder = Path(policy_path).resolve().parent
        target = (folder / name).resolve()
    except (RuntimeError, OSError):  # a symlink loop
        return f"include {name!r} cannot be resolved (a symlink loop?); include regular files beside the policy"
    if os.path.isabs(name) or ".." in Path(name).parts or target.parent != folder:
        return f"include {name!r} leaves the policy's folder; include files beside the policy only"
    if target == Path(policy_path).resolve():
        return f"include {name!r} is the policy itself"
    return None


def _merge_include(doc: Map, path: str, name, where: Where, files: list[str] | None) -> list[Diagnostic]:
    def fail(message: str) -> list[Diagnostic]:
        return [Diagnostic(*where, "E105", message)]

    if not isinstance(name, str):
        return []  # the schema reports it
    problem = include_problem(path, name)
    if problem is not None:
        return fail(problem)
    included_path = str(Path(path).parent / name)
    try:
        included, diagnostics = _read_yaml(included_path)
    except Unreadable as err:
        return fail(f"include {name!r} cannot be read ({err.reason}); include regular files beside the policy")
    except YamlError as err:
        return [err.diagnostic]
    if files is not None:
        files.append(included_path)
    if not isinstance(included, Map):
        return fail(f"include {name!r} is not a mapping of {', '.join(INCLUDABLE)}")
    for key in included:
        if key not in INCLUDABLE:
            diagnostics.append(
                Diagnostic(*included.key_where[key], "E105", f"an included file holds only {', '.join(INCLUDABLE)}; move {key!r} to the policy")
            )
            continue
        value = included[key]
        if key not in doc:
            doc[key] = value
            doc.key_where[key] = included.key_where[key]
            doc.value_where[key] = included.value_where[key]
        elif isinstance(doc[key], Map) and isinstance(value, Map):
            for name_, item in value.items():
                if name_ in doc[key]:
                    first = doc[key].key_where[name_]
                    diagnostics.append(
                        Diagnostic(*value.key_where[name_], "E132", f"{key[:-1]} '{name_}' is defined twice (also at {first[0]}:{first[1]}); keep one")
                    )
                    continue
                doc[key][name_] = item
                doc[key].key_where[name_] = value.key_where[name_]
                doc[key].value_where[name_] = value.value_where[name_]
        elif isinstance(doc[key], Seq) and isinstance(value, Seq):
            doc[key].extend(value)
            doc[key].item_where.extend(value.item_where)
    return diagnostics


# -- 2. schema ------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _schema() -> dict:
    with open(SCHEMA_PATH, encoding="utf-8") as handle:
        return json.load(handle)


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    """jsonschema, imported here: only an invalid document needs it (`schema_diagnostics`),
    and importing it costs a valid policy's `egress validate` about a third of its start."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(_without_refs(_schema()))


def _without_refs(schema: dict) -> dict:
    """The schema with each `$ref` to `#/$defs/...` replaced by its target.

    jsonschema resolves a `$ref` each time it meets one: on an invalid policy of
    100,000 destinations that is half of the 7 s it takes to list the errors. The
    policy schema has no recursive reference. A `$ref` beside other keywords becomes
    `allOf: [target, others]`, which is what 2020-12 means by it; annotations
    (description, title) beside a `$ref` are dropped, they do not validate.
    """
    defs = schema.get("$defs", {})
    annotations = ("description", "$comment", "title", "default", "examples")

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                target = walk(defs[node["$ref"].rsplit("/", 1)[1]])
                others = {k: walk(v) for k, v in node.items() if k != "$ref" and k not in annotations}
                return {"allOf": [target, others]} if others else target
            return {k: walk(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)


@lru_cache(maxsize=1)
def _fast_validator():
    """fastjsonschema's validator of the schema: generated once, see `egress.fastschema`."""
    return fastschema.validator(_schema())


def schema_diagnostics(doc: Map) -> list[Diagnostic]:
    """Every schema error, positioned at the key or value it is about.

    Two validators, one schema: fastjsonschema compiles the schema to Python and
    checks a 100,000-destination policy in about a second, eight times faster than
    jsonschema, but stops at the first error. So it answers the common question (is
    this document valid?) and jsonschema runs only on invalid documents, to list every
    error with its path. A property test checks that the two agree on validity.

    The destinations, nine values in ten of a large policy, are checked apart
    (`_valid_in_parts`): a valid document, the common case, is then proven valid in
    about half the time.
    """
    if _valid_in_parts(doc):
        return []
    try:
        _fast_validator()(doc)
        return []
    except fastschema.Refused:
        pass
    found: dict[tuple, Diagnostic] = {}
    for error in _validator().iter_errors(doc):
        for diagnostic in _schema_error(doc, error):
            found.setdefault((diagnostic.path, diagnostic.line, diagnostic.column, diagnostic.code), diagnostic)
    return list(found.values())


def _valid_in_parts(doc: Map) -> bool:
    """True only if the schema accepts `doc`, proven in two parts: every service's
    `destinations` by `_destination_checker` (a few operations per destination, where
    the generated validator makes a function call, a set and a formatted name), and the
    rest by the generated validator, on a copy of the document in which each such list
    is cut to its first item. False also when unsure: the caller then validates `doc`
    whole.

    Why it is the same: JSON Schema checks each property by its own subschema, and the
    schema's shape (checked by `_destination_checker`, or the shortcut is off) has no
    keyword at the root, in `services` or in a service that looks at two properties
    together; so the document is valid exactly when the cut copy is and every
    destination is. Only the root, `services` and the services are copied (plain
    dicts), none of which has a default that the validator would fill in.
    """
    check = _destination_checker()
    services = doc.get("services")
    if check is None or not isinstance(services, dict):
        return False
    cut = {}
    for name, service in services.items():
        if isinstance(service, dict) and isinstance(service.get("destinations"), list):
            destinations = service["destinations"]
            if not check(destinations):
                return False
            service = {**service, "destinations": destinations[:1]}
        cut[name] = service
    try:
        _fast_validator()({**doc, "services": cut})
    except fastschema.Refused:
        return False
    return True


_ROOT_KEYWORDS = {"$schema", "$id", "title", "description", "$comment", "type", "additionalProperties", "required",
                  "properties", "$defs"}
_SERVICES_KEYWORDS = {"description", "type", "minProperties", "propertyNames", "additionalProperties"}
_SERVICE_KEYWORDS = {"description", "type", "additionalProperties", "required", "properties"}
_DESTINATION_KEYWORDS = {"description", "type", "minProperties", "maxProperties", "additionalProperties", "properties"}
_STRING_KEYWORDS = {"description", "type", "maxLength", "pattern"}


@lru_cache(maxsize=1)
def _destination_checker():
    """A function that says whether every item of a `destinations` list is valid by the
    schema's `destination` definition, written from the schema itself: one key among
    its properties, a string no longer than its `maxLength` that its `pattern` finds
    (`re.search`, as jsonschema does). None, and no shortcut, unless the schema has the
    shape `_valid_in_parts` relies on (each keyword below is one it can reason about)."""
    schema = _schema()
    defs = schema.get("$defs", {})

    def target(node) -> dict:
        ref = node.get("$ref", "") if isinstance(node, dict) and set(node) <= {"$ref", "description"} else ""
        return defs.get(ref.rsplit("/", 1)[-1], {}) if ref.startswith("#/$defs/") else {}

    services = schema.get("properties", {}).get("services", {})
    service = target(services.get("additionalProperties"))
    listed = service.get("properties", {}).get("destinations", {})
    destination = target(listed.get("items"))
    strings = {key: target(sub) for key, sub in destination.get("properties", {}).items()}
    shaped = (
        set(schema) <= _ROOT_KEYWORDS and set(services) <= _SERVICES_KEYWORDS and set(service) <= _SERVICE_KEYWORDS
        and all(isinstance(sub, dict) and "default" not in sub for sub in schema.get("properties", {}).values())
        and all(isinstance(sub, dict) and "default" not in sub for sub in service.get("properties", {}).values())
        and set(listed) <= {"description", "type", "minItems", "items"} and listed.get("type") == "array"
        and set(destination) <= _DESTINATION_KEYWORDS and destination.get("type") == "object"
        and destination.get("minProperties") == 1 and destination.get("maxProperties") == 1
        and destination.get("additionalProperties") is False and strings
        and all(set(sub) <= _STRING_KEYWORDS and sub.get("type") == "string" and isinstance(sub.get("maxLength"), int)
                and isinstance(sub.get("pattern"), str) for sub in strings.values())
    )
    if not shaped:
        return None
    rules = {key: (sub["maxLength"], re.compile(sub["pattern"]).search) for key, sub in strings.items()}

    def check(destinations: list) -> bool:
        for item in destinations:
            if not isinstance(item, dict) or len(item) != 1:
                return False
            ((key, value),) = item.items()
            rule = rules.get(key)
            if rule is None or not isinstance(value, str) or len(value) > rule[0] or not rule[1](value):
                return False
        return True

    return check


def _path_name(chain: tuple | None) -> str:
    """`services.x.ports[0]` from a chain of (parent chain, key, is an index)."""
    keys = []
    while chain is not None:
        chain, key, index = chain
        keys.append((key, index))
    label = ""
    for key, index in reversed(keys):
        label = f"{label}[{key}]" if index else f"{label}.{key}" if label else str(key)
    return label


INTEGER_FIELDS = (("egress",), ("proxy", "port"), ("firewall", "log_group"), ("firewall", "mark_mask"))
"""The places where the schema admits a number: its "integer" fields, which JSON Schema
lets `8080.0` pass. Every other leaf is a string, a list or an enum of strings, so in a
document the schema accepts, a float can stand nowhere else (`tests/test_load_paths.py`
derives this list from the schema)."""


def float_diagnostics(doc: Map, schema_valid: bool = False) -> list[Diagnostic]:
    """E112 for every YAML float: no value of the language is one, and JSON Schema counts
    `8080.0` as an integer, so `port: 8080.0` would pass the schema and then be dropped.

    Where the schema refused the value already (a float as a name), its message comes
    first and this one is merged away (`_unique`: same place, same code). When the
    schema accepted the whole document (`schema_valid`), only the `INTEGER_FIELDS` can
    hold a float and only they are looked at, instead of every value."""
    found: list[tuple[float, Where, tuple]] = []
    if schema_valid:
        for path in INTEGER_FIELDS:
            parent: object = doc
            chain: tuple | None = None
            for key in path[:-1]:
                if isinstance(parent, Map):
                    parent, chain = parent.get(key), (chain, key, False)
            key = path[-1]
            if isinstance(parent, Map) and isinstance(parent.get(key), float):
                found.append((parent[key], parent.value_where.get(key, parent.where), (chain, key, False)))
        return sorted(_float_diagnostic(*f) for f in found)
    # a node's name is built only for a float: the path to it is kept as a chain of
    # (parent chain, key, is an index), not formatted for each of the ~500,000 nodes
    stack: list[tuple[object, tuple | None]] = [(doc, None)]
    while stack:
        node, chain = stack.pop()
        if isinstance(node, Map):
            for key, value in node.items():
                if isinstance(value, (Map, Seq)):
                    stack.append((value, (chain, key, False)))
                elif isinstance(value, float):
                    found.append((value, node.value_where.get(key, node.where), (chain, key, False)))
        elif isinstance(node, Seq):
            for i, value in enumerate(node):
                if isinstance(value, (Map, Seq)):
                    stack.append((value, (chain, i, True)))
                elif isinstance(value, float):
                    found.append((value, node.item_where[i], (chain, i, True)))
    return sorted(_float_diagnostic(*f) for f in found)


def _float_diagnostic(value: float, where: Where, chain: tuple) -> Diagnostic:
    whole = f"; write {int(value)}" if value.is_integer() else ""
    return Diagnostic(*where, "E112", f"{_path_name(chain)} must be a whole number, not the float {value!r}{whole}")


def _locate(doc: Map, path) -> tuple[object, object, Where]:
    """(parent, key, position) of the value at a schema error's path."""
    parent, key, where = None, None, doc.where
    node = doc
    for step in path:
        parent, key = node, step
        where = node.value_where[step] if isinstance(node, Map) else node.item_where[step]
        node = node[step]
    return parent, key, where


def _label(path) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out or "the document"


def _schema_error(doc: Map, error) -> list[Diagnostic]:
    path = list(error.absolute_path)
    _, _key, where = _locate(doc, path)
    label = _label(path)
    kind = error.validator
    if kind == "additionalProperties" and isinstance(error.instance, Map):
        allowed = list(error.schema.get("properties", {}))
        out = []
        for extra in error.instance:
            if extra in allowed:
                continue
            close = difflib.get_close_matches(extra, allowed, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; expected one of: {', '.join(allowed)}"
            out.append(Diagnostic(*error.instance.key_where[extra], "E110", f"unknown key {extra!r} in {label}{hint}"))
        return out
    if kind == "required":  # one error per missing key, at one place: say them all at once
        missing = [key for key in error.validator_value if key not in error.instance]
        keys = " and ".join(f"'{key}'" for key in missing)
        return [Diagnostic(*where, "E111", f"{label} needs the key{'s' if len(missing) > 1 else ''} {keys}")]
    if path == ["egress"]:
        return [Diagnostic(*where, "E113", f"language version {error.instance!r} is not supported; write `egress: 1`")]
    if kind == "pattern" and isinstance(error.instance, str):
        hidden = INVISIBLE_RE.search(error.instance)
        if hidden:
            return [Diagnostic(*where, "E144", f"{label} holds the invisible character U+{ord(hidden.group()):04X} "
                               f"at position {hidden.start() + 1}: it can make the text read otherwise than it is; remove it")]
    if path and path[-1] == "expires" and kind in ("pattern", "format"):
        try:
            instants.parse(error.instance)
        except instants.InstantError as err:
            return [Diagnostic(*where, "E112", f"{label}: {err}")]
    code = _value_code(path)
    if code == "E124" and kind in ("type", "pattern"):
        problem = port_problem(error.instance)
        if problem:
            return [Diagnostic(*where, code, f"{label}: {problem}")]
    return [Diagnostic(*where, code, _value_message(label, error))]


def _value_code(path) -> str:
    names = [step for step in path if isinstance(step, str)]
    last = names[-1] if names else ""
    if last in ("host",):
        return "E122"
    if last in ("domain",):
        return "E123"
    if last in ("address", "addresses"):
        return "E120"
    if last == "ports":
        return "E124"
    return "E112"


def _value_message(label: str, error) -> str:
    value = error.instance
    kind = error.validator
    shown = repr(value) if not isinstance(value, (Map, Seq)) else ("a mapping" if isinstance(value, Map) else "a list")
    if kind == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        hint = " (quote it)" if expected == "string" and not isinstance(value, (Map, Seq)) else ""
        return f"{label} must be a {expected}, not {shown}{hint}"
    if kind == "pattern":
        what = {
            "E122": "host name (lowercase LDH labels, IDN as punycode, no trailing dot, no port)",
            "E123": "domain (lowercase labels, no `*`, no leading or trailing dot)",
            "E120": "IPv4/IPv6 address or CIDR",
            "E124": "port: tcp/N, udp/N, tcp/N-M, icmp or icmpv6",
        }.get(_value_code(list(error.absolute_path)), "value of this field")
        return f"{label}: {shown} is not a valid {what}"
    if kind in ("enum", "const"):
        allowed = error.validator_value if kind == "enum" else [error.validator_value]
        return f"{label} must be one of {', '.join(map(str, allowed))}, not {shown}"
    if kind in ("minItems", "minProperties"):
        return f"{label} must not be empty"
    if kind in ("maxProperties",):
        return f"{label} must hold exactly one of its keys"
    if kind in ("maxLength", "minLength", "maximum", "minimum"):
        return f"{label}: {shown} is out of bounds ({kind} {error.validator_value})"
    return f"{label}: {error.message}"


# -- 3. the model ---------------------------------------------------------------------

_new = tuple.__new__
"""`_new(Pos, where)`: a named tuple made from a tuple of its fields without the
argument handling of its constructor (a third of the time), on the hot paths."""


def build_model(doc: Map, path: str) -> tuple[Policy | None, list[Diagnostic]]:
    """The model of a merged document (without its lock file) and what was wrong in
    the values the schema cannot judge (addresses, ports, dates, timezone)."""
    builder = _Builder(path)
    policy = builder.policy(doc)
    return policy, builder.diagnostics


class _Builder:
    """Builds the frozen model from a (possibly schema-invalid) document, tolerantly."""

    def __init__(self, path: str):
        self.path = path
        self.diagnostics: list[Diagnostic] = []
        self.tz = instants.DEFAULT_TIMEZONE

    def report(self, where: Where, code: str, message: str) -> None:
        self.diagnostics.append(Diagnostic(*where, code, message))

    def policy(self, doc: Map) -> Policy | None:
        self.tz = self.timezone(doc.get("timezone"), doc.value_where.get("timezone"))
        zones = self.zones(doc.get("zones"))
        services = self.services(doc.get("services"))
        stages = self.stages(doc.get("stages"))
        version = doc.get("egress")
        name = doc.get("policy")
        return Policy(
            path=self.path,
            version=version if isinstance(version, int) else 0,
            name=name if isinstance(name, str) and NAME_RE.match(name) else "unnamed",
            description=_text(doc.get("description")),
            zones=zones,
            services=services,
            stages=stages,
            proxy=self.proxy(doc.get("proxy"), doc),
            firewall=self.firewall(doc.get("firewall")),
            lock=None,
            pos=Pos(*doc.where),
            timezone=self.tz,
        )

    def timezone(self, value, where) -> str:
        """The policy's `timezone:` (an IANA name), UTC when absent or unknown."""
        if value is None:
            return instants.DEFAULT_TIMEZONE
        if isinstance(value, str) and TIMEZONE_RE.match(value):  # else the schema reports it
            try:
                instants.zone(value)
                return value
            except instants.InstantError as err:
                self.report(where, "E143", f"timezone: {err}; see the tz database names")
        return instants.DEFAULT_TIMEZONE

    def zones(self, data) -> dict[str, Zone]:
        zones: dict[str, Zone] = {}
        if not isinstance(data, Map):
            return zones
        for name, zone in data.items():
            if not isinstance(zone, Map):
                continue
            zones[name] = Zone(
                name=name,
                addresses=tuple(self.networks(zone.get("addresses"))),
                description=_text(zone.get("description")),
                pos=Pos(*data.key_where[name]),
            )
        return zones

    def networks(self, data):
        if not isinstance(data, Seq):
            return
        for index, value in enumerate(data):
            network = self.network(value, data.item_where[index])
            if network is not None:
                yield network

    def network(self, value, where) -> Network | None:
        if not isinstance(value, str):
            return None  # the schema reports it
        try:
            return addresses.parse(value)
        except addresses.AddressError as err:
            if err.network:
                self.report(where, "E121", f"{value!r} has host bits set; write {err.network}")
            else:
                self.report(where, "E120", f"{value!r} {err}")
            return None

    def services(self, data) -> dict[str, Service]:
        services: dict[str, Service] = {}
        if not isinstance(data, Map):
            return services
        for name, service in data.items():
            if not isinstance(service, Map):
                continue
            services[name] = Service(
                name=name,
                destinations=self.destinations(service.get("destinations")),
                ports=tuple(self.ports(service.get("ports"))),
                description=_text(service.get("description")),
                owner=_text(service.get("owner")),
                pos=Pos(*data.key_where[name]),
            )
        return services

    def destinations(self, data) -> tuple[Destination, ...]:
        """The destinations of a service. A loop that makes the tuples itself (see
        `Pos`), not a generator of dataclasses: it runs once per destination."""
        if not isinstance(data, Seq):
            return ()
        out = []
        for item in data:
            if not isinstance(item, Map) or len(item) != 1:
                continue  # the schema reports it
            ((kind, value),) = item.items()
            where = item.value_where[kind]
            if not isinstance(value, str):
                continue
            if kind == "address":
                network = self.network(value, where)
                if network is not None:
                    # v4 text that parsed is canonical already (the parser is strict)
                    text = str(network) if network.version == 6 else value if "/" in value else value + "/32"
                    out.append(_new(Destination, ("address", text, _new(Pos, where), network)))
            elif kind in ("host", "domain"):
                if HOST_RE.match(value):
                    out.append(_new(Destination, (kind, value, _new(Pos, where), None)))
                else:  # the schema says so too; reported here so no schema change can let it in
                    self.report(where, "E122" if kind == "host" else "E123", f"{value!r} is not a valid {kind}")
        return tuple(out)

    def ports(self, data):
        if not isinstance(data, Seq):
            return
        for index, value in enumerate(data):
            port = self.port(value, data.item_where[index])
            if port is not None:
                yield port

    def port(self, value, where) -> PortRange | None:
        if value is None:
            return None  # the schema check has reported the missing port already
        problem = port_problem(value)
        if problem:
            self.report(where, "E124", problem)
            return None
        match = PORT_RE.match(value)
        assert match is not None
        if match.group(4):
            return PortRange(match.group(4))
        proto, first = match.group(1), int(match.group(2))
        last = int(match.group(3)) if match.group(3) else first
        assert proto in PROTOCOLS_WITH_PORTS
        return PortRange(proto, first, last)

    def expiry(self, value, where) -> dt.datetime | None:
        """`expires:` -> the instant the grant closes (see `egress.instants`)."""
        if value is None or isinstance(value, bool) or not isinstance(value, (str, dt.date)):
            return None  # absent, or the schema reports its type
        try:
            return instants.expiry(value, self.tz)
        except instants.InstantError as err:
            self.report(where, "E112", f"expires: {err}")
            return None

    def date(self, value, where) -> dt.date | None:
        if not isinstance(value, str):
            return None
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            self.report(where, "E112", f"{value!r} is not a date; write YYYY-MM-DD")
            return None

    def stages(self, data) -> tuple[Stage, ...]:
        stages: list[Stage] = []
        if not isinstance(data, Seq):
            return ()
        for index, stage in enumerate(data):
            if not isinstance(stage, Map) or not isinstance(stage.get("id"), str):
                continue
            stage_id = stage["id"]
            position = len(stages)
            revoke = stage.get("revoke")
            revoke = revoke if isinstance(revoke, Seq) else Seq()
            stages.append(
                Stage(
                    id=stage_id,
                    index=position,
                    title=_text(stage.get("title")),
                    date=self.date(stage.get("date"), stage.value_where.get("date")),
                    grants=tuple(self.grants(stage.get("grants"), stage_id, position)),
                    revoke=tuple(r for r in revoke if isinstance(r, str)),
                    pos=Pos(*data.item_where[index]),
                    revoke_pos=tuple(Pos(*w) for r, w in zip(revoke, getattr(revoke, "item_where", ()), strict=False) if isinstance(r, str)),
                )
            )
        return tuple(stages)

    def grants(self, data, stage_id: str, stage_index: int):
        if not isinstance(data, Seq):
            return
        for index, grant in enumerate(data):
            if not isinstance(grant, Map) or not isinstance(grant.get("id"), str):
                continue
            ports = grant.get("ports")
            yield Grant(
                id=grant["id"],
                stage=stage_id,
                stage_index=stage_index,
                sources=_names(grant.get("from")),
                targets=_names(grant.get("to")),
                ports=tuple(self.ports(ports)) if isinstance(ports, Seq) else None,
                via=grant["via"] if grant.get("via") in ("direct", "proxy") else "direct",
                reason=_text(grant.get("reason")),
                approved_by=_text(grant.get("approved_by")),
                requested_by=_text(grant.get("requested_by")),
                ticket=_text(grant.get("ticket")),
                expires=self.expiry(grant.get("expires"), grant.value_where.get("expires")),
                pos=Pos(*data.item_where[index]),
                name_pos=_name_positions(grant),
            )

    def proxy(self, data, doc: Map) -> Proxy | None:
        if not isinstance(data, Map):
            return None
        port = data.get("port")
        return Proxy(
            zone=data["zone"] if isinstance(data.get("zone"), str) else "",
            port=port if isinstance(port, int) and not isinstance(port, bool) else 3128,
            tls=data["tls"] if data.get("tls") in ("none", "peek") else "none",
            pos=Pos(*doc.value_where["proxy"]),
        )

    def firewall(self, data) -> Firewall:
        if not isinstance(data, Map):
            return Firewall()
        hook = data["hook"] if data.get("hook") in ("forward", "output") else "forward"
        group = data.get("log_group")
        group = group if isinstance(group, int) and not isinstance(group, bool) and 0 <= group <= 65535 else None
        mask = data.get("mark_mask")
        if not (isinstance(mask, int) and not isinstance(mask, bool) and 0 < mask <= 0xFFFFFFFF):
            mask = Firewall.mark_mask
        where = data.value_where.get("mark_mask")
        return Firewall(hook=hook, log_group=group, mark_mask=mask, mark_mask_pos=Pos(*where) if where else None)


def _text(value) -> str | None:
    return value if isinstance(value, str) else None


def _name_positions(grant: Map) -> tuple[tuple[str, str, Pos], ...]:
    """Where each name of a grant's `from` and `to` is written."""
    out = []
    for side in ("from", "to"):
        value = grant.get(side)
        if isinstance(value, str):
            out.append((side, value, Pos(*grant.value_where[side])))
        elif isinstance(value, Seq):
            out += [(side, v, Pos(*w)) for v, w in zip(value, value.item_where, strict=True) if isinstance(v, str)]
    return tuple(out)


PORT_FORMS = "write tcp/N, udp/N, tcp/N-M, icmp or icmpv6"


def port_problem(value) -> str | None:
    """What is wrong with a port value, said so that the fix is obvious; None if it is
    a port. One wording for the schema's error and the model's."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value} is a number, not a port: write tcp/{value} or udp/{value}"
    if not isinstance(value, str):
        return None if value is None else f"{value!r} is not a port: {PORT_FORMS}"
    match = PORT_RE.match(value)
    if not match:
        return f"{value!r} is not a port: {PORT_FORMS}"
    if match.group(4):
        return None
    proto, texts = match.group(1), [t for t in match.group(2, 3) if t is not None]
    numbers = [int(t) for t in texts]
    for text, number in zip(texts, numbers, strict=True):
        if not 1 <= number <= 65535:
            return f"{value!r}: port {number} is out of range; ports run from 1 to 65535"
        if text != str(number):
            return f"{value!r}: write {proto}/{'-'.join(map(str, numbers))} (no leading zero)"
    if len(numbers) == 2 and numbers[0] > numbers[1]:
        return f"{value!r}: the range is backwards; write {proto}/{numbers[1]}-{numbers[0]}"
    return None


def _names(value) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Seq):
        return tuple(v for v in value if isinstance(v, str))
    return ()


# -- 4. the lock file -----------------------------------------------------------------


def load_lock(path: str) -> tuple[Lock | None, list[Diagnostic]]:
    """The lock file at `path`, None if there is none."""
    if not os.path.lexists(path):
        return None, []
    try:
        doc, diagnostics = _read_yaml(path)
    except Unreadable as err:
        return None, [Diagnostic(path, 1, 1, "E142", str(err))]
    except YamlError as err:
        return None, [err.diagnostic]
    if not isinstance(doc, Map) or not _is_one(doc.get("egress-lock")) or not isinstance(doc.get("hosts"), Map):
        where: Where = doc.where if isinstance(doc, (Map, Seq)) else (path, 1, 1)
        return None, diagnostics + [Diagnostic(*where, "E142", "not an egress lock file (`egress-lock: 1` and `hosts:`)")]
    hosts: dict[str, tuple[IPNetwork, ...]] = {}
    positions: dict[str, tuple[Pos, ...]] = {}
    builder = _Builder(path)
    for host, listed in doc["hosts"].items():
        where = doc["hosts"].key_where[host]
        if not HOST_RE.match(host) or not isinstance(listed, Seq):
            diagnostics.append(Diagnostic(*where, "E142", f"entry {host!r} must be a host name holding a list of addresses"))
            continue
        networks, places = [], []
        for index, address in enumerate(listed):
            place = listed.item_where[index]
            network = builder.network(address, place)
            if network is None:
                continue
            problem = _lock_address_problem(network)
            if problem:
                diagnostics.append(Diagnostic(*place, "E145", f"{host}: {address} {problem}; a lock entry is a public unicast address"))
                continue
            networks.append(network.to_netaddr())
            places.append(Pos(*place))
        hosts[host] = tuple(networks)
        positions[host] = tuple(places)
    diagnostics += [Diagnostic(d.path, d.line, d.column, "E142", d.message) for d in builder.diagnostics]
    lock = Lock(path=path, hosts=hosts, resolved=_text(doc.get("resolved")), resolver=_text(doc.get("resolver")), where=positions)
    return lock, diagnostics


def _is_one(version: object) -> bool:
    """`egress-lock: 1` exactly: not `true`, `yes` or `1.0`, which Python finds equal to 1."""
    return type(version) is int and version == 1


def _lock_address_problem(network: Network) -> str | None:
    """Why an address cannot be a host's pinned address, or None.

    A pinned address opens the firewall to it for every direct grant to the host: a
    network (`0.0.0.0/0`) or special space (loopback, private-use, multicast...: see
    `egress.special`) would open far more than a host. The documentation ranges of RFC
    5737 and RFC 3849 stay allowed: they stand for the outside in examples and tests.
    The zones are checked with the policy (`check.rule_lock_addresses`)."""
    if network.prefixlen != network.bits:
        return f"is a network of {1 << (network.bits - network.prefixlen):,} addresses, not one address"
    if _maybe_special(network):  # else `special_range` would say None, at 20 times the cost
        special = special_range(str(network).split("/")[0])
        if special is not None:
            return f"is in the {special.what} range {special.network} ({special.rfc})"
    return None


_GLOBAL_UNICAST = (0x2000 << 112, (0x4000 << 112) - 1)
"""2000::/3, outside which `special_range` names every IPv6 address."""


@lru_cache(maxsize=1)
def _special_intervals() -> dict[int, tuple[list[int], list[int]]]:
    """Per IP version, the firsts and lasts of the ranges of `egress.special.NOT_INTERNET`,
    merged and sorted: where `special_range` may find an address."""
    spans: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
    for special in NOT_INTERNET:
        net = ipaddress.ip_network(special.network)
        spans[net.version].append((int(net.network_address), int(net.broadcast_address)))
    out = {}
    for version, ranges in spans.items():
        merged: list[list[int]] = []
        for first, last in sorted(ranges):
            if merged and first <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], last)
            else:
                merged.append([first, last])
        out[version] = ([m[0] for m in merged], [m[1] for m in merged])
    return out


def _maybe_special(network: Network) -> bool:
    """False only if `special_range` finds nothing for the first address of `network`."""
    first = network.first
    if network.version == 6 and not _GLOBAL_UNICAST[0] <= first <= _GLOBAL_UNICAST[1]:
        return True
    firsts, lasts = _special_intervals()[network.version]
    k = bisect_right(firsts, first) - 1
    return k >= 0 and first <= lasts[k]


# -- finding policies -----------------------------------------------------------------

_POLICY_MARK = re.compile(rb"^egress\s*:", re.MULTILINE)


def is_policy_file(path: Path) -> bool:
    """A YAML file whose top level says `egress:` (lock and included files do not)."""
    if path.name.endswith((".lock.yaml", ".lock.yml")) or path.suffix not in (".yaml", ".yml"):
        return False
    try:
        with open(path, "rb") as handle:
            return bool(_POLICY_MARK.search(handle.read(1 << 16)))
    except OSError:
        return False


def policy_files(paths: list[str]) -> list[str]:
    """The policies named by `paths`: files as given, folders searched recursively.

    A lock file or an included file given by name (as pre-commit does when it changes)
    stands for the policies beside it, which are what actually needs validating.
    """
    found: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(str(p) for p in sorted(path.rglob("*")) if p.is_file() and is_policy_file(p))
        elif path.is_file() and not is_policy_file(path) and _owners(path):
            found.extend(_owners(path))
        else:
            found.append(raw)
    return list(dict.fromkeys(found))


def _owners(path: Path) -> list[str]:
    """The policies beside `path` whose lock file or include it is."""
    owners = []
    for sibling in sorted(path.parent.iterdir()):
        if not (sibling.is_file() and is_policy_file(sibling)):
            continue
        if lock_path(str(sibling)) == str(path) or path.name.encode() in sibling.read_bytes():
            owners.append(str(sibling))
    return owners

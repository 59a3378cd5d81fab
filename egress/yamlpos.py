"""YAML with positions: safe semantics, a line and column for every value, bounded cost.

`yaml.compose` (the C loader when libyaml is there) gives a node tree with marks and
never expands aliases; `to_data` then turns it into plain JSON-like data in which every
mapping is a `Map` (a dict that knows where it and each of its keys and values stand)
and every sequence a `Seq` (a list that knows where each item stands). Scalars become
what `yaml.safe_load` would give, except timestamps, which stay strings (the schema
checks dates as strings, the model parses them).

Cost is bounded before anything is expanded: the file size is capped, and the walk
sizes the node graph first (memoised per node), so an alias bomb ("billion laughs")
is refused in milliseconds instead of exhausting memory.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from typing import Any

import yaml

from egress.diagnostics import Diagnostic

try:  # libyaml: ~7x faster, and it keeps marks too
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - pure-Python fallback
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_BYTES = 64 * 1024 * 1024
"""Refuse a policy file larger than this (a 100,000-destination policy is ~3.5 MB)."""

MAX_NODES = 10_000_000
"""Most values a document may hold once its aliases are expanded (an alias bomb holds
billions); checked on the node graph before anything is expanded."""

MAX_DEPTH = 64
"""Deepest nesting allowed (a policy needs about 8)."""

_STR = "tag:yaml.org,2002:str"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MERGE = "tag:yaml.org,2002:merge"
_SCALAR_TAGS = frozenset(
    "tag:yaml.org,2002:" + name for name in ("null", "bool", "int", "float", "str", "timestamp")
)
_COLLECTION_TAGS = frozenset(("tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"))
"""The scalar tags a policy may use (implicitly, or written out): the JSON-like ones.
Any other (`!!python/object:...`, `!!binary`, `!local`) is refused, never constructed."""
_constructor = yaml.constructor.SafeConstructor()


Where = tuple[str, int, int]
"""(path, line, column), 1-based: where a YAML node stands."""


class Map(dict):
    """A mapping that remembers positions: `.where`, `.key_where[k]`, `.value_where[k]`.

    Positions are `(path, line, column)` tuples, 1-based.
    """

    __slots__ = ("key_where", "value_where", "where")
    where: Where
    key_where: dict[Any, Where]
    value_where: dict[Any, Where]


class Seq(list):
    """A sequence that remembers `.where` and `.item_where[i]`."""

    __slots__ = ("item_where", "where")
    where: Where
    item_where: list[Where]


class YamlError(Exception):
    """A problem that stops the loading of one file; carries its diagnostic."""

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(str(diagnostic))
        self.diagnostic = diagnostic


def _where(path: str, node) -> tuple[str, int, int]:
    mark = node.start_mark
    return (path, mark.line + 1, mark.column + 1)


class NotRegular(OSError):
    """The path is a FIFO, a device, a socket or a directory: never read (a FIFO would
    block, `/dev/zero` would never end)."""


def read_text(path: str) -> str:
    """The file's text; `OSError` if unreadable (`NotRegular` for anything but a regular
    file), `YamlError` if too big or not UTF-8.

    The file is opened without blocking (a FIFO with no writer would hang `open`) and
    checked with `fstat` on the open descriptor, so nothing can swap it in between; the
    read is bounded by `MAX_BYTES`."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = ("a directory" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode)
                    else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode)
                    else "not a regular file")
            raise NotRegular(0, f"it is {kind}, not a regular file")
        raw = handle.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise YamlError(
            Diagnostic(path, 1, 1, "E100", f"file is larger than {MAX_BYTES // 2**20} MiB; split it with `include:`")
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        col = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
        raise YamlError(
            Diagnostic(path, line, col, "E100", f"byte 0x{raw[err.start]:02x} is not UTF-8; save the file as UTF-8")
        ) from None


def compose(text: str, path: str):
    """The node tree of one YAML document, or `YamlError` with the syntax error's position."""
    try:
        return yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = " ".join(str(p) for p in (err.context, err.problem) if p)
        if mark is not None and _is_tab(text, mark.line, mark.column):
            problem = "a tab character; indent with spaces (YAML does not allow tabs in indentation)"
        raise YamlError(Diagnostic(path, line, col, "E101", f"YAML syntax: {problem}")) from None
    except yaml.YAMLError as err:  # e.g. a second document: not marked
        raise YamlError(Diagnostic(path, 1, 1, "E101", f"YAML: {err}".replace("\n", " "))) from None
    except RecursionError:  # the pure-Python composer recurses once per level
        raise YamlError(Diagnostic(path, 1, 1, "E103", f"nesting deeper than {MAX_DEPTH} levels; flatten the document")) from None


def _is_tab(text: str, line: int, column: int) -> bool:
    """True when the character at 0-based (line, column) of `text` is a tab."""
    lines = text.split("\n", line + 1)
    return line < len(lines) and column < len(lines[line]) and lines[line][column] == "\t"


def load(text: str, path: str) -> tuple[object, list[Diagnostic]]:
    """Positioned data from a file's text, and the duplicate keys found.

    Most policies are plain: one document, no anchors, aliases, tags or non-string
    keys. Those are built in one pass over libyaml's events (`_plain_data`), which
    skips the node tree and takes about half the time. Anything else, including a
    syntax error, goes through `compose` and `to_data`, which know every rule and say
    where a document breaks one. A property test checks that both give the same data
    and positions.
    """
    try:
        return _plain_data(text, path), []
    except _NotPlain:
        pass
    node = compose(text, path)
    if node is None:
        raise YamlError(Diagnostic(path, 1, 1, "E102", "the file is empty; a policy starts with `egress: 1`"))
    return to_data(node, path)


class _NotPlain(Exception):
    """The document needs the full path (`compose` + `to_data`)."""


_IMPLICIT = yaml.resolver.Resolver.yaml_implicit_resolvers
"""First character of a plain scalar -> [(tag, regexp)]: what `Resolver.resolve` reads."""
_SCALAR = yaml.events.ScalarEvent
_MAPPING_START = yaml.events.MappingStartEvent
_SEQUENCE_START = yaml.events.SequenceStartEvent
_ENDS = (yaml.events.MappingEndEvent, yaml.events.SequenceEndEvent)
_SKIPPED = (yaml.events.StreamStartEvent, yaml.events.StreamEndEvent, yaml.events.DocumentEndEvent)


def _plain_data(text: str, path: str):  # noqa: C901 - the hot loop of every load, kept flat for speed
    """libyaml events -> `Map`/`Seq` data with positions, for plain documents only;
    `_NotPlain` as soon as the document is anything else."""
    stack: list = []  # open containers
    keys: list = []  # per open mapping: its pending (key, where), or None while a key is awaited
    root = documents = None
    try:
        events: Iterator[Any] = yaml.parse(text, Loader=_Loader)  # libyaml's events are untyped
        for event in events:
            kind = event.__class__
            if kind is _SCALAR:
                if event.anchor is not None or event.tag not in (None, "!"):
                    raise _NotPlain
                value = event.value
                resolvers = _IMPLICIT.get(value[:1]) if event.implicit[0] else None
                if resolvers:  # a plain scalar that may be a number, a bool, null or a date
                    for tag, regexp in resolvers:  # noqa: B007 - the tag that matched is used below
                        if regexp.match(value):
                            break
                    else:
                        tag = _STR
                    if tag != _STR and tag != _TIMESTAMP:
                        if stack and stack[-1].__class__ is Map and keys[-1] is None:
                            raise _NotPlain  # a key that is not a string
                        try:
                            value = _constructor.construct_object(yaml.ScalarNode(tag, value, event.start_mark, event.end_mark))
                        except (yaml.YAMLError, ValueError, TypeError, KeyError, OverflowError):
                            raise _NotPlain from None  # the full path says where and why
            elif kind is _MAPPING_START or kind is _SEQUENCE_START:
                if event.anchor is not None or event.tag not in (None, "!") or len(stack) >= MAX_DEPTH:
                    raise _NotPlain
                if stack and stack[-1].__class__ is Map and keys[-1] is None:
                    raise _NotPlain  # a key that is a mapping or a sequence
                if kind is _MAPPING_START:
                    value = Map()
                    value.key_where, value.value_where = {}, {}
                else:
                    value = Seq()
                    value.item_where = []
            elif kind in _ENDS:
                if stack.pop().__class__ is Map:
                    keys.pop()
                continue
            elif kind is yaml.events.DocumentStartEvent:
                if documents is not None:
                    raise _NotPlain  # a second document
                documents = 1
                continue
            elif kind in _SKIPPED:
                continue
            else:  # an alias
                raise _NotPlain
            mark = event.start_mark
            where = (path, mark.line + 1, mark.column + 1)
            if not stack:
                root = value
            else:
                top = stack[-1]
                if top.__class__ is Seq:
                    top.append(value)
                    top.item_where.append(where)
                elif keys[-1] is None:
                    if value in top:
                        raise _NotPlain  # a duplicate key
                    keys[-1] = (value, where)
                else:
                    key, top.key_where[key] = keys[-1]
                    top.value_where[key] = where
                    top[key] = value
                    keys[-1] = None
            if kind is not _SCALAR:
                value.where = where
                stack.append(value)
                if kind is _MAPPING_START:
                    keys.append(None)
    except yaml.YAMLError:
        raise _NotPlain from None
    if documents is None:
        raise _NotPlain  # empty
    return root


def to_data(node, path: str) -> tuple[object, list[Diagnostic]]:
    """Plain data from a node tree, with positions, and the duplicate keys found.

    A duplicate key keeps its first value (and is reported); `YamlError` on a bomb or
    a merge key.
    """
    _check_cost(node, path)
    duplicates: list[Diagnostic] = []
    return _convert(node, path, duplicates), duplicates


def _check_cost(root, path: str) -> None:
    """Refuse a graph too deep, or too large once expanded, in time linear in its nodes.

    Expanded sizes are memoised per node, so a node shared by a thousand aliases is
    sized once: a billion-laughs document is refused in milliseconds.
    """
    sizes: dict[int, int] = {}
    stack = [(root, 0, False)]
    while stack:
        node, depth, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if depth > MAX_DEPTH:
            raise YamlError(
                Diagnostic(path, *_where(path, node)[1:], "E103", f"nesting deeper than {MAX_DEPTH} levels; flatten the document")
            )
        if isinstance(node, yaml.ScalarNode):
            sizes[id(node)] = 1
            continue
        children = node.value if isinstance(node, yaml.SequenceNode) else [n for pair in node.value for n in pair]
        if children_done:
            size = 1 + sum(sizes[id(child)] for child in children)
            if size > MAX_NODES:
                raise YamlError(
                    Diagnostic(path, *_where(path, node)[1:], "E103", f"more than {MAX_NODES:,} values once aliases are expanded; remove the aliases")
                )
            sizes[id(node)] = size
            continue
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in children if id(child) not in sizes)


def _scalar(node, path: str):
    """A non-string scalar, constructed only for the JSON-like tags; a tag that is not
    one of them, or a value its tag cannot read (`!!int "abc"`), is a positioned
    `YamlError` (E112), never an exception from the YAML library."""
    if node.tag not in _SCALAR_TAGS:
        raise _refused_tag(node, path)
    try:
        return _constructor.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError, TypeError, KeyError, OverflowError):
        raise YamlError(Diagnostic(*_where(path, node), "E112",
                                   f"{node.value!r} is not a valid {_shown(node.tag)}; remove the tag or fix the value")) from None


def _shown(tag: str) -> str:
    """A tag as written: `!!int` for `tag:yaml.org,2002:int`."""
    return tag.replace("tag:yaml.org,2002:", "!!")


def _refused_tag(node, path: str) -> YamlError:
    """E112 for a node whose tag a policy may not use."""
    return YamlError(Diagnostic(*_where(path, node), "E112",
                                f"YAML tag {_shown(node.tag)!r} is not allowed in a policy; remove it (write the value plainly)"))


def _convert(node, path, duplicates):
    """Node -> data. Plain strings, most of a policy, are handled inline: this walk
    runs once per value of a file that may hold half a million of them."""
    kind = node.__class__
    if kind is yaml.ScalarNode:
        if node.tag == _STR or node.tag == _TIMESTAMP:
            return node.value
        return _scalar(node, path)
    if node.tag not in _COLLECTION_TAGS:
        raise _refused_tag(node, path)
    mark = node.start_mark
    if kind is yaml.SequenceNode:
        seq = Seq()
        seq.where = (path, mark.line + 1, mark.column + 1)
        item_where = seq.item_where = []
        for item in node.value:
            mark = item.start_mark
            item_where.append((path, mark.line + 1, mark.column + 1))
            if item.__class__ is yaml.ScalarNode and item.tag == _STR:
                seq.append(item.value)
            else:
                seq.append(_convert(item, path, duplicates))
        return seq
    mapping = Map()
    mapping.where = (path, mark.line + 1, mark.column + 1)
    key_where = mapping.key_where = {}
    value_where = mapping.value_where = {}
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE:
            raise YamlError(
                Diagnostic(path, *_where(path, key_node)[1:], "E112", "merge keys (`<<`) are not supported; write the keys out")
            )
        key = key_node.value if key_node.__class__ is yaml.ScalarNode and key_node.tag == _STR else _convert(key_node, path, duplicates)
        if not isinstance(key, str):
            key = str(key) if isinstance(key, (int, float, bool)) or key is None else repr(key)
        if key in mapping:
            first = key_where[key]
            duplicates.append(
                Diagnostic(path, *_where(path, key_node)[1:], "E104", f"duplicate key {key!r} (first at line {first[1]}); keep one")
            )
            continue
        mark = key_node.start_mark
        key_where[key] = (path, mark.line + 1, mark.column + 1)
        mark = value_node.start_mark
        value_where[key] = (path, mark.line + 1, mark.column + 1)
        if value_node.__class__ is yaml.ScalarNode and value_node.tag == _STR:
            mapping[key] = value_node.value
        else:
            mapping[key] = _convert(value_node, path, duplicates)
    return mapping

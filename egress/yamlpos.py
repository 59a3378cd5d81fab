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
import re
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
"""Shared by every load: its constructors are called directly, never through
`construct_object`, which remembers each node it constructed until the end of a
document that never comes here (memory that grew with every load)."""


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

    Three readers, fastest first, each stepping aside (`_NotPlain`) for a document it
    does not fully understand, so that the last one, which knows every rule, says
    where a document breaks one:
    1. `_block_data`: block-style documents, line by line (what people and generators
       write; about a fifth of libyaml's time);
    2. `_plain_data`: any plain document (one document, no anchors, aliases, tags or
       non-string keys) from libyaml's events, without the node tree;
    3. `compose` and `to_data`: everything else, syntax errors included.
    Property tests check that the first two give the same data and positions as the
    third on every document they accept.

    A line break that git and most editors do not show as one, or a byte-order mark that
    shifts a line, is refused first (E100): see `_HIDDEN`. The line reader steps aside for such texts, so the common case
    pays nothing for that check.
    """
    try:
        return _block_data(text, path), []
    except _NotPlain:
        pass
    hidden = _HIDDEN.search(text)
    if hidden is not None:
        raise _hidden(text, hidden.start(), path)
    try:
        return _plain_data(text, path), []
    except _NotPlain:
        pass
    node = compose(text, path)
    if node is None:
        raise YamlError(Diagnostic(path, 1, 1, "E102", "the file is empty; a policy starts with `egress: 1`"))
    return to_data(node, path)


_HIDDEN = re.compile("[\x85\u2028\u2029]|\r(?!\n)|(?<=\n)\ufeff")
"""What makes a file read otherwise than git, diff views, grep and most editors show it:
1. the line breaks of YAML 1.1 beyond LF and CRLF: NEL, LINE SEPARATOR, PARAGRAPH
   SEPARATOR, a CR without LF. YAML starts a new line there, the tools show one line,
   so the text after a `#` on such a line reads as a comment in review but is YAML: a
   one-line diff `ticket: X # see the register` could hold a whole hidden grant;
2. a byte-order mark at the start of a line: invisible, but libyaml skips it and
   counts it as a column, so the line is read one column deeper than it shows (and
   PyYAML without libyaml reads it otherwise again). Elsewhere in a text it is E144.
Refused, as an unreadable file is."""
_HIDDEN_NAMES = {
    "\x85": "U+0085 (NEXT LINE) is a line break for YAML but not for git and most editors",
    "\u2028": "U+2028 (LINE SEPARATOR) is a line break for YAML but not for git and most editors",
    "\u2029": "U+2029 (PARAGRAPH SEPARATOR) is a line break for YAML but not for git and most editors",
    "\r": "a carriage return (U+000D) without a newline is a line break for YAML but not for git and most editors",
    "\ufeff": "an invisible U+FEFF (BYTE ORDER MARK) starts the line, and YAML reads the line one column deeper than it shows",
}


def _hidden(text: str, at: int, path: str) -> YamlError:
    """E100 for the character at index `at` of `text` that `_HIDDEN` found, placed by
    newlines only (where an editor that ignores it shows it)."""
    line = text.count("\n", 0, at) + 1
    column = at - (text.rfind("\n", 0, at) + 1) + 1
    char = text[at]
    if char == "\ufeff":
        message = f"{_HIDDEN_NAMES[char]}; delete it"
    else:
        message = f"{_HIDDEN_NAMES[char]} (text after it, even after a `#`, would be read as YAML); replace it with a newline"
    return YamlError(Diagnostic(path, line, column, "E100", message))


class _NotPlain(Exception):
    """The document needs the full path (`compose` + `to_data`)."""


_IMPLICIT = yaml.resolver.Resolver.yaml_implicit_resolvers
"""First character of a plain scalar -> [(tag, regexp)]: what `Resolver.resolve` reads."""
_SCALAR = yaml.events.ScalarEvent
_MAPPING_START = yaml.events.MappingStartEvent
_SEQUENCE_START = yaml.events.SequenceStartEvent
_ENDS = (yaml.events.MappingEndEvent, yaml.events.SequenceEndEvent)
_SKIPPED = (yaml.events.StreamStartEvent, yaml.events.StreamEndEvent, yaml.events.DocumentEndEvent)


# -- 1. block-style documents, line by line ----------------------------------------------

_OUTSIDE_ASCII = re.compile("[^\n\x20-\x7e]")
_OUTSIDE_BMP = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _outside_subset(text: str) -> bool:
    """Whether `text` holds a character that makes `_block_data` step aside: tab, CR,
    control characters, the line breaks of YAML 1.1 beyond LF (U+0085, U+2028, U+2029),
    a byte-order mark, and characters beyond the BMP. Without them, columns are code
    points, as libyaml counts.

    Three small patterns rather than one class of the allowed characters: compiling
    that class (`[^\\n\\x20-\\x7e\\xa0-\\u2027...]`) walks its 63,000 code points, 6 ms
    of every `egress` start (issue 15); an ASCII text, the common case, is searched
    once, any other twice (tests/test_startup.py checks they agree on every code point)."""
    if text.isascii():
        return _OUTSIDE_ASCII.search(text) is not None
    return _OUTSIDE_BMP.search(text) is not None or _ASTRAL.search(text) is not None


_LINE = re.compile(r"( *)(?:(-)(?: +|\Z))?(?:([A-Za-z0-9_][A-Za-z0-9_./-]{0,252}):(?: +|\Z))?(.*)", re.DOTALL)
"""One line: its indentation, a sequence dash, a plain key (short: libyaml's limit on
the length of a simple key never applies), and the rest (a value, a comment, nothing)."""
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
"""First characters of a value that make it something else than a plain scalar (or
not always one: `-1`); such values are left to libyaml."""
_DOUBLE_QUOTED = re.compile(r'"([^"\\]*)"(?: +#.*| *)\Z')
_SINGLE_QUOTED = re.compile(r"'([^']*)'(?: +#.*| *)\Z")
_FLOW_EMPTY = re.compile(r"\[ *\](?: +#.*| *)\Z")
_FLOW_ITEM = re.compile(r""" *("[^"\\]*"|'[^']*'|[A-Za-z0-9_./][A-Za-z0-9_./+-]*) *([],])""")
_LINE_END = re.compile(r"(?: +#.*| *)\Z")
_INT = "tag:yaml.org,2002:int"
_MISLEADING_INT = re.compile(r"[-+]?0[0-7_]+\Z|.*:")
"""The YAML 1.1 spellings of an integer that read otherwise than they show: a leading
zero makes it octal (`port: 0443` is 291) and colons make it base 60 (`53:20` is 3200)."""


def _int(constructor, node) -> int:
    """PyYAML's integer constructor, but `ValueError` for a misleading spelling: the
    fast readers then step aside, and `_scalar` says what the number is."""
    if _MISLEADING_INT.match(node.value):
        raise ValueError(node.value)
    return constructor.construct_yaml_int(node)


_CONSTRUCTORS = {**yaml.constructor.SafeConstructor.yaml_constructors, _INT: _int}


class _Unions(dict):
    """First character -> one pattern that matches exactly when one of PyYAML's implicit
    resolvers for that character does (None: no resolver): most plain scalars (names,
    hosts, addresses) are strings, and one match says so where trying each resolver
    costs three. Compiled at the first scalar that starts with that character: the 30
    patterns together cost 4 ms, more than a small policy needs (issue 15)."""

    def __missing__(self, first: str) -> re.Pattern | None:
        resolvers = _IMPLICIT.get(first)
        self[first] = union = re.compile(
            "|".join(f"(?{'x' if regexp.flags & re.VERBOSE else ''}:{regexp.pattern})" for _, regexp in resolvers)
        ) if resolvers else None
        return union


_MAYBE_TYPED = _Unions()


def _block_data(text: str, path: str) -> Map:  # noqa: C901 - the hot loop of every load, kept flat for speed
    """Block-style YAML -> `Map`/`Seq` data with positions, one regular-expression match
    per line; `_NotPlain` as soon as a line is outside the subset it reads.

    Why a reader of our own: turning libyaml's events into Python objects costs one
    object per event and two per mark (five events for `- host: x`), more than the
    rest of `egress validate`; one match per line costs a fifth of that. The subset
    is what people and generators write: block mappings and sequences (indentless
    ones too) whose keys are plain words, values that are one-line plain scalars,
    quoted strings without escapes or one-line flow sequences of those, comments,
    blank lines, a leading `---`. Anything else (anchors, aliases, tags, flow
    mappings, escapes, multi-line or block scalars, tabs, an empty value, a duplicate
    key, anything libyaml would refuse) is left to the next reader, which is never
    wrong, only slower. A line is accepted only where the open collections expect
    it (the next entry of one of them, at its indentation), which is what makes a
    line-based reader sound: a more indented line after a scalar (a continuation in
    YAML) or a line at an indentation nobody opened is refused, not guessed.
    Scalars are resolved by PyYAML's own implicit resolvers, so values and types are
    those of `yaml.safe_load` (dates stay strings, as everywhere here).
    """
    if len(text) > MAX_NODES or _outside_subset(text):
        raise _NotPlain  # maybe more values than `to_data` allows (each takes a character here), or odd characters
    root: Map | None = None
    started = False  # a `---` was seen
    pending: tuple | None = None  # (mapping, key, its indentation) after `key:` alone
    stack: list[tuple] = []  # open collections: (container, indentation, is a mapping, is indentless)
    match = _LINE.match
    for number, line in enumerate(text.split("\n"), 1):
        parts = match(line)
        assert parts is not None  # the pattern matches any line
        spaces, dash, key, rest = parts.groups()
        if dash is None and key is None and (not rest or rest[0] == "#"):
            continue  # blank or comment
        indent = len(spaces)
        if pending is not None:  # this line starts the value of `key:`, a block collection
            parent, parent_key, parent_indent = pending
            pending = None
            if (dash is None and key is None) or not (indent > parent_indent or (indent == parent_indent and dash)):
                raise _NotPlain  # a scalar on the next line, or an empty value
            if len(stack) >= MAX_DEPTH - 1:
                raise _NotPlain
            where = (path, number, indent + 1)
            value: Map | Seq
            if dash is None:
                value = Map()
                value.key_where, value.value_where = {}, {}
            else:
                value = Seq()
                value.item_where = []
            value.where = where
            parent[parent_key] = value
            parent.value_where[parent_key] = where
            stack.append((value, indent, dash is None, indent == parent_indent))
        elif not stack:
            if root is None and not started and line.rstrip(" ") == "---":
                started = True
                continue
            if root is not None or dash is not None or key is None:
                raise _NotPlain  # a second root, or a root that is not a block mapping
            root = Map()
            root.where = (path, number, indent + 1)
            root.key_where, root.value_where = {}, {}
            stack.append((root, indent, True, False))
        else:
            while stack[-1][1] > indent:
                stack.pop()
                if not stack:
                    raise _NotPlain  # less indented than the root
            if stack[-1][3] and dash is None:  # the end of an indentless sequence
                stack.pop()
        container, at, is_map, _ = stack[-1]
        if at != indent or is_map != (dash is None) or (dash is None and key is None):
            raise _NotPlain  # not the next entry of the innermost open collection
        if dash is not None:
            if key is None:
                if not rest or rest[0] == "#":
                    raise _NotPlain  # `-` alone: its value is on the next lines
                column = parts.start(4)
                container.append(_block_value(rest, column, path, number))
                container.item_where.append((path, number, column + 1))
                continue
            if len(stack) >= MAX_DEPTH - 1:
                raise _NotPlain
            at = parts.start(3)  # `- key: ...`: a mapping whose keys stand at this column
            item = Map()
            item.where = (path, number, at + 1)
            item.key_where, item.value_where = {}, {}
            container.append(item)
            container.item_where.append(item.where)
            stack.append((item, at, True, False))
            container = item
        if key in container or _resolved(key) is not key:
            raise _NotPlain  # a duplicate key, or a key that is not a string (`1:`, `yes:`)
        container.key_where[key] = (path, number, at + 1)
        if not rest or rest[0] == "#":
            container[key] = None  # for now: the next line must start its value
            pending = (container, key, at)
            continue
        column = parts.start(4)
        container[key] = _block_value(rest, column, path, number)
        container.value_where[key] = (path, number, column + 1)
    if pending is not None or root is None:
        raise _NotPlain  # an empty value at the end, or no document
    return root


def _block_value(rest: str, column: int, path: str, number: int):
    """The value that `rest` (starting at 0-based `column` of line `number`) writes on
    one line; `_NotPlain` if it is not one of the forms `_block_data` reads."""
    first = rest[0]
    if first == '"' or first == "'":
        quoted = (_DOUBLE_QUOTED if first == '"' else _SINGLE_QUOTED).match(rest)
        if quoted is None:
            raise _NotPlain
        return quoted.group(1)
    if first == "[":
        return _flow_sequence(rest, column, path, number)
    if first in _INDICATORS:
        raise _NotPlain
    comment = rest.find(" #")
    if comment >= 0:
        rest = rest[:comment]
    rest = rest.rstrip(" ")
    if ": " in rest or rest[-1] == ":":
        raise _NotPlain  # a mapping where a scalar stands: libyaml says what is wrong
    return _resolved(rest)


def _flow_sequence(rest: str, column: int, path: str, number: int) -> Seq:
    """`[a, "b", 'c']` on one line: items that are plain words or quoted strings
    without escapes."""
    seq = Seq()
    seq.where = (path, number, column + 1)
    items: list[Where] = []
    seq.item_where = items
    if _FLOW_EMPTY.match(rest):
        return seq
    at = 1
    while True:
        item = _FLOW_ITEM.match(rest, at)
        if item is None:
            raise _NotPlain
        value = item.group(1)
        items.append((path, number, column + item.start(1) + 1))
        seq.append(value[1:-1] if value[0] == '"' or value[0] == "'" else _resolved(value))
        at = item.end()
        if item.group(2) == "]":
            break
    if not _LINE_END.match(rest, at):
        raise _NotPlain
    return seq


def _resolved(value: str):
    """A plain scalar as `yaml.safe_load` reads it (PyYAML's implicit resolvers), except
    timestamps, which stay strings; `_NotPlain` if its tag cannot read it."""
    typed = _MAYBE_TYPED[value[0]]
    if typed is None or typed.match(value) is None:
        return value
    tag = next(tag for tag, regexp in _IMPLICIT[value[0]] if regexp.match(value))
    if tag in (_STR, _TIMESTAMP):
        return value
    try:
        return _CONSTRUCTORS[tag](_constructor, yaml.ScalarNode(tag, value))
    except (yaml.YAMLError, ValueError, TypeError, KeyError, OverflowError):
        raise _NotPlain from None


# -- 2. plain documents, from libyaml's events -------------------------------------------


def _plain_data(text: str, path: str):  # noqa: C901 - the hot loop of every load, kept flat for speed
    """libyaml events -> `Map`/`Seq` data with positions, for plain documents only;
    `_NotPlain` as soon as the document is anything else."""
    stack: list = []  # open containers
    keys: list = []  # per open mapping: its pending (key, where), or None while a key is awaited
    root = documents = None
    try:
        events: Iterator[Any] = yaml.parse(text, Loader=_Loader)  # libyaml's events are untyped
        for count, event in enumerate(events):  # noqa: B007 - the count is used after the loop
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
                            value = _CONSTRUCTORS[tag](_constructor, yaml.ScalarNode(tag, value))  # not construct_object: it keeps every node
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
    if documents is None or count > MAX_NODES:
        raise _NotPlain  # empty, or maybe more values than the node path allows (it says so)
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
                raise YamlError(Diagnostic(path, *_where(path, node)[1:], "E103", _too_many_values(size > len(sizes) + 1)))
            sizes[id(node)] = size
            continue
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in children if id(child) not in sizes)


def _too_many_values(through_aliases: bool) -> str:
    """E103's message for a document too large: an alias bomb is fixed by removing its
    aliases, a document that is simply huge by splitting it (`include:`). Aliases were
    expanded when the subtree counts more values than the distinct nodes sized so far."""
    if through_aliases:
        return f"more than {MAX_NODES:,} values once aliases are expanded; remove the aliases"
    return f"more than {MAX_NODES:,} values; split the policy into files (include:)"


def _scalar(node, path: str):
    """A non-string scalar, constructed only for the JSON-like tags; a tag that is not
    one of them, or a value its tag cannot read (`!!int "abc"`), is a positioned
    `YamlError` (E112), never an exception from the YAML library."""
    if node.tag not in _SCALAR_TAGS:
        raise _refused_tag(node, path)
    try:
        return _CONSTRUCTORS[node.tag](_constructor, node)  # not construct_object, which keeps every node it read
    except (yaml.YAMLError, ValueError, TypeError, KeyError, OverflowError):
        if node.tag == _INT and _MISLEADING_INT.match(node.value):
            kind = "base-60" if ":" in node.value else "octal"
            value = _constructor.construct_yaml_int(node)
            raise YamlError(Diagnostic(*_where(path, node), "E112", f"{node.value!r} is the YAML 1.1 {kind} number {value}, not what it "
                                       f"shows; write {value} or the number you meant, or quote it if it is a text (an address, a time)")) from None
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

"""Static scope check of a bundle's `egress.nft`: it may name `table inet egress` only,
and say there only what egress writes.

Why a static check: loading the file in a scratch network namespace and looking at the
tables left afterwards cannot see a file that declares `table inet filter` and then
deletes it: the scratch namespace ends as it began, while on the firewall the same file
deletes the host's real table. So the text is read before anything runs it, the way
`nft -f` reads it, and every top-level statement must name `inet egress`:

- `table inet egress [{ ... }]`, and `add|create|delete|destroy|flush table inet egress`;
- `add|create|insert|replace|delete|destroy|flush chain|set|map|element|rule|
  counter|quota|limit|secmark|synproxy|ct helper|ct timeout|ct expectation inet egress
  ...`, and the short rule form `add|insert inet egress CHAIN ...`;
- nothing else at the top level: no `flush ruleset`, no `list`, `reset`, `rename`,
  `monitor`, `import`, `export`; no `handle` in place of the table name (`delete table
  inet handle 3` deletes whichever table has that handle); an omitted family means `ip`,
  so `table egress` is refused too;
- anywhere: no `include` (it reads another file, and nft's errors would echo its lines),
  no `define`/`redefine`/`undefine` nor `$variable` (indirection this check cannot
  follow), no `dormant` flag (a dormant table filters nothing: the perimeter fails open),
  no `owner` flag (the kernel deletes an owned table when the nft that made it exits),
  no `flowtable` nor `flow add|offload` (an offloaded flow's packets take the fast path
  at ingress and skip the forward hook of every table, the host's own included; egress
  never writes one). These words get their own message; the allow-list below would
  refuse them anyway.

The reading follows nft 1.0's scanner, checked against it: `#` starts a comment that
ends at the newline (a backslash does not continue a comment); a backslash before a
newline is blank space (it joins lines elsewhere); a quoted string ends on its line;
`;` and newlines end statements outside braces. What nft would read differently is
refused rather than guessed at: an unterminated string, a stray backslash, a carriage
return, unbalanced braces, a quoted or mis-cased family or table name (nft 1.0 refuses
them; a later nft that accepted them must still meet `inet egress`).

Inside a table's braces nothing can reach another table (chains jump within their
table; sets belong to their table), but a rule there can still copy, queue, rewrite or
mark packets: every statement, in and out of blocks, must then be one that egress's own
generator writes (allowlist.py: an allow-list of statement kinds and their shapes, not a
list of the dangerous ones). What remains possible is filtering: accept and drop in
table inet egress; which flows a ruleset opens is what the sha256 sums and the
signature of the bundle vouch for.

Staying inside `table inet egress` is not enough: the table must also fail closed once
loaded (`fails_closed`). The base chains left at the end of the file (declared, minus
those deleted) must all have `policy drop`, and at least one must be left when the file
declares any; and the file may not end by emptying the table: no `flush table inet
egress` anywhere, and a `flush`/`delete`/`destroy` of the table or of a chain must be
followed by a block or a rule. What the compiler and the rollback write passes: the
reload declares the other hook's base chain (policy accept), empties the chains and
deletes that one, then fills its last block; a restore or deny-all file deletes the
table, then declares it again.
"""

from __future__ import annotations

import re

from egress.firewall.allowlist import Checker, ScopeError, Token, excerpt

__all__ = ["ScopeError", "Token", "check", "emptied_sets", "fails_closed", "statements", "tokens"]
TABLE = ("inet", "egress")
FAMILIES = frozenset({"ip", "ip6", "inet", "arp", "bridge", "netdev"})
VERBS = frozenset({"add", "create", "insert", "replace", "delete", "destroy", "flush"})
OBJECTS = frozenset({"table", "chain", "set", "map", "element", "rule", "counter", "quota",
                     "limit", "secmark", "synproxy"})
CT_OBJECTS = frozenset({"helper", "timeout", "expectation"})
FORBIDDEN_WORDS = {
    "include": "`include` reads another file",
    "define": "`define` (variables are an indirection the scope check cannot follow)",
    "redefine": "`redefine` (variables are an indirection the scope check cannot follow)",
    "undefine": "`undefine` (variables are an indirection the scope check cannot follow)",
    "dormant": "the `dormant` flag (a dormant table filters nothing)",
    "flowtable": "a flowtable (the packets of an offloaded flow skip the forward hook of every table of the host)",
    "flow": "`flow add`/`flow offload` (the packets of an offloaded flow skip the forward hook of every table "
            "of the host)",
}
_LEXEME = re.compile(
    r'(?P<newline>\n)|[ \t]+|(?P<joined>\\\n)|#[^\n]*|"(?P<string>[^"\n]*)"|(?P<punct>[{};])'
    r'|(?P<word>[^ \t\n\r\\#"{};]+)|(?P<bad>.)', re.S)  # blanks and comments: no group


def tokens(text: str) -> list[Token]:
    """nft's lexical reading of `text`, reduced to what the scope check needs (one
    regular expression, for a 5 MB file is read in a second, not ten)."""
    out: list[Token] = []
    line = 1
    for m in _LEXEME.finditer(text):
        kind = m.lastgroup
        if kind is None:  # blanks, a comment (it ends at the newline; a backslash does not continue it)
            continue
        if kind == "newline":
            out.append(Token("end", "\n", line))
            line += 1
        elif kind == "joined":  # a backslash before a newline is blank space
            line += 1
        elif kind == "word":
            out.append(Token("word", m.group(), line))
        elif kind == "string":
            out.append(Token("string", m.group("string"), line))
        elif kind == "punct":
            c = m.group()
            out.append(Token("end" if c == ";" else c, c, line))
        else:
            c = m.group()
            if c == "\\":
                raise ScopeError(line, "a backslash that does not end the line")
            if c == "\r":
                raise ScopeError(line, "a carriage return (egress writes plain newlines)")
            raise ScopeError(line, "a quoted string that does not end on its line")
    return out


def statements(toks: list[Token]) -> list[list[Token]]:
    """Top-level statements: tokens split at newlines and `;` outside braces."""
    result: list[list[Token]] = []
    current: list[Token] = []
    depth = 0
    for tok in toks:
        if tok.kind == "{":
            depth += 1
        elif tok.kind == "}":
            depth -= 1
            if depth < 0:
                raise ScopeError(tok.line, "a `}` that closes nothing")
        elif tok.kind == "end" and depth == 0:
            if current:
                result.append(current)
            current = []
            continue
        current.append(tok)
    if depth:
        raise ScopeError(current[0].line if current else 1, "a `{` that is never closed")
    if current:
        result.append(current)
    return result


def _check_table_spec(stmt: list[Token], at: int) -> None:
    """`inet egress` at stmt[at], stmt[at+1]; anything else names another table."""
    line = stmt[0].line
    family = stmt[at] if at < len(stmt) else None
    name = stmt[at + 1] if at + 1 < len(stmt) else None
    if family is None or family.kind != "word" or family.text not in FAMILIES:
        raise ScopeError(line, f"`{excerpt(stmt)}` does not name table inet egress "
                               "(no family given means family ip)")
    if name is None or name.kind != "word" or (family.text, name.text) != TABLE:
        what = "a table by its handle" if name is not None and name.text == "handle" else "another table"
        raise ScopeError(line, f"`{excerpt(stmt)}` names {what}")


def check_statement(stmt: list[Token]) -> None:
    head = stmt[0]
    if head.kind != "word":
        raise ScopeError(head.line, f"`{excerpt(stmt)}` is not an nft command")
    if head.text == "table":
        _check_table_spec(stmt, 1)
        _check_table_tail(stmt, 3)
        return
    if head.text not in VERBS:
        raise ScopeError(head.line, f"`{excerpt(stmt)}`: only table, add, create, insert, replace, delete, "
                                    "destroy and flush of table inet egress belong in an egress ruleset")
    obj = stmt[1].text if len(stmt) > 1 and stmt[1].kind == "word" else None
    if obj == "ruleset":
        raise ScopeError(head.line, f"`{excerpt(stmt)}` touches every table of the host")
    if obj == "table":
        _check_table_spec(stmt, 2)
        _check_table_tail(stmt, 4)
    elif obj == "ct":
        if len(stmt) < 3 or stmt[2].text not in CT_OBJECTS:
            raise ScopeError(head.line, f"`{excerpt(stmt)}` is not an nft command")
        _check_table_spec(stmt, 3)
    elif obj in OBJECTS:
        _check_table_spec(stmt, 2)
    elif head.text in ("add", "insert"):  # `add inet egress forward accept`: add rule
        _check_table_spec(stmt, 1)
    else:
        raise ScopeError(head.line, f"`{excerpt(stmt)}` is not an nft command on table inet egress")


def _check_table_tail(stmt: list[Token], at: int) -> None:
    """After `table inet egress`: nothing, or one block and nothing after it."""
    rest = stmt[at:]
    if not rest:
        return
    if rest[0].kind != "{" or rest[-1].kind != "}":
        raise ScopeError(stmt[0].line, f"`{excerpt(stmt)}`: unexpected words after the table name")
    depth = 0
    for i, tok in enumerate(rest):
        depth += (tok.kind == "{") - (tok.kind == "}")
        if depth == 0 and i != len(rest) - 1:
            raise ScopeError(tok.line, f"`{excerpt(stmt)}`: unexpected words after the table's block")


def _chain_blocks(toks: list[Token]) -> list[tuple[str, list[Token]]]:
    """(name, body tokens) of each `chain NAME { ... }` in `toks` (a table's block)."""
    found = []
    for i, tok in enumerate(toks[:-2]):
        if tok.kind == "word" and tok.text == "chain" and toks[i + 2].kind == "{":
            depth, j = 0, i + 2
            for j in range(i + 2, len(toks)):
                depth += (toks[j].kind == "{") - (toks[j].kind == "}")
                if depth == 0:
                    break
            found.append((toks[i + 1].text, toks[i + 3:j]))
    return found


def _declare(base: dict[str, tuple[str, int]], name: str, body: list[Token]) -> None:
    """Record what a chain block says of base chain `name`: its policy (accept when a
    hook is given without one, as in nft), or nothing when it names neither."""
    words = [tok.text if tok.kind == "word" else None for tok in body]
    line = body[0].line if body else 0
    if "policy" in words:
        at = words.index("policy") + 1
        base[name] = (words[at] or "?" if at < len(words) else "?", line)
    elif "hook" in words and name not in base:
        base[name] = ("accept", line)


def _fills(stmt: list[Token]) -> bool:
    """A statement that declares (a block) or adds a rule: what may follow an emptying."""
    verb, obj = stmt[0].text, stmt[1].text if len(stmt) > 1 else ""
    return any(tok.kind == "{" for tok in stmt) or (verb in ("add", "insert", "replace") and obj in ("rule", "inet"))


def fails_closed(stmts: list[list[Token]]) -> None:
    """Raise ScopeError unless the table left by `stmts` filters (module docstring)."""
    base: dict[str, tuple[str, int]] = {}
    last_fill = max((i for i, stmt in enumerate(stmts) if _fills(stmt)), default=-1)
    declared = False  # any base chain at all
    for i, stmt in enumerate(stmts):
        verb, obj = stmt[0].text, stmt[1].text if len(stmt) > 1 else ""
        if verb == "table" or obj == "table":
            if verb == "flush":
                raise ScopeError(stmt[0].line, f"`{excerpt(stmt)}` empties every chain of the table; refused")
            if verb in ("delete", "destroy"):
                if i > last_fill:
                    raise ScopeError(stmt[0].line, f"`{excerpt(stmt)}` with nothing declared after it "
                                                   "leaves no table to filter; refused")
                base.clear()
            for name, body in _chain_blocks(stmt):
                _declare(base, name, body)
                declared = declared or name in base
        elif obj == "chain":
            name = stmt[4].text if len(stmt) > 4 else ""
            if verb in ("flush", "delete", "destroy") and i > last_fill:
                raise ScopeError(stmt[0].line, f"`{excerpt(stmt)}` with no rule nor block after it "
                                               "leaves the chain empty; refused")
            if verb in ("delete", "destroy"):
                if name == "handle":
                    raise ScopeError(stmt[0].line, f"`{excerpt(stmt)}`: delete a chain by its name")
                base.pop(name, None)
            elif len(stmt) > 5 and stmt[5].kind == "{":
                _declare(base, name, stmt[6:-1])
                declared = declared or name in base
    for name, (policy, line) in sorted(base.items(), key=lambda item: item[1][1]):
        if policy != "drop":
            raise ScopeError(line, f"base chain {name} has policy {policy}: an egress base chain drops "
                                   "what no rule accepts (policy drop); refused")
    if declared and not base:
        raise ScopeError(stmts[-1][0].line, "the file leaves table inet egress without a base chain "
                                            "(nothing would filter); refused")


def check(text: str) -> list[list[Token]]:
    """Raise ScopeError unless `text` only ever names table inet egress and leaves it
    failing closed (module docstring). Returns its top-level statements (read once)."""
    toks = tokens(text)
    for tok in toks:
        if tok.kind == "word":
            if tok.text in FORBIDDEN_WORDS:
                raise ScopeError(tok.line, FORBIDDEN_WORDS[tok.text] + "; refused")
            if tok.text.startswith("$") or "$" in tok.text:
                raise ScopeError(tok.line, "a `$variable` (an indirection the scope check cannot follow)")
    stmts = statements(toks)
    checker = Checker()
    for stmt in stmts:
        check_statement(stmt)  # it names table inet egress only
        checker.statement(stmt)  # and says only what egress writes (allowlist.py)
    if not any(stmt[0].text == "table" or (len(stmt) > 1 and stmt[1].text == "table") for stmt in stmts):
        raise ScopeError(1, "the file never declares table inet egress")
    fails_closed(stmts)
    return stmts


def emptied_sets(stmts: list[list[Token]]) -> list[str] | None:
    """The sets and maps that a checked file empties when it loads (`flush`, `delete` or
    `destroy set|map`, `delete|destroy element`), sorted; None when it deletes or flushes
    the whole table (which empties every set) or names a set by its handle. A rollback
    carries the addresses that dnsmasq learned only into sets that neither ruleset
    empties (snapshots.py): the compiler empties a dynamic set at the stages where it
    holds fewer services than at its widest, so such a set holds other hosts there."""
    names = set()
    for stmt in stmts:
        words = [tok.text for tok in stmt[:5]]
        if len(words) < 2 or words[0] not in ("flush", "delete", "destroy"):
            continue
        if words[1] == "table":
            return None
        if words[1] in ("set", "map", "element") and words[2:4] == list(TABLE):
            if len(words) < 5 or words[4] == "handle":  # by handle: which set is not known here
                return None
            names.add(words[4])
    return sorted(names)

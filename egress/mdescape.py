"""Text from a policy or a log, shown in Markdown as the text it is, never as markup.

The markdown outputs (`diff`, `expiring`, `blocked`, `usage --format markdown`) go into
merge-request comments and the crisis cell's minutes. A grant's `reason` is written by
whoever edits the policy, and log lines by whoever sends packets; passed through as they
are, `![x](https://tracker.example/p.png)` loads an image, `[minutes](https://evil.example)`
disguises a link, `<img>`/`<details>` is HTML, `@crisis-team` notifies people, `#12` or
`!12` cross-references an issue or merge request, and a `|` or a newline breaks the table.

`text` neutralises all of that for running text and table cells (GitHub and GitLab
flavoured Markdown):

- control characters and line separators become spaces (one row stays one row);
- `&`, `<`, `>` become entities: no HTML, no entity smuggled in;
- the ASCII punctuation that opens inline markup is backslash-escaped
  (`\\ ` * _ [ ] | # ~ $`): no emphasis, code, link, image, strikethrough, math, and
  `\\|` keeps a table cell whole (GFM reads it as a pipe in every cell, code included);
- `@`, `#` and `!` before a letter or digit (GitLab's `~label`, `%milestone`,
  `$snippet` and `&epic` too), `://` and `www.` get a zero-width space after them,
  written as the entity `&#8203;`, so that no mention, reference or autolink is
  recognised (backslash escapes do not prevent those: they are found in the rendered
  text). Renovate and Dependabot do the same for `@`. The rendered text reads the same.

`code` writes a code span (for ids, names, labels): a fence longer than any backtick
run inside, so nothing inside is markup.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_PUNCTUATION = re.compile(r"([\\`*_\[\]|#~$])")
_TRIGGER = re.compile(r"(?:[@#!~%$]|&amp;)(?=[0-9A-Za-z])|(:)(?=//)|(?<![0-9A-Za-z])(www)(?=\.)", re.IGNORECASE)
_ZWSP = "&#8203;"


def text(value: object) -> str:
    """`value` as Markdown that renders as exactly its text (None and "" give "")."""
    if value is None or value == "":
        return ""
    out = _CONTROL.sub(" ", str(value))
    out = out.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out = _PUNCTUATION.sub(r"\\\1", out)
    return _TRIGGER.sub(lambda m: m.group(0) + _ZWSP, out)  # last: its entity holds a `#`


def code(value: object, table: bool = True) -> str:
    """`value` as a code span; `table`: inside a table cell (a `|` is then escaped)."""
    body = _CONTROL.sub(" ", str(value))
    if table:
        body = body.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if body.startswith("`") or body.endswith("`") else ""
    return f"{fence}{pad}{body}{pad}{fence}"

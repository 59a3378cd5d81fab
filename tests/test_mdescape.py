"""Markdown outputs show policy and log text as text: rendered by GitHub's own cmark-gfm,
hostile reasons give no image, link, HTML, mention, reference or broken table."""

from __future__ import annotations

import html
import re
from pathlib import Path

import cmarkgfm
import pytest
from click.testing import CliRunner
from cmarkgfm.cmark import Options

from egress import mdescape
from egress.cli import main
from tests.test_diff import write

HOSTILE = [
    "![x](https://tracker.example/pixel.png)",
    "[the minutes](https://evil.example/login)",
    "<img src=x onerror=alert(1)> <details open>hidden</details> <script>alert(1)</script>",
    "ping @crisis-team and @org/security",
    "see #12, GH-3, !34 and owner/repo#5",
    "https://evil.example/a and www.evil.example and mail root@evil.example",
    "**bold** _em_ `code` ~~gone~~ $x^2$",
    "cell | break\nnew row\r\x1b[31m",
    "&lt;b&gt; &#64;team &amp;",
    "\\| \\*",
    "GitLab: ~urgent ~12 %3 %sprint $7 &9 &amp",
]
ALLOWED_TAGS = {"table", "thead", "tbody", "tr", "th", "td", "code", "p", "h3", "strong", "br"}


def render(markdown: str) -> str:
    """HTML as GitHub renders it (cmark-gfm with its extensions), raw HTML let through
    so that any that escaped shows."""
    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)


def visible(rendered: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", rendered))


@pytest.mark.parametrize("text", HOSTILE)
def test_text_renders_as_itself_and_nothing_more(text):
    rendered = render("| a | b |\n|---|---|\n| " + mdescape.text(text) + " | end |\n")
    tags = set(re.findall(r"<\s*/?\s*([a-zA-Z0-9]+)", rendered))
    assert tags <= ALLOWED_TAGS, tags
    assert not re.search(r"<[^>]*\b(href|src)=", rendered)
    cells = re.findall(r"<td>(.*?)</td>", rendered, re.S)
    assert len(cells) == 2 and cells[1] == "end", cells  # the row stays one row of two cells
    shown = visible(cells[0]).replace("\u200b", "")
    expected = re.sub(r"[\x00-\x1f\x7f-\x9f]", " ", text)
    assert shown == expected
    # mentions, references and autolinks are broken by a zero-width space
    assert not re.search(r"[@#!~%$&][0-9A-Za-z]|://|\bwww\.", visible(cells[0]))


def test_code_span_holds_anything():
    for value in ("a`b", "``x``", "a|b", "plain"):
        rendered = render(f"| {mdescape.code(value)} |\n|---|\n")
        assert re.findall(r"<code>(.*?)</code>", rendered) == [html.escape(value, quote=False)]
    assert mdescape.code("a|b", table=False) == "`a|b`"


HOSTILE_POLICY = """\
egress: 1
policy: hostile
zones:
  lab: {addresses: [10.30.0.0/24]}
services:
  partner:
    destinations: [{address: 203.0.113.0/24}]
    ports: [tcp/443]
stages:
  - id: s0
    grants: []
  - id: s1
    grants:
      - id: partner
        from: lab
        to: partner
        reason: "REASON"
        approved_by: "@crisis-team <b>boss</b>"
        ticket: "[T-1](https://evil.example) #12"
"""


def test_diff_markdown_with_hostile_reasons(tmp_path):
    reason = "Results ![x](https://tracker.example/p.png) | cc @crisis-team <img src=x> www.evil.example"
    path = write(tmp_path, HOSTILE_POLICY.replace("REASON", reason))
    result = CliRunner().invoke(main, ["diff", path, "s0", "s1", "--format", "markdown", "--at", "2023-07-01"])
    assert result.exit_code == 0, result.output
    rendered = render(result.output)
    tags = set(re.findall(r"<\s*/?\s*([a-zA-Z0-9]+)", rendered))
    assert tags <= ALLOWED_TAGS, tags
    assert not re.search(r"<[^>]*\b(href|src)=", rendered)
    row = next(r for r in re.findall(r"<tr>(.*?)</tr>", rendered, re.S) if "partner" in r)
    cells = [visible(c).replace("\u200b", "") for c in re.findall(r"<td>(.*?)</td>", row, re.S)]
    assert len(cells) == 11
    assert cells[7] == reason and cells[8] == "@crisis-team <b>boss</b>" and cells[9] == "[T-1](https://evil.example) #12"
    assert "@crisis-team" not in visible(rendered)  # no mention: a zero-width space follows the @


def test_expiring_markdown_uses_the_same_escape(tmp_path):
    text = HOSTILE_POLICY.replace("REASON", "see @crisis-team ![x](https://t.example/p.png)")
    path = write(tmp_path, text.replace("        ticket:", "        expires: 2023-07-10\n        ticket:"))
    result = CliRunner().invoke(main, ["expiring", path, "--at", "2023-07-01", "--format", "markdown"])
    assert result.exit_code == 0, result.output
    rendered = render(result.output)
    assert not re.search(r"<[^>]*\b(href|src)=", rendered) and "@crisis-team" not in visible(rendered)


def test_ordinary_text_is_written_as_it_is():
    """Escaping touches only what could be markup: the shipped policy's reasons read as written."""
    shipped = Path(__file__).resolve().parent.parent / "policies" / "chu-rennes-2023" / "policy.yaml"
    out = CliRunner().invoke(main, ["diff", str(shipped), "s3-continuity-sites", "s4-outbound-mail",
                                    "--format", "markdown", "--at", "2023-07-01"]).output
    assert "| Outbound mail through the provider's smarthost only (no direct delivery to the internet) |" in out
    assert "&#8203;" not in out and "\\" not in out

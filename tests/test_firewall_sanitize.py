"""egress/firewall/sanitize.py (issue 10 item 7): escaped text, short excerpts, and the
manifest's metadata checked against the ruleset's own header."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from egress.firewall import sanitize

ROOT = Path(__file__).resolve().parent.parent
MINIMAL = ROOT / "examples" / "minimal" / "policy.yaml"


@pytest.mark.parametrize("raw, shown", [
    ("s1\rfake line", "s1\\x0dfake line"),
    ("bell\x07", "bell\\x07"),
    ("\x1b[2J\x1b]0;title\x07", "\\x1b[2J\\x1b]0;title\\x07"),
    ("c1\x9b31m", "c1\\x9b31m"),
    ("abc\u202edcba", "abc\\u202edcba"),
    ("a\u2066b\u2069\u200b\u200f\ufeff\u061c", "a\\u2066b\\u2069\\u200b\\u200f\\ufeff\\u061c"),
    ("tab\tnew\nline", "tab\\x09new\\x0aline"),
    ("plain é 中文 text", "plain é 中文 text"),
])
def test_clean_escapes_what_acts_on_a_terminal(raw, shown):
    assert sanitize.clean(raw) == shown


def test_clean_json_walks_records():
    record = {"stage": "s1\x1b[31m", "files": {"a\rb": "x"}, "n": 1, "l": ["\x07"], "none": None}
    assert sanitize.clean_json(record) == {"stage": "s1\\x1b[31m", "files": {"a\\x0db": "x"}, "n": 1,
                                           "l": ["\\x07"], "none": None}


def test_excerpt_is_one_short_escaped_line():
    text = "first \x1b line " + "x" * 300 + "\nroot:$6$secret:19000:0:99999:7:::\n"
    shown = sanitize.excerpt(text)
    assert len(shown) <= sanitize.EXCERPT + 4 and "\x1b" not in shown and "root:" not in shown
    assert shown.endswith(" ...")
    assert sanitize.excerpt("\n\n  only line \n") == "only line"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("b") / "bundle"
    cp = subprocess.run([sys.executable, "-m", "egress.cli", "compile", str(MINIMAL), "--all-stages", "--out",
                         str(out), "--at", "2023-07-01"], capture_output=True, text=True)
    assert cp.returncode == 0, cp.stderr
    return out


def test_compiled_bundles_match_their_header(compiled):
    stages = sorted(p.parent for p in compiled.glob("*/manifest.json"))
    assert stages
    for folder in stages:
        manifest = json.loads((folder / "manifest.json").read_text())
        text = (folder / "egress.nft").read_text()
        assert sanitize.header(text) == {"policy": manifest["policy"], "stage": manifest["stage"],
                                         "language_version": manifest["language_version"]}
        sanitize.check_header(manifest, text)


def test_edited_metadata_is_refused(compiled):
    folder = compiled / "s1-partner-results"
    manifest = json.loads((folder / "manifest.json").read_text())
    text = (folder / "egress.nft").read_text()
    for key, value, message in [
        ("stage", "s2-reference-sites", "manifest.json says stage s2-reference-sites, egress.nft says s1-partner"),
        ("policy", "other-policy", "says policy other-policy"),
        ("language_version", 2, "says language_version 2"),
        ("stage", "s1\x1b[2Jx", "`stage` is not a name: 's1\\\\x1b[2Jx'"),
        ("policy", None, "`policy` is not a name"),
    ]:
        with pytest.raises(sanitize.MetadataError, match=message.replace("[", r"\[")) as err:
            sanitize.check_header(dict(manifest, **{key: value}), text)
        assert "\x1b" not in str(err.value)
    with pytest.raises(sanitize.MetadataError, match="does not start with the header"):
        sanitize.check_header(manifest, "\n".join(text.splitlines()[4:]))
    forged = text.replace("# stage: s1-partner-results", "# stage: s2-reference-sites", 1)
    with pytest.raises(sanitize.MetadataError, match=r"egress\.nft says s2-reference-sites"):
        sanitize.check_header(manifest, forged)

"""`egress report` (egress/htmlreport/) without a browser: data, escaping, languages, files.

What a browser sees (no console error, no network request, the matrix cell by cell,
one timeline marker per stage, printing) is tests/test_report_browser.py.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from egress import htmlreport
from egress.check import validate
from egress.cli import main
from egress.flows import resolve
from egress.htmlreport import data, labels

REPO = Path(__file__).resolve().parent.parent
SHIPPED_DIR = REPO / "policies" / "chu-rennes-2023"
SHIPPED = str(SHIPPED_DIR / "policy.yaml")
AT = "2023-08-20"
UTC = dt.UTC

HOSTILE_REASON = '<script>alert("x")</script></table></td> "quoted" \'single\' **bold** [link](http://evil.example/) `code` & done'

ESCAPING_POLICY = f"""\
egress: 1
policy: escaping
description: "Description with <b>tags</b> & </html>"
zones:
  lab: {{addresses: [10.30.0.0/24]}}
services:
  partner:
    description: "<img src=x onerror=alert(1)>"
    destinations: [{{address: 203.0.113.0/24}}]
    ports: [tcp/443]
stages:
  - id: s0
    title: "Isolation </title><script>alert(2)</script>"
    date: 2024-01-01
    grants: []
  - id: s1
    title: "Stage with \\"quotes\\" and </svg>"
    date: 2024-01-05
    grants:
      - id: to-partner
        from: lab
        to: partner
        reason: {HOSTILE_REASON!r}
        approved_by: "Cell <i>x</i>"
        ticket: "T-1 </table>"
        expires: 2024-01-20
"""


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def report_text(tmp_path: Path, *args: str) -> str:
    out = tmp_path / "r.html"
    result = run("report", *args, "--out", str(out))
    assert result.exit_code == 0, result.output
    return out.read_text()


@pytest.fixture
def hostile(tmp_path) -> str:
    path = tmp_path / "escaping.yaml"
    path.write_text(ESCAPING_POLICY.replace("reason: '", "reason: '").replace("\\'", "''"))
    policy, diagnostics = validate(str(path), dt.date(2024, 1, 10))
    assert policy is not None, [str(d) for d in diagnostics]
    assert policy.stages[1].grants[0].reason == HOSTILE_REASON
    return str(path)


# -- escaping ---------------------------------------------------------------------------


def test_policy_text_is_escaped_never_markup(tmp_path, hostile):
    html = report_text(tmp_path, hostile, "--at", "2024-01-10")
    assert "<script" not in html.lower()
    assert "<img" not in html and "<i>" not in html and "<b>tags" not in html
    assert html.count("</table>") == html.count("<table")
    assert html.count("</html>") == 1 and html.count("</title>") == html.count("<title>") and html.count("</svg>") == html.count("<svg")
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;/table&gt;" in html
    assert "**bold** [link](http://evil.example/) `code` &amp; done" in html  # Markdown stays text
    assert 'href="http' not in html


def test_css_page_header_cannot_leave_its_string():
    out = htmlreport.css_string('a"b;}</style><script>\\')
    assert str(out).count('"') == 2 and "<" not in out and ";" not in out[1:-1] and "}" not in out


# -- languages, usage -------------------------------------------------------------------


def test_both_languages_have_every_label():
    assert set(labels.LABELS) == set(labels.LANGUAGES) == {"en", "fr"}
    assert set(labels.LABELS["en"]) == set(labels.LABELS["fr"])
    for lang in labels.LANGUAGES:
        placeholders = {k: set(re.findall(r"{\w+}", v)) for k, v in labels.LABELS[lang].items()}
        assert placeholders == {k: set(re.findall(r"{\w+}", v)) for k, v in labels.LABELS["en"].items()}


@pytest.mark.parametrize("lang, words", [
    ("en", ['<html lang="en">', "What is open", "Timeline of the stages", "2023-08-31 24:00 UTC (2023-09-01T00:00:00Z)"]),
    ("fr", ['<html lang="fr">', "Ce qui est ouvert", "Chronologie des étapes", "2023-08-31 24:00 UTC", "Échéancier"]),
])
def test_both_languages_render(tmp_path, lang, words):
    html = report_text(tmp_path, SHIPPED, "--at", AT, "--lang", lang)
    for word in words:
        assert word in html


def test_usage_errors_exit_2_and_write_nothing(tmp_path):
    out = tmp_path / "r.html"
    for args in (["--lang", "de"], ["--stage", "nope"], ["--at", "2023-02-30"]):
        result = run("report", SHIPPED, "--out", str(out), *args)
        assert result.exit_code == 2, (args, result.output)
    assert run("report", SHIPPED).exit_code == 2  # --out is required
    assert run("report", str(tmp_path / "missing.yaml"), "--out", str(out)).exit_code == 2
    result = run("report", SHIPPED, "--out", str(tmp_path / "no" / "such" / "folder.html"), "--at", AT)
    assert result.exit_code == 2 and "cannot write" in result.output
    assert list(tmp_path.iterdir()) == []


def test_an_invalid_policy_exits_1(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("egress: 1\npolicy: bad\nzones: {}\n")
    assert run("report", str(bad), "--out", str(tmp_path / "r.html")).exit_code == 1
    assert not (tmp_path / "r.html").exists()


def test_same_inputs_same_bytes_and_the_old_file_is_replaced_whole(tmp_path):
    out = tmp_path / "r.html"
    out.write_text("old")
    run("report", SHIPPED, "--out", str(out), "--at", AT)
    first = out.read_bytes()
    run("report", SHIPPED, "--out", str(out), "--at", AT)
    assert out.read_bytes() == first and first.startswith(b"<!DOCTYPE html>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]


def test_self_contained_no_script_no_external_reference(tmp_path):
    html = report_text(tmp_path, SHIPPED, "--at", AT)
    assert "<script" not in html
    assert not re.search(r"\son\w+\s*=", html)  # no event handler attributes
    assert not re.search(r"(src|href)\s*=\s*\"(?!#|data:)", html)  # only in-page links and data: URLs
    assert "@import" not in html and "url(" not in html
    assert "@page" in html and "@top-left" in html


# -- data: from flows and diff ------------------------------------------------------------


def shipped_report(stage: str = "s6-online-booking") -> data.Report:
    start = dt.datetime(2023, 8, 20, tzinfo=UTC)
    policy, _ = validate(SHIPPED, start.date())
    return data.build(policy, stage, start, [SHIPPED])


def test_matrix_is_the_flows_of_the_stage():
    report = shipped_report("s4-outbound-mail")
    flows = resolve(report.policy, "s4-outbound-mail", dt.date(2023, 8, 20))
    expected = {(f.target, f.source) if f.direction == "egress" else (f.source, f.target) for f in flows.flows}
    assert {key for key, cell in report.matrix.cells.items() if cell.open} == expected
    assert report.matrix.full and len(report.matrix.cells) == len(report.matrix.rows) * len(report.matrix.zones)
    gone = report.matrix.cells[("mssante-operator", "reporting")]
    assert not gone.open and [(g.grant, g.why) for g in gone.gone] == [("reports-to-mss-temp", "revoked")]


def test_history_is_the_diff_of_each_stage_at_its_date():
    from egress.diff import stage_diff

    report = shipped_report()
    policy = report.policy
    assert [h.id for h in report.history] == [s.id for s in policy.stages]
    for before, h in zip(policy.stages, report.history[1:], strict=False):
        d = stage_diff(policy, before.id, h.id, dt.date(2023, 8, 20), stage_dates=True)
        assert [p.as_flow() for p in h.diff.opened] == [p.as_flow() for p in d.opened]
        assert [p.as_flow() for p in h.diff.closed] == [p.as_flow() for p in d.closed]
    counts = [(h.opened, h.closed) for h in report.history]
    assert counts[4] == (1, 1)  # s4 opens outbound mail, revokes reports-to-mss-temp
    assert counts[5][1] == 1  # pacs-remote-support expired between s4 and s5
    assert [t.grant for t in report.temporary] == ["pacs-remote-support"]


def test_agenda_is_the_expiring_module():
    agenda = shipped_report().agenda
    assert [i.grant.id for i in agenda.items] == ["pacs-remote-support"]


# -- revision --------------------------------------------------------------------------


def test_revision_clean_dirty_and_outside_git(tmp_path):
    folder = tmp_path / "repo"
    shutil.copytree(SHIPPED_DIR, folder)
    path = str(folder / "policy.yaml")
    assert "not in a git repository" in report_text(tmp_path, path, "--at", AT)
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@e", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@e")
    for cmd in (["init", "-q"], ["add", "."], ["commit", "-qm", "policy"]):
        subprocess.run(["git", *cmd], cwd=folder, check=True, env=env)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True).stdout.strip()
    html = report_text(tmp_path, path, "--at", AT)
    assert commit[:12] in html and "clean working tree" in html
    (folder / "continuity-sites.yaml").write_text((folder / "continuity-sites.yaml").read_text() + "\n# edited\n")
    assert "uncommitted changes" in report_text(tmp_path, path, "--at", AT)


def test_the_repository_config_runs_no_program(tmp_path):
    """A policy folder's .git/config with `core.fsmonitor = CMD`, or a clean filter
    named in .gitattributes, made the report run CMD (through `git status`)."""
    folder = tmp_path / "repo"
    shutil.copytree(SHIPPED_DIR, folder)
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@e", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@e")
    for cmd in (["init", "-q"], ["add", "."], ["commit", "-qm", "policy"]):
        subprocess.run(["git", *cmd], cwd=folder, check=True, env=env)
    ran = tmp_path / "ran"
    subprocess.run(["git", "config", "core.fsmonitor", f"touch {ran}-fsmonitor; false"], cwd=folder, check=True)
    (folder / ".gitattributes").write_text("*.yaml filter=run\n")
    subprocess.run(["git", "config", "filter.run.clean", f"sh -c 'touch {ran}-filter; cat'"], cwd=folder, check=True)
    os.utime(folder / "policy.yaml", (1, 1))  # a changed stat makes `git status` read (and filter) the file
    html = report_text(tmp_path, str(folder / "policy.yaml"), "--at", AT)
    assert not list(tmp_path.glob("ran-*"))
    assert "clean working tree" in html


# -- scale: the summarised matrix ----------------------------------------------------------


def test_a_large_matrix_is_summarised_with_every_open_flow_listed(tmp_path):
    sys.path.insert(0, str(REPO / "bench"))
    import gen_policy

    params = gen_policy.Params(zones=30, services=100, destinations=3, stages=4, grants=300, seed=5)
    path, _, _ = gen_policy.write(params, str(tmp_path / "big.yaml"))
    html = report_text(tmp_path, path, "--at", "2026-06-01")
    policy, _ = validate(path, dt.date(2026, 6, 1))
    flows = resolve(policy, policy.stages[-1].id, dt.date(2026, 6, 1))
    assert 'class="cell' not in html and "<details class=\"open-flows\">" in html
    listed = re.findall(r'<tr data-row="([^"]+)" data-zone="([^"]+)">', html)
    expected = sorted((f.target, f.source) if f.direction == "egress" else (f.source, f.target) for f in flows.flows)
    assert sorted(listed) == expected


def test_stage_first_and_last(tmp_path):
    first = report_text(tmp_path, SHIPPED, "--at", AT, "--stage", "first")
    assert "What is open: <span class=\"id\">s0-isolation</span>" in first and 'data-open="1"' not in first
    last = report_text(tmp_path, SHIPPED, "--at", AT, "--stage", "last")
    assert last == report_text(tmp_path, SHIPPED, "--at", AT)


# -- with the observations of `egress blocked` and `egress usage` ---------------------------


def test_blocked_and_unused_sections_are_what_blocked_and_usage_say(tmp_path):
    import json

    from tests.test_observe import POLICY as OBSERVED, squid, ulogd

    policy = tmp_path / "policy.yaml"
    policy.write_text(OBSERVED)
    ulog = tmp_path / "ulog.json"
    ulog.write_text(
        ulogd("10.30.0.5", "198.51.100.50", 22) * 3 + ulogd("10.30.0.6", "198.51.100.50", 22)  # archive: no grant
        + ulogd("10.100.0.7", "203.0.113.5", 443) * 2  # partner, from another zone
        + "".join(ulogd(f"10.30.0.{i}", f"203.0.113.{i}", 8443) for i in range(1, 4)))  # partner, another port
    access = tmp_path / "access.log"
    access.write_text(squid("10.100.0.7", "www.other.example:443") * 2)  # refused: `web` carried nothing
    common = ["--stage", "s1-open", "--at", "2024-01-01"]
    out = tmp_path / "r.html"
    result = run("report", str(policy), "--out", str(out), *common, "--blocked", str(ulog), "--usage", str(access))
    assert result.exit_code == 0, result.output
    html = out.read_text()
    blocked = json.loads(run("blocked", str(policy), str(ulog), str(access), *common, "--format", "json").output)
    blocked_ulog = json.loads(run("blocked", str(policy), str(ulog), *common, "--format", "json").output)
    assert re.findall(r'<tr data-destination="([^"]+)">', html) == [f["destination"] for f in blocked_ulog["flows"]]
    assert len(blocked["flows"]) > len(blocked_ulog["flows"])  # --usage logs are not read as denials
    usage = json.loads(run("usage", str(policy), str(access), *common, "--format", "json").output)
    unused = [g["grant"] for g in usage["grants"] if g["observed"] and not g["used"]]
    assert unused == ["web"]
    assert re.findall(r'<tr data-grant="([^"]+)"><td class="id">', html) == unused
    assert "Not observed by these logs" in html and "partner-lab" in html
    assert "a service holds it, no grant" in html and "a grant opens it to other zones" in html
    french = run("report", str(policy), "--out", str(out), *common, "--lang", "fr", "--blocked", str(ulog))
    assert french.exit_code == 0 and "Flux bloqués" in out.read_text()


def test_a_log_of_no_known_format_exits_2(tmp_path):
    bogus = tmp_path / "bogus.log"
    bogus.write_text("hello\nworld\n")
    out = tmp_path / "r.html"
    assert run("report", SHIPPED, "--out", str(out), "--at", AT, "--blocked", str(bogus)).exit_code == 2
    assert run("report", SHIPPED, "--out", str(out), "--at", AT, "--usage", str(tmp_path / "missing.log")).exit_code == 2
    assert not out.exists()


def test_expiries_on_the_policy_clock_short_in_cells_full_in_tables(tmp_path):
    path = tmp_path / "tz.yaml"
    path.write_text("""\
egress: 1
policy: tz
timezone: Europe/Paris
zones:
  lab: {addresses: [10.30.0.0/24]}
services:
  partner: {destinations: [{address: 203.0.113.0/24}], ports: [tcp/443]}
  other: {destinations: [{address: 198.51.100.0/24}], ports: [tcp/22]}
stages:
  - id: s0
    date: 2024-01-01
    grants:
      - {id: by-date, from: lab, to: partner, reason: r, expires: 2024-01-20}
      - {id: by-instant, from: lab, to: other, reason: r, expires: "2024-01-15T18:00:00+01:00"}
""")
    html = report_text(tmp_path, str(path), "--at", "2024-01-10")
    assert "until 20 Jan 2024</span>" in html and "until 15 Jan 2024 18:00</span>" in html
    assert "2024-01-20 24:00 Europe/Paris (2024-01-20T23:00:00Z)" in html  # agenda and tooltips
    assert "Expiry days on the clock of Europe/Paris." in html
    agenda = re.findall(r'<tr data-grant="([^"]+)"><td>([^<]+)<br>', html)
    assert agenda == [("by-instant", "2024-01-15 18:00 Europe/Paris (2024-01-15T17:00:00Z)"),
                      ("by-date", "2024-01-20 24:00 Europe/Paris (2024-01-20T23:00:00Z)")]


def test_stages_and_expiries_at_the_ends_of_the_calendar(tmp_path):
    """A stage dated 9999-12-01 and a grant expiring 9999-12-30 overflowed the timeline's
    horizon and month ticks: exit 3 instead of a report."""
    path = tmp_path / "far.yaml"
    path.write_text(FAR_POLICY)
    for at in ("2023-07-01", "9999-12-31"):
        html = report_text(tmp_path, str(path), "--at", at)
        assert "s1-far" in html and "9999-12-30 24:00 UTC" in html


FAR_POLICY = """\
egress: 1
policy: far
zones:
  lab: {addresses: [10.30.0.0/24]}
services:
  partner: {destinations: [{address: 203.0.113.0/24}], ports: [tcp/443]}
stages:
  - {id: s0, date: 0001-01-01, grants: []}
  - id: s1-far
    date: 9999-12-01
    grants:
      - {id: g, from: lab, to: partner, reason: far, expires: 9999-12-30}
"""


def test_out_never_replaces_a_file_the_report_reads(tmp_path):
    """`--out policy.yaml` (or the lock file, an include, a log) replaced it by the HTML."""
    folder = tmp_path / "p"
    shutil.copytree(SHIPPED_DIR, folder)
    log = tmp_path / "access.log"
    log.write_text("")
    for out in ("policy.yaml", "policy.lock.yaml", "continuity-sites.yaml", "./policy.yaml", str(log)):
        target = (folder / out) if not out.startswith("/") else Path(out)
        before = target.read_bytes()
        result = CliRunner().invoke(main, ["report", str(folder / "policy.yaml"), "--at", AT,
                                           "--out", str(folder / out) if not out.startswith("/") else out,
                                           "--usage", str(log)])
        assert result.exit_code == 2, (out, result.output)
        assert "which the report reads" in result.output
        assert target.read_bytes() == before

"""`egress expiring` (egress/expiring.py): the agenda of grants that close by themselves.

The shipped policy has one temporary grant (pacs-remote-support, expires 2023-08-31);
its agenda at fixed dates is checked against the exact expected list and against the
golden files tests/golden/expiring-chu-rennes-2023-*.{txt,md} (regenerate with
EGRESS_UPDATE_GOLDEN=1 after a deliberate change). A small policy with several
expiries checks order, window bounds, revocations and escaping.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from egress import expiring as E
from egress.check import validate
from egress.cli import main
from egress.flows import resolve

REPO = Path(__file__).resolve().parent.parent
SHIPPED = str(REPO / "policies" / "chu-rennes-2023" / "policy.yaml")
GOLDEN = Path(__file__).resolve().parent / "golden"
UTC = dt.UTC

POLICY = """\
egress: 1
policy: t
zones:
  lab: {addresses: [10.30.0.0/24]}
  office: {addresses: [10.40.0.0/24]}
services:
  partner:
    destinations: [{address: 203.0.113.0/24}]
    ports: [tcp/443, tcp/8443]
  other:
    destinations: [{address: 198.51.100.0/24}]
    ports: [udp/53]
stages:
  - id: s0
    grants: []
  - id: s1
    grants:
      - id: late
        from: lab
        to: partner
        reason: "<script>alert(1)</script> | **bold** `code`"
        approved_by: cell
        ticket: T-1
        expires: 2024-01-10
      - id: soon
        from: [lab, office]
        to: other
        reason: soon
        expires: 2024-01-02
      - id: forever
        from: office
        to: partner
        reason: no expiry
      - id: revoked-one
        from: office
        to: other
        ports: [udp/53]
        reason: revoked before it expires
        expires: 2024-01-03
  - id: s2
    grants: []
    revoke: [revoked-one]
"""


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("EGRESS_UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert path.exists(), f"{path} missing: run with EGRESS_UPDATE_GOLDEN=1"
    assert text == path.read_text(), f"{name} differs from the golden file (EGRESS_UPDATE_GOLDEN=1 to update)"


@pytest.fixture
def small(tmp_path) -> str:
    path = tmp_path / "t.yaml"
    path.write_text(POLICY)
    return str(path)


def agenda(path: str, stage: str, start: dt.datetime, days: int = 14) -> E.Agenda:
    policy, _ = validate(path, start.date())
    return E.agenda(resolve(policy, stage, start.date()), start, dt.timedelta(days=days))


# -- the shipped policy: golden ------------------------------------------------------


def test_shipped_policy_agenda_is_exactly_the_pacs_support_grant():
    result = run("expiring", SHIPPED, "--at", "2023-08-20", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["stage"] == "s6-online-booking"
    assert doc["from"] == "2023-08-20T00:00:00+00:00" and doc["until"] == "2023-09-03T00:00:00+00:00"
    assert doc["expiring"] == [{
        "grant": "pacs-remote-support",
        "expires": "2023-09-01T00:00:00+00:00",
        "seconds_left": 12 * 86400,
        "stage": "s2-secure-messaging",
        "reason": "Remote support of the PACS vendor during the rebuild of the PACS servers",
        "requested_by": "Imaging department, PACS team",
        "approved_by": "Crisis cell with the CISO, decision of 2023-06-27",
        "ticket": "CRISE-2023-018",
        "flows": [{"from": "imaging", "to": "pacs-vendor-relay", "via": "direct", "direction": "egress",
                   "ports": ["tcp/443"]}],
    }]
    assert doc["expired"] == []


def test_shipped_policy_golden_text_and_markdown():
    text = run("expiring", SHIPPED, "--at", "2023-08-20")
    assert text.exit_code == 0
    golden("expiring-chu-rennes-2023-2023-08-20.txt", text.output)
    markdown = run("expiring", SHIPPED, "--at", "2023-08-20", "--format", "markdown")
    golden("expiring-chu-rennes-2023-2023-08-20.md", markdown.output)


@pytest.mark.parametrize("at, listed, expired", [
    ("2023-07-01", [], []),                         # more than 14 days ahead
    ("2023-08-18", ["pacs-remote-support"], []),    # closes at the end of day 14 of the window
    ("2023-08-17", [], []),                         # one day too early
    ("2023-08-31", ["pacs-remote-support"], []),    # closes tonight
    ("2023-09-01", [], ["pacs-remote-support"]),    # closed at the start of the window
])
def test_shipped_policy_window_bounds(at, listed, expired):
    doc = json.loads(run("expiring", SHIPPED, "--at", at, "--format", "json").output)
    assert [i["grant"] for i in doc["expiring"]] == listed
    assert [i["grant"] for i in doc["expired"]] == expired


def test_exit_code_says_whether_something_expires():
    assert run("expiring", SHIPPED, "--at", "2023-08-20", "--exit-code").exit_code == 1
    assert run("expiring", SHIPPED, "--at", "2023-07-01", "--exit-code").exit_code == 0
    assert run("expiring", SHIPPED, "--at", "2023-08-20").exit_code == 0


def test_stage_before_the_grant_has_nothing_to_expire():
    doc = json.loads(run("expiring", SHIPPED, "--at", "2023-08-20", "--stage", "s1-inbound-mail", "--format", "json").output)
    assert doc["stage"] == "s1-inbound-mail" and doc["expiring"] == []


def test_usage_errors_exit_2():
    assert run("expiring", SHIPPED, "--within", "3x").exit_code == 2
    assert run("expiring", SHIPPED, "--within", "-1d").exit_code == 2
    assert run("expiring", SHIPPED, "--stage", "nope").exit_code == 2
    assert run("expiring", SHIPPED, "--at", "2023-13-01").exit_code == 2
    assert run("expiring", SHIPPED, "--format", "html").exit_code == 2
    assert run("expiring", "/nonexistent/policy.yaml").exit_code == 2


# -- order, window, revocation --------------------------------------------------------


def test_sorted_by_instant_with_flows_and_revoked_left_out(small):
    a = agenda(small, "s2", dt.datetime(2024, 1, 1, tzinfo=UTC))
    assert [i.grant.id for i in a.items] == ["soon", "late"]
    assert [i.instant for i in a.items] == [dt.datetime(2024, 1, 3, tzinfo=UTC), dt.datetime(2024, 1, 11, tzinfo=UTC)]
    assert [(f.source, f.target) for f in a.items[0].flows] == [("lab", "other"), ("office", "other")]
    # revoked at s2: not in force, so not on the agenda; at s1 it is
    assert "revoked-one" in [i.grant.id for i in agenda(small, "s1", dt.datetime(2024, 1, 1, tzinfo=UTC)).items]


def test_window_is_open_at_start_and_closed_at_end(small):
    start = dt.datetime(2024, 1, 3, tzinfo=UTC)  # `soon` closed exactly at the start
    a = agenda(small, "s2", start, days=8)  # `late` closes exactly at the end
    assert [i.grant.id for i in a.items] == ["late"]
    assert a.expired == (("soon", start),)
    assert agenda(small, "s2", start, days=7).items == ()


def test_within_units():
    assert E.parse_within("14d") == E.parse_within("2w") == E.parse_within("14") == dt.timedelta(days=14)
    assert E.parse_within("36h") == dt.timedelta(hours=36)
    for bad in ("", "d", "1.5d", "1m", "14 days", "-1"):
        with pytest.raises(ValueError):
            E.parse_within(bad)


def test_markdown_shows_policy_text_as_text(small):
    out = run("expiring", small, "--at", "2024-01-01", "--format", "markdown").output
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "\\| \\*\\*bold\\*\\* \\`code\\`" in out
    # every table row keeps its 8 columns
    rows = [line for line in out.splitlines() if line.startswith("| 20")]
    assert len(rows) == 2 and all(row.count(" | ") == 7 for row in rows)


def test_a_window_past_the_last_date_ends_there_not_in_a_crash(small):
    """`--at 9999-12-25 --within 30d` overflowed the calendar: exit 3."""
    result = run("expiring", small, "--at", "9999-12-25", "--within", "30d", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["until"] == "9999-12-31T00:00:00+00:00"

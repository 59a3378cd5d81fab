"""`first` and `last` wherever a stage is taken; `diff OLD NEW` compares the last stages by
default; `stages --format json` lists the grants in force with their expiries."""

from __future__ import annotations

import json

from click.testing import CliRunner

from egress.cli import main
from tests.test_diff import BASE, SHIPPED, write

NEW_STAGE = BASE + """\
  - id: s3
    grants:
      - id: office-partner
        from: office
        to: partner
        ports: [tcp/8443]
        reason: new stage
        approved_by: crisis-cell
        ticket: CRISIS-99
        expires: 2023-12-31
"""


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_first_and_last_name_the_first_and_last_stages_in_every_command():
    by_name = run("compile", SHIPPED, "--stage", "last", "--target", "squid", "--at", "2023-07-01")
    by_id = run("compile", SHIPPED, "--stage", "s6-online-booking", "--target", "squid", "--at", "2023-07-01")
    assert by_name.exit_code == 0 and by_name.stdout == by_id.stdout
    first = run("query", SHIPPED, "--stage", "first", "--src", "10.10.0.5", "--dst", "203.0.113.70", "--port", "tcp/25",
                "--format", "json")
    assert first.exit_code == 1 and json.loads(first.stdout)["stage"] == "s0-isolation"
    last = run("query", SHIPPED, "--stage", "last", "--src", "10.10.0.5", "--dst", "203.0.113.70", "--port", "tcp/25",
               "--format", "json", "--at", "2023-07-01")
    assert last.exit_code == 0 and json.loads(last.stdout)["stage"] == "s6-online-booking"
    assert run("expiring", SHIPPED, "--stage", "last", "--at", "2023-08-20").exit_code == 0


def test_diff_of_two_stages_takes_first_and_last_and_shows_the_real_ids():
    result = run("diff", SHIPPED, "first", "last", "--format", "json", "--at", "2023-07-01")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["from"], data["to"]) == ("s0-isolation", "s6-online-booking")
    same = run("diff", SHIPPED, "last", "s6-online-booking", "--exit-code")
    assert same.exit_code == 0 and "no change" in same.stdout
    bad = run("diff", SHIPPED, "first", "lastt")
    assert bad.exit_code == 2 and "(or first, last)" in bad.output


def test_a_stage_named_last_keeps_its_meaning(tmp_path):
    text = BASE.replace("id: s1\n", "id: last\n")
    path = write(tmp_path, text)
    data = json.loads(run("diff", path, "first", "last", "--format", "json").stdout)
    assert [f["grant"] for f in data["opened"]] == ["to-partner"]  # the stage `last`, not s2


def test_a_version_diff_compares_the_last_stages_by_default(tmp_path):
    old, new = write(tmp_path / "old", BASE), write(tmp_path / "new", NEW_STAGE)
    result = CliRunner().invoke(main, ["diff", old, new, "--format", "json", "--at", "2023-07-01"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # new's s3 against old's s2: only what s3 adds, not everything s3 holds
    assert [f["grant"] for f in data["opened"]] == ["office-partner"] and data["closed"] == []
    assert data["stage"] == "s3"
    assert "comparing stage s3 of" in result.stderr and "with stage s2 of" in result.stderr
    explicit = json.loads(run("diff", old, new, "--stage", "last", "--format", "json", "--at", "2023-07-01").stdout)
    assert explicit["opened"] == data["opened"]
    # the old contract: the same stage id on both sides (s3 is new: it opens all it holds)
    at_s3 = json.loads(run("diff", old, new, "--stage", "s3", "--format", "json", "--at", "2023-07-01").stdout)
    assert {f["grant"] for f in at_s3["opened"]} == {"to-partner", "web", "office-partner"}
    assert run("diff", old, new, "--stage-dates").exit_code == 2
    stage_for_a_file = CliRunner().invoke(main, ["diff", old, "s2"])
    assert stage_for_a_file.exit_code == 2 and "'s2' is no policy file: give POLICY FROM TO" in stage_for_a_file.output


def test_stages_json_lists_the_grants_in_force_with_their_expiries(tmp_path):
    path = write(tmp_path, NEW_STAGE)
    rows = json.loads(run("stages", path, "--format", "json", "--at", "2023-07-01").stdout)
    assert [(r["id"], r["added"], r["revoked"], r["expired"], r["in_force"]) for r in rows] == [
        ("s0", 0, 0, 0, 0), ("s1", 1, 0, 0, 1), ("s2", 1, 0, 0, 2), ("s3", 1, 0, 0, 3)]
    last = rows[-1]["grants"]
    assert [g["id"] for g in last] == ["to-partner", "web", "office-partner"]
    assert last[2] == {"id": "office-partner", "stage": "s3", "expires": "2023-12-31 24:00 UTC (2024-01-01T00:00:00Z)", "reason": "new stage",
                       "requested_by": None, "approved_by": "crisis-cell", "ticket": "CRISIS-99"}
    later = json.loads(run("stages", path, "--format", "json", "--at", "2024-01-02").stdout)[-1]
    assert later["expired"] == 1 and later["expired_grants"] == [{"id": "office-partner", "expires": "2023-12-31 24:00 UTC (2024-01-01T00:00:00Z)"}]
    assert [g["id"] for g in later["grants"]] == ["to-partner", "web"]
    text = run("stages", path, "--at", "2023-07-01").stdout
    assert "office-partner (stage s3): until 2023-12-31 24:00 UTC (2024-01-01T00:00:00Z)" in text

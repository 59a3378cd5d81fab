"""Expiry instants (issue 11 items 1 and 6): parsing, timezones, the boundary, display.

A plain date closes a grant at the end of that day in the policy's `timezone:` (UTC when
absent); a date-time must carry its offset; `--at DATE` is 00:00 of that day; a grant is
closed when its expiry is at or before `--at`.
"""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest

from egress import instants
from egress.check import validate
from egress.flows import grants_in_force, resolve
from tests.test_cli_validate import ROOT, run
from tests.test_diagnostics import BASE, where, write

UTC = dt.UTC
PARIS = "Europe/Paris"


def expiring(value: str, timezone: str | None = None) -> str:
    """BASE with grant g-partner expiring at `value`, in `timezone`."""
    text = BASE.replace("        reason: Partner flow", f"        reason: Partner flow\n        expires: {value}")
    if timezone:
        text = text.replace("policy: base", f"policy: base\ntimezone: {timezone}")
    return text


def load(tmp_path, text: str, at=dt.date(2023, 7, 1)):
    policy, diagnostics = validate(str(write(tmp_path, text)), at)
    return policy, diagnostics


# -- parsing --------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("2023-09-30", dt.date(2023, 9, 30)),
    ("2023-09-30T18:00:00+02:00", dt.datetime(2023, 9, 30, 16, 0, tzinfo=UTC)),
    ("2023-09-30T18:00+02:00", dt.datetime(2023, 9, 30, 16, 0, tzinfo=UTC)),
    ("2023-09-30T16:00:00Z", dt.datetime(2023, 9, 30, 16, 0, tzinfo=UTC)),
    ("2023-09-30 16:00:00 -05:30", dt.datetime(2023, 9, 30, 21, 30, tzinfo=UTC)),
    ("2023-09-30t16:00:00z", dt.datetime(2023, 9, 30, 16, 0, tzinfo=UTC)),
])
def test_parse_forms(text, expected):
    got = instants.parse(text)
    assert got == expected and type(got) is type(expected)
    if isinstance(got, dt.datetime):
        assert got.utcoffset() is not None


@pytest.mark.parametrize("text, says", [
    ("2023-09-30T18:00:00", "has no UTC offset"),
    ("2023-09-30 18:00", "has no UTC offset"),
    ("2023-02-30", "no such day"),
    ("2023-09-30T25:00:00Z", "no such time"),
    ("2023-09-30T18:00:00+25:00", "offset"),
    ("31/12/2023", "is not a date or an instant"),
    ("2023-09-30T18:00:00.5Z", "is not a date or an instant"),
    ("2023-09-30\n", "is not a date or an instant"),
])
def test_parse_refusals_give_the_forms(text, says):
    with pytest.raises(instants.InstantError) as err:
        instants.parse(text)
    assert says in str(err.value) and instants.FORMS in str(err.value)


def test_yaml_datetime_objects_are_taken_aware_and_refused_naive():
    aware = dt.datetime(2023, 9, 30, 18, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert instants.expiry(aware, "UTC") == dt.datetime(2023, 9, 30, 16, tzinfo=UTC)
    assert instants.expiry(dt.date(2023, 9, 30), "UTC") == dt.datetime(2023, 10, 1, tzinfo=UTC)
    with pytest.raises(instants.InstantError, match="no UTC offset"):
        instants.expiry(dt.datetime(2023, 9, 30, 18), "UTC")
    with pytest.raises(instants.InstantError, match="no UTC offset"):
        instants.moment(dt.datetime(2023, 9, 30, 18), "UTC")


# -- timezones --------------------------------------------------------------------------


def test_the_same_plain_date_closes_at_two_instants(tmp_path):
    utc, diagnostics = load(tmp_path, expiring("2023-09-30"))
    assert diagnostics == []
    paris, diagnostics = load(tmp_path, expiring("2023-09-30", PARIS))
    assert diagnostics == []
    closes_utc = utc.grants["g-partner"].expires
    closes_paris = paris.grants["g-partner"].expires
    assert closes_utc == dt.datetime(2023, 10, 1, 0, 0, tzinfo=UTC)
    assert closes_paris == dt.datetime(2023, 9, 30, 22, 0, tzinfo=UTC)  # CEST, UTC+2
    assert instants.epoch(closes_utc) == 1696118400
    assert instants.epoch(closes_paris) == 1696111200
    assert paris.timezone == PARIS and utc.timezone == "UTC"
    # in winter Paris is UTC+1
    winter, _ = load(tmp_path, expiring("2023-12-31", PARIS))
    assert winter.grants["g-partner"].expires == dt.datetime(2023, 12, 31, 23, 0, tzinfo=UTC)


def test_an_offset_date_time_is_the_same_instant_whatever_the_timezone(tmp_path):
    a, _ = load(tmp_path, expiring("2023-09-30T18:00:00+02:00"))
    b, _ = load(tmp_path, expiring("2023-09-30T18:00:00+02:00", "America/New_York"))
    assert a.grants["g-partner"].expires == b.grants["g-partner"].expires == dt.datetime(2023, 9, 30, 16, tzinfo=UTC)


def test_at_date_is_midnight_in_the_policy_timezone(tmp_path):
    policy, _ = load(tmp_path, expiring("2023-09-30", PARIS))
    at = resolve(policy, "s1", dt.date(2023, 7, 1)).at
    assert at == dt.datetime(2023, 6, 30, 22, tzinfo=UTC)
    assert at.tzinfo == ZoneInfo(PARIS)


def test_unknown_timezone_is_positioned(tmp_path):
    text = BASE.replace("policy: base", "policy: base\ntimezone: Mars/Olympus")
    _, diagnostics = load(tmp_path, text)
    line, col = where(text, "Mars/Olympus")
    (d,) = diagnostics
    assert (d.code, d.line, d.column) == ("E143", line, col)
    assert "Mars/Olympus" in d.message and "Europe/Paris" in d.message


def test_timezone_of_bad_form_is_a_schema_error(tmp_path):
    text = BASE.replace("policy: base", "policy: base\ntimezone: '../../etc/passwd'")
    _, diagnostics = load(tmp_path, text)
    assert [d.code for d in diagnostics] == ["E112"]


# -- the policy: positioned refusals --------------------------------------------------


def test_naive_date_time_is_refused_at_its_value(tmp_path):
    text = expiring("2023-09-30T18:00:00")
    policy, diagnostics = load(tmp_path, text)
    line, col = where(text, "2023-09-30T18:00:00")
    (d,) = diagnostics
    assert (d.code, d.line, d.column) == ("E112", line, col)
    assert "no UTC offset" in d.message and "YYYY-MM-DD" in d.message and "+02:00" in d.message
    assert policy.grants["g-partner"].expires is None


@pytest.mark.parametrize("value", ["2023-09-30T18:00:00", "31/12/2023", "2023-02-30"])
def test_cli_validate_refuses_bad_expiry_with_exit_1(tmp_path, value):
    result = run("validate", str(write(tmp_path, expiring(value))))
    assert result.exit_code == 1
    assert "E112" in result.stdout and "YYYY-MM-DD" in result.stdout


# -- the boundary -----------------------------------------------------------------------


def test_expired_at_and_after_the_instant_not_before():
    closes = dt.datetime(2023, 9, 30, 16, tzinfo=UTC)
    assert not instants.expired(closes, closes - dt.timedelta(seconds=1))
    assert instants.expired(closes, closes)
    assert instants.expired(closes, closes + dt.timedelta(seconds=1))
    assert not instants.expired(None, closes)


def test_a_plain_date_is_in_force_all_that_day(tmp_path):
    policy, _ = load(tmp_path, expiring("2023-09-30", PARIS))

    def in_force(at) -> bool:
        return "g-partner" in {g.id for g in grants_in_force(policy, "s1", at)[0]}

    assert in_force(dt.date(2023, 9, 30))  # --at 2023-09-30: 00:00 that day
    assert in_force(instants.parse("2023-09-30T23:59:59+02:00"))
    assert not in_force(instants.parse("2023-10-01T00:00:00+02:00"))
    assert not in_force(dt.date(2023, 10, 1))
    assert in_force(instants.parse("2023-09-30T21:59:59Z"))
    assert not in_force(instants.parse("2023-09-30T22:00:00Z"))


def test_cli_at_accepts_a_date_time_and_refuses_a_naive_one(tmp_path):
    path = str(write(tmp_path, expiring("2023-09-30T18:00:00+02:00")))
    before = run("stages", path, "--at", "2023-09-30T17:59:59+02:00", "--format", "json")
    after = run("stages", path, "--at", "2023-09-30T16:00:00Z", "--format", "json")
    assert json.loads(before.stdout)[1]["expired"] == 0
    assert json.loads(after.stdout)[1]["expired"] == 1
    naive = run("stages", path, "--at", "2023-09-30T18:00:00")
    assert naive.exit_code == 2 and "no UTC offset" in naive.output
    assert run("stages", path, "--at", "2023-09-30").exit_code == 0


# -- display ----------------------------------------------------------------------------


def test_show_is_unambiguous():
    paris_end = instants.end_of_day(dt.date(2023, 9, 30), PARIS)
    assert instants.show(paris_end, end=True) == "2023-09-30 24:00 Europe/Paris (2023-09-30T22:00:00Z)"
    assert instants.show(paris_end) == "2023-10-01 00:00 Europe/Paris (2023-09-30T22:00:00Z)"
    at = instants.moment("2023-09-30T18:00:30+02:00", "UTC")
    assert instants.show(at) == "2023-09-30 16:00:30 UTC (2023-09-30T16:00:30Z)"
    assert instants.iso(paris_end) == "2023-09-30T22:00:00Z"


def test_every_output_shows_the_instant(tmp_path):
    path = str(write(tmp_path, expiring("2023-06-30", PARIS)))
    shown = "2023-06-30 24:00 Europe/Paris (2023-06-30T22:00:00Z)"
    compiled = run("compile", path, "--stage", "s1", "--target", "nftables", "--at", "2023-07-01")
    assert f"expired at {shown}; left out" in compiled.stderr
    assert f"# expired: g-partner ({shown})" in compiled.stdout
    assert "# at: 2023-07-01 00:00 Europe/Paris (2023-06-30T22:00:00Z)" in compiled.stdout
    query = run("query", path, "--stage", "s1", "--src", "10.0.0.5", "--dst", "203.0.113.9", "--port", "tcp/25",
                "--at", "2023-07-01")
    assert query.exit_code == 1 and f"expired at {shown}" in query.stdout
    diff = run("diff", path, "s0", "s1", "--at", "2023-07-01")
    assert f"note: grant g-partner expired at {shown}" in diff.stdout


def test_manifest_records_at_in_utc(tmp_path):
    path = str(write(tmp_path, expiring("2023-09-30", PARIS)))
    out = tmp_path / "build"
    assert run("compile", path, "--all-stages", "--out", str(out), "--at", "2023-07-01").exit_code == 0
    manifest = json.loads((out / "s1" / "manifest.json").read_text())
    assert manifest["at"] == "2023-06-30T22:00:00Z"


# -- W105: history is not deleted -------------------------------------------------------


def test_w105_advises_to_revoke_not_to_delete(tmp_path):
    _, diagnostics = load(tmp_path, expiring("2023-06-30"))
    (d,) = diagnostics
    assert d.code == "W105"
    assert "2023-06-30 24:00 UTC (2023-07-01T00:00:00Z) (less than a day ago)" in d.message
    assert "revoke it at a later stage" in d.message
    assert "remove" not in d.message and "extend" not in d.message
    from egress.diagnostics import CATALOGUE

    assert "remove" not in CATALOGUE["W105"][1] and "extend" not in CATALOGUE["W105"][1]


def test_w105_is_news_for_14_days_then_silent(tmp_path):
    text = expiring("2023-06-30")
    assert [d.code for d in load(tmp_path, text, at=dt.date(2023, 7, 14))[1]] == ["W105"]
    assert "13 days ago" in load(tmp_path, text, at=dt.date(2023, 7, 14))[1][0].message
    assert load(tmp_path, text, at=dt.date(2023, 7, 15))[1] == []


def test_w105_is_silent_once_a_later_stage_revokes_it(tmp_path):
    text = expiring("2023-06-30") + "  - id: s2\n    date: 2023-07-02\n    grants: []\n    revoke: [g-partner]\n"
    _, diagnostics = load(tmp_path, text)
    assert diagnostics == []


def test_w106_counts_to_the_instant(tmp_path):
    _, diagnostics = load(tmp_path, expiring("2023-07-10"))
    (d,) = diagnostics
    assert d.code == "W106" and "closes at 2023-07-10 24:00 UTC" in d.message and "(in 10 days)" in d.message


def test_expiring_reads_plain_dates_in_the_policy_timezone(tmp_path):
    path = str(write(tmp_path, expiring("2023-09-30", PARIS)))
    doc = json.loads(run("expiring", path, "--at", "2023-09-30", "--format", "json").stdout)
    assert [(i["grant"], i["seconds_left"]) for i in doc["expiring"]] == [("g-partner", 86400)]
    text = run("expiring", path, "--at", "2023-09-30").stdout
    assert "2023-09-30 24:00 Europe/Paris (2023-09-30T22:00:00Z) (in 1 day)  g-partner" in text
    assert "between 2023-09-30 00:00 Europe/Paris (2023-09-29T22:00:00Z)" in text


def test_shipped_policies_validate_clean_without_at():
    result = run("validate", str(ROOT / "policies"), str(ROOT / "examples"), "--strict")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""


def test_compile_without_at_is_the_same_all_day(tmp_path):
    path = str(write(tmp_path, expiring("2099-09-30", PARIS)))
    first = run("compile", path, "--stage", "s1", "--target", "nftables")
    second = run("compile", path, "--stage", "s1", "--target", "nftables")
    assert first.exit_code == 0 and first.stdout == second.stdout
    (line,) = [x for x in first.stdout.splitlines() if x.startswith("# at: ")]
    assert " 00:00 Europe/Paris (" in line


# -- the ends of the calendar: a clear refusal, never an internal error ------------------


@pytest.mark.parametrize("at", ["0001-01-01", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00"])
@pytest.mark.parametrize("command", ["stages", "validate", "expiring"])
def test_cli_at_at_the_ends_of_the_calendar_is_a_usage_error(tmp_path, at, command):
    path = str(write(tmp_path, expiring("2023-09-30", PARIS)))
    result = run(command, path, "--at", at)
    assert result.exit_code == 2, result.output
    assert "out of range" in result.output and "internal error" not in result.output
    assert run(command, path, "--at", "9999-12-31").exit_code in (0, 1)  # starts in Paris: judged


@pytest.mark.parametrize("value", ["9999-12-31", "9999-12-31T23:59:59-12:00"])
def test_expiry_at_the_ends_of_the_calendar_is_positioned(tmp_path, value):
    text = expiring(value, PARIS)
    _, diagnostics = load(tmp_path, text)
    line, col = where(text, value)
    (d,) = diagnostics
    assert (d.code, d.line, d.column) == ("E112", line, col)
    assert "out of range" in d.message
    result = run("validate", str(write(tmp_path, text)))
    assert result.exit_code == 1 and "E112" in result.stdout


def test_forms_say_what_a_date_means_for_expires_and_for_at():
    assert "the end of that day" not in instants.FORMS.split("expires")[0]
    assert "expires" in instants.FORMS and "--at" in instants.FORMS

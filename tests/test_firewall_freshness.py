"""Signature freshness (egress/firewall/freshness.py): a validly signed but older bundle
is refused as a replay unless `--allow-older`. The kernel-side test, with real keys and
applies in a namespace, is tests/test_apply_addons.py::test_an_older_signed_bundle_is_refused_as_a_replay."""

from __future__ import annotations

import datetime as dt

import pytest

from egress.firewall import freshness
from egress.firewall.errors import Refused
from egress.firewall.state import NewestSigned, Record, State

NEWEST = NewestSigned(signed_at="2026-12-01T10:00:00Z", policy="p", stage="s3", sha256="ab" * 32, signer="cell")


def test_older_is_refused_same_or_newer_passes():
    with pytest.raises(Refused, match=r"signed at 2026-12-01T09:59:59Z, before the newest signed bundle applied "
                                      r"here, signed at 2026-12-01T10:00:00Z \(p stage s3 .*, by cell\).*replay.*"
                                      r"--allow-older"):
        freshness.check(NEWEST, "2026-12-01T09:59:59Z", allow_older=False)
    assert freshness.check(NEWEST, "2026-12-01T10:00:00Z", allow_older=False) is None  # the same approval again
    assert freshness.check(NEWEST, "2026-12-02T00:00:00Z", allow_older=False) is None
    assert freshness.check(None, "2020-01-01T00:00:00Z", allow_older=False) is None  # first signed apply
    assert freshness.check(NEWEST, None, allow_older=False) is None  # unsigned apply: nothing to compare
    note = freshness.check(NEWEST, "2026-11-30T00:00:00Z", allow_older=True)
    assert note and note.endswith("applied with --allow-older")


def test_the_newest_only_moves_forward():
    older = Record(policy="p", stage="s1", sha256="cd" * 32, signer="cell", signed_at="2026-11-30T00:00:00Z")
    newer = Record(policy="p", stage="s4", sha256="ef" * 32, signer="cell", signed_at="2026-12-02T00:00:00Z")
    assert freshness.newest(NEWEST, older) is NEWEST  # applied with --allow-older: the newest stays
    assert freshness.newest(NEWEST, Record(stage="unsigned")) is NEWEST
    assert freshness.newest(NEWEST, newer) == NewestSigned("2026-12-02T00:00:00Z", "p", "s4", "ef" * 32, "cell")
    assert freshness.newest(None, older) == NewestSigned("2026-11-30T00:00:00Z", "p", "s1", "cd" * 32, "cell")


def test_a_signing_time_ahead_of_the_clock_is_warned_about():
    now = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
    assert freshness.ahead("2026-12-01T10:04:00Z", now) is None
    assert "ahead of this firewall's clock" in (freshness.ahead("2026-12-01T11:00:00Z", now) or "")
    assert freshness.ahead(None, now) is None


def test_the_state_keeps_the_newest_signed_and_checks_it():
    state = State(netns="net:[1]", boot_id="b", newest_signed=NEWEST)
    assert State.from_json(state.to_json()) == state
    doc = state.to_json()
    del doc["newest_signed"]  # a state file of the previous egress
    assert State.from_json(doc).newest_signed is None
    from egress.firewall.state import StateError

    with pytest.raises(StateError, match="newest_signed"):
        State.from_json(dict(state.to_json(), newest_signed=dict(state.to_json()["newest_signed"],
                                                                 signed_at="tomorrow")))

"""Signature freshness: a validly signed but older bundle is a replay, refused.

A signature says that an approver approved a stage; it does not say that this approval
is still the current one. Whoever can write to the bundle folder (a compromised build
server, a copy on a shared drive) could put back an older signed stage: one that opened
more, or a version whose grant the crisis cell has revoked since. So `egress sign`
signs its time with the manifest (signing.py), and `egress apply --allowed-signers`
remembers in the state directory the newest signing time it has applied
(`newest_signed`), and refuses a bundle signed before it, unless `--allow-older` says
that going back is meant (the audit line then says so).

A rollback puts back a saved table without looking at signatures (it is local, and the
saved table was checked when it was applied), so it is not affected, and it does not
lower the newest time: what a rollback undid stays the newest approval. Times are UTC
to the second, in one fixed format, so they compare as text; two bundles signed in the
same second are not older than one another. Unsigned applies (no --allowed-signers)
neither read nor change the newest time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict

from egress.firewall.errors import Refused
from egress.firewall.render import describe
from egress.firewall.state import NewestSigned, Record

AHEAD = dt.timedelta(minutes=5)
"""A signing time further than this ahead of the firewall's clock gets a warning."""


def check(newest: NewestSigned | None, signed_at: str | None, allow_older: bool) -> str | None:
    """Refused when `signed_at` is older than the newest applied, unless `allow_older`;
    returns the note (for the output and the audit) of an older bundle allowed."""
    if signed_at is None or newest is None or signed_at >= newest.signed_at:
        return None
    newest_text = f"{newest.signed_at} ({describe(asdict(newest))}{f', by {newest.signer}' if newest.signer else ''})"
    if not allow_older:
        raise Refused(f"signed at {signed_at}, before the newest signed bundle applied here, signed at "
                      f"{newest_text}: an older approval (a replay?); refused; give --allow-older to go back "
                      "to it on purpose")
    return f"signed at {signed_at}, before the newest signed bundle applied here, signed at {newest_text}: " \
           "applied with --allow-older"


def ahead(signed_at: str | None, now: dt.datetime | None = None) -> str | None:
    """A warning when `signed_at` lies ahead of this clock: a later signature made with
    the right time would be refused as older."""
    if signed_at is None:
        return None
    instant = dt.datetime.strptime(signed_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    if instant - (now or dt.datetime.now(dt.UTC)) <= AHEAD:
        return None
    return (f"signed at {signed_at}, ahead of this firewall's clock: check the clocks of the approver and of "
            "this firewall (a signature made later with the right time would be refused as older)")


def newest(current: NewestSigned | None, record: Record) -> NewestSigned | None:
    """The newest signed bundle once `record` is applied."""
    if record.signed_at is None or (current is not None and current.signed_at >= record.signed_at):
        return current
    return NewestSigned(signed_at=record.signed_at, policy=record.policy, stage=record.stage, sha256=record.sha256,
                        signer=record.signer)

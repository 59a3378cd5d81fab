"""`egress stages`: the stages of a policy as data, and its text table.

For each stage: what it adds and revokes, what has expired by `at`, and the grants in
force there with their expiries (the crisis cell's question "what is open at this
stage, and until when?"). Computed from `egress.flows.resolve`, like every reader of the
stages; `cli.py` only picks the format.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from egress import instants
from egress.flows import resolve
from egress.model import Grant, Policy


def _day(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _instant(value: dt.datetime | None) -> str | None:
    return instants.show(value, end=True) if value is not None else None


@dataclass(frozen=True)
class StageRow:
    """One stage: its counts (the contract's keys) and the grants in force."""

    id: str
    date: dt.date | None
    title: str | None
    added: int
    revoked: int
    expired: int
    in_force: int
    grants: tuple[Grant, ...]  # in force, in the order of the policy
    expired_grants: tuple[tuple[str, dt.datetime], ...]  # (id, expiry instant) of grants left out

    def as_json(self) -> dict:
        """The keys of `stages --format json` (counts first; keys are only added)."""
        return {
            "id": self.id,
            "date": _day(self.date),
            "title": self.title,
            "added": self.added,
            "revoked": self.revoked,
            "expired": self.expired,
            "in_force": self.in_force,
            "grants": [
                {
                    "id": g.id,
                    "stage": g.stage,
                    "expires": _instant(g.expires),
                    "reason": g.reason,
                    "requested_by": g.requested_by,
                    "approved_by": g.approved_by,
                    "ticket": g.ticket,
                }
                for g in self.grants
            ],
            "expired_grants": [{"id": gid, "expires": _instant(expiry)} for gid, expiry in self.expired_grants],
        }


def stage_rows(policy: Policy, at: dt.date | dt.datetime) -> list[StageRow]:
    """Every stage of `policy`, judged at `at`."""
    rows = []
    for stage in policy.stages:
        flows = resolve(policy, stage.id, at)
        rows.append(
            StageRow(
                id=stage.id,
                date=stage.date,
                title=stage.title,
                added=len(stage.grants),
                revoked=len(stage.revoke),
                expired=len(flows.expired),
                in_force=len(flows.grants),
                grants=flows.grants,
                expired_grants=tuple(sorted(flows.expired.items())),
            )
        )
    return rows


def render_text(rows: list[StageRow]) -> str:
    """The table: index, id, date, added, revoked, expired, in force, title; then the
    grants in force that expire, each once (the others stay open until revoked)."""
    width = max((len(r.id) for r in rows), default=5)
    lines = [f"{'#':>2}  {'stage':<{width}}  {'date':<10}  {'+':>3} {'-':>3} {'exp':>3} {'force':>5}  title"]
    for index, row in enumerate(rows):
        lines.append(
            f"{index:>2}  {row.id:<{width}}  {_day(row.date) or '-':<10}  {row.added:>3} {row.revoked:>3} "
            f"{row.expired:>3} {row.in_force:>5}  {row.title or ''}"
        )
    closing = {g.id: g for row in rows for g in row.grants if g.expires is not None}
    if closing:
        lines += ["", "grants in force that expire:"]
        lines += [f"  {g.id} (stage {g.stage}): until {_instant(g.expires)}" for g in closing.values()]
    return "\n".join(lines) + "\n"

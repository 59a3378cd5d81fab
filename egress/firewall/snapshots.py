"""Snapshots: what was in force before an apply, saved so that a rollback can put it back.

    snapshots/<id>/ruleset.nft    reload script of table inet egress (absent: there was none)
    snapshots/<id>/deny-all.nft   when there was none: the deny-all table that a rollback loads
    snapshots/<id>/squid-include  the include file in place (with --squid-include, if any)
    snapshots/<id>/dnsmasq-include the dnsmasq feed in place (with --dnsmasq-include, if any)
    snapshots/<id>/meta.json      what it holds (state.Snapshot)

What a rollback restores: the table `inet egress` exactly as listed at the moment of the
apply, including the elements of its sets *at that moment*, the counters too; or no table
at all if there was none *only* when asked explicitly (`egress rollback --allow-no-table`):
otherwise, and always for an automatic rollback, a deny-all table (nft.deny_all_script,
built from the applied bundle's own base chains) takes the place of "nothing", so that a
rollback never leaves the perimeter without filtering. Elements that dnsmasq added to dynamic sets after the apply are
dropped on purpose, except in the sets that hold the same hosts under both stages (see
`restore`): they were added under the rolled-back stage, whose hosts may not be allowed
by the restored one. dnsmasq adds the
addresses of the restored stage's hosts again at the next lookup. With `--squid-include`
the include file is put back as it was and Squid reconfigured; if there was none, a
closed include (`http_access deny all`) takes its place. With `--dnsmasq-include` the feed
is put back as it was (an empty feed if there was none) and dnsmasq restarted.
"""

from __future__ import annotations

import datetime as dt
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from egress.atomic import write_atomically
from egress.firewall import host, safeio
from egress.firewall.dnsmasq import EMPTY_FEED, Dnsmasq
from egress.firewall.errors import ApplyError, Refused, first_lines
from egress.firewall.nft import Nft, carry_dynamic_elements, deny_all_script, restore_script
from egress.firewall.squid import CLOSED_INCLUDE, Squid
from egress.firewall.state import DnsmasqSaved, Record, Snapshot, SquidSaved
from egress.firewall.store import Store


def new_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


DENY_ALL_WHY = "fail closed: no table inet egress was in force before the apply that was rolled back"


@dataclass(frozen=True)
class Restored:
    """What a restore did: `loaded` is "table" (the saved one), "deny-all" or "none"."""

    nft_ok: bool
    problems: list[str]
    loaded: str


def take(store: Store, nft: Nft, squid: Squid | None, current: Record | None, ruleset: str = "",
         dnsmasq: Dnsmasq | None = None) -> Snapshot:
    """Save what is in force into snapshots/<id>/ and check that it reloads. When there is
    no table, the deny-all table built from `ruleset` (the text of the egress.nft being
    applied) is saved and checked instead."""
    snap_id = new_id()
    folder = store.snapshot_dir(snap_id)
    folder.mkdir(parents=True, mode=0o700)
    taken_at = host.utc_now()
    listing = nft.list_table()
    if listing is not None:
        script = folder / "ruleset.nft"
        write_atomically(script, restore_script(listing, taken_at).encode(), mode=0o600)
        cp = nft.run("-c", "-f", str(script), check=False)
        if cp.returncode:
            shutil.rmtree(folder, ignore_errors=True)
            raise Refused(
                "the ruleset in force cannot be saved for a rollback (nft does not reload its own listing: "
                f"{first_lines(cp.stderr)}); nothing was changed")
    else:
        script = folder / "deny-all.nft"
        write_atomically(script, deny_all_script(ruleset, DENY_ALL_WHY).encode(), mode=0o600)
        cp = nft.run("-c", "-f", str(script), check=False)
        if cp.returncode:
            shutil.rmtree(folder, ignore_errors=True)
            raise Refused(f"the deny-all table for a rollback does not load ({first_lines(cp.stderr)}); nothing was changed")
    saved = None
    if squid is not None:
        data = squid.read()
        saved = SquidSaved(include=str(squid.include), conf=str(squid.conf) if squid.conf else None,
                           existed=data is not None)
        if data is not None:
            write_atomically(folder / "squid-include", data, mode=0o600)
    feed = None
    if dnsmasq is not None:
        data = dnsmasq.read()
        feed = DnsmasqSaved(include=str(dnsmasq.include), conf=str(dnsmasq.conf) if dnsmasq.conf else None,
                            restart=dnsmasq.restart_command, existed=data is not None)
        if data is not None:
            write_atomically(folder / "dnsmasq-include", data, mode=0o600)
    snapshot = Snapshot(id=snap_id, taken_at=taken_at, table=listing is not None,
                        current=current if listing is not None else None, squid=saved, deny_all=listing is None,
                        dnsmasq=feed)
    write_atomically(folder / "meta.json", snapshot.to_bytes(), mode=0o600)
    return snapshot


def restore(store: Store, nft: Nft, snapshot: Snapshot, rolled_back: Record | None = None,
            allow_no_table: bool = False) -> Restored:
    """Put a snapshot back: the nftables table first (the part that matters most), then
    the Squid include. A snapshot of "no table" loads the deny-all table, unless
    `allow_no_table` (then the table is deleted).

    When the table being replaced and the snapshot come from the same compilation of a
    policy (policy, revision, compiler and `at`: the same plan of the dynamic sets), the
    live elements of the dynamic sets that NEITHER ruleset empties on load are carried
    over into the restored table, in the same transaction: such a set is at its widest
    in both stages, so it holds the addresses of the same host names in both, and
    dnsmasq does not re-add an address it answers from its cache (losing them could
    block a host for a whole TTL). A set that either stage empties (it holds fewer
    services there) is restored exactly as saved: carrying into it would open, at the
    restored stage, hosts that only the rolled-back stage opens. Otherwise (another
    plan, or a record that does not say which sets its file empties) the snapshot is
    restored exactly. A merged script that `nft -c` refuses falls back to the exact one."""
    problems = []
    nft_ok = True
    loaded = "table" if snapshot.table else "none" if allow_no_table else "deny-all"
    try:
        if snapshot.table:
            script = store.snapshot_file(snapshot.id, "ruleset.nft")
            merged = _merged_script(nft, script, snapshot.current, rolled_back)
            nft.load(merged or script)
        elif allow_no_table:
            nft.delete_table()
        else:
            nft.load(_deny_all(store, snapshot))
    except ApplyError as err:
        nft_ok = False
        problems.append(f"nftables: {err}")
    if snapshot.squid:
        saved = snapshot.squid
        squid = Squid(Path(saved.include), Path(saved.conf) if saved.conf else None)
        try:
            data = safeio.read_regular(store.snapshot_file(snapshot.id, "squid-include")) if saved.existed \
                else CLOSED_INCLUDE
            baseline = squid.baseline()
            squid.write(data)
            squid.parse(baseline)
            squid.reconfigure()
        except (ApplyError, OSError) as err:
            problems.append(f"squid: {err}")
    if snapshot.dnsmasq:
        kept = snapshot.dnsmasq
        dnsmasq = Dnsmasq(Path(kept.include), Path(kept.conf) if kept.conf else None, kept.restart)
        try:
            dnsmasq.restore(safeio.read_regular(store.snapshot_file(snapshot.id, "dnsmasq-include")) if kept.existed
                            else EMPTY_FEED)
        except (ApplyError, OSError) as err:
            problems.append(f"dnsmasq: {err}")
    return Restored(nft_ok, problems, loaded)


def _deny_all(store: Store, snapshot: Snapshot) -> Path:
    """The snapshot's deny-all script; a generic one (forward hook) for a snapshot saved
    without it, by an older egress."""
    script = store.snapshot_file(snapshot.id, "deny-all.nft")
    if not snapshot.deny_all:
        write_atomically(script, deny_all_script("", DENY_ALL_WHY).encode(), mode=0o600)
    return script


def _merged_script(nft: Nft, script: Path, saved: Record | None, rolled_back: Record | None) -> Path | None:
    emptied = saved.emptied_by_either(rolled_back) if saved else None
    if emptied is None:
        return None
    try:
        live = nft.list_table()
        if not live:
            return None
        text = safeio.read_regular(script).decode()
        extra = carry_dynamic_elements(text, live, emptied)
        if not extra:
            return None
        merged = script.with_name("ruleset-merged.nft")
        write_atomically(merged, (text + "# elements that dnsmasq added to the dynamic sets since, kept\n" + extra).encode(), mode=0o600)
        return merged if nft.run("-c", "-f", str(merged), check=False).returncode == 0 else None
    except (ApplyError, OSError):
        return None

"""Snapshots: what was in force before an apply, saved so that a rollback can put it back.

    snapshots/<id>/ruleset.nft    reload script of table inet egress (absent: there was none)
    snapshots/<id>/squid-include  the include file in place (with --squid-include, if any)
    snapshots/<id>/dnsmasq-include the dnsmasq feed in place (with --dnsmasq-include, if any)
    snapshots/<id>/meta.json      what it holds (state.Snapshot)

What a rollback restores: the table `inet egress` exactly as listed at the moment of the
apply, including the elements of its sets *at that moment*, the counters too; or no table
at all if there was none. Elements that dnsmasq added to dynamic sets after the apply are
dropped on purpose when the policy revision differs: they were added under the
rolled-back stage, whose hosts may not be allowed by the restored one. dnsmasq adds the
addresses of the restored stage's hosts again at the next lookup. With `--squid-include`
the include file is put back as it was and Squid reconfigured; if there was none, a
closed include (`http_access deny all`) takes its place. With `--dnsmasq-include` the feed
is put back as it was (an empty feed if there was none) and dnsmasq restarted.
"""

from __future__ import annotations

import datetime as dt
import secrets
import shutil
from pathlib import Path

from egress.atomic import write_atomically
from egress.firewall import host
from egress.firewall.dnsmasq import EMPTY_FEED, Dnsmasq
from egress.firewall.errors import ApplyError, Refused, first_lines
from egress.firewall.nft import Nft, carry_dynamic_elements, restore_script
from egress.firewall.squid import CLOSED_INCLUDE, Squid
from egress.firewall.state import DnsmasqSaved, Record, Snapshot, SquidSaved
from egress.firewall.store import Store


def new_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def take(store: Store, nft: Nft, squid: Squid | None, current: Record | None,
         dnsmasq: Dnsmasq | None = None) -> Snapshot:
    """Save what is in force into snapshots/<id>/ and check that it reloads."""
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
                        current=current if listing is not None else None, squid=saved, dnsmasq=feed)
    write_atomically(folder / "meta.json", snapshot.to_bytes(), mode=0o600)
    return snapshot


def restore(store: Store, nft: Nft, snapshot: Snapshot, rolled_back: Record | None = None) -> tuple[bool, list[str]]:
    """Put a snapshot back: the nftables table first (the part that matters most), then
    the Squid include. Returns (nftables restored, problems).

    When the table being replaced and the snapshot come from the same policy revision
    (same services, so a dynamic set `dyn_<service>` holds the addresses of the same
    host names in both), the live elements of the dynamic sets are carried over into
    the restored table, in the same transaction: dnsmasq does not re-add an address it
    answers from its cache, so losing them could block a host for a whole TTL. Between
    different revisions the snapshot is restored exactly. A merged script that `nft -c`
    refuses falls back to the exact one."""
    folder = store.snapshot_dir(snapshot.id)
    problems = []
    nft_ok = True
    try:
        if snapshot.table:
            script = folder / "ruleset.nft"
            merged = _merged_script(nft, script, snapshot.current, rolled_back)
            nft.load(merged or script)
        else:
            nft.delete_table()
    except ApplyError as err:
        nft_ok = False
        problems.append(f"nftables: {err}")
    if snapshot.squid:
        saved = snapshot.squid
        squid = Squid(Path(saved.include), Path(saved.conf) if saved.conf else None)
        try:
            data = (folder / "squid-include").read_bytes() if saved.existed else CLOSED_INCLUDE
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
            dnsmasq.restore((folder / "dnsmasq-include").read_bytes() if kept.existed else EMPTY_FEED)
        except (ApplyError, OSError) as err:
            problems.append(f"dnsmasq: {err}")
    return nft_ok, problems


def _merged_script(nft: Nft, script: Path, saved: Record | None, rolled_back: Record | None) -> Path | None:
    if not (saved and saved.same_revision(rolled_back)):
        return None
    try:
        live = nft.list_table()
        if not live:
            return None
        text = script.read_text()
        extra = carry_dynamic_elements(text, live)
        if not extra:
            return None
        merged = script.with_name("ruleset-merged.nft")
        write_atomically(merged, (text + "# elements that dnsmasq added to the dynamic sets since, kept\n" + extra).encode(), mode=0o600)
        return merged if nft.run("-c", "-f", str(merged), check=False).returncode == 0 else None
    except (ApplyError, OSError):
        return None

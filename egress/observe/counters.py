"""The firewall's per-grant counters, read from the nftables ruleset in force.

The sets of the ruleset carry a counter per element (`egress.targets.nftables`, section
"Counters"), and `nftables.grant_counters(flows, listing)` sums them per grant from the
JSON of `nft -j list table inet egress`. This module only gets that JSON, from a file, from
standard input, or from the kernel (`--live`: `nft -j list table inet egress`, as root on
the firewall), and keeps the grants it can speak for:

- direct grants (egress and ingress): their elements are theirs (an element that several
  grants open counts for each);
- not the proxied grants: their firewall elements are the way to the proxy and from the
  proxy to the web, shared by every proxied grant of a zone; Squid's access.log says which
  names were asked, so `usage` takes their traffic from there.

Counters run from the moment the ruleset was loaded (`egress apply` loads a fresh one):
"no packet" means no packet since then. The counters must be those of the stage given:
a ruleset of another stage counts other elements.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field

from egress.flows import StageFlows
from egress.observe.inputs import LogError
from egress.targets import nftables

LIST = ["nft", "-j", "list", "table", "inet", "egress"]


@dataclass
class FirewallCounts:
    """packets and bytes per direct grant; `covered`: the grants they speak for."""

    source: str
    per_grant: dict[str, tuple[int, int]] = field(default_factory=dict)
    covered: set[str] = field(default_factory=set)


def load_listing(path: str | None, live: bool) -> tuple[dict, str]:
    """(the parsed `nft -j` listing, where it came from). `LogError` if unreadable."""
    if live:
        try:
            done = subprocess.run(LIST, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise LogError(f"cannot run {' '.join(LIST)}: {err}") from None
        if done.returncode != 0:
            raise LogError(f"{' '.join(LIST)} failed: {done.stderr.strip() or done.returncode} "
                           "(run as root on the firewall, with the egress table loaded)")
        text, source = done.stdout, "nft -j list table inet egress"
    else:
        assert path is not None
        source = "<stdin>" if path == "-" else path
        try:
            if path == "-":
                text = sys.stdin.read()
            else:
                with open(path, encoding="utf-8", errors="replace") as handle:
                    text = handle.read()
        except OSError as err:
            raise LogError(f"{source}: cannot read: {err.strerror or err}") from None
    try:
        listing = json.loads(text)
    except ValueError as err:
        raise LogError(f"{source}: not the JSON of `{' '.join(LIST)}` ({err})") from None
    if not isinstance(listing, dict) or not isinstance(listing.get("nftables"), list):
        raise LogError(f"{source}: not the JSON of `{' '.join(LIST)}` (no \"nftables\" list)")
    if not any(isinstance(i, dict) and i.get("table", {}).get("name") == nftables.TABLE for i in listing["nftables"]):
        raise LogError(f"{source}: holds no table inet {nftables.TABLE}; list it with `{' '.join(LIST)}`")
    return listing, source


def firewall_counts(flows: StageFlows, listing: dict, source: str) -> FirewallCounts:
    """The counters of the direct grants of the stage, from a listing."""
    totals = nftables.grant_counters(flows, listing)
    direct = {g.id for g in flows.grants if g.via == "direct"}
    counts = FirewallCounts(source, covered=direct)
    for gid in sorted(direct):
        found = totals.get(gid, {})
        counts.per_grant[gid] = (found.get("packets", 0), found.get("bytes", 0))
    return counts

"""The targets: one module each, a function from `StageFlows` to the text of one file.

Adding a target means adding a module with a `render(flows) -> str` function and one
line in `TARGETS`. No target imports another.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    name: str
    module: str
    filename: str

    def render(self, flows) -> str:
        return importlib.import_module(self.module).render(flows)


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("nftables", "egress.targets.nftables", "egress.nft"),
        Target("squid", "egress.targets.squid", "squid-egress.conf"),
        Target("dnsmasq", "egress.targets.dnsmasq", "dnsmasq-egress.conf"),
    )
}

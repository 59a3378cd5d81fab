"""Unit tests of the dnsmasq target (egress/targets/dnsmasq.py).

Policies come from the factory of test_nftables.py. Golden files: see that module
(`EGRESS_UPDATE_GOLDEN=1 python -m pytest tests/test_nftables.py tests/test_dnsmasq.py`).
"""

from __future__ import annotations

import re
import subprocess

import pytest

from egress.flows import resolve
from egress.targets import dnsmasq, nftables
from egress.targets.names import NAME_MAX
from tests.test_nftables import AT, _golden, grant, make_policy, minimal_flows

ZONES = {"mail": ["192.0.2.24/29"], "ws": ["10.100.0.0/16"], "proxy": ["10.0.0.3"]}
SERVICES = {
    "relay": (["host:smtp2.relay.example", "host:smtp1.relay.example", "address:203.0.113.25"], ["tcp/25"]),
    "webmail": (["host:smtp1.relay.example", "host:www.relay.example"], ["tcp/443"]),
    "sites": (["host:www.vidal.fr", "domain:has-sante.fr"], ["tcp/443"]),
    "plain": (["address:198.51.100.0/24"], ["tcp/443"]),
}


def flows(stages, **kw):
    policy = make_policy(ZONES, SERVICES, stages, proxy=("proxy", 3128), **kw)
    return resolve(policy, policy.stages[-1].id, AT)


def nftset_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith("#")]


def test_one_line_per_host_sorted_deduplicated():
    text = dnsmasq.render(flows([[
        grant("relay-out", "mail", "relay"),
        grant("relay-out-ws", "ws", "relay"),  # the same hosts from another zone: no duplicate
        grant("webmail", "ws", "webmail"),
    ]]))
    assert nftset_lines(text) == [
        "nftset=/smtp1.relay.example/4#inet#egress#dyn_relay_v4,6#inet#egress#dyn_relay_v6,"
        "4#inet#egress#dyn_webmail_v4,6#inet#egress#dyn_webmail_v6",
        "nftset=/smtp2.relay.example/4#inet#egress#dyn_relay_v4,6#inet#egress#dyn_relay_v6",
        "nftset=/www.relay.example/4#inet#egress#dyn_webmail_v4,6#inet#egress#dyn_webmail_v6",
    ]


def test_proxied_hosts_and_addresses_are_not_fed():
    text = dnsmasq.render(flows([[grant("web", "ws", "sites", via="proxy"), grant("p", "ws", "plain")]]))
    assert nftset_lines(text) == []
    assert "# No direct grant to a host at this stage" in text


def test_header_says_how_to_include_it():
    text = dnsmasq.render(flows([[grant("relay-out", "mail", "relay")]]))
    assert "conf-file=" in text
    assert "# policy: test-policy (egress language version 1)" in text
    assert "# stage: s0 (stage 0), 2023-06-21" in text
    assert "# at: 2023-07-01" in text


def test_set_names_are_those_nftables_declares():
    """Every set named by dnsmasq exists in the ruleset of the same stage."""
    long_service = "s" * 63
    services = dict(SERVICES, **{long_service: (["host:a.example"], ["tcp/443"])})
    policy = make_policy(ZONES, services, [[
        grant("relay-out", "mail", "relay"), grant("long", "ws", long_service),
    ]], proxy=("proxy", 3128))
    stage_flows = resolve(policy, "s0", AT)
    feed = dnsmasq.render(stage_flows)
    ruleset = nftables.render(stage_flows)
    names = set(re.findall(r"\d#inet#egress#([^,\s]+)", feed))
    assert len(names) == 4
    for name in names:
        assert len(name) <= NAME_MAX
        assert f"\tset {name} {{\n" in ruleset
        assert f"@{name} " in ruleset  # and a rule uses it


def test_deterministic():
    stages = [[grant("relay-out", "mail", "relay"), grant("webmail", "ws", "webmail")]]
    assert dnsmasq.render(flows(stages)) == dnsmasq.render(flows(stages))


@pytest.mark.system("dnsmasq")
def test_dnsmasq_accepts_it(tmp_path):
    path = tmp_path / "dnsmasq-egress.conf"
    path.write_text(dnsmasq.render(flows([[
        grant("relay-out", "mail", "relay"), grant("webmail", "ws", "webmail"),
    ]])))
    result = subprocess.run(["dnsmasq", "--test", f"--conf-file={path}"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "syntax check OK" in result.stderr


@pytest.mark.parametrize("stage", ["s1-partner-results", "s2-reference-sites"])
def test_golden_minimal(stage):
    _golden(f"minimal-{stage}.dnsmasq.conf", dnsmasq.render(minimal_flows(stage)))

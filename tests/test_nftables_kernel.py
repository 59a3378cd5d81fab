"""The generated ruleset in a real kernel (network-namespace lab of tests/lab.py).

What is proved here:
- reload (module docstring of egress/targets/nftables.py): (a) loading stage N, N+1,
  then N again gives the listing of a fresh load of N, with exactly one `inet egress`
  table; (b) elements that dnsmasq (here `nft add element`) put in the dynamic sets
  survive a reload; (c) a broken file, whether nft or the kernel refuses it, changes
  nothing; (d) an unrelated table is untouched; (e) one file is one transaction (one
  new generation in `nft monitor`);
- traffic: the allowed flows connect, v4 and v6, egress and ingress, tcp, udp and
  icmp; wrong port, wrong zone, an address in no zone and a bypass of the proxy do not;
- dnsmasq: a real dnsmasq fed with the generated `nftset=` lines adds the address it
  resolves to the dynamic set, which opens the flow; a reload keeps it open.

These tests need root, ip, nft (and dnsmasq for the last one): the `lab` fixture
skips without them, or fails under EGRESS_SYSTEM_TESTS=1.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest

from egress.flows import resolve
from egress.load import load_policy
from egress.targets import dnsmasq, nftables
from egress.targets.names import dynamic_set
from tests.test_nftables import AT, ROOT, grant, make_policy, shape

pytestmark = pytest.mark.system("ip", "nft")

CHU = ROOT / "policies" / "chu-rennes-2023" / "policy.yaml"
MINIMAL = ROOT / "examples" / "minimal" / "policy.yaml"


def load_real(path: Path):
    policy, diagnostics = load_policy(str(path))
    assert policy is not None, diagnostics
    return policy


def stage_texts(policy) -> list[str]:
    return [nftables.render(resolve(policy, stage.id, AT)) for stage in policy.stages]


def listing(lab) -> str:
    """The table as the kernel has it, without counters (`nft -s`)."""
    return lab.nft(["-s", "list", "table", "inet", "egress"])


def tables(lab) -> list[str]:
    return sorted(line for line in lab.nft(["list", "tables"]).splitlines() if line.strip())


def fresh(lab, text: str) -> str:
    lab.flush()
    lab.load(text)
    return listing(lab)


OTHER = """table inet other {
	set keep {
		type ipv4_addr
		elements = { 192.0.2.1 }
	}
	chain input {
		type filter hook input priority 10; policy accept;
		ip saddr @keep counter accept
	}
}
"""


# ------------------------------------------------------------------------ reload


@pytest.mark.parametrize("path", [CHU, MINIMAL], ids=["chu-rennes-2023", "minimal"])
def test_reload_n_then_next_then_n_equals_fresh_n(lab, path):
    texts = stage_texts(load_real(path))
    for n in range(len(texts) - 1):
        expected = fresh(lab, texts[n])  # a fresh load of N ...
        lab.load(texts[n + 1])  # ... then N+1 ...
        lab.load(texts[n])  # ... then N again
        assert listing(lab) == expected, f"stage {n} after {n + 1} differs from a fresh load"
        assert tables(lab) == ["table inet egress"]
        lab.load(texts[n])  # the same stage twice changes nothing either
        assert listing(lab) == expected


def test_reload_from_a_later_stage_to_the_first(lab):
    texts = stage_texts(load_real(CHU))
    expected = fresh(lab, texts[0])
    lab.flush()
    for text in texts:
        lab.load(text)
    lab.load(texts[0])
    assert listing(lab) == expected


def test_switching_the_hook(lab):
    """A new version of the policy that moves the table from forward to output (and
    back) leaves no base chain of the old hook behind."""
    forward = nftables.render(resolve(shape("hosts"), "s0", AT))
    output = nftables.render(resolve(shape("hosts", hook="output"), "s0", AT))
    expected_forward, expected_output = fresh(lab, forward), fresh(lab, output)
    lab.flush()
    lab.load(forward)
    lab.load(output)
    assert listing(lab) == expected_output
    assert "hook forward" not in listing(lab)
    lab.load(forward)
    assert listing(lab) == expected_forward
    assert "hook output" not in listing(lab)


def _dynamic_service(policy, stage_id: str) -> str:
    hosts = dnsmasq.host_sets(resolve(policy, stage_id, AT))
    assert hosts, f"no direct host grant at {stage_id}"
    return sorted({s for services in hosts.values() for s in services})[0]


def test_reload_keeps_dynamic_set_elements(lab):
    policy = load_real(CHU)
    texts = stage_texts(policy)
    last = policy.stages[-1].id
    service = _dynamic_service(policy, last)
    v4, v6 = dynamic_set(service, 4), dynamic_set(service, 6)
    lab.load(texts[-1])
    lab.nft(["add", "element", "inet", "egress", v4, "{ 203.0.113.201 }"])
    lab.nft(["add", "element", "inet", "egress", v6, "{ 2001:db8:201::201 }"])
    # the previous stage opens the service too
    assert service in {s for ss in dnsmasq.host_sets(resolve(policy, policy.stages[-2].id, AT)).values()
                       for s in ss}
    for text in (texts[-1], texts[-2], texts[-1]):
        lab.load(text)
        assert "203.0.113.201" in lab.nft(["list", "set", "inet", "egress", v4])
        assert "2001:db8:201::201" in lab.nft(["list", "set", "inet", "egress", v6])
    # a stage where no direct grant opens the service empties them (revoked openings)
    lab.load(texts[0])
    assert "203.0.113.201" not in lab.nft(["list", "set", "inet", "egress", v4])


def test_broken_file_changes_nothing(lab):
    texts = stage_texts(load_real(CHU))
    lab.load(OTHER)
    lab.load(texts[2])
    before, other = listing(lab), lab.nft(["-s", "list", "table", "inet", "other"])
    # refused by nft itself (syntax): nothing is sent to the kernel
    with pytest.raises(Exception, match="syntax error"):
        lab.load(texts[3] + "this is not nft\n")
    assert listing(lab) == before
    # refused by the kernel at the very end of the transaction: all of it is undone
    target = re.search(r"^\tset (out_\S+_v4) \{", texts[3].split("# 3.")[1], re.M).group(1)
    broken = texts[3] + (
        f"add element inet egress {target} "
        "{ 203.0.113.0/24 . tcp . 9, 203.0.113.0/25 . tcp . 9 }\n"
    )
    with pytest.raises(Exception, match="File exists"):
        lab.load(broken)
    assert listing(lab) == before
    assert lab.nft(["-s", "list", "table", "inet", "other"]) == other
    assert tables(lab) == ["table inet egress", "table inet other"]


def test_unrelated_table_untouched(lab):
    texts = stage_texts(load_real(CHU))
    lab.load(OTHER)
    other = lab.nft(["-s", "list", "table", "inet", "other"])
    for text in (texts[1], texts[4], texts[1], texts[-1]):
        lab.load(text)
        assert lab.nft(["-s", "list", "table", "inet", "other"]) == other
    assert tables(lab) == ["table inet egress", "table inet other"]


# Listens to the nf_tables netlink events and prints one line per transaction commit
# (NFT_MSG_NEWGEN, sent once after all the events of a batch) with the number of
# events of that batch. `nft monitor` of nft 1.0.6 crashes (SIGSEGV) on these rulesets.
WATCH_GENERATIONS = r"""
import socket, struct, sys
NETLINK_NETFILTER, NFNLGRP_NFTABLES, SO_RCVBUFFORCE = 12, 7, 33
NEWGEN = (10 << 8) | 15  # NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWGEN
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 64 << 20)
s.bind((0, 1 << (NFNLGRP_NFTABLES - 1)))
print("ready", flush=True)
events = 0
while True:
    data = s.recv(1 << 20)  # ENOBUFS (lost events) raises: the test then fails
    off = 0
    while off + 16 <= len(data):
        length, mtype = struct.unpack_from("=IH", data, off)
        if mtype == NEWGEN:
            print("generation after", events, "events", flush=True)
            events = 0
        else:
            events += 1
        off += max(16, (length + 3) & ~3)
"""


def test_one_file_is_one_transaction(lab):
    texts = stage_texts(load_real(CHU))
    lab.load(texts[1])
    watch = lab.spawn("fw", [sys.executable, "-c", WATCH_GENERATIONS], name="generations")
    for _ in range(200):
        if "ready" in lab.log(watch):
            break
        time.sleep(0.02)
    assert "ready" in lab.log(watch), lab.log(watch)
    lab.load(texts[-1])
    lab.load(texts[1])
    time.sleep(0.5)
    log = lab.log(watch)
    generations = re.findall(r"^generation after (\d+) events$", log, re.M)
    # two loads, two commits, each carrying hundreds of changes
    assert len(generations) == 2, log
    assert all(int(n) > 100 for n in generations), log


# ------------------------------------------------------------------------ traffic

LAB, LAB6 = "10.30.0.10", "fd00:30::10"
IMAGING, IMAGING6 = "10.20.0.10", "fd00:20::10"
NOZONE, NOZONE6 = "10.99.0.10", "fd00:99::10"
PROXY_OUT, PROXY_OUT6 = "10.0.0.3", "fd00::3"  # the proxy as a client (lan side)
PROXY_IN, PROXY_IN6 = "10.0.0.2", "fd00::2"  # the proxy as the zones reach it (wan side)
PARTNER, PARTNER6 = "203.0.113.20", "2001:db8:16::20"
NTP, NTP6 = "198.51.100.123", "2001:db8:123::123"
PING, PING6 = "203.0.113.1", "2001:db8:1::1"
WEB, WEB6 = "198.51.100.80", "2001:db8:80::80"  # some web site, reached by the proxy only
SENDER, SENDER6 = "198.51.100.25", "2001:db8:25::25"  # a mail server of the internet
CDN_LOCKED, CDN_LOCKED6 = "203.0.113.98", "2001:db8:98::98"  # the lock file's address
CDN_NEW, CDN_NEW6 = "203.0.113.99", "2001:db8:99::99"  # what DNS answers today
# Special space on the wan side: not "internet", so the proxy does not reach it and an
# ingress grant from internet does not admit it (issue 10 item 17).
PRIVATE_WEB, SHARED_WEB, ULA_WEB6 = "192.168.1.80", "100.64.0.80", "fd99::80"  # (the lab refuses link-local)
PRIVATE_SENDER, ULA_SENDER6 = "172.16.5.25", "fd98::25"
PRIVATE_PARTNER, ULA_PARTNER6 = "192.168.7.7", "fd97::7"  # a partner over a private link, named in a service


def traffic_policy():
    return make_policy(
        zones={
            "lab": ["10.30.0.0/24", "fd00:30::/64"],
            "imaging": ["10.20.0.0/24", "fd00:20::/64"],
            "proxy": ["10.0.0.2/31", "fd00::2/127"],
        },
        services={
            "partner": (["address:203.0.113.16/28", "address:2001:db8:16::/48"], ["tcp/443"]),
            "ntp": ([f"address:{NTP}", f"address:{NTP6}"], ["udp/123"]),
            "probe": ([f"address:{PING}", f"address:{PING6}"], ["icmp", "icmpv6"]),
            "sites": (["domain:has-sante.fr"], ["tcp/443"]),
            "cdn": (["host:cdn.example"], ["tcp/443"]),
            "private-link": ([f"address:{PRIVATE_PARTNER}", f"address:{ULA_PARTNER6}"], ["tcp/443"]),
        },
        stages=[[
            grant("to-partner", "lab", "partner"),
            grant("time", "lab", "ntp"),
            grant("ping", "lab", "probe"),
            grant("web", "lab", "sites", via="proxy"),
            grant("cdn", "lab", "cdn"),
            grant("private-link", "lab", "private-link"),
            grant("smtp-in", "internet", "lab", ports=["tcp/25"]),
        ]],
        proxy=("proxy", 3128),
        lock={"cdn.example": [CDN_LOCKED, CDN_LOCKED6]},
    )


def setup_traffic_lab(lab):
    lab.add_lan(LAB, LAB6, IMAGING, IMAGING6, NOZONE, NOZONE6, PROXY_OUT, PROXY_OUT6)
    lab.add_wan(PARTNER, PARTNER6, NTP, NTP6, PING, PING6, WEB, WEB6, SENDER, SENDER6,
                PROXY_IN, PROXY_IN6, CDN_LOCKED, CDN_LOCKED6, CDN_NEW, CDN_NEW6,
                PRIVATE_WEB, SHARED_WEB, ULA_WEB6, PRIVATE_SENDER, ULA_SENDER6,
                PRIVATE_PARTNER, ULA_PARTNER6)
    lab.listen("wan", [443, 80, 22, 3128, "udp/123"])
    lab.listen("lan", [25, 22])


ALLOWED_OUT = [
    (LAB, PARTNER, "tcp", 443),
    (LAB6, PARTNER6, "tcp", 443),
    (LAB, NTP, "udp", 123),
    (LAB6, NTP6, "udp", 123),
    (LAB, PING, "icmp", None),
    (LAB6, PING6, "icmpv6", None),
    (LAB, PROXY_IN, "tcp", 3128),
    (LAB6, PROXY_IN6, "tcp", 3128),
    (PROXY_OUT, WEB, "tcp", 443),
    (PROXY_OUT6, WEB6, "tcp", 443),
    (LAB, CDN_LOCKED, "tcp", 443),
    (LAB6, CDN_LOCKED6, "tcp", 443),
    (LAB, PRIVATE_PARTNER, "tcp", 443),  # private space named in a service is reached
    (LAB6, ULA_PARTNER6, "tcp", 443),
]
DENIED_OUT = [
    (LAB, PARTNER, "tcp", 80),  # wrong port
    (LAB6, PARTNER6, "tcp", 22),
    (IMAGING, PARTNER, "tcp", 443),  # wrong zone
    (IMAGING6, PARTNER6, "tcp", 443),
    (IMAGING, PING, "icmp", None),
    (IMAGING, NTP, "udp", 123),
    (NOZONE, PARTNER, "tcp", 443),  # an address in no zone
    (NOZONE6, PARTNER6, "tcp", 443),
    (LAB, WEB, "tcp", 443),  # bypass of the proxy
    (LAB6, WEB6, "tcp", 443),
    (PROXY_OUT, WEB, "tcp", 22),  # the proxy only gets the web ports of its grants
    (PROXY_OUT6, WEB6, "tcp", 80),
    (LAB, CDN_NEW, "tcp", 443),  # not resolved by dnsmasq yet
    (LAB6, CDN_NEW6, "tcp", 443),
    (PROXY_OUT, PRIVATE_WEB, "tcp", 443),  # the proxy reaches the internet, not private space
    (PROXY_OUT, SHARED_WEB, "tcp", 443),
    (PROXY_OUT6, ULA_WEB6, "tcp", 443),
]
ALLOWED_IN = [(SENDER, LAB, "tcp", 25), (SENDER6, LAB6, "tcp", 25)]
DENIED_IN = [
    (SENDER, LAB, "tcp", 22),  # wrong port
    (SENDER6, LAB6, "tcp", 22),
    (SENDER, IMAGING, "tcp", 25),  # wrong zone
    (SENDER6, IMAGING6, "tcp", 25),
    (PRIVATE_SENDER, LAB, "tcp", 25),  # private space is not "internet"
    (ULA_SENDER6, LAB6, "tcp", 25),
]


def test_traffic(lab):
    setup_traffic_lab(lab)
    # without a ruleset everything goes through: the denials below are the ruleset's
    assert all(lab.probe("lan", ALLOWED_OUT + DENIED_OUT)), "the lab itself is broken"
    assert all(lab.probe("wan", ALLOWED_IN + DENIED_IN))
    lab.load(nftables.render(resolve(traffic_policy(), "s0", AT)))
    out = lab.probe("lan", ALLOWED_OUT + DENIED_OUT)
    inn = lab.probe("wan", ALLOWED_IN + DENIED_IN)
    assert dict(zip(map(str, ALLOWED_OUT + DENIED_OUT), out, strict=True)) == {
        **{str(c): True for c in ALLOWED_OUT}, **{str(c): False for c in DENIED_OUT}
    }
    assert dict(zip(map(str, ALLOWED_IN + DENIED_IN), inn, strict=True)) == {
        **{str(c): True for c in ALLOWED_IN}, **{str(c): False for c in DENIED_IN}
    }
    # denied packets were counted by the log rule
    counters = re.search(r"counter packets (\d+) bytes \d+ limit rate", lab.nft(["list", "chain", "inet", "egress", "forward"]))
    assert counters and int(counters.group(1)) > 0


# ------------------------------------------------------------------------ dnsmasq


def _query(lab, name: str, rdtype: str, port: int) -> str:
    script = (
        "import sys, dns.message, dns.query\n"
        f"q = dns.message.make_query({name!r}, {rdtype!r})\n"
        f"r = dns.query.udp(q, '127.0.0.1', port={port}, timeout=3)\n"
        "print(' '.join(str(rr) for rrset in r.answer for rr in rrset))\n"
    )
    return lab.run("fw", sys.executable, "-c", script, check=True).stdout.strip()


@pytest.mark.system("ip", "nft", "dnsmasq")
def test_dnsmasq_feeds_the_dynamic_sets(lab, tmp_path):
    """dnsmasq 2.90 adds to nftsets only the answers it gets from an upstream server
    (a static `--address=` answer is not added: checked by hand), so an upstream
    dnsmasq holds the answer and the dnsmasq under test forwards to it."""
    setup_traffic_lab(lab)
    flows = resolve(traffic_policy(), "s0", AT)
    ruleset = nftables.render(flows)
    feed = tmp_path / "dnsmasq-egress.conf"
    feed.write_text(dnsmasq.render(flows))
    lab.load(ruleset)
    assert lab.probe("lan", [(LAB, CDN_NEW, "tcp", 443), (LAB6, CDN_NEW6, "tcp", 443)]) == [False, False]

    upstream_port, port = 5354, 5353
    common = ["--no-resolv", "--no-hosts", "--listen-address=127.0.0.1", "--bind-interfaces",
              "--keep-in-foreground", "--log-facility=-", "--user=root", "--pid-file="]
    lab.spawn("fw", ["dnsmasq", *common, f"--port={upstream_port}",
                     f"--address=/cdn.example/{CDN_NEW}", f"--address=/cdn.example/{CDN_NEW6}"],
              name="dnsmasq-upstream")
    feeder = lab.spawn("fw", ["dnsmasq", *common, f"--port={port}", f"--conf-file={feed}",
                              f"--server=127.0.0.1#{upstream_port}", "--log-queries"],
                       name="dnsmasq-feed")
    for _ in range(100):
        if "started" in lab.log(feeder):
            break
        time.sleep(0.05)
    assert _query(lab, "cdn.example", "A", port) == CDN_NEW, lab.log(feeder)
    assert _query(lab, "cdn.example", "AAAA", port) == CDN_NEW6, lab.log(feeder)

    assert CDN_NEW in lab.nft(["list", "set", "inet", "egress", "dyn_cdn_v4"]), lab.log(feeder)
    assert CDN_NEW6 in lab.nft(["list", "set", "inet", "egress", "dyn_cdn_v6"]), lab.log(feeder)
    checks = [(LAB, CDN_NEW, "tcp", 443), (LAB6, CDN_NEW6, "tcp", 443),
              (LAB, CDN_NEW, "tcp", 80), (IMAGING, CDN_NEW, "tcp", 443)]
    assert lab.probe("lan", checks) == [True, True, False, False]
    # reloading the same ruleset keeps the learned addresses, so the flow stays open
    lab.load(ruleset)
    assert lab.probe("lan", checks) == [True, True, False, False]

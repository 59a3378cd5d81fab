"""Unit tests of the nftables target (egress/targets/nftables.py).

Policies are built by hand with `make_policy` (also used by test_dnsmasq.py and
test_nftables_kernel.py), so that each test shows the shape it exercises; the golden
test reads the real example policy. `nft -c -f` runs in a network namespace made for
the test (root and nft needed: those tests are marked `system`).

Golden files: tests/golden/minimal-<stage>.nft and .dnsmasq.conf; regenerate them after
an intended change of the output with

    EGRESS_UPDATE_GOLDEN=1 python -m pytest tests/test_nftables.py tests/test_dnsmasq.py

and review the diff like code.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest
from netaddr import IPNetwork

from egress.addresses import parse as parse_address
from egress.flows import resolve
from egress.instants import end_of_day
from egress.model import Destination, Firewall, Grant, Lock, Policy, PortRange, Pos, Proxy, Service, Stage, Zone
from egress.targets import nftables, nftables_tags
from egress.targets.names import NAME_MAX, dynamic_set, nft_name

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
MINIMAL = ROOT / "examples" / "minimal" / "policy.yaml"
AT = dt.date(2023, 7, 1)
POS = Pos("test.yaml", 1, 1)


# ----------------------------------------------------------------------- factory


def port(spec: str) -> PortRange:
    """`tcp/443`, `udp/1000-2000`, `icmp`, `icmpv6`."""
    if "/" not in spec:
        return PortRange(spec)
    proto, ports = spec.split("/")
    first, _, last = ports.partition("-")
    return PortRange(proto, int(first), int(last or first))


def destination(spec: str) -> Destination:
    """`address:203.0.113.0/24`, `host:a.example`, `domain:example.org`."""
    kind, value = spec.split(":", 1)
    if kind == "address":
        from egress.addresses import parse  # the parsed form, where the model keeps one

        return Destination(kind, value, POS, address=parse(value))
    return Destination(kind, value, POS)


def grant(gid, sources, targets, ports=None, via="direct", expires=None) -> dict:
    return dict(id=gid, sources=sources, targets=targets, ports=ports, via=via, expires=expires)


def make_policy(
    zones: dict[str, list[str]],
    services: dict[str, tuple[list[str], list[str]]],
    stages: list,
    *,
    name: str = "test-policy",
    proxy: tuple[str, int] | None = None,
    hook: str = "forward",
    log_group: int | None = None,
    lock: dict[str, list[str]] | None = None,
) -> Policy:
    """A `Policy` from plain data.

    zones: name -> addresses; services: name -> (destinations as `kind:value`, ports);
    stages: a list whose items are lists of `grant(...)` dicts, or dicts
    `{"grants": [...], "revoke": [...]}`; stage ids are `s0`, `s1`...
    """
    zone_objs = {
        z: Zone(z, tuple(parse_address(a) for a in addrs), None, POS) for z, addrs in zones.items()
    }
    service_objs = {}
    for s, (dests, ports) in services.items():
        ds = tuple(destination(d) for d in dests)
        service_objs[s] = Service(s, ds, tuple(port(p) for p in ports), None, None, POS)
    stage_objs = []
    for index, stage in enumerate(stages):
        if isinstance(stage, list):
            stage = {"grants": stage, "revoke": []}
        sid = f"s{index}"
        grants = tuple(
            Grant(
                id=g["id"],
                stage=sid,
                stage_index=index,
                sources=tuple([g["sources"]] if isinstance(g["sources"], str) else g["sources"]),
                targets=tuple([g["targets"]] if isinstance(g["targets"], str) else g["targets"]),
                ports=tuple(port(p) for p in g["ports"]) if g["ports"] else None,
                via=g["via"],
                reason="test",
                approved_by=None,
                requested_by=None,
                ticket=None,
                expires=g["expires"],
                pos=POS,
            )
            for g in stage["grants"]
        )
        stage_objs.append(
            Stage(sid, index, f"stage {index}", dt.date(2023, 6, 21) + dt.timedelta(days=index),
                  grants, tuple(stage.get("revoke", ())), POS)
        )
    lock_obj = None
    if lock is not None:
        lock_obj = Lock("test.lock.yaml", {h: tuple(IPNetwork(a) for a in addrs) for h, addrs in lock.items()})
    return Policy(
        path="test.yaml",
        version=1,
        name=name,
        description=None,
        zones=zone_objs,
        services=service_objs,
        stages=tuple(stage_objs),
        proxy=Proxy(proxy[0], proxy[1], "none", POS) if proxy else None,
        firewall=Firewall(hook=hook, log_group=log_group),
        lock=lock_obj,
        pos=POS,
    )


def render(policy: Policy, stage: str | None = None, at: dt.date = AT) -> str:
    return nftables.render(resolve(policy, stage or policy.stages[-1].id, at))


def set_elements(ruleset: str, name: str) -> list[str]:
    """The elements of set/map `name` in part 3 (the filled definitions) of a ruleset."""
    fill = ruleset.split("# 3. The ruleset of this stage.")[1]
    m = re.search(rf"\t(?:set|map) {re.escape(name)} {{\n(.*?)\n\t}}\n", fill, re.S)
    if not m or "elements = {" not in m.group(1):
        return []
    body = m.group(1).split("elements = {")[1].rsplit("}", 1)[0]
    return [e.strip().rstrip(",") for e in body.strip().splitlines()]


def chain_rules(ruleset: str, name: str) -> list[str]:
    fill = ruleset.split("# 3. The ruleset of this stage.")[1]
    m = re.search(rf"\tchain {re.escape(name)} {{\n(.*?)\n\t}}", fill, re.S)
    return [r.strip() for r in m.group(1).splitlines()] if m else []


# --------------------------------------------------------------- shapes of policy

V4 = dict(
    zones={"lab": ["10.30.0.0/24"]},
    services={"partner": (["address:203.0.113.0/25", "address:203.0.113.128/25"], ["tcp/443"])},
    stages=[[], [grant("to-partner", "lab", "partner")]],
)
V6 = dict(
    zones={"lab": ["fd00:30::/64"]},
    services={"partner": (["address:2001:db8:16::/48"], ["tcp/443", "udp/53"])},
    stages=[[grant("to-partner", "lab", "partner")]],
)
BOTH = dict(
    zones={"lab": ["10.30.0.0/24", "fd00:30::/64"], "imaging": ["10.20.0.0/22", "fd00:20::/64"]},
    services={
        "partner": (["address:203.0.113.16/28", "address:2001:db8:16::/48"], ["tcp/443", "tcp/8000-8100"]),
        "pacs": (["address:198.51.100.0/24", "address:2001:db8:64::/48"], ["tcp/104", "tcp/11112"]),
    },
    stages=[[grant("to-partner", ["lab", "imaging"], "partner"), grant("pacs-out", "imaging", "pacs")]],
)
INGRESS = dict(
    zones={"mail": ["192.0.2.24/29", "2001:db8:35:25::/64"], "dicom": ["192.0.2.104/29"]},
    services={"partner-pacs": (["address:198.51.100.64/28"], ["tcp/104"])},
    stages=[[
        grant("inbound-smtp", "internet", "mail", ports=["tcp/25"]),
        grant("images-in", "partner-pacs", "dicom"),
    ]],
)
PROXY = dict(
    zones={"ws": ["10.100.0.0/16", "fd00:100::/56"], "proxy": ["10.0.0.3", "fd00::3"]},
    services={"sites": (["domain:has-sante.fr", "host:www.vidal.fr"], ["tcp/443", "tcp/80"])},
    stages=[[grant("web", "ws", "sites", via="proxy")]],
    proxy=("proxy", 3128),
)
ICMP_UDP = dict(
    zones={"infra": ["10.1.0.0/24", "fd00:1::/64"]},
    services={
        "ntp": (["address:198.51.100.123", "address:2001:db8:123::123"], ["udp/123"]),
        "probe": (["address:198.51.100.1", "address:2001:db8::1"], ["icmp", "icmpv6"]),
    },
    stages=[[grant("ntp-out", "infra", "ntp"), grant("ping-out", "infra", "probe")]],
)
OVERLAP = dict(
    zones={"all": ["10.0.0.0/8", "fd00::/16"], "imaging": ["10.20.0.0/22", "fd00:20::/64"]},
    services={
        "a": (["address:203.0.113.0/24"], ["tcp/443"]),
        "b": (["address:203.0.113.0/25", "address:198.51.100.0/24"], ["tcp/400-500", "tcp/25"]),
    },
    stages=[[grant("all-a", "all", "a"), grant("imaging-b", "imaging", "b")]],
)
HOSTS = dict(
    zones={"mail": ["192.0.2.24/29", "2001:db8:35:25::/64"]},
    services={"relay": (["host:smtp.relay.example", "address:203.0.113.25"], ["tcp/25", "tcp/587"])},
    stages=[[grant("relay-out", "mail", "relay")]],
    lock={"smtp.relay.example": ["198.51.100.25", "2001:db8:25::25"]},
)
SHAPES = {
    "v4": V4,
    "v6": V6,
    "both": BOTH,
    "ingress": INGRESS,
    "proxy": PROXY,
    "icmp-udp": ICMP_UDP,
    "overlap": OVERLAP,
    "hosts": HOSTS,
}


def shape(key: str, **extra) -> Policy:
    data = dict(SHAPES[key])
    data.update(extra)
    zones, services, stages = data.pop("zones"), data.pop("services"), data.pop("stages")
    return make_policy(zones, services, stages, **data)


# ------------------------------------------------------------------------- tests


def test_collapsed_elements_and_dispatch():
    text = render(shape("v4"))
    # two adjacent /25 of the same service become one /24, mapped once to its tag
    assert set_elements(text, "nets_v4") == ["203.0.113.0/24 : jump tag_1"]
    assert set_elements(text, "dst_v4") == []  # single addresses go there (a hash map)
    assert set_elements(text, "svc_lab_v4") == ["0x00010000 . tcp . 443 : jump allow"]
    assert set_elements(text, "out_v4") == ["10.30.0.0/24 : goto out_lab_v4"]
    assert set_elements(text, "in_v4") == ["10.30.0.0/24 : jump in_lab_v4"]
    assert chain_rules(text, "ipv4")[1:3] == ["meta mark set meta mark and 0x0000ffff ip daddr vmap @nets_v4",
                                              "ip saddr vmap @out_v4"]
    assert chain_rules(text, "out_lab_v4") == [
        'meta mark and 0xffff0000 . meta l4proto . th dport vmap @svc_lab_v4 comment "grant to-partner"',
    ]
    assert chain_rules(text, "tag_1") == ['meta mark set meta mark and 0x0000ffff or 0x00010000 comment "partner"']
    assert "table inet egress {" in text
    assert not re.search(r"^(?!#).*\btable (?!inet egress\b)", text, re.M), "touches another table"
    assert "flush table" not in text and "delete table" not in text


def test_mark_mask_is_configurable():
    policy = shape("v4")
    policy = dataclasses.replace(policy, firewall=dataclasses.replace(policy.firewall, mark_mask=0x00000f00))
    text = render(policy)
    assert set_elements(text, "svc_lab_v4") == ["0x00000100 . tcp . 443 : jump allow"]
    assert chain_rules(text, "tag_1")[0].startswith("meta mark set meta mark and 0xfffff0ff or 0x00000100")
    assert any(r.startswith("meta mark set meta mark and 0xfffff0ff ip daddr vmap") for r in chain_rules(text, "ipv4"))
    for bad in (0, 0x00f0f000, 1 << 32):
        with pytest.raises(ValueError, match="mark_mask"):
            render(dataclasses.replace(policy, firewall=dataclasses.replace(policy.firewall, mark_mask=bad)))
    # more tags than the mask holds: a clear error
    many = make_policy({"lab": ["10.30.0.0/24"]},
                       {f"s{i}": ([f"address:203.0.113.{i}"], ["tcp/443"]) for i in range(4)},
                       [[grant(f"g{i}", "lab", f"s{i}") for i in range(4)]])
    many = dataclasses.replace(many, firewall=dataclasses.replace(many.firewall, mark_mask=0x3))
    with pytest.raises(nftables.TooManyTags, match=r"needs 4 destination tags but firewall.mark_mask 0x00000003 "
                       r"has 2 bits, which number 3: give it at least 3 contiguous bits .* \(for example 0x00000007\)"):
        render(many)


def test_too_many_tags_for_the_mask_is_a_policy_error_not_a_bug(tmp_path):
    """More destination tags than firewall.mark_mask numbers: `validate` and `compile`
    exit 1 (not 3) with E149 at the `mark_mask:` key, saying the tags needed, the bits
    the mask has and a mask that fits; compile writes nothing."""
    from click.testing import CliRunner

    from egress.cli import main

    text = (ROOT / "examples/minimal/policy.yaml").read_text()
    path = tmp_path / "policy.yaml"
    path.write_text(text + "\nfirewall:\n  mark_mask: 0x80000000\n")
    mask_line = len(text.splitlines()) + 3
    expected = (f"{path}:{mask_line}:14: error E149 the policy needs 2 destination tags but firewall.mark_mask "
                "0x80000000 has 1 bit, which number 1: give it at least 2 contiguous bits that no other "
                "rule of the firewall uses (for example 0xc0000000)")
    validate = ["validate", str(path), "--at", "2023-07-01"]
    stage = ["compile", str(path), "--stage", "s2-reference-sites", "--target", "nftables", "--at", "2023-07-01"]
    bundle = ["compile", str(path), "--all-stages", "--out", str(tmp_path / "out"), "--at", "2023-07-01"]
    for args in (validate, stage, bundle):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output and "internal error" not in result.output
        assert expected in result.output.splitlines(), result.output
    assert not (tmp_path / "out").exists()
    # the same policy with room for its tags validates and compiles
    path.write_text(text + "\nfirewall:\n  mark_mask: 0xc0000000\n")
    assert CliRunner().invoke(main, validate).exit_code == 0
    assert CliRunner().invoke(main, stage).exit_code == 0


def test_validate_counts_the_tags_the_target_writes():
    """E149 and the target count the tags in one place (nftables_tags): on policies
    with overlapping services, shared hosts and the proxy, the count the check judges
    is the number of tag chains of the ruleset, and E149 comes exactly when the mask
    is one bit short."""
    from egress.check import check, validate

    shared = ["address:203.0.113.0/24", "address:198.51.100.7"]
    policies = [
        shape("v4"),
        validate(str(MINIMAL), AT)[0],
        validate(str(ROOT / "policies" / "chu-rennes-2023" / "policy.yaml"), AT)[0],
        make_policy({"lab": ["10.30.0.0/24"]},
                    {"a": (shared, ["tcp/443"]), "b": (["address:203.0.113.128/25"], ["tcp/443"]),
                     "c": (["address:198.51.100.0/30", "address:2001:db8::/64"], ["udp/53"])},
                    [[grant("g1", "lab", "a"), grant("g2", "lab", "b")], [grant("g3", "lab", "c")]]),
    ]
    for policy in policies:
        needed = nftables_tags.tag_count(policy)
        assert needed <= nftables_tags.most_tags(policy)
        text = render(policy, policy.stages[-1].id)
        assert needed == len(re.findall(r"^\tchain tag_\d+ \{", text.split("# 3.")[1], re.M)) > 0
        bits = needed.bit_length()
        for mask, fits in (((1 << bits) - 1, True), ((1 << (bits - 1)) - 1 if bits > 1 else 0, False)):
            if not mask:
                continue
            narrowed = dataclasses.replace(policy, firewall=dataclasses.replace(policy.firewall, mark_mask=mask))
            codes = [d.code for d in check(narrowed, AT)]
            assert ("E149" not in codes) == fits, (policy.name, mask, codes)
            if not fits:
                found = next(d for d in check(narrowed, AT) if d.code == "E149")
                assert f"needs {needed:,} destination tags" in found.message
                # no `mark_mask:` key written (these masks are set in code): at the policy's top
                if narrowed.firewall.mark_mask_pos is None:
                    assert (found.path, found.line, found.column) == (policy.pos.path, policy.pos.line, policy.pos.col)


def test_stage_zero_has_no_elements_but_every_object():
    policy = shape("v4")
    s0, s1 = render(policy, "s0"), render(policy, "s1")
    assert set_elements(s0, "svc_lab_v4") == []
    part1 = lambda t: t.split("# 2.")[0].split("# 1.")[1]  # noqa: E731
    assert part1(s0) == part1(s1), "all stages of a policy must declare the same objects"


def test_overlapping_grants_are_decomposed_without_overlap():
    text = render(shape("overlap"))
    # class "all" (10/8 minus imaging) and class "all_imaging" (imaging: both zones' grants)
    assert set_elements(text, "out_v4") == [
        "10.0.0.0-10.19.255.255 : goto out_all_v4",
        "10.20.0.0/22 : goto out_all_imaging_v4",
        "10.20.4.0-10.255.255.255 : goto out_all_v4",
    ]
    # a: 203.0.113.0/24; b: 203.0.113.0/25 + 198.51.100.0/24: three tags (b, a+b, a)
    assert set_elements(text, "nets_v4") == [
        "198.51.100.0/24 : jump tag_3",
        "203.0.113.0/25 : jump tag_2",
        "203.0.113.128/25 : jump tag_1",
    ]
    assert set_elements(text, "svc_all_v4") == ["0x00010000-0x00020000 . tcp . 443 : jump allow"]
    assert set_elements(text, "svc_all_imaging_v4") == [
        "0x00010000 . tcp . 443 : jump allow",
        "0x00020000 . tcp . 25 : jump allow",
        "0x00020000 . tcp . 400-442 : jump allow",
        "0x00020000 . tcp . 443 : jump allow",
        "0x00020000 . tcp . 444-500 : jump allow",
        "0x00030000 . tcp . 25 : jump allow",
        "0x00030000 . tcp . 400-500 : jump allow",
    ]
    assert chain_rules(text, "out_all_imaging_v4")[-1].endswith('comment "grants all-a, imaging-b"')


def _element_box(element: str):
    addr, proto, ports = (p.strip() for p in element.split(" : ")[0].split(" . "))
    if addr.startswith("0x"):
        a, _, b = addr.partition("-")
        first, last = int(a, 16), int(b or a, 16)
    elif "-" in addr and "/" not in addr:
        a, b = addr.split("-")
        first, last = int(ipaddress.ip_address(a)), int(ipaddress.ip_address(b))
    else:
        net = ipaddress.ip_network(addr)
        first, last = int(net.network_address), int(net.broadcast_address)
    pf, _, pl = ports.partition("-")
    return proto, first, last, int(pf), int(pl or pf)


def test_table_elements_random_against_brute_force():
    """The elements of a set and its `x` map: disjoint, covering exactly what the
    grants open, each labelled with the grants that open it; permanent where a grant
    without expiry opens it, else expiring at the latest instant of its grants."""
    import random

    rng = random.Random(7)
    for _ in range(300):
        table = nftables._Table()
        opened: dict = {}
        for b in range(rng.randint(1, 5)):
            ranges, at = [], rng.randint(0, 5)
            for _ in range(rng.randint(1, 4)):  # disjoint, not touching, as egress.flows makes them
                first = at + rng.randint(0, 6)
                last = first + rng.randint(0, 6)
                ranges.append((first, last))
                at = last + 2
            for _ in range(rng.randint(1, 3)):
                proto, pf = rng.choice([6, 17]), rng.randint(0, 20)
                pl = rng.randint(pf, 24)
                gid, instant = f"g{rng.randint(0, 4)}", rng.choice([None, 100, 200])
                table.add(b, tuple(ranges), [(proto, pf, pl)], gid, instant)
                for first, last in ranges:
                    for x in range(first, last + 1):
                        for y in range(pf, pl + 1):
                            opened.setdefault((proto, x, y), set()).add((gid, instant))
        permanent, expiring = table.elements()
        seen: dict = {}
        for element in permanent + [e[:6] for e in expiring]:
            first, last, proto, pf, pl, _ = element
            for x in range(first, last + 1):
                for y in range(pf, pl + 1):
                    assert (proto, x, y) not in seen, "elements overlap"
                    seen[(proto, x, y)] = element
        assert set(seen) == set(opened)
        for point, labels in opened.items():
            element = seen[point]
            assert element[5] == {g for g, _ in labels}
            instants = {i for _, i in labels}
            if None in instants:
                assert element in permanent
            else:
                assert (*element, max(instants)) in expiring
        assert permanent == sorted(permanent, key=lambda e: (e[0], e[2], e[3]))


def test_stages_render_alike_in_any_order():
    """The per-policy cache of the target (and the index of egress.flows) is shared by
    the stages of a policy object: rendering them in any order gives what a fresh
    policy gives."""
    key = "overlap"
    data = dict(SHAPES[key])
    data["stages"] = [
        [grant("all-a", "all", "a")],
        [grant("imaging-b", "imaging", "b", ports=["tcp/25"])],
        {"grants": [grant("all-b", "all", "b")], "revoke": ["all-a"]},
    ]
    fresh = {s: render(shape(key, stages=data["stages"]), s) for s in ("s0", "s1", "s2")}
    shared = shape(key, stages=data["stages"])
    for s in ("s2", "s0", "s1", "s2", "s0"):
        assert render(shared, s) == fresh[s]


def test_policy_index_goes_with_its_policy():
    import gc
    import weakref

    policy = shape("both")
    render(policy)
    index = weakref.ref(policy.index)  # Policy.index: a cached property, kept with the policy
    assert index() is policy.index
    del policy
    gc.collect()
    assert index() is None


def test_no_set_has_overlapping_elements():
    from egress.load import load_policy

    texts = [render(shape(key)) for key in SHAPES]
    chu, _ = load_policy(str(ROOT / "policies" / "chu-rennes-2023" / "policy.yaml"))
    texts += [nftables.render(resolve(chu, stage.id, AT)) for stage in chu.stages]
    checked = 0
    for text in texts:
        for name in re.findall(r"^\t(?:set|map) ((?:out|in|svc)x?_\S+_v[46]) \{", text.split("# 3.")[1], re.M):
            boxes = sorted(_element_box(e) for e in set_elements(text, name))
            for i, (proto, _first, last, pf, pl) in enumerate(boxes):
                for other in boxes[i + 1:]:
                    if other[1] > last:
                        break
                    assert not (other[0] == proto and other[3] <= pl and pf <= other[4]), (name, boxes[i], other)
            checked += len(boxes)
    assert checked > 100


def test_deterministic_bytes():
    for key in SHAPES:
        assert render(shape(key)) == render(shape(key))
    # zones and services given in another order give the same bytes
    data = SHAPES["both"]
    reordered = make_policy(
        dict(reversed(data["zones"].items())), dict(reversed(data["services"].items())), data["stages"]
    )
    assert render(reordered) == render(shape("both"))


def test_header():
    text = render(shape("v4"))
    assert text.startswith("#!/usr/sbin/nft -f\n")
    assert "# policy: test-policy (egress language version 1)" in text
    assert "# stage: s1 (stage 1), 2023-06-22" in text
    assert "# at: 2023-07-01" in text
    assert "# grants in force: to-partner" in text


def test_free_text_cannot_break_out_of_a_comment():
    policy = shape("v4")
    stage = policy.stages[1]
    evil = Stage(stage.id, stage.index, "x\ntable inet other { }\r\n#", stage.date, stage.grants, (), POS)
    policy = Policy(**{**policy.__dict__, "stages": (policy.stages[0], evil)})
    text = render(policy)
    assert "\ntable inet other" not in text
    assert "# stage: s1 (x table inet other { } #)" in text


def test_output_hook():
    text = render(shape("v4", hook="output"))
    rules = chain_rules(text, "output")
    assert rules[0] == "type filter hook output priority filter; policy drop;"
    assert 'oifname "lo" accept' in rules
    assert any("nd-neighbor-solicit" in r and "mld2-listener-report" in r for r in chain_rules(text, "ipv6"))
    # the forward chain is declared with policy accept only to be deleted
    assert "flush chain inet egress forward\ndelete chain inet egress forward\n" in text
    forward = render(shape("v4"))
    assert "delete chain inet egress output\n" in forward
    assert not any("nd-neighbor" in r for r in chain_rules(forward, "ipv6"))


def test_log_group_and_prefix():
    text = render(shape("v4", log_group=5))
    assert chain_rules(text, "forward")[-1] == (
        'counter limit rate 10/second burst 20 packets log prefix "egress test-policy drop: " group 5'
    )
    plain = render(shape("v4"))
    assert chain_rules(plain, "forward")[-1].endswith('log prefix "egress test-policy drop: "')


def test_long_names_stay_within_nft_limits():
    zone = "z" * 62 + "a"
    service = "s" * 63
    gids = [f"grant-number-{i:02d}-" + "x" * 40 for i in range(10)]
    policy = make_policy(
        {zone: ["10.0.0.0/24"], "b" * 63: ["10.0.0.0/25"]},  # overlapping: class name of both
        {service: (["host:a.example", "address:203.0.113.0/24"], ["tcp/443"])},
        [[grant(g, zone, service) for g in gids]],
        name="p" * 63,
        lock={},
    )
    text = render(policy)
    assert len(nftables.log_prefix("p" * 63)) <= 127
    assert len(nftables.log_prefix("p" * 300)) <= 127
    names = re.findall(r"\b(?:set|map|chain) (\S+) \{", text)
    names += re.findall(r"@(\w[\w.-]*)", text) + re.findall(r"jump (\S+?),?$", text, re.M)
    assert names and all(len(n) <= NAME_MAX for n in names), [n for n in names if len(n) > NAME_MAX]
    comments = re.findall(r'comment "([^"]*)"', text)
    assert comments and all(len(c) <= 128 for c in comments)
    assert any(c.endswith("more") for c in comments)
    prefixes = re.findall(r'log prefix "([^"]*)"', text)
    assert prefixes and all(len(p) <= 127 for p in prefixes)
    # shortening is deterministic and keeps distinct names distinct
    assert nft_name("out_", "x" * 70, "_v4") == nft_name("out_", "x" * 70, "_v4")
    assert nft_name("out_", "x" * 70, "_v4") != nft_name("out_", "x" * 71, "_v4")
    assert nft_name("out_", "x" * 70, "_v4").endswith("_v4")
    assert len(dynamic_set(service, 6)) <= NAME_MAX


def test_comment_truncation():
    assert nftables.comment(["b", "a"]) == "grants a, b"
    assert nftables.comment(["a"]) == "grant a"
    long = nftables.comment([f"g{i:03d}" + "y" * 30 for i in range(20)])
    assert len(long) <= 128 and long.endswith(" more")


def test_ingress_from_internet_and_partner():
    text = render(shape("ingress"))
    inbound = set_elements(text, "in_mail_v4")
    # the internet is the public space outside the zones (no private, loopback, link-local,
    # multicast or reserved source), on tcp/25 only
    assert inbound[0] == "1.0.0.0-9.255.255.255 . tcp . 25"
    assert "169.255.0.0-172.15.255.255 . tcp . 25" in inbound
    assert inbound[-1] == "198.20.0.0-223.255.255.255 . tcp . 25"
    assert "192.0.2.32-192.0.2.103 . tcp . 25" in inbound  # documentation ranges stay in
    assert not any(e.startswith("192.0.2.24") for e in inbound)
    assert set_elements(text, "in_dicom_v4") == ["198.51.100.64/28 . tcp . 104"]
    assert chain_rules(text, "in_dicom_v4") == [
        'ip saddr . meta l4proto . th dport @in_dicom_v4 counter meta mark set meta mark and 0x0000ffff accept'
        ' comment "grant images-in"'
    ]
    assert set_elements(text, "in_mail_v6")[:2] == [
        "2000::/16 . tcp . 25", "2001:200::-2001:db8:35:24:ffff:ffff:ffff:ffff . tcp . 25",
    ]


def test_proxy_grant():
    text = render(shape("proxy"))
    # the workstations reach only the proxy, on its port: its addresses are a tag
    assert set_elements(text, "dst_v4") == ["10.0.0.3 : jump tag_1"]
    assert chain_rules(text, "tag_1")[0].endswith('comment "the proxy"')
    assert set_elements(text, "svc_ws_v4") == ["0x00010000 . tcp . 3128 : jump allow"]
    assert set_elements(text, "svc_ws_v6") == ["0x00010000 . tcp . 3128 : jump allow"]
    # the proxy reaches the internet (public space outside the zones) on the web ports of
    # the service: not the zones, nor private, link-local, loopback or reserved space
    out_proxy = set_elements(text, "out_proxy_v4")
    assert out_proxy[:2] == ["1.0.0.0-9.255.255.255 . tcp . 80", "1.0.0.0-9.255.255.255 . tcp . 443"]
    assert "11.0.0.0-100.63.255.255 . tcp . 443" in out_proxy
    assert out_proxy[-1] == "198.20.0.0-223.255.255.255 . tcp . 443"
    assert not any(e.startswith(("10.", "127.", "169.254.", "192.168.")) for e in out_proxy)
    assert set_elements(text, "out_proxy_v6")[0] == "2000::/16 . tcp . 80"
    # no dynamic rule for a proxied host: the proxy checks the names
    assert not any("@hosts_" in r for r in chain_rules(text, "out_ws_v4"))
    assert "dyn_sites" not in text


def test_icmp_and_udp():
    text = render(shape("icmp-udp"))
    # tags follow the sorted names of the services: ntp is 1, probe is 2
    assert set_elements(text, "dst_v4") == ["198.51.100.1 : jump tag_2", "198.51.100.123 : jump tag_1"]
    assert set_elements(text, "svc_infra_v4") == ["0x00010000 . udp . 123 : jump allow", "0x00020000 . icmp . 0-65535 : jump allow"]
    assert set_elements(text, "svc_infra_v6") == ["0x00010000 . udp . 123 : jump allow", "0x00020000 . icmpv6 . 0-65535 : jump allow"]
    # echo-request is not opened by the base chain
    assert not any("echo-request" in r for r in chain_rules(text, "ipv4") + chain_rules(text, "ipv6"))


def test_hosts_get_lock_addresses_and_dynamic_sets():
    text = render(shape("hosts"))
    assert set_elements(text, "dst_v4") == ["198.51.100.25 : jump tag_1", "203.0.113.25 : jump tag_1"]
    assert set_elements(text, "svc_mail_v4") == ["0x00010000 . tcp . 25 : jump allow", "0x00010000 . tcp . 587 : jump allow"]
    # the ports of the class lead to the chain of the dnsmasq-fed sets of the services
    assert set_elements(text, "hosts_mail_v4") == ["tcp . 25 : jump to_relay_v4", "tcp . 587 : jump to_relay_v4"]
    assert chain_rules(text, "out_mail_v4")[0] == 'meta l4proto . th dport vmap @hosts_mail_v4 comment "grant relay-out"'
    assert chain_rules(text, "to_relay_v4") == ["ip daddr @dyn_relay_v4 counter meta mark set meta mark and 0x0000ffff accept"]
    assert chain_rules(text, "to_relay_v6") == ["ip6 daddr @dyn_relay_v6 counter meta mark set meta mark and 0x0000ffff accept"]
    part1 = text.split("# 2.")[0]
    assert "\tset dyn_relay_v4 {\n\t\ttype ipv4_addr\n\t\tflags timeout\n\t\ttimeout 1d\n\t}" in part1
    # the dynamic sets are never flushed while a direct grant opens them
    assert "flush set inet egress dyn_relay" not in text


def test_dynamic_sets_keyed_by_what_a_packet_needs():
    """Services with hosts reached from one zone: one set per (port piece, services
    across the stages), behind a port map, so a packet meets the same two rules
    whatever the number of services; a set is named after its services at its widest
    stage, and emptied where it holds fewer (it may hold a later stage's addresses)."""
    policy = make_policy(
        {"ws": ["10.1.0.0/24"]},
        {
            "a": (["host:a.example"], ["tcp/443", "tcp/25"]),
            "b": (["host:b.example"], ["tcp/443"]),
            "c": (["host:c.example"], ["tcp/8443"]),
        },
        [[grant("a", "ws", "a")], [grant("b", "ws", "b"), grant("c", "ws", "c")]],
        lock={},
    )
    s0, s1 = render(policy, "s0"), render(policy, "s1")
    assert set_elements(s1, "hosts_ws_v4") == [
        "tcp . 25 : jump to_a_v4", "tcp . 443 : jump to_a_b_v4", "tcp . 8443 : jump to_c_v4",
    ]
    assert chain_rules(s1, "to_a_b_v4") == ["ip daddr @dyn_a_b_v4 counter meta mark set meta mark and 0x0000ffff accept"]
    assert set_elements(s0, "hosts_ws_v4") == ["tcp . 25 : jump to_a_v4", "tcp . 443 : jump to_a_b_v4"]
    # every stage declares the sets of every stage
    part1 = lambda t: t.split("# 2.")[0].split("# 1.")[1]  # noqa: E731
    assert part1(s0) == part1(s1)
    flushed = lambda t: [line.split()[-1] for line in t.splitlines() if line.startswith("flush set")]  # noqa: E731
    assert flushed(s1) == []
    assert flushed(s0) == ["dyn_a_b_v4", "dyn_a_b_v6", "dyn_c_v4", "dyn_c_v6"]
    # dnsmasq puts a's host in both sets of a, b's in the shared one only
    from egress.targets import dynamic

    assert dynamic.host_sets(resolve(policy, "s1", AT)) == {
        "a.example": ("dyn_a_b_v4", "dyn_a_b_v6", "dyn_a_v4", "dyn_a_v6"),
        "b.example": ("dyn_a_b_v4", "dyn_a_b_v6"),
        "c.example": ("dyn_c_v4", "dyn_c_v6"),
    }


def test_revoked_service_dynamic_sets_are_flushed():
    data = SHAPES["hosts"]
    policy = make_policy(
        data["zones"], data["services"],
        [data["stages"][0], {"grants": [], "revoke": ["relay-out"]}], lock=data["lock"],
    )
    text = render(policy, "s1")
    assert "flush set inet egress dyn_relay_v4\nflush set inet egress dyn_relay_v6" in text
    assert set_elements(text, "svc_mail_v4") == []
    assert "# revoked: relay-out (at s1)" in text


def test_expired_grant_left_out():
    data = SHAPES["v4"]
    policy = make_policy(
        data["zones"], data["services"],
        [[grant("to-partner", "lab", "partner", expires=end_of_day(dt.date(2023, 6, 30), "UTC"))]],
    )
    text = render(policy, "s0", at=dt.date(2023, 7, 1))
    assert set_elements(text, "svc_lab_v4") == []
    assert "# expired: to-partner (2023-06-30 24:00 UTC (2023-07-01T00:00:00Z))" in text
    assert set_elements(render(policy, "s0", at=dt.date(2023, 6, 30)), "svc_lab_v4")


# ------------------------------------------------------------ nft -c in a namespace


@pytest.fixture(scope="module")
def netns():
    """A network namespace of our own, for `nft -c -f` (deleted afterwards)."""
    name = f"egtmp-nftc-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def nft_check(netns: str, text: str, tmp_path: Path) -> subprocess.CompletedProcess:
    path = tmp_path / "egress.nft"
    path.write_text(text)
    return subprocess.run(["ip", "netns", "exec", netns, "nft", "-c", "-f", str(path)],
                          capture_output=True, text=True)


@pytest.mark.system("ip", "nft")
@pytest.mark.parametrize("key", sorted(SHAPES))
@pytest.mark.parametrize("hook", ["forward", "output"])
def test_nft_check_accepts(netns, tmp_path, key, hook):
    result = nft_check(netns, render(shape(key, hook=hook, log_group=3 if hook == "output" else None)), tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.system("ip", "nft")
def test_nft_check_accepts_long_names(netns, tmp_path):
    zone = "z" * 63
    policy = make_policy(
        {zone: ["10.0.0.0/24"], "b" * 63: ["10.0.0.0/25"]},
        {"s" * 63: (["host:a.example", "address:203.0.113.0/24"], ["tcp/443"])},
        [[grant(f"g{i}-" + "x" * 60, zone, "s" * 63) for i in range(5)]],
        name="p" * 63,
        lock={},
    )
    result = nft_check(netns, render(policy), tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.system("ip", "nft")
def test_nft_check_rejects_overlap(netns, tmp_path):
    """The reason for the decomposition: nft refuses overlapping concatenated intervals."""
    text = (
        "table inet egress {\n\tset s {\n\t\ttype ipv4_addr . inet_proto . inet_service\n"
        "\t\tflags interval\n\t\telements = { 10.0.0.0/24 . tcp . 443, 10.0.0.0/25 . tcp . 443 }\n\t}\n}\n"
    )
    result = nft_check(netns, text, tmp_path)
    assert result.returncode != 0 and "File exists" in result.stderr


@pytest.mark.system("ip", "nft")
def test_nft_check_real_policies(netns, tmp_path):
    from egress.load import load_policy

    for path in (MINIMAL, ROOT / "policies" / "chu-rennes-2023" / "policy.yaml"):
        policy, diagnostics = load_policy(str(path))
        assert policy is not None, diagnostics
        for stage in policy.stages:
            result = nft_check(netns, nftables.render(resolve(policy, stage.id, AT)), tmp_path)
            assert result.returncode == 0, (path, stage.id, result.stderr)


# ------------------------------------------------------------------------ golden


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("EGRESS_UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"{path} missing: run with EGRESS_UPDATE_GOLDEN=1"
    assert text == path.read_text(), f"{name} differs from the golden file (EGRESS_UPDATE_GOLDEN=1 to update)"


def minimal_flows(stage: str):
    from egress.load import load_policy

    policy, diagnostics = load_policy(str(MINIMAL))
    assert policy is not None, diagnostics
    return resolve(policy, stage, AT)


@pytest.mark.parametrize("stage", ["s1-partner-results", "s2-reference-sites"])
def test_golden_minimal(stage):
    _golden(f"minimal-{stage}.nft", nftables.render(minimal_flows(stage)))


# ------------------------------------------------------------------------ expiry


EXPIRING = """egress: 1
policy: tz-test
{timezone}
zones:
  lab:
    addresses: [10.30.0.0/24]
services:
  vendor:
    destinations:
      - address: 203.0.113.40
    ports: [tcp/443]
  partner:
    destinations:
      - address: 203.0.113.50
    ports: [tcp/443]
stages:
  - id: s0
    grants:
      - id: support
        from: lab
        to: vendor
        reason: remote support
        expires: 2023-09-30
      - id: partner
        from: lab
        to: partner
        reason: results
      - id: other-support
        from: lab
        to: vendor
        ports: [tcp/443]
        reason: the same instant, another grant
        expires: {same}
"""


@pytest.mark.parametrize("timezone, instant", [
    ("", 1696118400),  # 2023-10-01T00:00:00Z: the end of 2023-09-30 in UTC
    ("timezone: Europe/Paris", 1696111200),  # 2023-09-30T22:00:00Z: the end of that day in Paris
])
def test_expiry_instants_in_the_rules(tmp_path, timezone, instant):
    from egress.load import load_policy

    path = tmp_path / "policy.yaml"
    same = dt.datetime.fromtimestamp(instant, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    path.write_text(EXPIRING.format(timezone=timezone, same=same))
    policy, diagnostics = load_policy(str(path))
    assert policy is not None, diagnostics
    at = dt.datetime(2023, 7, 1, tzinfo=dt.UTC)
    text = nftables.render(resolve(policy, "s0", at))
    # one chain per distinct closing instant, whatever the number of grants closing then
    assert re.findall(r"^\tchain (until_\d+) \{\n\t\tmeta", text, re.M) == [f"until_{instant}"]
    assert chain_rules(text, f"until_{instant}") == [
        f"meta time < {instant} meta mark set meta mark and 0x0000ffff accept"
    ]
    # the expiring element jumps to the chain of its instant, the permanent one to allow
    assert set_elements(text, "svc_lab_v4") == [
        "0x00010000 . tcp . 443 : jump allow", f"0x00020000 . tcp . 443 : jump until_{instant}",
    ]
    assert re.search(rf"^# closes at .*\(meta time {instant}\): other-support,\n#\s+support$", text, re.M)
    if timezone:  # Paris at 22:00 UTC is 24:00 of the day
        assert "# closes at 2023-09-30 24:00 Europe/Paris (2023-09-30T22:00:00Z)" in text
    # the same inputs, the same bytes; no "now" in the file
    assert nftables.render(resolve(policy, "s0", at)) == text
    # compiled after the instant, the grants are left out (and the chain stays declared)
    after = nftables.render(resolve(policy, "s0", dt.datetime(2023, 10, 2, tzinfo=dt.UTC)))
    assert set_elements(after, "svc_lab_v4") == ["0x00010000 . tcp . 443 : jump allow"]
    assert f"\tchain until_{instant} {{\n\t}}" in after.split("# 2.")[0]


def test_tag_pieces_fast_path_equals_sweep():
    """`label_pieces` (ranges alone taken as they are) gives what `sweep` gives, on
    random services whose own ranges never touch (as egress.flows makes them)."""
    import random

    from egress.targets.dynamic import sweep

    rng = random.Random(5)
    for _ in range(300):
        items = []
        for name in "abcd"[: rng.randint(1, 4)]:
            at = rng.randint(0, 10)
            for _ in range(rng.randint(1, 5)):
                first = at + rng.randint(0, 8)
                last = first + rng.randint(0, 6)
                items.append((first, last, name))
                at = last + 2
        assert nftables_tags.label_pieces(items) == sweep(items, lambda labels: tuple(sorted(labels)))


def test_tag_pieces_of_unmerged_ranges_equal_those_of_merged_ones():
    """The tags are cut from the networks as written (a service's networks may overlap,
    touch or repeat): the pieces are those of each service's ranges merged first (what
    the flows hold), so the ruleset and the count of E149 do not depend on how a
    service's addresses are written."""
    import random

    from egress.intervals import merge

    rng = random.Random(11)
    for _ in range(500):
        items = []
        for name in "abcd"[: rng.randint(1, 4)]:
            for _ in range(rng.randint(1, 6)):
                first = rng.randint(0, 40)
                items.append((first, first + rng.randint(0, 8), name))
        merged = [(a, b, name) for name in {n for _, _, n in items}
                  for a, b in merge((a, b) for a, b, n in items if n == name)]
        assert nftables_tags.label_pieces(items) == nftables_tags.label_pieces(merged), items

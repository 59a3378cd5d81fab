"""`egress reach` (egress/reach.py), the record of an allowing grant in `egress query`,
`query --src ZONE`, the proxy hint only where the proxy could carry the flow, and the
proxy's plumbing flows of `StageFlows.proxy_flows` that query, reach and nftables read."""

from __future__ import annotations

import datetime as dt
import json

from click.testing import CliRunner

from egress.cli import main
from egress.flows import resolve
from egress.model import INTERNET
from tests.test_diff import BASE, SHIPPED, load, write
from tests.test_query import ask

S2, S6 = "s2-secure-messaging", "s6-online-booking"


def reach(*args, at="2023-07-01"):
    result = CliRunner().invoke(main, ["reach", SHIPPED, *args, "--at", at, "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_an_allowed_flow_says_until_when_on_whose_approval_which_ticket():
    answer = ask(S2, "10.20.0.9", "198.51.100.201", "tcp/443", at="2023-07-01")
    assert (answer["decision"], answer["grant"], answer["via"]) == ("allow", "pacs-remote-support", "direct")
    assert answer["expires"] == "2023-08-31 24:00 UTC (2023-09-01T00:00:00Z)" and answer["grant_stage"] == S2
    assert answer["ticket"] == "CRISE-2023-018" and answer["approved_by"].startswith("Crisis cell")
    text = CliRunner().invoke(main, ["query", SHIPPED, "--stage", S2, "--src", "10.20.0.9", "--dst", "198.51.100.201",
                                     "--port", "tcp/443", "--at", "2023-07-01"]).stdout
    assert "grant pacs-remote-support: granted at stage s2-secure-messaging; open until 2023-08-31 24:00 UTC (2023-09-01T00:00:00Z)" in text
    assert "ticket: CRISE-2023-018" in text
    unlimited = ask(S2, "10.10.0.5", "203.0.113.70", "tcp/25")
    assert unlimited["expires"] is None and unlimited["ticket"]
    denied = ask(S2, "10.10.0.5", "203.0.113.70", "tcp/26")
    assert denied["expires"] is None and denied["ticket"] is None  # no record for a denial


def test_the_proxy_hint_only_where_the_proxy_could_carry_the_flow():
    web = ask(S6, "10.100.7.7", "203.0.113.20", "tcp/443")
    assert web["decision"] == "deny" and "through the proxy" in web["hint"]
    mail = ask(S6, "10.100.7.7", "203.0.113.20", "tcp/25")
    assert mail["decision"] == "deny" and mail["hint"] is None


def test_query_takes_a_zone_as_source():
    by_zone = ask(S6, "workstations", "www.ameli.fr", "tcp/443")
    assert (by_zone["decision"], by_zone["grant"], by_zone["via"]) == ("allow", "continuity-web", "proxy")
    assert by_zone["src_zone"] == "workstations" and by_zone["source_zone"] == "workstations"
    v6 = ask(S2, "secure-messaging", "2001:db8:2000::22", "tcp/443")  # the zone's IPv6 address is taken
    assert v6["src"].startswith("fd12:") and v6["src_zone"] == "secure-messaging"
    bad = CliRunner().invoke(main, ["query", SHIPPED, "--stage", S6, "--src", "workstationz", "--dst", "ameli.fr",
                                    "--port", "tcp/443"])
    assert bad.exit_code == 2 and "nor a zone of the policy" in bad.output


def test_reach_from_a_zone_lists_its_flows_and_its_way_to_the_proxy():
    data = reach("--stage", "last", "--from", "workstations")
    assert data["from"] == "workstations" and data["stage"] == S6
    rows = {(r["grant"], r["to"], r["kind"]) for r in data["flows"]}
    assert ("continuity-web", "continuity-sites", "grant") in rows
    assert ("continuity-web", "proxy", "to-proxy") in rows
    assert all(r["from"] == "workstations" for r in data["flows"])
    proxy = reach("--stage", "last", "--from", "proxy")
    outward = [r for r in proxy["flows"] if r["kind"] == "from-proxy"]
    assert outward and all(r["to"] == INTERNET and r["destination"] == [INTERNET] for r in outward)
    assert len({(r["grant"], tuple(r["ports"])) for r in outward}) == len(outward)  # one row per grant


def test_reach_to_an_address_a_name_and_a_zone():
    data = reach("--stage", S2, "--to", "203.0.113.70")
    grants = [(r["grant"], r["kind"]) for r in data["flows"]]
    assert ("apicrypt-client", "grant") in grants
    assert all(kind in ("grant", "from-proxy") for _, kind in grants)
    named = reach("--stage", "last", "--to", "www.ameli.fr")
    assert {(r["from"], tuple(r["destination"])) for r in named["flows"]} == {
        ("workstations", (".ameli.fr",)), ("reporting", (".ameli.fr",))}
    inbound = reach("--stage", "last", "--to", "mail-gateway")
    assert [(r["grant"], r["from"]) for r in inbound["flows"]] == [("inbound-smtp", INTERNET)]
    assert reach("--stage", "first", "--from", "workstations")["flows"] == []


def test_reach_usage_errors():
    def code(*args):
        return CliRunner().invoke(main, ["reach", SHIPPED, "--stage", "last", *args]).exit_code

    assert code() == 2 and code("--from", "lab", "--to", "ameli.fr") == 2
    assert code("--from", "nope") == 2 and code("--to", "not a name") == 2
    text = CliRunner().invoke(main, ["reach", SHIPPED, "--stage", "last", "--from", "lab", "--at", "2023-07-01"]).stdout
    assert text.startswith("lab reaches ") and "efs-results" in text


def test_proxy_flows_are_the_plumbing_of_each_proxied_flow(tmp_path):
    policy = load(write(tmp_path, BASE))
    flows = resolve(policy, "s2", dt.date(2023, 7, 1))
    proxied = [f for f in flows.flows if f.via == "proxy"]
    assert len(proxied) == 1 and len(flows.proxy_flows) == 2
    to_proxy, to_web = flows.proxy_flows
    assert (to_proxy.source, to_proxy.target, [str(p) for p in to_proxy.ports]) == ("lab", "proxy", ["tcp/3128"])
    assert (to_web.source, to_web.target, [str(p) for p in to_web.ports]) == ("proxy", INTERNET, ["tcp/443"])
    assert to_proxy.serves is proxied[0] and to_web.serves is proxied[0]
    assert to_proxy.via == to_web.via == "direct" and to_proxy.grant.id == "web"
    assert to_proxy.dst_ranges == ((4, 0x0A000003, 0x0A000003),)
    assert all(f.serves is None for f in flows.flows)
    assert resolve(policy, "s1", dt.date(2023, 7, 1)).proxy_flows == ()  # no proxied grant yet

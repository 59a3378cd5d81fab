"""`egress query` and egress/query.py: allow with the right grant and `via`, deny with
the nearest reasons, bad input exit 2."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from egress.check import validate
from egress.cli import main
from egress.flows import resolve
from egress.query import QueryInputError, query
from tests.test_diff import write

REPO = Path(__file__).resolve().parent.parent
SHIPPED = str(REPO / "policies" / "chu-rennes-2023" / "policy.yaml")
AT = "2023-10-01"  # after the expiry of pacs-remote-support (2023-08-31)
BEFORE = "2023-07-01"

S1, S2, S3, S4, S5 = "s1-inbound-mail", "s2-secure-messaging", "s3-continuity-sites", "s4-outbound-mail", "s5-teleconsultation"


def ask(stage, src, dst, port, at=AT, policy=SHIPPED):
    """Run the command in JSON; (exit code, answer)."""
    result = CliRunner().invoke(
        main, ["query", policy, "--stage", stage, "--src", src, "--dst", dst, "--port", port, "--at", at, "--format", "json"],
        catch_exceptions=False,
    )
    assert result.exit_code in (0, 1), result.output
    answer = json.loads(result.output)
    assert result.exit_code == (0 if answer["decision"] == "allow" else 1)
    return answer


def allows(stage, src, dst, port, grant, via, **kw):
    answer = ask(stage, src, dst, port, **kw)
    assert (answer["decision"], answer["grant"], answer["via"]) == ("allow", grant, via), answer
    return answer


def denies(stage, src, dst, port, *reasons, **kw):
    answer = ask(stage, src, dst, port, **kw)
    assert (answer["decision"], answer["grant"], answer["via"]) == ("deny", None, None), answer
    text = "\n".join(answer["reasons"])
    for reason in reasons:
        assert reason in text, (reason, answer["reasons"])
    return answer


# -- allow, by kind of grant -------------------------------------------------------------


def test_direct_address():
    answer = allows(S2, "10.10.0.5", "203.0.113.70", "tcp/25", "apicrypt-client", "direct")
    assert answer["source_zone"] == "secure-messaging" and answer["target"] == "apicrypt" and answer["direction"] == "egress"
    allows(S2, "fd12:3456:789a:30::7", "2001:db8:4800::1", "tcp/2575", "efs-results", "direct")  # v6


def test_direct_host_through_the_lock_file():
    # the address comes from the lock file (smtp.mss-operator.example), not from the policy
    allows(S2, "10.10.0.5", "203.0.113.20", "tcp/465", "mss-connector", "direct")
    allows(S2, "fd12:3456:789a:10::5", "2001:db8:2000::21", "tcp/993", "mss-connector", "direct")
    allows(S2, "10.10.0.5", "smtp.mss-operator.example", "tcp/587", "mss-connector", "direct")
    allows(S2, "10.10.0.5", "SMTP.MSS-Operator.example.", "tcp/587", "mss-connector", "direct")  # case, trailing dot


def test_proxy_names_apex_subdomain_and_host():
    allows(S3, "10.100.1.2", "ameli.fr", "tcp/443", "continuity-web", "proxy")  # the domain's apex
    allows(S3, "10.100.1.2", "espacepro.ameli.fr", "tcp/443", "continuity-web", "proxy")  # below it
    allows(S3, "10.40.0.9", "www.legifrance.gouv.fr", "tcp/443", "continuity-web", "proxy")  # a host
    allows(S3, "fd12:3456:789a:100::9", "www.vidal.fr", "tcp/443", "continuity-web", "proxy")  # from v6
    allows(S2, "10.100.1.2", "r3.o.lencr.org", "tcp/80", "cert-status-web", "proxy")


def test_a_name_allowed_two_ways_reports_every_grant():
    answer = allows(S5, "10.100.1.2", "tele-expertise.regional-platform.example", "tcp/443", "tele-expertise-web", "proxy")
    assert answer["grants"] == ["tele-expertise-web"]
    answer = allows(S3, "10.40.0.9", "igc-sante.esante.gouv.fr", "tcp/80", "cert-status-web", "proxy")
    assert answer["grants"] == ["cert-status-web"]


def test_ingress_from_internet():
    answer = allows(S1, "198.51.100.7", "192.0.2.25", "tcp/25", "inbound-smtp", "direct")
    assert answer["direction"] == "ingress" and answer["source"] == "internet" and answer["destination_zone"] == "mail-gateway"
    allows(S1, "2001:db8:ffff::1", "2001:db8:35:25::1", "tcp/25", "inbound-smtp", "direct")


def test_ingress_from_a_partner():
    answer = allows(S2, "198.51.100.65", "192.0.2.105", "tcp/104", "images-from-partners", "direct")
    assert answer["source"] == "partner-pacs" and answer["target"] == "dicom-gateway"
    allows(S2, "2001:db8:6401::9", "2001:db8:35:104::9", "tcp/11112", "images-from-partners", "direct")


def test_udp():
    allows(S1, "10.1.0.53", "198.51.100.53", "udp/53", "resolvers-upstream", "direct")
    allows(S1, "fd12:3456:789a:1::123", "2001:db8:123::123", "udp/123", "ntp-upstream", "direct")
    allows(S5, "10.60.0.20", "203.0.113.140", "udp/15000", "teleconsult-media", "direct")  # inside a range


ICMP_POLICY = """\
egress: 1
policy: icmp-test
zones:
  noc: {addresses: [10.9.0.0/24, "fd12:9::/64"]}
services:
  monitored:
    destinations: [{address: 198.51.100.0/28}, {address: "2001:db8:9::/48"}]
    ports: [icmp, icmpv6, tcp/22]
stages:
  - id: s0
    grants: []
  - id: s1
    grants:
      - id: ping-partners
        from: noc
        to: monitored
        ports: [icmp, icmpv6]
        reason: monitoring
"""


def test_icmp(tmp_path):
    path = write(tmp_path, ICMP_POLICY)
    allows("s1", "10.9.0.1", "198.51.100.3", "icmp", "ping-partners", "direct", policy=path)
    allows("s1", "fd12:9::1", "2001:db8:9::3", "icmpv6", "ping-partners", "direct", policy=path)
    denies("s1", "10.9.0.1", "198.51.100.3", "tcp/22", "grant ping-partners allows icmp, icmpv6, not tcp/22", policy=path)
    denies("s0", "10.9.0.1", "198.51.100.3", "icmp", "grant ping-partners", "comes with stage s1", policy=path)


def test_the_proxy_plumbing_is_judged_as_the_firewall_opens_it():
    # a zone with proxied grants reaches the proxy on its port, the proxy reaches the web
    answer = allows(S3, "10.100.1.2", "192.0.2.9", "tcp/3128", "cert-status-web", "direct")
    assert answer["target"] == "proxy" and "continuity-web" in answer["grants"]
    answer = allows(S3, "192.0.2.10", "198.51.100.250", "tcp/443", "mail-av-updates", "direct")
    assert answer["source"] == "proxy" and answer["target"] == "internet"
    denies(S3, "192.0.2.10", "198.51.100.250", "tcp/22", "the proxy zone proxy reaches internet addresses on tcp/80, tcp/443 only")
    denies(S3, "10.20.0.1", "192.0.2.9", "tcp/3128", "zone imaging has no proxied grant in force")
    denies(S3, "10.100.0.1", "192.0.2.9", "tcp/22", "reaches the proxy on tcp/3128 only, not tcp/22")
    denies(S0 := "s0-isolation", "10.100.1.2", "192.0.2.9", "tcp/3128", "no proxied grant in force")
    assert S0


@pytest.mark.parametrize("dst, special", [
    ("169.254.169.254", "169.254.0.0/16 is link-local"),
    ("10.99.0.5", "10.0.0.0/8 is private-use"),
    ("192.168.1.1", "192.168.0.0/16 is private-use"),
    ("172.16.0.1", "172.16.0.0/12 is private-use"),
    ("100.64.0.1", "100.64.0.0/10 is shared address space"),
    ("127.0.0.1", "127.0.0.0/8 is loopback"),
    ("224.0.0.251", "224.0.0.0/4 is multicast"),
    ("0.0.0.0", "0.0.0.0/8 is \"this network\""),
    ("255.255.255.255", "240.0.0.0/4 is reserved"),
    ("fe80::1", "fe80::/10 is link-local"),
    ("fd00::1", "fc00::/7 is unique local"),
    ("::1", "::1/128 is loopback"),
    ("::ffff:10.0.0.1", "::ffff:0:0/96 is IPv4-mapped"),
    ("2002:a00:1::1", "2002::/16 is 6to4"),
    ("ff02::1", "ff00::/8 is multicast"),
])
def test_the_proxy_does_not_reach_special_space(dst, special):
    """Issue 10 item 17: "internet" behind the proxy is public space: a name under an
    allowed domain that resolves to a private or link-local address is not reachable."""
    answer = denies(S3, "192.0.2.10" if "." in dst and ":" not in dst else "2001:db8:35:8::10", dst, "tcp/443",
                    f"{dst} is not internet: {special}")
    assert "a private destination must be named in a service" in "\n".join(answer["reasons"])


@pytest.mark.parametrize("dst", ["198.51.100.250", "203.0.113.9", "192.0.2.200", "8.8.8.8", "2001:db8:ffff::1", "2a00:1450::1"])
def test_the_proxy_reaches_public_and_documentation_space(dst):
    src = "2001:db8:35:8::10" if ":" in dst else "192.0.2.10"
    assert allows(S3, src, dst, "tcp/443", "mail-av-updates", "direct")["target"] == "internet"


@pytest.mark.parametrize("src", ["10.99.0.5", "192.168.1.1", "169.254.1.1", "127.0.0.1", "fe80::1", "fd00::5"])
def test_ingress_from_internet_admits_no_special_source(src):
    dst = "2001:db8:35:25::1" if ":" in src else "192.0.2.25"
    answer = denies(S1, src, dst, "tcp/25", f"no grant admits {src} (not internet: ")
    assert answer["source"] is None


PRIVATE_PARTNER = """\
egress: 1
policy: private-partner
zones:
  lab: {addresses: [10.30.0.0/24]}
  proxy: {addresses: [10.0.0.3]}
proxy: {zone: proxy, port: 3128}
services:
  partner-link:
    description: A partner reached over a private link
    destinations: [{address: 172.20.5.0/24}]
    ports: [tcp/443]
  web:
    destinations: [{domain: example.org}]
    ports: [tcp/443]
stages:
  - id: s0
    grants: []
  - id: s1
    grants:
      - id: partner
        from: lab
        to: partner-link
        reason: results over the private link
      - id: proxy-to-partner
        from: proxy
        to: partner-link
        reason: the partner's web site over the private link
      - id: web
        from: lab
        to: web
        via: proxy
        reason: web
"""


def test_a_private_destination_named_in_a_service_is_reached(tmp_path):
    path = write(tmp_path, PRIVATE_PARTNER)
    allows("s1", "10.30.0.5", "172.20.5.9", "tcp/443", "partner", "direct", policy=path)
    allows("s1", "10.0.0.3", "172.20.5.9", "tcp/443", "proxy-to-partner", "direct", policy=path)
    denies("s1", "10.0.0.3", "172.20.6.9", "tcp/443", "172.16.0.0/12 is private-use", policy=path)
    allows("s1", "10.0.0.3", "198.51.100.1", "tcp/443", "web", "direct", policy=path)


# -- deny, by reason ---------------------------------------------------------------------------


def test_port_not_granted():
    denies(S2, "10.10.0.5", "203.0.113.70", "tcp/995", "grant apicrypt-client allows tcp/25, tcp/110, tcp/443, not tcp/995")
    denies(S1, "198.51.100.7", "192.0.2.25", "tcp/80", "grant inbound-smtp allows tcp/25, not tcp/80")
    denies(S3, "10.100.1.2", "ameli.fr", "tcp/80", "grant continuity-web allows tcp/443, not tcp/80")


def test_revoked():
    denies(S4, "10.40.0.9", "203.0.113.20", "tcp/587", "grant reports-to-mss-temp (reporting -> mssante-operator) was revoked at stage s4-outbound-mail")
    allows(S3, "10.40.0.9", "203.0.113.20", "tcp/587", "reports-to-mss-temp", "direct")


def test_expired():
    denies(S2, "10.20.0.9", "198.51.100.201", "tcp/443", "grant pacs-remote-support", "expired at 2023-08-31 24:00 UTC (2023-09-01T00:00:00Z)")
    allows(S2, "10.20.0.9", "198.51.100.201", "tcp/443", "pacs-remote-support", "direct", at=BEFORE)


def test_not_granted_yet():
    denies(S2, "10.100.1.2", "ameli.fr", "tcp/443", "grant continuity-web", "comes with stage s3-continuity-sites")


def test_no_service_holds_the_address():
    answer = denies(S3, "10.100.1.2", "198.51.100.10", "tcp/443", "no grant from zone workstations to any service holding 198.51.100.10")
    assert "through the proxy" in answer["hint"] and "--dst NAME" in answer["hint"]
    assert answer["source_zone"] == "workstations"


def test_a_held_address_from_another_zone():
    denies(S2, "10.100.1.2", "198.51.100.65", "tcp/104", "no grant from zone workstations to any service holding 198.51.100.65",
           "held by partner-pacs, granted to dicom-gateway")


def test_a_web_address_is_not_reached_directly_by_a_proxied_zone():
    # workstations reach the web by name through the proxy; an address held by a direct
    # service of other zones is refused, with the hint to ask for the name
    answer = denies(S3, "10.100.7.7", "203.0.113.20", "tcp/443", "held by mssante-operator, granted to reporting, secure-messaging")
    assert "through the proxy" in answer["hint"]


def test_source_in_no_zone():
    denies(S3, "10.99.0.1", "198.51.100.201", "tcp/443", "source 10.99.0.1 is in no zone")
    denies(S3, "10.99.0.1", "ameli.fr", "tcp/443", "source 10.99.0.1 is in no zone")


def test_name_from_the_wrong_zone_and_unknown_names():
    denies(S3, "10.20.1.2", "ameli.fr", "tcp/443", "grant continuity-web allows ameli.fr from zones workstations, reporting, not from imaging")
    denies(S3, "10.100.1.2", "www.google.com", "tcp/443", "no service names www.google.com")
    denies(S3, "10.100.1.2", "notameli.fr", "tcp/443", "no service names notameli.fr")  # not under ameli.fr


def test_ingress_reasons():
    denies(S2, "198.51.100.1", "192.0.2.105", "tcp/104", "no grant admits 198.51.100.1 (internet) to zone dicom-gateway",
           "grant images-from-partners admits partner-pacs only")
    denies(S2, "198.51.100.1", "10.20.0.1", "tcp/104", "no grant admits any flow from outside to zone imaging")
    denies("s0-isolation", "198.51.100.7", "192.0.2.25", "tcp/25", "grant inbound-smtp", "comes with stage s1-inbound-mail")


def test_between_zones():
    denies(S3, "10.100.1.2", "10.20.0.1", "tcp/443", "both ends are in zones")


# -- input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (["--src", "10.0.0.300", "--dst", "203.0.113.70", "--port", "tcp/25"], "not an IP address"),
    (["--src", "10", "--dst", "203.0.113.70", "--port", "tcp/25"], "not an IP address"),
    (["--src", "10.10.0.0/24", "--dst", "203.0.113.70", "--port", "tcp/25"], "is a network"),
    (["--src", "10.10.0.5", "--dst", "203.0.113.700", "--port", "tcp/25"], "not an IP address"),
    (["--src", "10.10.0.5", "--dst", "bad_name!", "--port", "tcp/25"], "neither an IP address nor a host name"),
    (["--src", "10.10.0.5", "--dst", "198.51.100.2x", "--port", "tcp/25"], "neither an IP address nor a host name"),
    (["--src", "10.10.0.5", "--dst", "203.0.113.70", "--port", "tcp/0"], "from 1 to 65535"),
    (["--src", "10.10.0.5", "--dst", "203.0.113.70", "--port", "tcp/70000"], "from 1 to 65535"),
    (["--src", "10.10.0.5", "--dst", "203.0.113.70", "--port", "443"], "not a port"),
    (["--src", "10.10.0.5", "--dst", "203.0.113.70", "--port", "tcp/1-2"], "not a port"),
    (["--src", "10.10.0.5", "--dst", "2001:db8::1", "--port", "tcp/25"], "give one family"),
    (["--src", "10.10.0.5", "--dst", "203.0.113.70", "--port", "icmpv6"], "for IPv4 write icmp"),
    (["--src", "fd12::1", "--dst", "2001:db8::1", "--port", "icmp"], "write icmpv6"),
])
def test_bad_input_exits_2_with_a_message(args, message):
    result = CliRunner().invoke(main, ["query", SHIPPED, "--stage", S2, *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_unknown_stage_and_missing_options_exit_2():
    result = CliRunner().invoke(main, ["query", SHIPPED, "--stage", "s9", "--src", "10.10.0.5", "--dst", "203.0.113.70", "--port", "tcp/25"])
    assert result.exit_code == 2 and "no stage 's9'" in result.output
    result = CliRunner().invoke(main, ["query", SHIPPED, "--src", "10.10.0.5", "--dst", "203.0.113.70", "--port", "tcp/25"])
    assert result.exit_code == 2


def test_json_contract_and_text():
    answer = ask(S2, "10.10.0.5", "203.0.113.70", "tcp/25")
    assert {"decision", "grant", "via"} <= set(answer)
    assert answer["decision"] in ("allow", "deny") and answer["via"] in ("direct", "proxy", None)
    assert {"reasons", "source_zone", "grants", "stage", "at"} <= set(answer)
    result = CliRunner().invoke(main, ["query", SHIPPED, "--stage", S2, "--src", "10.10.0.5", "--dst", "203.0.113.70", "--port", "tcp/25"])
    assert result.exit_code == 0
    assert result.output.startswith("allow: 10.10.0.5 -> 203.0.113.70 tcp/25 at stage s2-secure-messaging, by grant apicrypt-client")
    result = CliRunner().invoke(main, ["query", SHIPPED, "--stage", S2, "--src", "10.10.0.5", "--dst", "203.0.113.70", "--port", "tcp/995"])
    assert result.exit_code == 1 and result.output.startswith("deny: ") and "  - grant apicrypt-client allows" in result.output


def test_library_raises_query_input_error():
    policy, _ = validate(SHIPPED, dt.date(2023, 10, 1))
    flows = resolve(policy, S2, dt.date(2023, 10, 1))
    with pytest.raises(QueryInputError) as err:
        query(flows, "nope", "203.0.113.70", "tcp/25")
    assert err.value.param == "--src"


def test_hook_output_says_ingress_is_not_filtered(tmp_path):
    path = write(tmp_path, ICMP_POLICY.replace("services:", "firewall: {hook: output}\nservices:", 1) + """\
      - id: ssh-in
        from: internet
        to: noc
        ports: [tcp/22]
        reason: remote hands
""")
    answer = allows("s1", "198.51.100.1", "10.9.0.1", "tcp/22", "ssh-in", "direct", policy=path)
    assert "hooks `output`" in answer["hint"]
    assert answer["direction"] == "ingress"
    answer = allows("s1", "10.9.0.1", "198.51.100.3", "icmp", "ping-partners", "direct", policy=path)
    assert answer["hint"] is None  # egress is filtered on output as on forward

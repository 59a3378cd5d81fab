"""The Squid target (`egress/targets/squid.py`): fast unit tests, and `squid -k parse`.

The unit tests need nothing but Python. The parse tests run the real `squid -k parse`
on the include of every stage of every shipped policy (and on the example squid.conf),
and fail on any WARNING, ERROR or FATAL line, not only on the exit code: Squid 5.7
exits 0 on many configurations it has silently changed (an ignored dstdomain entry, an
ignored src network, a line cut at 8191 bytes whose rest became a directive...).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import subprocess
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from egress.bundle import squid_schedule
from egress.check import validate
from egress.cli import main
from egress.flows import resolve
from egress.load import policy_files
from egress.model import PortRange
from egress.targets import TARGETS
from egress.targets.squid import acl_name, domain_entries, merged_ports, render, render_later

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONF = ROOT / "examples" / "squid" / "squid.conf"
AT = dt.date(2023, 7, 1)

# What Squid prints when it changed or refused part of a configuration. Some of its
# complaints carry no level at all ("unrecognized: ...", "ACL name ... too long").
PROBLEM = re.compile(r"WARNING|ERROR|FATAL|Bungled|unrecognized|too long|not found", re.IGNORECASE)


# -- helpers --------------------------------------------------------------------------


def write_policy(tmp_path: Path, text: str, name: str = "policy.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip())
    return str(path)


def flows_of(path: str, stage: str, at: dt.date = AT):
    policy, diagnostics = validate(path, at)
    errors = [d for d in diagnostics if d.severity == "error"]
    assert policy is not None and not errors, errors
    return resolve(policy, stage, at)


POLICY = """
    egress: 1
    policy: squid-unit
    zones:
      proxy:
        addresses: [10.0.0.3]
      workstations:
        description: Clinical workstations
        addresses: [10.100.0.0/16, 10.101.0.0/16, "fd00:100::/56"]
      reporting:
        addresses: [10.40.0.0/23]
    proxy: {zone: proxy, port: 3128, tls: TLS}
    services:
      sites:
        description: Web sites
        owner: Service desk
        destinations:
          - domain: example.com
          - host: www.example.com
          - host: example.com
          - domain: deep.example.com
          - host: www.example.org
          - domain: example.net
          - host: other.example.org
        ports: [tcp/443]
      crl:
        destinations:
          - host: crl.example-ca.org
        ports: [tcp/80]
      mixed:
        destinations:
          - domain: mixed.example
        ports: [tcp/80, tcp/443, tcp/8443, tcp/8000-8100]
    stages:
      - id: s0
        grants: []
      - id: s1
        grants:
          - id: web
            from: [workstations, reporting]
            to: [sites, crl]
            via: proxy
            reason: Care continuity
            requested_by: Medical committee
            approved_by: Crisis cell
            ticket: CRISE-1
            expires: 2023-12-31
          - id: mixed-web
            from: workstations
            to: mixed
            ports: [tcp/443, tcp/8443]
            via: proxy
            reason: Mixed ports
"""


@pytest.fixture
def unit_policy(tmp_path):
    return write_policy(tmp_path, POLICY.replace("TLS", "none"))


@pytest.fixture
def peek_policy(tmp_path):
    return write_policy(tmp_path, POLICY.replace("TLS", "peek"))


def acl_values(text: str, name: str) -> list[str]:
    """Every value of the ACL `name`, across its lines, without options."""
    values = []
    for line in text.splitlines():
        parts = line.split()
        if parts[:2] == ["acl", name]:
            values += [p for p in parts[3:] if not p.startswith("-")]
    return values


# -- normalisation of names -----------------------------------------------------------


def test_domain_covers_apex_and_subdomains():
    assert domain_entries([], ["example.com"]) == [".example.com"]


def test_host_under_or_equal_to_a_domain_is_dropped():
    assert domain_entries(["www.example.com", "example.com", "a.b.example.com"], ["example.com"]) == [".example.com"]


def test_nested_domains_keep_the_parent():
    assert domain_entries([], ["deep.example.com", "example.com", "x.deep.example.com"]) == [".example.com"]


def test_label_boundary_is_respected():
    # `ample.com` is not a parent of `example.com`, `b-c.com` not of `a.b.c.com`
    got = domain_entries(["example.com", "a.b.c.com"], ["ample.com", "b-c.com"])
    assert got == [".ample.com", ".b-c.com", "a.b.c.com", "example.com"]


def test_hosts_alone_are_exact_and_deduplicated():
    got = domain_entries(["www.example.com", "www.example.com", "example.com"], [])
    assert got == ["example.com", "www.example.com"]


def test_case_is_folded():
    assert domain_entries(["WWW.Example.ORG"], ["Example.COM"]) == [".example.com", "www.example.org"]


def test_entries_sorted_by_labels_from_the_right_parents_first():
    got = domain_entries(["www.b.org", "a.example.com", "z.example.net"], ["example.com.au", "b.org"])
    assert got == [".example.com.au", "a.example.com", "z.example.net", ".b.org"]
    # and no entry of the result is covered by another one
    for entry in got:
        for other in got:
            if other is not entry and other.startswith("."):
                assert not (entry == other[1:] or entry.endswith(other)), (entry, other)


@pytest.mark.parametrize(
    "bad",
    ["example.com.", "*.example.com", ".example.com", "example.com:443", "exämple.com", "localhost",
     "a..b.com", "-a.example.com", "a b.com", "a\nhttp_access allow all", "1.2.3.4/24", "a_b.example.com"],
)
def test_render_refuses_a_name_squid_would_not_match(bad):
    with pytest.raises(ValueError):
        domain_entries([bad], [])
    with pytest.raises(ValueError):
        domain_entries([], [bad])


_labels = st.sampled_from(["a", "b", "ab", "a-b", "b-a", "x1", "xn--a"])
_names = st.lists(_labels, min_size=2, max_size=4).map(".".join)


@settings(max_examples=300, deadline=None)
@given(hosts=st.lists(_names, max_size=8), domains=st.lists(_names, max_size=8), probes=st.lists(_names, max_size=20))
def test_normalisation_keeps_the_meaning_and_removes_every_overlap(hosts, domains, probes):
    """Whatever the names: the entries match exactly the names the policy grants (what
    Squid does with a list of `.domain` and `host` entries), and no two overlap (what
    Squid would warn about, ignore, or die on)."""
    entries = domain_entries(hosts, domains)

    def granted(name):
        return name in hosts or any(name == d or name.endswith("." + d) for d in domains)

    def squid_matches(name):
        return any(name == e[1:] or name.endswith(e) if e.startswith(".") else name == e for e in entries)

    for name in probes + hosts + domains + [f"z.{d}" for d in domains] + [d.split(".", 1)[1] for d in domains]:
        assert squid_matches(name) == granted(name), (name, entries)
    for i, a in enumerate(entries):
        for b in entries[i + 1:]:
            # a later entry is never under, nor the apex of, an earlier domain (and vice versa)
            for x, y in ((a, b), (b, a)):
                if y.startswith("."):
                    assert not (x.lstrip(".") == y[1:] or x.endswith(y)), (x, y)
            assert a != b
    assert entries == sorted(entries, key=lambda e: (tuple(reversed(e.lstrip(".").split("."))), not e.startswith(".")))


def test_ports_are_merged():
    pairs = [(443, 443), (80, 80), (8000, 8100), (8101, 8101), (8050, 8060), (81, 81)]
    ports = [PortRange("tcp", a, b) for a, b in pairs]
    assert merged_ports(ports) == [(80, 81), (443, 443), (8000, 8101)]


def test_udp_never_goes_to_the_proxy():
    with pytest.raises(ValueError):
        merged_ports([PortRange("udp", 53, 53)])


# -- ACL names ------------------------------------------------------------------------


def test_acl_names_are_prefixed():
    assert acl_name("z", "workstations") == "egress_z_workstations"
    assert acl_name("s", "continuity-sites") == "egress_s_continuity-sites"


def test_long_acl_names_are_shortened_and_stay_unique():
    a, b = "a" * 62 + "b", "a" * 62 + "c"
    names = {acl_name("z", a), acl_name("z", b), acl_name("s", a)}
    assert len(names) == 3
    assert all(len(n) <= 62 and n.startswith("egress_") for n in names)
    assert acl_name("z", a) == acl_name("z", a)


@pytest.mark.parametrize("bad", ["", "Upper", "a b", "a\nb", "../x", "a.b", "-x"])
def test_acl_name_refuses_what_is_not_a_policy_name(bad):
    with pytest.raises(ValueError):
        acl_name("z", bad)


# -- the rendered file ----------------------------------------------------------------


def test_layout_of_a_stage(unit_policy):
    text = render(flows_of(unit_policy, "s1"))
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert acl_values(text, "egress_z_workstations") == ["10.100.0.0/15", "fd00:100::/56"]  # collapsed
    sites = [".example.com", ".example.net", "other.example.org", "www.example.org"]
    assert acl_values(text, "egress_s_sites") == sites
    assert "acl egress_s_sites dstdomain -n .example.com .example.net other.example.org www.example.org" in lines
    assert "acl egress_safe_ports port 80 443 8443" in lines
    assert "acl egress_tls_ports port 443 8443" in lines
    # access rules: port guards first, one allow per (grant, zone, service), deny all last
    access = [line for line in lines if line.startswith("http_access")]
    assert access == [
        "http_access deny !egress_safe_ports",
        "http_access deny CONNECT !egress_tls_ports",
        "http_access allow egress_z_workstations egress_s_mixed egress_p_443_8443",
        "http_access allow egress_z_reporting egress_s_crl egress_p_80",
        "http_access allow egress_z_reporting egress_s_sites egress_p_443",
        "http_access allow egress_z_workstations egress_s_crl egress_p_80",
        "http_access allow egress_z_workstations egress_s_sites egress_p_443",
        "http_access deny all",
    ]
    assert lines[-1] == "http_access deny all"
    # every ACL is defined before it is used, and every name is prefixed
    defined = set()
    for line in lines:
        words = line.split()
        if words[0] == "acl":
            defined.add(words[1])
            assert words[1].startswith("egress_")
        else:
            used = [w.lstrip("!") for w in words[2:]]
            assert all(u in defined or u in ("all", "CONNECT") for u in used), line
    assert "ssl_bump" not in text  # tls: none never needs an ssl-bump port


def test_comments_name_the_grant_and_its_metadata(unit_policy):
    text = render(flows_of(unit_policy, "s1"))
    assert "# grant web (stage s1): Care continuity" in text
    assert ("#   requested by Medical committee; approved by Crisis cell; ticket CRISE-1; "
            "closes at 2023-12-31 24:00 UTC (2024-01-01T00:00:00Z)") in text
    assert "# service sites: Web sites; owner: Service desk" in text
    assert "# zone workstations: Clinical workstations" in text
    assert "# policy: squid-unit" in text
    assert "# stage: s1" in text
    assert "# grants in force at: 2023-07-01 00:00 UTC (2023-07-01T00:00:00Z) (--at)" in text


def test_expired_grant_is_left_out_and_named(unit_policy):
    text = render(flows_of(unit_policy, "s1", dt.date(2024, 1, 1)))
    assert "# left out: grant web expired at 2023-12-31 24:00 UTC (2024-01-01T00:00:00Z)" in text
    assert "egress_s_sites" not in text
    assert "http_access allow egress_z_workstations egress_s_mixed egress_p_443_8443" in text


def test_empty_stage_denies_everything(unit_policy):
    text = render(flows_of(unit_policy, "s0"))
    directives = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert directives == ["http_access deny all"]
    assert text.endswith("http_access deny all\n")


def test_output_is_deterministic(unit_policy, tmp_path):
    first = render(flows_of(unit_policy, "s1")).encode()
    # the same policy written in another order gives the same bytes
    shuffled = POLICY.replace("TLS", "none").replace(
        "from: [workstations, reporting]", "from: [reporting, workstations]"
    ).replace("to: [sites, crl]", "to: [crl, sites]")
    other = write_policy(tmp_path, shuffled, "other.yaml")
    assert render(flows_of(other, "s1")).encode() == first
    assert render(flows_of(unit_policy, "s1")).encode() == first


def test_registered_as_the_squid_target(unit_policy):
    assert TARGETS["squid"].filename == "squid-egress.conf"
    assert TARGETS["squid"].render(flows_of(unit_policy, "s1")) == render(flows_of(unit_policy, "s1"))


def test_cli_compile_writes_the_include(unit_policy):
    argv = ["compile", unit_policy, "--stage", "s1", "--target", "squid", "--at", "2023-07-01"]
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 0, result.output
    assert result.stdout == render(flows_of(unit_policy, "s1"))


# -- the files of later periods (`bundle.squid_schedule`) --------------------------------

PERIODS = """
    egress: 1
    policy: squid-periods
    timezone: Europe/Paris
    zones:
      proxy:
        addresses: [10.0.0.3]
      workstations:
        addresses: [10.100.0.0/16]
      lab:
        description: Only the lab-tools grant names it
        addresses: [10.60.0.0/24]
      reporting:
        addresses: [10.40.0.0/23]
    proxy: {zone: proxy, port: 3128, tls: TLS}
    services:
      sites:
        destinations:
          - domain: example.com
          - host: www.example.org
        ports: [tcp/443]
      crl:
        destinations:
          - host: crl.example-ca.org
        ports: [tcp/80]
      tools:
        destinations:
          - domain: tools.example
        ports: [tcp/8443, tcp/8000-8100]
      news:
        destinations:
          - host: news.example.net
          - domain: feeds.example.net
        ports: [tcp/443]
      api:
        destinations:
          - address: 192.0.2.10
        ports: [tcp/443]
    stages:
      - id: s0
        grants: []
      - id: s1
        grants:
          - id: web
            reason: web for the test
            from: workstations
            to: sites
            via: proxy
            expires: 2023-09-30
          - id: crl
            reason: crl for the test
            from: [workstations, reporting]
            to: crl
            via: proxy
            expires: 2023-09-30
          - id: lab-tools
            reason: lab-tools for the test
            from: lab
            to: [tools, sites]
            via: proxy
            expires: 2023-10-15T12:00:00+02:00
          - id: news
            reason: news for the test
            from: reporting
            to: news
            via: proxy
            expires: 2023-11-30
          - id: api
            reason: api for the test
            from: workstations
            to: api
            expires: 2023-08-31
          - id: revoked-web
            reason: revoked-web for the test
            from: reporting
            to: sites
            via: proxy
            expires: 2023-08-15
          - id: forever
            reason: forever for the test
            from: workstations
            to: news
            via: proxy
      - id: s2
        revoke: [revoked-web]
        grants:
          - id: late-crl
            reason: late-crl for the test
            from: lab
            to: crl
            via: proxy
            expires: 2023-09-30T22:00:00Z
"""


@pytest.mark.parametrize("tls", ["none", "peek"])
@pytest.mark.parametrize("at", [AT, dt.date(2023, 9, 1)])
def test_each_later_period_equals_a_full_render(tmp_path, tls, at):
    """The file of each later period is derived from the stage's (only the expiring grants
    change): byte for byte the render of the stage resolved at that instant, by a policy
    loaded afresh (so that no part rendered for another period is reused). Two grants
    close at one instant (written as a date and as a UTC time), a revoked grant's expiry
    opens no period, a direct grant's expiry neither, a zone, a service and a port set
    leave the file with the grant that named them, the CONNECT ports lose 8000-8100 and
    8443, and names are domains, hosts or both."""
    path = write_policy(tmp_path, PERIODS.replace("TLS", tls))
    policy, diagnostics = validate(path, at)
    assert policy is not None and not [d for d in diagnostics if d.severity == "error"]
    seen = {}
    for stage in ("s0", "s1", "s2"):
        flows = resolve(policy, stage, at)
        schedule = squid_schedule(flows)
        seen[stage] = [when for when, _, _ in schedule]
        for when, name, data in schedule:
            fresh, _ = validate(path, at)
            instant = dt.datetime.fromisoformat(when.replace("Z", "+00:00"))
            assert data == render(resolve(fresh, stage, instant)).encode(), f"{stage} at {when} ({name})"
        assert len({data for _, _, data in schedule}) == len(schedule)  # each period its own file
    later = ["2023-10-15T10:00:00Z", "2023-11-30T23:00:00Z"]
    assert seen["s0"] == []
    if at == AT:
        assert seen["s1"] == ["2023-08-15T22:00:00Z", "2023-09-30T22:00:00Z", *later]
    else:
        assert seen["s1"] == ["2023-09-30T22:00:00Z", *later]
    assert seen["s2"] == ["2023-09-30T22:00:00Z", *later]
    last = squid_schedule(resolve(policy, "s2", at))[-2][2].decode()
    assert "egress_z_lab" not in last and "egress_s_tools" not in last and "8443" not in last
    assert "# left out: grant late-crl expired at 2023-09-30 24:00 Europe/Paris (2023-09-30T22:00:00Z)" in last


def test_later_periods_must_be_ascending(unit_policy):
    flows = flows_of(unit_policy, "s1")
    instant = dt.datetime(2023, 12, 1, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="ascending"):
        list(render_later(flows, [instant, instant]))
    with pytest.raises(ValueError, match="ascending"):
        list(render_later(flows, [flows.at]))


def test_peek_adds_the_server_name_check(peek_policy):
    text = render(flows_of(peek_policy, "s1"))
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    names = ".example.com .example.net other.example.org www.example.org"
    assert f"acl egress_n_sites ssl::server_name --client-requested {names}" in lines
    bump = [line for line in lines if line.startswith("ssl_bump")]
    assert bump == [
        "ssl_bump peek egress_tls_step1",
        "ssl_bump splice egress_z_workstations egress_s_mixed egress_n_mixed egress_p_443_8443",
        "ssl_bump splice egress_z_reporting egress_s_sites egress_n_sites egress_p_443",
        "ssl_bump splice egress_z_workstations egress_s_sites egress_n_sites egress_p_443",
        "ssl_bump terminate all",
    ]  # no splice for the tcp/80 service: it is never CONNECTed to
    assert "acl egress_tls_step1 at_step SslBump1" in lines
    assert "# tls: peek -- the main squid.conf must provide" in text
    assert lines[-1] == "http_access deny all"


def test_peek_empty_stage(peek_policy):
    text = render(flows_of(peek_policy, "s0"))
    directives = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert directives == ["http_access deny all"]  # no ssl_bump rule: Squid then answers 403 to CONNECT


def test_only_port_80_means_no_connect(tmp_path):
    path = write_policy(tmp_path, """
        egress: 1
        policy: crl-only
        zones:
          proxy: {addresses: [10.0.0.3]}
          ws: {addresses: [10.1.0.0/24]}
        proxy: {zone: proxy, port: 3128, tls: peek}
        services:
          crl:
            destinations:
              - host: crl.example-ca.org
            ports: [tcp/80]
        stages:
          - id: s0
            grants:
              - id: g
                from: ws
                to: crl
                via: proxy
    """)
    text = render(flows_of(path, "s0"))
    directives = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert "http_access deny CONNECT" in directives
    assert "egress_tls_ports" not in text
    bump = [d for d in directives if d.startswith("ssl_bump")]
    assert bump == ["ssl_bump peek egress_tls_step1", "ssl_bump terminate all"]


def test_comments_cannot_start_a_directive(unit_policy):
    flows = flows_of(unit_policy, "s1")
    # text that the schema refuses, forced into the model: render must still write
    # nothing but comments for it, on lines far shorter than Squid's 8191-byte reads
    nasty = "x\nhttp_access allow all\r\u2028http_access allow all \\" + "y" * 20000 + "http_access allow all"
    grant = dataclasses.replace(flows.flows[0].grant, reason=nasty, ticket=nasty, approved_by=nasty)
    forged = dataclasses.replace(flows, flows=tuple(dataclasses.replace(f, grant=grant) for f in flows.flows))
    text = render(forged)
    assert "http_access allow all" not in [line.strip() for line in text.splitlines()]
    assert all(len(line.encode()) < 1024 for line in text.splitlines())
    assert not any(line.endswith("\\") for line in text.splitlines() if not line.startswith("#"))


def test_long_lists_are_split_into_short_lines(tmp_path):
    hosts = "\n".join(f"          - host: h{i}.example-{i % 7}.org" for i in range(3000))
    path = write_policy(tmp_path, POLICY.replace("TLS", "none").replace(
        "          - host: crl.example-ca.org", hosts))
    text = render(flows_of(path, "s1"))
    assert max(len(line.encode()) for line in text.splitlines()) < 1100
    assert len(acl_values(text, "egress_s_crl")) == 3000
    assert sum(line.startswith("acl egress_s_crl dstdomain -n ") for line in text.splitlines()) > 10


# -- validation: names Squid would silently never match never reach render ------------


NAME_POLICY = """
    egress: 1
    policy: bad-names
    zones:
      proxy: {addresses: [10.0.0.3]}
      ws: {addresses: [10.1.0.0/24]}
    proxy: {zone: proxy, port: 3128}
    services:
      web:
        destinations:
          - KIND: 'VALUE'
        ports: [tcp/443]
    stages:
      - id: s0
        grants:
          - id: g
            from: ws
            to: web
            via: proxy
"""


@pytest.mark.parametrize("kind, code", [("host", "E122"), ("domain", "E123")])
@pytest.mark.parametrize(
    "value",
    ["www.example.com.", "*.example.com", "www.example.com:443", "www.exämple.com", "WWW.Example.com", ".example.com",
     "example", "www..example.com", "1.2.3.4", "xn--bcher-kva.example.com\\nhttp_access allow all"],
)
def test_names_squid_cannot_match_are_refused(tmp_path, kind, code, value):
    path = write_policy(tmp_path, NAME_POLICY.replace("KIND", kind).replace("VALUE", value))
    runner = CliRunner()
    result = runner.invoke(main, ["validate", path, "--format", "json"])
    assert result.exit_code == 1, result.output
    assert f'"code": "{code}"' in result.stdout
    compiled = runner.invoke(main, ["compile", path, "--stage", "s0", "--target", "squid"])
    assert compiled.exit_code == 1
    assert compiled.stdout == ""  # nothing rendered


def test_a_valid_idn_in_punycode_is_accepted(tmp_path):
    path = write_policy(tmp_path, NAME_POLICY.replace("KIND", "host").replace("VALUE", "www.xn--bcher-kva.example"))
    assert "www.xn--bcher-kva.example" in render(flows_of(path, "s0"))


# -- squid -k parse -------------------------------------------------------------------


class SquidParse:
    """`squid -k parse` of a minimal, unprivileged test squid.conf that includes a file."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.chmod(0o755)  # as root, squid reads its files as user `proxy`
        self.cert = folder / "proxy.pem"
        self.key = folder / "proxy.key"

    def main_conf(self, include: Path, peek: bool) -> str:
        port = "http_port 127.0.0.1:3128"
        if peek:
            self._certificate()
            port += f" ssl-bump tls-cert={self.cert} tls-key={self.key} generate-host-certificates=off"
        return "\n".join([
            port,
            f"pid_filename {self.folder}/squid.pid",
            f"cache_log {self.folder}/cache.log",
            "access_log none",
            "cache deny all",
            f"coredump_dir {self.folder}",
            f"include {include}",
            "",
        ])

    def _certificate(self):
        if self.cert.exists():
            return
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=egress test proxy",
             "-keyout", str(self.key), "-out", str(self.cert)],
            check=True, capture_output=True,
        )
        self.key.chmod(0o644)

    def run_conf(self, conf_text: str, name: str = "squid.conf") -> tuple[int, list[str], str]:
        conf = self.folder / name
        conf.write_text(conf_text)
        conf.chmod(0o644)
        cp = subprocess.run(["squid", "-k", "parse", "-f", str(conf)], capture_output=True, text=True, timeout=120)
        output = cp.stdout + cp.stderr
        problems = [line for line in output.splitlines() if PROBLEM.search(line)]
        return cp.returncode, problems, output

    def __call__(self, include_text: str, peek: bool = False) -> tuple[int, list[str], str]:
        include = self.folder / "squid-egress.conf"
        include.write_text(include_text)
        include.chmod(0o644)
        return self.run_conf(self.main_conf(include, peek))


@pytest.fixture(scope="module")
def squid_parse(tmp_path_factory):
    from conftest import require_system

    require_system("squid")
    return SquidParse(tmp_path_factory.mktemp("squid-parse"))


def shipped_stages():
    files = policy_files([str(ROOT / "policies"), str(ROOT / "examples")])
    cases = []
    for path in files:
        policy, _ = validate(path, AT)
        if policy is None:
            continue
        for stage in policy.stages:
            cases.append(pytest.param(path, stage.id, id=f"{Path(path).parent.name}:{stage.id}"))
    return cases


def assert_clean(result):
    code, problems, output = result
    assert code == 0 and not problems, "squid -k parse complained:\n" + "\n".join(problems or output.splitlines()[-15:])


@pytest.mark.system("squid")
def test_the_parse_check_is_not_vacuous(squid_parse):
    # the experiments behind the normalisation, kept as tests: what Squid 5.7 does with
    # overlapping entries. A check that did not see these would prove nothing.
    for acl, fatal in [
        ("acl a dstdomain .example.com www.example.com", False),  # WARNING, www ignored
        ("acl a dstdomain www.example.com .example.com", True),   # narrower first: FATAL
        ("acl a dstdomain example.com .example.com", True),       # apex + domain: FATAL
        ("acl a dstdomain .example.com example.com", True),       # either order
        ("acl a src 10.0.0.0/8 10.1.0.0/16", False),              # WARNING, /16 ignored
        ("acl a src 10.1.0.0/16 10.0.0.0/8", False),              # WARNING, /8 ignored!
        ("# " + "x" * 8190 + "http_access allow all", True),      # rest of a long line: unrecognized
        ("acl " + "a" * 64 + " src 10.0.0.0/8", True),            # ACL name over 63 characters
        ("acl " + "a" * 63 + " src 10.0.0.0/8\nhttp_access allow " + "a" * 63, True),  # 63: "not found"
    ]:
        code, problems, output = squid_parse(acl + "\nhttp_access deny all\n")
        assert problems, f"no complaint for {acl[:80]!r}:\n{output}"
        assert (code != 0) == fatal, (acl[:80], code, problems)
    # worse, silent: a line is read in pieces of 8191 bytes, so a comment of exactly
    # that length followed by text makes the text a directive, without a word. Only
    # the line-length bound of render() (test_comments_cannot_start_a_directive) helps.
    code, problems, output = squid_parse("# " + "x" * 8189 + "http_access allow all\nhttp_access deny all\n")
    assert code == 0 and not problems and "Processing: http_access allow all" in output
    # and what is fine
    assert_clean(squid_parse("acl a dstdomain -n .ample.com example.com .b-c.com a.b.com\nhttp_access deny all\n"))


@pytest.mark.system("squid")
@pytest.mark.parametrize("path, stage", shipped_stages())
def test_every_shipped_stage_parses_cleanly(squid_parse, path, stage):
    policy, _ = validate(path, AT)
    for at in sorted({AT, policy.stage(stage).date or AT, dt.date.today()}):
        flows = resolve(policy, stage, at)
        assert_clean(squid_parse(render(flows)))
        # and the same stage with the TLS name check on, behind an ssl-bump port
        if policy.proxy is not None:
            peeking = dataclasses.replace(policy, proxy=dataclasses.replace(policy.proxy, tls="peek"))
            assert_clean(squid_parse(render(resolve(peeking, stage, at)), peek=True))


@pytest.mark.system("squid")
def test_unit_policy_parses_cleanly(squid_parse, unit_policy, peek_policy):
    for stage in ("s0", "s1"):
        assert_clean(squid_parse(render(flows_of(unit_policy, stage))))
        assert_clean(squid_parse(render(flows_of(peek_policy, stage)), peek=True))


@pytest.mark.system("squid")
def test_peek_include_does_not_break_a_port_without_ssl_bump(squid_parse, peek_policy):
    # the file of a `tls: peek` policy, loaded by a squid.conf without ssl-bump, still
    # parses (the ssl_bump rules are then never consulted)
    assert_clean(squid_parse(render(flows_of(peek_policy, "s1")), peek=False))


@pytest.mark.system("squid")
def test_long_names_and_lists_parse_cleanly(squid_parse, tmp_path):
    long_zone = "z" * 63
    long_service = "s" * 63
    hosts = "\n".join(f"          - host: h{i}.example-{i % 7}.org" for i in range(3000))
    domains = "\n".join(f"          - domain: d{i}.example-{i % 5}.net" for i in range(2000))
    text = (POLICY.replace("TLS", "none").replace("workstations", long_zone).replace("crl", long_service)
            .replace("          - host: crl.example-ca.org", hosts + "\n" + domains)
            .replace(f"          - host: {long_service}.example-ca.org", hosts + "\n" + domains))
    path = write_policy(tmp_path, text)
    rendered = render(flows_of(path, "s1"))
    assert acl_name("z", long_zone) in rendered
    assert_clean(squid_parse(rendered))
    peek = write_policy(tmp_path, text.replace("tls: none", "tls: peek"), "peek.yaml")
    assert_clean(squid_parse(render(flows_of(peek, "s1")), peek=True))


@pytest.mark.system("squid")
def test_example_squid_conf_parses_cleanly(squid_parse, unit_policy, peek_policy):
    """examples/squid/squid.conf, with the include pointed at a generated file."""
    text = EXAMPLE_CONF.read_text()
    include_line = re.search(r"^include (\S+)$", text, re.MULTILINE)
    assert include_line, "the example must include the generated file"
    assert include_line.group(1).endswith("/squid-egress.conf")
    include = squid_parse.folder / "example-include.conf"
    include.write_text(render(flows_of(unit_policy, "s1")))
    include.chmod(0o644)
    conf = text.replace(include_line.group(0), f"include {include}")
    # production paths of logs and pid file are only read by a running squid; parse
    # does not write them
    assert_clean(squid_parse.run_conf(conf, "example.conf"))
    # the tls: peek variant that the example gives in a comment
    peek_line = re.search(r"^# (http_port \S+ ssl-bump tls-cert=(\S+) tls-key=(\S+) .*)$", text, re.MULTILINE)
    assert peek_line, "the example must show the ssl-bump http_port of tls: peek"
    squid_parse._certificate()
    port = peek_line.group(1).replace(peek_line.group(2), str(squid_parse.cert)).replace(
        peek_line.group(3), str(squid_parse.key))
    include.write_text(render(flows_of(peek_policy, "s1")))
    peek_conf = re.sub(r"^http_port 3128$", port, conf, flags=re.MULTILINE)
    assert re.search(r"^http_port 3128 ssl-bump ", peek_conf, re.MULTILINE)
    assert_clean(squid_parse.run_conf(peek_conf, "example-peek.conf"))
    # the include is the last word on access: nothing after it in the example
    after = text[include_line.end():]
    assert "http_access" not in after.replace("# http_access", "")

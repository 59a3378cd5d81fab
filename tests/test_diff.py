"""The semantic diff (egress/diff.py) and `egress diff`.

Stage diffs of the shipped policy are checked against what its stages say; version
diffs against small policies written for each case: a change of form is no change, a
change of reach is exactly that change.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import subprocess
from itertools import product
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from egress import diff as D
from egress.check import validate
from egress.cli import main
from egress.flows import resolve
from egress.intervals import merge

REPO = Path(__file__).resolve().parent.parent
SHIPPED = str(REPO / "policies" / "chu-rennes-2023" / "policy.yaml")
BEFORE_EXPIRY = dt.date(2023, 7, 1)  # nothing of the shipped policy has expired yet
AFTER_EXPIRY = dt.date(2023, 10, 1)  # pacs-remote-support (2023-08-31) has
PACS_CLOSES = "2023-08-31 24:00 UTC (2023-09-01T00:00:00Z)"  # its expiry, as every output shows it

BASE = """\
egress: 1
policy: t
zones:
  lab: {addresses: [10.30.0.0/24, "fd12:30::/64"]}
  office: {addresses: [10.40.0.0/24]}
  proxy: {addresses: [10.0.0.3]}
proxy: {zone: proxy, port: 3128}
services:
  partner:
    destinations:
      - address: 203.0.113.0/24
      - address: "2001:db8:16::/48"
    ports: [tcp/443, tcp/8443]
  sites:
    destinations:
      - domain: has-sante.fr
      - host: www.vidal.fr
    ports: [tcp/443]
stages:
  - id: s0
    grants: []
  - id: s1
    grants:
      - id: to-partner
        from: lab
        to: partner
        ports: [tcp/443]
        reason: results to the partner
        approved_by: crisis-cell
  - id: s2
    grants:
      - id: web
        from: lab
        to: sites
        via: proxy
        reason: reference sites
"""


def write(folder: Path, text: str, lock: str | None = None) -> str:
    """Write policy.yaml (and its lock file) into folder; its path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "policy.yaml").write_text(text)
    if lock is not None:
        (folder / "policy.lock.yaml").write_text(lock)
    return str(folder / "policy.yaml")


def load(path: str, at: dt.date = BEFORE_EXPIRY):
    policy, diagnostics = validate(path, at)
    errors = [str(d) for d in diagnostics if d.severity == "error"]
    assert policy is not None and not errors, errors
    return policy


def version_diff(tmp_path: Path, new_text: str, stage: str = "s2", at: dt.date = BEFORE_EXPIRY,
                 old_text: str = BASE, lock: str | None = None) -> D.Diff:
    old = load(write(tmp_path / "old", old_text, lock), at)
    new = load(write(tmp_path / "new", new_text, lock), at)
    return D.version_diff(old, new, stage, at, "old", "new")


def flows_json(pieces) -> list[dict]:
    return [p.as_flow() for p in pieces]


def short(pieces) -> list[tuple]:
    """(grant, from, to, destination, ports, source) of each piece."""
    out = []
    for flow in flows_json(pieces):
        out.append((flow["grant"], flow["from"], flow["to"], tuple(flow["destination"]), tuple(flow["ports"]), flow["source"] and tuple(flow["source"])))
    return sorted(out)


# -- the box algebra, against Python sets (intervals: tests/test_shared.py) ---------------------------------

def members(ranges) -> set[int]:
    return {v for lo, hi in ranges for v in range(lo, hi + 1)}


hosts = st.frozensets(st.sampled_from([("host", "a.example"), ("host", "b.example"), ("host", "c.example")]), max_size=3)
tiny_ranges = st.lists(st.tuples(st.integers(0, 12), st.integers(0, 3)), max_size=3).map(
    lambda items: merge((lo, lo + n) for lo, n in items)
)
boxes = st.builds(D.Box, tiny_ranges, tiny_ranges, hosts, tiny_ranges)


def points(box) -> set:
    dst = [("a", v) for v in members(box.dst)] + [("n", n) for n in box.names]
    return set(product(members(box.src), dst, members(box.ports)))


@settings(max_examples=200, deadline=None)
@given(boxes, st.lists(boxes, max_size=3))
def test_box_difference_is_exact(box, others):
    pieces = D.boxes_minus([box], others)
    expected = points(box) - set().union(*(points(o) for o in others)) if others else points(box)
    got = [points(p) for p in pieces]
    assert set().union(*got) == expected if got else not expected
    assert sum(len(g) for g in got) == len(expected)  # disjoint pieces


def test_names_follow_their_meaning():
    domain = frozenset({("domain", "has-sante.fr")})
    assert D.covered(("host", "www.has-sante.fr"), domain)
    assert D.covered(("host", "has-sante.fr"), domain)
    assert D.covered(("domain", "sub.has-sante.fr"), domain)
    assert not D.covered(("host", "xhas-sante.fr"), domain)
    assert not D.covered(("domain", "has-sante.fr"), frozenset({("host", "has-sante.fr")}))


# -- stage diffs of the shipped policy -----------------------------------------------------


def test_each_stage_of_the_shipped_policy_opens_its_grants_and_closes_its_revocations():
    policy = load(SHIPPED)
    for before, stage in itertools.pairwise(policy.stages):
        result = D.stage_diff(policy, before.id, stage.id, BEFORE_EXPIRY)
        new_flows = resolve(policy, stage.id, BEFORE_EXPIRY)
        granted = {g.id for g in stage.grants}
        opened = {p.grant_id for p in result.opened}
        assert opened == granted, stage.id
        # each new grant opens its flows whole: one piece per flow, with all of its reach
        for flow in new_flows.flows:
            if flow.grant.id in granted:
                pieces = [p for p in result.opened if p.key == (flow.grant.id, flow.direction, flow.via, flow.source, flow.target)]
                assert len(pieces) == 1 and pieces[0].whole_src
                assert pieces[0].as_flow()["ports"] == D.port_strings(D.port_ranges(flow.ports))
                assert pieces[0].status == "added"
        closed = {p.grant_id for p in result.closed}
        assert closed == set(stage.revoke), stage.id
        for piece in result.closed:
            assert piece.status == "revoked" and piece.detail == stage.id
        assert not result.changed
        assert result.net_same  # the shipped stages move no flow between grants


def test_revocation_is_closed_with_its_stage():
    policy = load(SHIPPED)
    result = D.stage_diff(policy, "s3-continuity-sites", "s4-outbound-mail", BEFORE_EXPIRY)
    (closed,) = flows_json(result.closed)
    assert closed["grant"] == "reports-to-mss-temp"
    assert closed["status"] == "revoked" and closed["detail"] == "s4-outbound-mail"
    assert closed["ports"] == ["tcp/587"] and closed["from"] == "reporting" and closed["to"] == "mssante-operator"
    assert "203.0.113.20/31" in closed["destination"] and "smtp.mss-operator.example" in closed["destination"]
    assert closed["ticket"] == "CRISE-2023-016"


def test_expiry_is_closed_when_stages_are_judged_at_their_dates():
    policy = load(SHIPPED, AFTER_EXPIRY)
    result = D.stage_diff(policy, "s4-outbound-mail", "s5-teleconsultation", AFTER_EXPIRY, stage_dates=True)
    closed = flows_json(result.closed)
    assert [(c["grant"], c["status"], c["detail"]) for c in closed] == [("pacs-remote-support", "expired", PACS_CLOSES)]
    assert {p.grant_id for p in result.opened} == {"teleconsult-web", "teleconsult-media", "tele-expertise-web"}
    # judged at one date, an expired grant is in force on neither side: no change
    same_day = D.stage_diff(policy, "s4-outbound-mail", "s5-teleconsultation", AFTER_EXPIRY)
    assert not same_day.closed


def test_an_expired_grant_of_the_new_stage_is_noted_not_opened():
    policy = load(SHIPPED, AFTER_EXPIRY)
    result = D.stage_diff(policy, "s1-inbound-mail", "s2-secure-messaging", AFTER_EXPIRY)
    assert "pacs-remote-support" not in {p.grant_id for p in result.opened}
    assert result.not_opened == [{"grant": "pacs-remote-support", "status": "expired", "expires": PACS_CLOSES}]


def test_backwards_stage_diff_closes_what_the_later_stages_opened():
    policy = load(SHIPPED)
    result = D.stage_diff(policy, "s6-online-booking", "s0-isolation", BEFORE_EXPIRY)
    assert not result.opened
    in_force = {g.id for g in resolve(policy, "s6-online-booking", BEFORE_EXPIRY).grants}
    assert {p.grant_id for p in result.closed} == in_force
    assert {p.status for p in result.closed} == {"removed"}


def test_same_stage_is_no_change():
    policy = load(SHIPPED)
    assert D.stage_diff(policy, "s3-continuity-sites", "s3-continuity-sites", BEFORE_EXPIRY).empty


# -- version diffs: changes of form are no change ---------------------------------------------

REORDERED = """\
stages:
  - id: s0
    grants: []
  - id: s1
    grants:
      - reason: results to the partner
        to: partner
        id: to-partner
        ports: [tcp/443]
        approved_by: crisis-cell
        from: lab
  - id: s2
    grants:
      - id: web
        via: proxy
        from: [lab]
        to: sites
        reason: reference sites
services:
  sites:
    ports: [tcp/443]
    destinations:
      - host: www.vidal.fr
      - domain: has-sante.fr
  partner:
    ports: [tcp/8443, tcp/443]
    destinations:
      - address: "2001:db8:16::/48"
      - address: 203.0.113.0/24
proxy: {port: 3128, zone: proxy}
zones:
  proxy: {addresses: [10.0.0.3]}
  office: {addresses: [10.40.0.0/24]}
  lab: {addresses: ["fd12:30::/64", 10.30.0.0/24]}
policy: t
egress: 1
"""


def test_a_reordered_copy_is_no_change(tmp_path):
    result = version_diff(tmp_path, REORDERED)
    assert result.empty and not result.net_opened and not result.net_closed


def test_a_cidr_split_into_halves_is_no_change(tmp_path):
    text = BASE.replace("      - address: 203.0.113.0/24\n", "      - address: 203.0.113.0/25\n      - address: 203.0.113.128/26\n      - address: 203.0.113.192/26\n")
    assert text != BASE
    text = text.replace('addresses: [10.30.0.0/24, "fd12:30::/64"]', 'addresses: [10.30.0.128/25, 10.30.0.0/25, "fd12:30::/65", "fd12:30:0:0:8000::/65"]')
    assert version_diff(tmp_path, text).empty


def test_a_service_moved_to_an_included_file_is_no_change(tmp_path):
    start = BASE.index("  sites:\n")
    end = BASE.index("stages:")
    moved = BASE[start:end]
    text = BASE[:start] + BASE[end:]
    text = text.replace("policy: t\n", "policy: t\ninclude: [web-services.yaml]\n")
    folder = tmp_path / "new"
    folder.mkdir()
    (folder / "web-services.yaml").write_text("services:\n" + moved)
    assert version_diff(tmp_path, text).empty


# -- version diffs: changes of reach are exactly that -----------------------------------------


def test_one_more_address_is_exactly_that(tmp_path):
    text = BASE.replace("      - address: 203.0.113.0/24\n", "      - address: 203.0.113.0/24\n      - address: 198.51.100.7\n")
    result = version_diff(tmp_path, text)
    assert short(result.opened) == [("to-partner", "lab", "partner", ("198.51.100.7/32",), ("tcp/443",), None)]
    assert not result.closed and not result.changed
    assert result.opened[0].status == "widened"
    assert short(result.net_opened) == short(result.opened)


def test_one_more_port_is_exactly_that(tmp_path):
    text = BASE.replace("        ports: [tcp/443]\n        reason: results", "        ports: [tcp/443, tcp/8443]\n        reason: results")
    result = version_diff(tmp_path, text)
    assert short(result.opened) == [("to-partner", "lab", "partner", ("203.0.113.0/24", "2001:db8:16::/48"), ("tcp/8443",), None)]
    assert not result.closed


def test_one_more_zone_is_exactly_that(tmp_path):
    text = BASE.replace("      - id: to-partner\n        from: lab\n", "      - id: to-partner\n        from: [lab, office]\n")
    result = version_diff(tmp_path, text)
    assert short(result.opened) == [("to-partner", "office", "partner", ("203.0.113.0/24", "2001:db8:16::/48"), ("tcp/443",), None)]
    assert not result.closed


def test_one_more_zone_address_opens_from_that_address_only(tmp_path):
    text = BASE.replace('addresses: [10.30.0.0/24, "fd12:30::/64"]', 'addresses: [10.30.0.0/24, 10.31.0.0/24, "fd12:30::/64"]')
    result = version_diff(tmp_path, text)
    assert short(result.opened) == [
        ("to-partner", "lab", "partner", ("203.0.113.0/24", "2001:db8:16::/48"), ("tcp/443",), ("10.31.0.0/24",)),
        ("web", "lab", "sites", (".has-sante.fr", "www.vidal.fr"), ("tcp/443",), ("10.31.0.0/24",)),
    ]
    assert not result.closed


def test_slash_24_to_slash_25_closes_the_other_half(tmp_path):
    text = BASE.replace("      - address: 203.0.113.0/24\n", "      - address: 203.0.113.0/25\n")
    result = version_diff(tmp_path, text)
    assert not result.opened
    assert short(result.closed) == [("to-partner", "lab", "partner", ("203.0.113.128/25",), ("tcp/443",), None)]
    assert result.closed[0].status == "narrowed"


def test_names_opened_and_closed_by_meaning(tmp_path):
    # a host below an open domain opens nothing; a new host opens itself; a removed one closes
    text = BASE.replace("      - host: www.vidal.fr\n", "      - host: www.has-sante.fr\n      - host: www.vidal.fr\n      - host: base.theriaque.org\n")
    result = version_diff(tmp_path, text)
    assert short(result.opened) == [("web", "lab", "sites", ("base.theriaque.org",), ("tcp/443",), None)]
    text = BASE.replace("      - host: www.vidal.fr\n", "")
    text = text.replace("      - domain: has-sante.fr\n", "      - domain: has-sante.fr\n      - host: www.has-sante.fr\n")
    result = version_diff(tmp_path / "2", text)
    assert short(result.closed) == [("web", "lab", "sites", ("www.vidal.fr",), ("tcp/443",), None)]
    assert not result.opened


def test_metadata_changes_are_reported_even_with_the_same_reach(tmp_path):
    text = BASE.replace("        approved_by: crisis-cell\n", "        approved_by: director\n        expires: 2023-12-31\n")
    result = version_diff(tmp_path, text)
    assert not result.opened and not result.closed and not result.empty
    assert result.changed == [
        {"grant": "to-partner", "fields": {"approved_by": {"from": "crisis-cell", "to": "director"}, "expires": {"from": None, "to": "2023-12-31 24:00 UTC (2024-01-01T00:00:00Z)"}}}
    ]


def test_an_expiry_in_the_new_version_closes_the_grant(tmp_path):
    text = BASE.replace("        approved_by: crisis-cell\n", "        approved_by: crisis-cell\n        expires: 2023-06-30\n")
    result = version_diff(tmp_path, text, at=BEFORE_EXPIRY)
    assert [(p.grant_id, p.status, p.detail) for p in result.closed] == [("to-partner", "expired", "2023-06-30 24:00 UTC (2023-07-01T00:00:00Z)")]


def test_a_flow_moved_between_grants_is_per_grant_but_not_net(tmp_path):
    text = BASE.replace("id: to-partner", "id: partner-results")
    result = version_diff(tmp_path, text)
    assert [p.grant_id for p in result.opened] == ["partner-results"]
    assert [(p.grant_id, p.status) for p in result.closed] == [("to-partner", "removed")]
    assert not result.net_opened and not result.net_closed and not result.net_same
    assert "moved between grants" in D.headline(result)


def test_direct_and_proxy_reach_are_not_the_same(tmp_path):
    # the same host through the proxy, then directly (pinned address): a different opening
    lock = "egress-lock: 1\npolicy: t\nhosts:\n  www.vidal.fr: [198.51.100.20]\n"
    proxied = BASE.replace("      - domain: has-sante.fr\n", "")
    direct = proxied.replace("        via: proxy\n", "")
    result = version_diff(tmp_path, direct, old_text=proxied, lock=lock)
    assert short(result.opened) == [("web", "lab", "sites", ("198.51.100.20/32", "www.vidal.fr"), ("tcp/443",), None)]
    assert short(result.closed) == [("web", "lab", "sites", ("www.vidal.fr",), ("tcp/443",), None)]
    assert [p.as_flow()["via"] for p in result.opened + result.closed] == ["direct", "proxy"]
    assert short(result.net_opened) == short(result.opened) and short(result.net_closed) == short(result.closed)


def test_a_stage_missing_from_the_old_version_opens_all_it_holds(tmp_path):
    text = BASE + """\
  - id: s3
    grants:
      - id: office-partner
        from: office
        to: partner
        reason: new stage
"""
    result = version_diff(tmp_path, text, stage="s3")
    assert {p.grant_id for p in result.opened} == {"to-partner", "web", "office-partner"}
    with pytest.raises(KeyError):
        version_diff(tmp_path / "2", BASE, stage="s9")


# -- the command ---------------------------------------------------------------------------------


def run(*args, cwd=None):
    runner = CliRunner()
    if cwd is None:
        return runner.invoke(main, list(args), catch_exceptions=False)
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return runner.invoke(main, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)


def test_cli_stage_diff_json_shape():
    result = run("diff", SHIPPED, "s3-continuity-sites", "s4-outbound-mail", "--format", "json", "--at", "2023-07-01")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {"from", "to", "opened", "closed"} <= set(data)
    assert data["from"] == "s3-continuity-sites" and data["to"] == "s4-outbound-mail"
    for flow in data["opened"] + data["closed"]:
        assert {"grant", "from", "to", "destination", "ports", "via"} <= set(flow)
        assert isinstance(flow["destination"], list) and all(isinstance(d, str) for d in flow["destination"])
        assert all("/" in p or p in ("icmp", "icmpv6") for p in flow["ports"])
        assert flow["via"] in ("direct", "proxy")
    assert [f["grant"] for f in data["opened"]] == ["outbound-smtp"]
    assert [f["grant"] for f in data["closed"]] == ["reports-to-mss-temp"]
    assert data["changed"] == [] and data["differs"] is True


def test_cli_exit_code():
    differs = run("diff", SHIPPED, "s3-continuity-sites", "s4-outbound-mail", "--exit-code")
    assert differs.exit_code == 1
    assert differs.output.startswith("s3-continuity-sites -> s4-outbound-mail: 1 flow opened")
    same = run("diff", SHIPPED, "s4-outbound-mail", "s4-outbound-mail", "--exit-code")
    assert same.exit_code == 0 and "no change" in same.output
    assert run("diff", SHIPPED, "s3-continuity-sites", "s4-outbound-mail").exit_code == 0


def test_cli_text_and_markdown():
    text = run("diff", SHIPPED, "s3-continuity-sites", "s4-outbound-mail", "--at", "2023-07-01").output
    assert "+ grant outbound-smtp (stage s4-outbound-mail): new grant" in text
    assert "- grant reports-to-mss-temp (stage s2-secure-messaging): revoked at stage s4-outbound-mail" in text
    assert "ticket: CRISE-2023-016" in text and "approved by: Crisis cell" in text
    assert "\x1b[" not in text  # no colour when not on a terminal
    md = run("diff", SHIPPED, "s3-continuity-sites", "s4-outbound-mail", "--format", "markdown").output
    assert md.startswith("### egress diff: `s3-continuity-sites` → `s4-outbound-mail`")
    rows = [line for line in md.splitlines() if line.startswith("| **")]
    assert len(rows) == 2 and "`outbound-smtp`" in rows[0] and "revoked at stage s4-outbound-mail" in rows[1]
    assert all(row.count(" | ") == 10 for row in rows)  # 11 cells: no stray pipe from the data


def test_cli_usage_errors():
    assert run("diff", SHIPPED, "s3-continuity-sites").exit_code == 2
    assert run("diff", SHIPPED, "s3", "s4-outbound-mail").exit_code == 2
    assert run("diff", SHIPPED, SHIPPED, SHIPPED, "--stage", "s1-inbound-mail").exit_code == 2
    assert run("diff", SHIPPED, SHIPPED, "--stage", "nope").exit_code == 2
    assert run("diff", SHIPPED, "/nonexistent/policy.yaml", "--stage", "s1-inbound-mail").exit_code == 2


def test_cli_version_diff_between_files(tmp_path):
    old = write(tmp_path / "old", BASE)
    new = write(tmp_path / "new", BASE.replace("      - address: 203.0.113.0/24\n", "      - address: 203.0.113.0/25\n"))
    result = run("diff", old, new, "--stage", "s2", "--format", "json", "--exit-code")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["from"] == old and data["to"] == new and data["stage"] == "s2"
    assert [f["destination"] for f in data["closed"]] == [["203.0.113.128/25"]]


def git(cwd, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.org", GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout


def test_cli_version_diff_from_git(tmp_path):
    repo = tmp_path / "repo"
    folder = repo / "policies" / "t"
    folder.mkdir(parents=True)
    # version 1: the sites service lives in an included file, and a direct host is pinned
    start, end = BASE.index("  sites:\n"), BASE.index("stages:")
    v1 = BASE[:start] + BASE[end:]
    v1 = v1.replace("policy: t\n", "policy: t\ninclude: [web.yaml]\n")
    v1 = v1.replace("      - address: 203.0.113.0/24\n", "      - address: 203.0.113.0/24\n      - host: api.partner.example\n")
    (folder / "policy.yaml").write_text(v1)
    (folder / "web.yaml").write_text("services:\n" + BASE[start:end])
    (folder / "policy.lock.yaml").write_text(
        "egress-lock: 1\npolicy: t\nhosts:\n  api.partner.example: [198.51.100.9]\n"
    )
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "v1")
    # version 2: a new port in the included file, the pinned address changes
    (folder / "web.yaml").write_text("services:\n" + BASE[start:end].replace("ports: [tcp/443]", "ports: [tcp/443, tcp/80]"))
    (folder / "policy.lock.yaml").write_text(
        "egress-lock: 1\npolicy: t\nhosts:\n  api.partner.example: [198.51.100.10]\n"
    )
    git(repo, "commit", "-q", "-am", "v2")
    (folder / "policy.yaml").write_text(v1.replace("office: {addresses: [10.40.0.0/24]}", "office: {addresses: [10.41.0.0/24]}"))

    result = run("diff", "git:HEAD~1:policies/t/policy.yaml", "git:HEAD:policies/t/policy.yaml", "--stage", "s2", "--format", "json", cwd=repo)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert sorted((f["grant"], tuple(f["destination"]), tuple(f["ports"])) for f in data["opened"]) == [
        ("to-partner", ("198.51.100.10/32",), ("tcp/443",)),
        ("web", (".has-sante.fr", "www.vidal.fr"), ("tcp/80",)),
    ]
    assert [(f["grant"], f["destination"]) for f in data["closed"]] == [("to-partner", ["198.51.100.9/32"])]
    assert data["from"] == "git:HEAD~1:policies/t/policy.yaml"

    # HEAD against the working tree (unchanged reach: office is granted nothing), from a subfolder
    same = run("diff", "git:HEAD:./policy.yaml", "policy.yaml", "--stage", "s2", "--exit-code", cwd=folder)
    assert same.exit_code == 0, same.output
    # a revision or a path that does not exist: exit 2, one line
    for spec in ("git:nope:policies/t/policy.yaml", "git:HEAD:policies/t/missing.yaml", "git:HEAD"):
        bad = run("diff", spec, "policies/t/policy.yaml", "--stage", "s2", cwd=repo)
        assert bad.exit_code == 2, (spec, bad.output)
        assert "Traceback" not in bad.output


def test_cli_git_outside_a_repository(tmp_path):
    path = write(tmp_path, BASE)
    result = run("diff", "git:HEAD:policy.yaml", path, "--stage", "s2", cwd=tmp_path)
    assert result.exit_code == 2
    assert "not in a git repository" in result.output


@pytest.mark.parametrize("command", [
    ["stages"], ["expiring", "--at", "2023-07-01"], ["compile", "--stage", "s2", "--target", "nftables", "--at", "2023-07-01"],
    ["query", "--stage", "s2", "--src", "10.40.0.5", "--dst", "203.0.113.9", "--port", "tcp/443"],
])
def test_read_only_commands_read_a_policy_from_git(tmp_path, command):
    """`git:REV:path` works wherever a policy is only read (as in diff): the committed
    version is read, not the broken working copy; its errors name `git:REV:folder/`."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "policy.yaml").write_text(BASE)
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "v1")
    (repo / "policy.yaml").write_text(BASE.replace("egress: 1", "egress: 2"))
    git(repo, "commit", "-q", "-am", "v2 (invalid)")
    name, *options = command
    assert run(name, "policy.yaml", *options, cwd=repo).exit_code == 1
    good = run(name, "git:HEAD~1:policy.yaml", *options, cwd=repo)
    assert good.exit_code in (0, 1) and "is invalid" not in good.output, good.output
    (repo / "policy.yaml").write_text(BASE)
    assert good.output == run(name, "policy.yaml", *options, cwd=repo).output
    bad = run(name, "git:HEAD:policy.yaml", *options, cwd=repo)
    assert bad.exit_code == 1 and "git:HEAD:policy.yaml:" in bad.output and "E113" in bad.output

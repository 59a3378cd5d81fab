"""`egress blocked`: parsers, aggregation, suggestions and the stage draft, on logs
written here in the formats the real programs write (the real programs themselves are in
tests/test_observe_live.py)."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from egress.cli import main

AT = "2024-01-01"

POLICY = """\
egress: 1
policy: obs-test
zones:
  proxy:
    addresses: [10.0.0.3]
  workstations:
    addresses: [10.100.0.0/16, "fd00:100::/64"]
  lab:
    addresses: [10.30.0.0/24]
proxy: {zone: proxy, port: 3128}
firewall: {log_group: 5}
services:
  partner:
    destinations: [{address: 203.0.113.0/28}, {address: "2001:db8:16::/48"}]
    ports: [tcp/443, tcp/8443]
  sites:
    destinations: [{domain: allowed.example}]
    ports: [tcp/443]
  archive:
    destinations: [{address: 198.51.100.50}]
    ports: [tcp/22]
stages:
  - id: s0-closed
    date: 2023-12-01
    grants: []
  - id: s1-open
    date: 2023-12-02
    grants:
      - id: partner-lab
        from: lab
        to: partner
        ports: [tcp/443]
        reason: Results to the partner
        approved_by: cell
      - id: web
        from: workstations
        to: sites
        via: proxy
        reason: Web sites
        approved_by: cell
"""


def kernel(src: str, dst: str, port: int | None = 443, proto: str = "TCP", policy: str = "obs-test",
           time: str = "Dec  1 13:19:00") -> str:
    tail = f"PROTO={proto} SPT=40000 DPT={port} WINDOW=64240 RES=0x00 SYN URGP=0" if port else f"PROTO={proto} TYPE=8 CODE=0 ID=1 SEQ=1"
    return (f"{time} fw1 kernel: [  812.345] egress {policy} drop: IN=lan OUT=wan "
            f"MAC=02:00:00:00:01:02:02:00:00:00:01:01:08:00 SRC={src} DST={dst} LEN=60 TOS=0x00 PREC=0x00 TTL=63 "
            f"ID=1 DF {tail}\n")


def ulogd(src: str, dst: str, port: int | None = 443, proto: int = 6, policy: str = "obs-test", sec: int = 1796131140) -> str:
    obj = {"timestamp": "2026-12-01T13:19:00.136991", "dvc": "Netfilter", "raw.pktlen": 60,
           "oob.prefix": f"egress {policy} drop: ", "oob.time.sec": sec, "oob.time.usec": 1, "oob.family": 2,
           "ip.protocol": proto}
    if port is not None:
        obj.update({"src_port": 53633, "dest_port": port})
    obj.update({"oob.in": "lan", "oob.out": "wan", "src_ip": src, "dest_ip": dst})
    return json.dumps(obj) + "\n"


def squid(client: str, url: str, method: str = "CONNECT", action: str = "TCP_DENIED/403", sec: int = 1796131140) -> str:
    return f"{sec}.123     12 {client} {action} 3900 {method} {url} - HIER_NONE/- text/html\n"


def dnsmasq(name: str, address: str) -> str:
    return f"Dec  1 13:18:59 dnsmasq[99]: query[A] {name} from 10.100.0.7\nDec  1 13:18:59 dnsmasq[99]: reply {name} is {address}\n"


@pytest.fixture
def policy(tmp_path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


def run(*args, input=None):
    result = CliRunner().invoke(main, [str(a) for a in args], input=input)
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    return result


def blocked_json(policy, *logs, stage="s1-open", input=None, extra=()):
    result = run("blocked", policy, *logs, "--stage", stage, "--at", AT, "--format", "json", *extra, input=input)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert result.stdout == json.dumps(doc, indent=2) + "\n"  # written flow by flow, the same bytes
    return doc


def flows_of(doc) -> dict:
    return {(f["origin"], f["source"], f["destination"], f["port"]): f for f in doc["flows"]}


# -- aggregation --------------------------------------------------------------------


def test_denials_aggregate_into_flows_sorted_by_sources_then_hits(tmp_path, policy):
    log = tmp_path / "kern.log"
    log.write_text(
        kernel("10.100.1.1", "192.0.2.80", 443) * 5                          # one source, 5 hits
        + kernel("10.100.1.1", "192.0.2.90", 443, time="Dec  1 13:20:00")
        + kernel("10.100.1.2", "192.0.2.90", 443, time="Dec  1 13:21:00")  # two sources, 2 hits
        + kernel("10.100.1.3", "192.0.2.90", 443, time="Dec  1 13:19:30")  # three sources, 3 hits
        + kernel("10.30.0.9", "192.0.2.90", 443)                            # another zone: another flow
    )
    doc = blocked_json(policy, log)
    got = [(f["source"], f["destination"], f["port"], f["sources"], f["hits"]) for f in doc["flows"]]
    assert got == [
        ("workstations", "192.0.2.90", "tcp/443", 3, 3),
        ("workstations", "192.0.2.80", "tcp/443", 1, 5),
        ("lab", "192.0.2.90", "tcp/443", 1, 1),
    ]
    first = doc["flows"][0]
    assert first["source_zone"] == "workstations"
    assert first["first_seen"].endswith(":19:30Z") or first["first_seen"] < first["last_seen"]
    assert first["first_seen"] < first["last_seen"]
    assert doc["inputs"][0]["format"] == "syslog" and doc["inputs"][0]["denials"] == 9


def test_formats_agree_and_ipv6_is_canonical(tmp_path, policy):
    """The same denial as ulogd2 JSON and as a kernel line (full-length IPv6) is one flow."""
    (tmp_path / "u.json").write_text(ulogd("fd00:100::5", "2001:db8:99::1", 443))
    (tmp_path / "k.log").write_text(kernel("fd00:0100:0000:0000:0000:0000:0000:0005",
                                           "2001:0db8:0099:0000:0000:0000:0000:0001", 443))
    doc = blocked_json(policy, tmp_path / "u.json", tmp_path / "k.log")
    assert [(f["source"], f["destination"], f["hits"], f["sources"]) for f in doc["flows"]] == [
        ("workstations", "2001:db8:99::1", 2, 1)]
    assert [i["format"] for i in doc["inputs"]] == ["ulogd2-json", "syslog"]


def test_icmp_udp_and_other_protocols(tmp_path, policy):
    (tmp_path / "u.json").write_text(
        ulogd("10.30.0.5", "192.0.2.1", None, proto=1) + ulogd("10.30.0.5", "192.0.2.1", 53, proto=17)
        + ulogd("10.30.0.5", "192.0.2.1", None, proto=47))
    flows = flows_of(blocked_json(policy, tmp_path / "u.json"))
    assert set(flows) == {("firewall", "lab", "192.0.2.1", p) for p in ("icmp", "udp/53", "ip/47")}
    assert flows[("firewall", "lab", "192.0.2.1", "ip/47")]["suggestion"]["kind"] == "unsupported"


def test_gzip_rotated_set_and_stdin(tmp_path, policy):
    with gzip.open(tmp_path / "access.log.2.gz", "wt") as f:
        f.write(squid("10.100.0.7", "www.new.example:443", sec=1796131000))
    (tmp_path / "access.log.1").write_text(squid("10.100.0.8", "www.new.example:443", sec=1796131100))
    doc = blocked_json(policy, tmp_path / "access.log.1", tmp_path / "access.log.2.gz", "-",
                       input=squid("10.100.0.9", "www.new.example:443", sec=1796131200))
    [flow] = doc["flows"]
    assert (flow["sources"], flow["hits"]) == (3, 3)
    assert (flow["first_seen"], flow["last_seen"]) == ("2026-12-01T13:16:40Z", "2026-12-01T13:20:00Z")
    assert [i["file"] for i in doc["inputs"]][-1] == "<stdin>"


# -- what would open it ---------------------------------------------------------------


def test_suggestions(tmp_path, policy):
    (tmp_path / "fw.json").write_text(
        ulogd("10.100.0.7", "203.0.113.5", 443)       # partner-lab opens it to lab: add workstations
        + ulogd("10.30.0.5", "203.0.113.5", 8443)     # lab reaches partner on 443 only; partner offers 8443
        + ulogd("10.30.0.5", "198.51.100.50", 22)     # archive holds it, no grant
        + ulogd("10.30.0.5", "192.0.2.99", 443)       # nothing in the policy
        + ulogd("10.100.0.7", "198.51.100.10", 443)   # www.allowed.example (dnsmasq): use the proxy
        + ulogd("172.16.0.9", "192.0.2.99", 443)      # no zone
        + ulogd("10.30.0.5", "203.0.113.6", 443)      # allowed at s1-open: an older ruleset's denial
        + ulogd("10.30.0.5", "10.100.0.7", 443))      # zone to zone
    (tmp_path / "dnsmasq.log").write_text(dnsmasq("www.allowed.example", "198.51.100.10"))
    (tmp_path / "access.log").write_text(
        squid("10.100.0.7", "www.other.example:443")  # nothing names it
        + squid("10.30.0.5", "www.allowed.example:443")  # web opens it to workstations: add lab
        + squid("10.100.0.7", "www.allowed.example:8443")  # web reaches sites on 443 only
        + squid("10.100.0.7", "198.51.100.10:443")    # an address asked of the proxy
        + squid("10.100.0.7", "http://plain.example/x", method="GET"))
    doc = blocked_json(policy, tmp_path / "fw.json", tmp_path / "dnsmasq.log", tmp_path / "access.log")
    flows = flows_of(doc)

    def kind(origin, source, dst, port):
        return flows[(origin, source, dst, port)]["suggestion"]

    s = kind("firewall", "workstations", "203.0.113.5", "tcp/443")
    assert s["kind"] == "add-zone" and s["text"] == "grant partner-lab already opens this to zone lab: add zone workstations"
    assert s["draft"] == {"from": "workstations", "to": "partner", "ports": ["tcp/443"], "via": "direct", "new_service": None}
    s = kind("firewall", "lab", "203.0.113.5", "tcp/8443")
    assert s["kind"] == "add-port" and s["draft"]["to"] == "partner"
    s = kind("firewall", "lab", "198.51.100.50", "tcp/22")
    assert s["kind"] == "service" and s["text"] == "service archive holds this address but no grant reaches it from lab on tcp/22"
    s = kind("firewall", "lab", "192.0.2.99", "tcp/443")
    assert s["kind"] == "new-service" and s["draft"]["new_service"] == {"address": "192.0.2.99"}
    fw = flows[("firewall", "workstations", "198.51.100.10", "tcp/443")]
    assert fw["name"] == "www.allowed.example"
    assert fw["suggestion"]["kind"] == "use-proxy" and "www.allowed.example (grant web)" in fw["suggestion"]["text"]
    assert kind("firewall", "172.16.0.9", "192.0.2.99", "tcp/443")["kind"] == "no-zone"
    allowed = flows[("firewall", "lab", "203.0.113.6", "tcp/443")]
    assert allowed["decision"] == "allow" and allowed["suggestion"]["kind"] == "allowed"
    assert kind("firewall", "lab", "10.100.0.7", "tcp/443")["kind"] == "ingress"
    s = kind("proxy", "workstations", "www.other.example", "tcp/443")
    assert s["kind"] == "new-service" and s["draft"] == {
        "from": "workstations", "to": None, "ports": ["tcp/443"], "via": "proxy", "new_service": {"host": "www.other.example"}}
    s = kind("proxy", "lab", "www.allowed.example", "tcp/443")
    assert s["text"] == "grant web already opens this to zone workstations: add zone lab" and s["draft"]["via"] == "proxy"
    assert kind("proxy", "workstations", "www.allowed.example", "tcp/8443")["kind"] == "add-port"
    assert kind("proxy", "workstations", "198.51.100.10", "tcp/443")["kind"] == "use-name"
    assert kind("proxy", "workstations", "plain.example", "tcp/80")["kind"] == "new-service"
    assert doc["summary"]["by_kind"]["add-zone"] == {"flows": 2, "hits": 2}
    assert doc["summary"]["by_zone"]["no zone"] == {"flows": 1, "hits": 1}
    # judged at the closed stage, the older denial is not allowed
    closed = flows_of(blocked_json(policy, tmp_path / "fw.json", stage="s0-closed"))
    assert closed[("firewall", "lab", "203.0.113.6", "tcp/443")]["decision"] == "deny"


def test_text_and_markdown(tmp_path, policy):
    (tmp_path / "fw.json").write_text(ulogd("10.100.0.7", "203.0.113.5", 443) * 2)
    text = run("blocked", policy, tmp_path / "fw.json", "--stage", "last", "--at", AT)
    assert text.exit_code == 0
    assert "workstations -> 203.0.113.5 tcp/443  [firewall]" in text.stdout
    assert "open: grant partner-lab already opens this to zone lab: add zone workstations" in text.stdout
    assert "by source zone: workstations 1 flow (2 hits)\nwhat would open them: add-zone 1 flow (2 hits)\n" in text.stdout
    md = run("blocked", policy, tmp_path / "fw.json", "--stage", "s1-open", "--at", AT, "--format", "markdown")
    assert "| 1 | workstations | 203.0.113.5 | tcp/443 | firewall | 1 | 2 |" in md.stdout
    again = run("blocked", policy, tmp_path / "fw.json", "--stage", "s1-open", "--at", AT, "--format", "markdown")
    assert again.stdout == md.stdout


# -- bad input ----------------------------------------------------------------------


def test_bad_lines_are_counted_not_fatal(tmp_path, policy):
    good = kernel("10.100.1.1", "192.0.2.80", 443)
    log = tmp_path / "kern.log"
    log.write_bytes(
        good.encode()
        + good[:120].encode() + b"\n"                   # cut in the middle of the fields
        + b"\x00\x9f\xffgarbage\x01\x02\n"              # binary garbage
        + kernel("10.100.1.1", "192.0.2.80", 443, policy="someone-else").encode()
        + b"Dec  1 13:19:09 fw1 kernel: usb 1-1: new device\n"  # another kernel message
        + good.encode())
    result = run("blocked", policy, log, "--stage", "s1-open", "--at", AT, "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert [(f["destination"], f["hits"]) for f in doc["flows"]] == [("192.0.2.80", 2)]
    report = doc["inputs"][0]
    assert (report["bad"], report["first_bad_line"], report["other_policies"], report["other"]) == (2, 2, {"someone-else": 1}, 1)
    assert "note: " + str(log) + ": 2 bad lines ignored (first at line 2)" in result.stderr
    assert "1 line of another policy ('someone-else') ignored" in result.stderr


def test_bad_lines_in_json_and_squid(tmp_path, policy):
    line = ulogd("10.100.0.7", "203.0.113.5", 443)
    (tmp_path / "u.json").write_text(line + line[:90] + "\n" + "{not json}\n" + line)
    denied = squid("10.100.0.7", "www.x.example:443")
    (tmp_path / "access.log").write_text(denied + denied[:50] + "\n" + squid("10.100.0.7", "no-port-here") + denied)
    doc = blocked_json(policy, tmp_path / "u.json", tmp_path / "access.log")
    assert [(f["destination"], f["hits"]) for f in doc["flows"]] == [("203.0.113.5", 2), ("www.x.example", 2)]
    assert [(i["bad"], i["first_bad_line"]) for i in doc["inputs"]] == [(2, 2), (2, 2)]


def test_another_policys_log_is_ignored_and_reported(tmp_path, policy):
    (tmp_path / "u.json").write_text(ulogd("10.100.0.7", "203.0.113.5", 443, policy="chu-other") * 3)
    result = run("blocked", policy, tmp_path / "u.json", "--stage", "s1-open", "--at", AT)
    assert result.exit_code == 0
    assert "0 flows" in result.stdout
    assert "3 lines of another policy ('chu-other') ignored" in result.stderr


@pytest.mark.parametrize("content", [
    b"hello world\nthis is not a log\n",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00",
    b'{"some": "json", "but": "not ulogd"}\n',
    b"10.0.0.1 - - [01/Dec/2026:13:19:00 +0000] \"GET / HTTP/1.1\" 200 12\n",  # Apache/combined, not Squid native
])
def test_a_file_of_another_format_is_a_clear_error(tmp_path, policy, content):
    log = tmp_path / "mystery.log"
    log.write_bytes(content)
    good = tmp_path / "k.log"
    good.write_text(kernel("10.100.1.1", "192.0.2.80"))
    result = run("blocked", policy, good, log, "--stage", "s1-open", "--at", AT)
    assert result.exit_code == 2
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"egress: {log}: not a log that egress reads (expected ulogd2 JSON")


def test_empty_and_missing_files(tmp_path, policy):
    (tmp_path / "empty.log").write_text("")
    with gzip.open(tmp_path / "empty.gz", "wb"):
        pass
    result = run("blocked", policy, tmp_path / "empty.log", tmp_path / "empty.gz", "--stage", "s1-open", "--at", AT)
    assert result.exit_code == 0, result.output
    assert f"note: {tmp_path / 'empty.log'}: empty" in result.stderr
    missing = run("blocked", policy, tmp_path / "nope.log", "--stage", "s1-open", "--at", AT)
    assert missing.exit_code == 2 and f"{tmp_path / 'nope.log'}: cannot read" in missing.stderr


def test_truncated_gzip_keeps_the_lines_before(tmp_path, policy):
    data = gzip.compress("".join(kernel(f"10.100.{i // 250}.{i % 250 + 1}", "192.0.2.80") for i in range(2000)).encode())
    (tmp_path / "kern.log.1.gz").write_bytes(data[: len(data) // 2])
    result = run("blocked", policy, tmp_path / "kern.log.1.gz", "--stage", "s1-open", "--at", AT, "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["inputs"][0]["truncated"] and 0 < doc["flows"][0]["hits"] < 2000
    assert "compressed data ends early" in result.stderr


def test_usage_errors(tmp_path, policy):
    (tmp_path / "k.log").write_text(kernel("10.100.1.1", "192.0.2.80"))
    assert run("blocked", policy, tmp_path / "k.log", "--stage", "nope", "--at", AT).exit_code == 2
    assert run("blocked", policy, "-", "-", "--stage", "s1-open", "--at", AT, input="").exit_code == 2
    bad = run("blocked", policy, tmp_path / "k.log", "--stage", "s1-open", "--at", AT, "--as-stage", "S7 bad")
    assert bad.exit_code == 2 and "not a stage id" in bad.stderr
    taken = run("blocked", policy, tmp_path / "k.log", "--stage", "s1-open", "--at", AT, "--as-stage", "s1-open")
    assert taken.exit_code == 2 and "already exists" in taken.stderr


# -- the draft stage ------------------------------------------------------------------


def test_draft_stage_fails_validate_until_filled_then_diff_shows_exactly_the_chosen_flows(tmp_path, policy):
    (tmp_path / "fw.json").write_text(
        ulogd("10.100.0.7", "203.0.113.5", 443) * 3 + ulogd("10.100.0.8", "203.0.113.5", 443)  # add-zone, 2 sources
        + ulogd("10.30.0.5", "192.0.2.99", 443) * 2                                           # new service, 2 hits
        + ulogd("10.30.0.5", "198.51.100.50", 22)                                             # archive, 1 hit
        + ulogd("172.16.0.9", "192.0.2.99", 443) * 9)                                         # no zone: not drafted
    (tmp_path / "access.log").write_text(squid("10.100.0.7", "www.other.example:443") * 2)  # new proxied service
    result = run("blocked", policy, tmp_path / "fw.json", tmp_path / "access.log", "--stage", "s1-open", "--at", AT,
                 "--as-stage", "s2-drafted", "--top", "4")
    assert result.exit_code == 0, result.output
    draft = result.stdout
    assert "approved_by: \"<fill in" in draft and "cell" not in draft
    assert "172.16.0.9 -> 192.0.2.99 tcp/443 (firewall): source 172.16.0.9 is in no zone" in draft  # listed, not drafted
    assert "198.51.100.50" not in draft  # fifth: left out by --top 4
    (tmp_path / "draft.yaml").write_text(draft)
    with_draft = tmp_path / "with-draft.yaml"
    with_draft.write_text(POLICY.replace("stages:\n", "include: [draft.yaml]\nstages:\n", 1))
    invalid = run("validate", with_draft, "--at", AT)
    assert invalid.exit_code == 1
    codes = re.findall(r"error (E\d+)", invalid.stdout)
    assert codes == ["E150"] * 9  # three grants, three placeholders each
    (tmp_path / "draft.yaml").write_text(re.sub(r'"<fill in[^"]*"', '"Decided by the crisis cell"', draft))
    valid = run("validate", with_draft, "--at", AT)
    assert valid.exit_code == 0
    assert re.findall(r"(?:error|warning) (\w+)", valid.stdout) == ["W107"]  # the test policy's unused archive only
    diff = run("diff", with_draft, "s1-open", "s2-drafted", "--at", AT, "--format", "json")
    doc = json.loads(diff.stdout)
    opened = sorted((f["from"], tuple(f["destination"]), tuple(f["ports"]), f["via"]) for f in doc["opened"])
    assert opened == [
        ("lab", ("192.0.2.99/32",), ("tcp/443",), "direct"),
        ("workstations", ("203.0.113.0/28", "2001:db8:16::/48"), ("tcp/443",), "direct"),
        ("workstations", ("www.other.example",), ("tcp/443",), "proxy"),
    ]
    assert doc["closed"] == []


# -- usage ----------------------------------------------------------------------------


def test_usage_from_the_proxy_log(tmp_path, policy):
    allowed = "TCP_TUNNEL/200"
    (tmp_path / "access.log").write_text(
        squid("10.100.0.7", "www.allowed.example:443", action=allowed, sec=1796131000) * 3
        + squid("10.100.0.8", "deep.www.allowed.example:443", action=allowed, sec=1796131100)
        + squid("10.100.0.7", "www.other.example:443")                             # refused: not usage
        + squid("10.30.0.5", "www.allowed.example:443", action=allowed)            # no grant of the stage allows it
        + squid("10.100.0.7", "http://www.allowed.example/x", method="GET", action="TCP_MISS/200"))  # port 80: none
    result = run("usage", policy, tmp_path / "access.log", "--stage", "s1-open", "--at", AT, "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    grants = {g["grant"]: g for g in doc["grants"]}
    assert (grants["web"]["proxy_requests"], grants["web"]["used"], grants["web"]["proxy_last_seen"]) == (
        4, True, "2026-12-01T13:18:20Z")
    assert (grants["partner-lab"]["observed"], grants["partner-lab"]["packets"]) == (False, None)  # direct: not observed
    assert doc["summary"] == {"grants": 2, "used": 1, "unused": 0, "not_observed": 1}
    assert sorted((u["client"], u["host"], u["port"], u["hits"]) for u in doc["unattributed"]) == [
        ("10.100.0.7", "www.allowed.example", "tcp/80", 1), ("10.30.0.5", "www.allowed.example", "tcp/443", 1)]
    text = run("usage", policy, tmp_path / "access.log", "--stage", "s1-open", "--at", AT).stdout
    assert "not observed (give the proxy's access.log, or the firewall's counters): partner-lab" in text
    # nothing through the proxy: the proxied grant is unused, a candidate to revoke
    (tmp_path / "quiet.log").write_text(squid("10.100.0.7", "www.other.example:443"))
    quiet = run("usage", policy, tmp_path / "quiet.log", "--stage", "s1-open", "--at", AT, "--format", "markdown")
    assert "| web | s1-open | workstations | sites | proxy | 0 | - | - |  | **no** |" in quiet.stdout
    assert run("usage", policy, "--stage", "s1-open", "--at", AT).exit_code == 2


def test_usage_markdown_escapes_the_counters_path(tmp_path, policy):
    """The counters file's path reaches the markdown summary: a hostile name stays text."""
    hostile = tmp_path / "![x](https:" / "e.example" / "@team <b>c.json"
    hostile.parent.mkdir(parents=True)
    hostile.write_text(json.dumps({"nftables": [{"table": {"family": "inet", "name": "egress", "handle": 1}}]}))
    result = run("usage", policy, "--counters", str(hostile), "--stage", "s1-open", "--at", AT, "--format", "markdown")
    assert result.exit_code == 0, result.output
    assert "firewall counters from" in result.stdout
    assert "![x](https:" not in result.stdout and "<b>" not in result.stdout and "@team" not in result.stdout

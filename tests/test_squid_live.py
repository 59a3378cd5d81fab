"""A live Squid enforcing a generated `squid-egress.conf`, in the network lab.

Squid runs in the lab's `lan` namespace on the proxy zone's address, leaves from that
address (`tcp_outgoing_address`), resolves names from a test hosts file only
(`hosts_file`; `dns_nameservers 127.0.0.1`, where nothing listens, so it never asks
anyone else), and reaches the `wan` namespace through the `fw` namespace, which runs
the nftables ruleset of the same stage (egress/targets/nftables.py). Clients are
`curl -x` (and, for TLS server names, a small Python client) bound to addresses of the
policy's zones with `--interface`.

The test policy is written here, so that the names are under the test's control.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from egress.check import validate
from egress.flows import resolve
from egress.targets import nftables
from egress.targets.squid import render

pytestmark = pytest.mark.system("ip", "nft", "squid", "curl")

PROXY4, PROXY6 = "10.0.0.3", "2001:db8:0:3::3"
WORKSTATION, WORKSTATION6 = "10.100.0.10", "2001:db8:100::10"
GUEST = "10.200.0.10"
AT = dt.date(2024, 1, 1)
PORT_NONE, PORT_PEEK, PORT_CLOSED, PORT_PEEK_CLOSED, PORT_PEEK_CA = 3128, 3129, 3130, 3131, 3132

POLICY = """
egress: 1
policy: squid-live
zones:
  proxy:
    addresses: [10.0.0.3, "2001:db8:0:3::3"]
  workstations:
    addresses: [10.100.0.0/24, "2001:db8:100::/64"]
  guests:
    addresses: [10.200.0.0/24]
proxy: {zone: proxy, port: PORT, tls: TLS}
services:
  sites:
    destinations:
      - domain: allowed.example       # allowed.example and every name below it
      - host: www.allowed.example     # covered by the domain: dropped
      - host: www.exact.example       # exactly this name
    ports: [tcp/443, tcp/8443]
  crl:
    destinations:
      - host: crl.allowed-ca.example
    ports: [tcp/80]
  tls-a:
    destinations:
      - domain: tls-a.example
    ports: [tcp/9443]
  tls-b:
    destinations:
      - host: www.tls-b.example
    ports: [tcp/9443]
stages:
  - id: s0-closed
    grants: []
  - id: s1-open
    grants:
      - id: web
        from: workstations
        to: sites
        ports: [tcp/443]
        via: proxy
        reason: Web sites for the workstations, https only
      - id: crl
        from: workstations
        to: crl
        via: proxy
        reason: Revocation lists, plain http
      - id: guest-web
        from: guests
        to: sites
        ports: [tcp/8443]
        via: proxy
        reason: Guests get the sites on 8443 only
      - id: tls-sites
        from: workstations
        to: [tls-a, tls-b]
        via: proxy
        reason: TLS services, for the server-name check
"""

HOSTS = {
    "198.51.100.10": ["allowed.example"],
    "198.51.100.11": ["www.allowed.example", "a.b.allowed.example"],
    "198.51.100.12": ["www.exact.example"],
    "198.51.100.13": ["exact.example", "other.exact.example"],
    "198.51.100.14": ["notgranted.example", "notallowed.example", "allowed.example.notgranted.example"],
    "198.51.100.15": ["crl.allowed-ca.example"],
    "198.51.100.20": ["tls-a.example", "www.tls-a.example"],
    "198.51.100.21": ["www.tls-b.example"],
    "2001:db8:51::10": ["v6.allowed.example"],
}

TLS_SERVER = r'''
import socket, ssl, sys, threading
cert, key, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
def serve(family, address):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    def on_sni(tls_socket, name, ctx):
        tls_socket.seen_sni = name
    context.sni_callback = on_sni
    sock = socket.socket(family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    sock.bind((address, port))
    sock.listen(64)
    def handle(conn, peer):
        try:
            tls = context.wrap_socket(conn, server_side=True)
            tls.recv(4096)
            body = f"tls-server sni={getattr(tls, 'seen_sni', None) or '-'} from={peer[0]}\n".encode()
            tls.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            tls.close()
        except Exception:
            conn.close()
    while True:
        conn, peer = sock.accept()
        threading.Thread(target=handle, args=(conn, peer), daemon=True).start()
threading.Thread(target=serve, args=(socket.AF_INET6, "::"), daemon=True).start()
print("ready", flush=True)
serve(socket.AF_INET, "0.0.0.0")
'''

TLS_CLIENT = r'''
import json, socket, ssl, sys
cases = json.loads(sys.argv[1])
out = []
for case in cases:
    result = {"connect": None, "body": None, "error": None}
    try:
        sock = socket.create_connection((case["proxy"], case["port"]), timeout=5, source_address=(case["src"], 0))
        sock.sendall(f"CONNECT {case['target']} HTTP/1.1\r\nHost: {case['target']}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(1)
            if not chunk:
                break
            head += chunk
        result["connect"] = int(head.split()[1]) if head else None
        if result["connect"] == 200:
            if case["mode"] == "tls":
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                sock = context.wrap_socket(sock, server_hostname=case["sni"])
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            data = b""
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
            result["body"] = data.decode(errors="replace")
    except Exception as err:
        result["error"] = f"{type(err).__name__}: {err}"
    out.append(result)
print(json.dumps(out))
'''


# -- the setting ----------------------------------------------------------------------


def _flows(folder: Path, tls: str, port: int, stage: str):
    path = folder / f"policy-{tls}-{port}.yaml"
    path.write_text(POLICY.replace("TLS", tls).replace("PORT", str(port)))
    policy, diagnostics = validate(str(path), AT)
    errors = [d for d in diagnostics if d.severity == "error"]
    assert policy is not None and not errors, errors
    return resolve(policy, stage, AT)


class Proxy:
    """One squid in the lan namespace, on PROXY4:port, with the include of one stage."""

    def __init__(self, lab, folder: Path, flows, port: int, peek: bool, ca: bool = False):
        self.lab, self.folder, self.port = lab, folder / f"squid-{port}", port
        self.folder.mkdir()
        proxy_user = pwd.getpwnam("proxy")
        include = self.folder / "squid-egress.conf"
        include.write_text(render(flows))
        http_port = f"http_port {PROXY4}:{port}"
        extra = []
        if peek and not ca:  # docs/squid.md, option A: one static certificate
            http_port += (f" ssl-bump tls-cert={folder}/proxy.pem tls-key={folder}/proxy.key"
                          " generate-host-certificates=off")
        elif peek:  # option B: an internal CA, certificates minted for error pages
            db = self.folder / "ssl_db"
            subprocess.run(["/usr/lib/squid/security_file_certgen", "-c", "-s", str(db), "-M", "4MB"],
                           check=True, capture_output=True)
            http_port += (f" ssl-bump tls-cert={folder}/ca.pem tls-key={folder}/ca.key"
                          " generate-host-certificates=on dynamic_cert_mem_cache_size=4MB")
            extra = [f"sslcrtd_program /usr/lib/squid/security_file_certgen -s {db} -M 4MB", "sslcrtd_children 2"]
        conf = self.folder / "squid.conf"
        conf.write_text("\n".join([
            http_port,
            *extra,
            f"tcp_outgoing_address {PROXY4}",
            f"tcp_outgoing_address {PROXY6}",
            f"hosts_file {folder}/hosts",
            "dns_nameservers 127.0.0.1",
            "dns_timeout 2 seconds",
            f"pid_filename {self.folder}/squid.pid",
            f"cache_log {self.folder}/cache.log",
            f"access_log stdio:{self.folder}/access.log squid",
            "cache deny all",
            f"coredump_dir {self.folder}",
            "pinger_enable off",
            "shutdown_lifetime 0 seconds",
            "visible_hostname egress-test-proxy",
            f"include {include}",
            "",
        ]))
        for path in (self.folder, *self.folder.rglob("*")):
            os.chown(path, proxy_user.pw_uid, proxy_user.pw_gid)
        self.proc = lab.spawn("lan", ["squid", "-N", "-f", str(conf)], name=f"squid-{port}")
        self._wait()

    def _wait(self):
        deadline = time.monotonic() + 30
        log = self.folder / "cache.log"
        while time.monotonic() < deadline:
            text = log.read_text(errors="replace") if log.exists() else ""
            if "Accepting HTTP Socket connections" in text or "Accepting SSL bumped HTTP Socket connections" in text:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"squid on port {self.port} did not start:\n{self.lab.log(self.proc)}\n{self.log()}")

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    def log(self) -> str:
        out = []
        for name in ("cache.log", "access.log"):
            path = self.folder / name
            if path.exists():
                out.append(f"--- {name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-40:]))
        return "\n".join(out)


@pytest.fixture(scope="module")
def setting(module_lab):
    lab = module_lab
    folder = Path(tempfile.mkdtemp(prefix="egress-squid-live-"))
    folder.chmod(0o755)  # squid runs as user proxy
    proxies = {}
    try:
        lab.add_lan(PROXY4, PROXY6, WORKSTATION, WORKSTATION6, GUEST)
        lab.add_wan(list(HOSTS))
        (folder / "hosts").write_text("".join(f"{a} {' '.join(n)}\n" for a, n in HOSTS.items()))
        (folder / "hosts").chmod(0o644)
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=egress test",
             "-keyout", str(folder / "proxy.key"), "-out", str(folder / "proxy.pem")],
            check=True, capture_output=True,
        )
        (folder / "proxy.key").chmod(0o644)
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-extensions", "v3_ca",
             "-subj", "/CN=egress test proxy CA", "-keyout", str(folder / "ca.key"), "-out", str(folder / "ca.pem")],
            check=True, capture_output=True,
        )
        (folder / "ca.key").chmod(0o644)
        (folder / "tls_server.py").write_text(TLS_SERVER)
        (folder / "tls_client.py").write_text(TLS_CLIENT)

        open_none = _flows(folder, "none", PORT_NONE, "s1-open")
        firewall = _load_firewall(lab, open_none)
        lab.listen("wan", [80, 443, 8443, 12345])
        server = lab.spawn("wan", [sys.executable, str(folder / "tls_server.py"), str(folder / "proxy.pem"),
                                   str(folder / "proxy.key"), "9443"], name="tls-server")
        proxies.update({
            "none": Proxy(lab, folder, open_none, PORT_NONE, peek=False),
            "peek": Proxy(lab, folder, _flows(folder, "peek", PORT_PEEK, "s1-open"), PORT_PEEK, peek=True),
            "closed": Proxy(lab, folder, _flows(folder, "none", PORT_CLOSED, "s0-closed"), PORT_CLOSED, peek=False),
            "peek-closed": Proxy(lab, folder, _flows(folder, "peek", PORT_PEEK_CLOSED, "s0-closed"), PORT_PEEK_CLOSED,
                                 peek=True),
            "peek-ca": Proxy(lab, folder, _flows(folder, "peek", PORT_PEEK_CA, "s1-open"), PORT_PEEK_CA, peek=True,
                             ca=True),
        })
        deadline = time.monotonic() + 10
        while "ready" not in lab.log(server) and time.monotonic() < deadline:
            time.sleep(0.05)
        yield {"lab": lab, "folder": folder, "proxies": proxies, "firewall": firewall}
    finally:
        for proxy in proxies.values():
            proxy.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _load_firewall(lab, flows) -> str:
    """Load the stage's nftables ruleset in fw; say what was done."""
    lab.load(nftables.render(flows))
    return "nftables"


def curl(setting, url: str, src: str = WORKSTATION, port: int = PORT_NONE, tunnel: bool = True,
         *options: str) -> tuple[str, str, str]:
    """(CONNECT code, HTTP code, body) of `curl -x` from `src` in the lan namespace."""
    argv = ["curl", "-sS", "--max-time", "8", "--interface", src, "-x", f"http://{PROXY4}:{port}",
            "-w", "\n%{http_connect} %{http_code}", *options, url]
    if tunnel:
        argv.insert(1, "--proxytunnel")
    cp = setting["lab"].run("lan", *argv, timeout=30)
    body, _, codes = cp.stdout.rpartition("\n")
    connect, _, http = codes.partition(" ")
    return connect, http, body


def tls_client(setting, cases: list[dict]) -> list[dict]:
    for case in cases:
        case.setdefault("proxy", PROXY4)
        case.setdefault("port", PORT_PEEK)
        case.setdefault("src", WORKSTATION)
        case.setdefault("mode", "tls")
    cp = setting["lab"].run("lan", sys.executable, str(setting["folder"] / "tls_client.py"), json.dumps(cases),
                            timeout=60, check=True)
    return json.loads(cp.stdout)


def explain(setting, name="none") -> str:
    return setting["proxies"][name].log()


# -- tls: none ------------------------------------------------------------------------


@pytest.mark.parametrize("name, address", [
    ("allowed.example", "198.51.100.10"),          # the apex of a domain
    ("www.allowed.example", "198.51.100.11"),      # a subdomain (its host entry was dropped)
    ("a.b.allowed.example", "198.51.100.11"),      # a deeper subdomain
    ("www.exact.example", "198.51.100.12"),        # an exact host
    ("WWW.Allowed.EXAMPLE", "198.51.100.11"),      # names match whatever their case
    ("v6.allowed.example", "2001:db8:51::10"),     # over IPv6, from the proxy's v6 address
])
def test_allowed_names_get_their_tunnel(setting, name, address):
    connect, http, body = curl(setting, f"http://{name}:443/")
    assert connect == "200", (connect, http, body, explain(setting))
    # the far end saw the proxy's own address: squid left through tcp_outgoing_address
    proxy = PROXY6 if ":" in address else PROXY4
    assert f"egress-lab wan tcp {address} 443 from {proxy} " in body, body


def test_plain_http_to_an_allowed_host(setting):
    connect, http, body = curl(setting, "http://crl.allowed-ca.example/crl.pem", tunnel=False)
    assert http == "200", (connect, http, body, explain(setting))
    assert f"from {PROXY4} " in body


@pytest.mark.parametrize("url, src, why", [
    ("http://notgranted.example:443/", WORKSTATION, "a name not granted"),
    ("http://exact.example:443/", WORKSTATION, "the parent of a granted host"),
    ("http://other.exact.example:443/", WORKSTATION, "a sibling of a granted host"),
    ("http://notallowed.example:443/", WORKSTATION, "a name ending like a granted domain, not at a dot"),
    ("http://allowed.example.notgranted.example:443/", WORKSTATION, "a granted domain as a prefix"),
    ("http://allowed.example:8443/", WORKSTATION, "a granted name on a port granted to another zone"),
    ("http://allowed.example:12345/", WORKSTATION, "a granted name on a port no grant has"),
    ("http://crl.allowed-ca.example:80/", WORKSTATION, "CONNECT to port 80"),
    ("http://198.51.100.10:443/", WORKSTATION, "an IPv4 literal of a granted name"),
    ("http://[2001:db8:51::10]:443/", WORKSTATION, "an IPv6 literal of a granted name"),
    ("http://allowed.example:443/", GUEST, "a granted name from a zone without that grant"),
    ("http://www.exact.example:443/", PROXY4, "the proxy's own zone has no grant"),
])
def test_other_connects_are_refused(setting, url, src, why):
    connect, http, body = curl(setting, url, src=src)
    assert connect == "403", (why, connect, http, body, explain(setting))
    assert "egress-lab" not in body


def test_guests_get_their_own_port(setting):
    connect, _, body = curl(setting, "http://allowed.example:8443/", src=GUEST)
    assert connect == "200", explain(setting)
    assert "egress-lab wan tcp 198.51.100.10 8443" in body


def test_plain_http_is_refused_to_zones_without_the_grant(setting):
    _, http, body = curl(setting, "http://crl.allowed-ca.example/", src=GUEST, tunnel=False)
    assert http == "403", (http, body)


def test_a_closed_stage_refuses_everything(setting):
    for url in ("http://allowed.example:443/", "http://www.exact.example:443/"):
        connect, http, _body = curl(setting, url, port=PORT_CLOSED)
        assert connect == "403", (url, connect, http, explain(setting, "closed"))
    _, http, _ = curl(setting, "http://crl.allowed-ca.example/", port=PORT_CLOSED, tunnel=False)
    assert http == "403"


def test_the_firewall_was_in_place(setting):
    """Says which firewall the other tests ran behind; with nftables, a workstation
    cannot go around the proxy."""
    assert setting["firewall"] == "nftables"
    lab = setting["lab"]
    direct = lab.probe("lan", [(WORKSTATION, "198.51.100.10", "tcp", 443), (PROXY4, "198.51.100.10", "tcp", 443)])
    assert direct == [False, True]


# -- tls: peek ------------------------------------------------------------------------


def test_peek_splices_a_matching_server_name(setting):
    results = tls_client(setting, [
        {"target": "tls-a.example:9443", "sni": "tls-a.example"},
        {"target": "www.tls-a.example:9443", "sni": "www.tls-a.example"},
        {"target": "www.tls-b.example:9443", "sni": "www.tls-b.example"},
    ])
    for result, name in zip(results, ["tls-a.example", "www.tls-a.example", "www.tls-b.example"], strict=True):
        assert result["connect"] == 200 and result["body"], (name, result, explain(setting, "peek"))
        assert f"tls-server sni={name} from={PROXY4}" in result["body"], result


def test_peek_terminates_a_mismatching_server_name(setting):
    results = tls_client(setting, [
        {"target": "tls-a.example:9443", "sni": "notgranted.example"},   # a name not granted
        {"target": "tls-a.example:9443", "sni": "www.tls-b.example"},    # granted, but to another service
        {"target": "www.tls-b.example:9443", "sni": "tls-a.example"},
    ])
    for result in results:
        # the CONNECT itself was allowed; the TLS handshake was cut by squid
        assert result["connect"] == 200, (result, explain(setting, "peek"))
        assert result["body"] is None or "tls-server" not in result["body"], (result, explain(setting, "peek"))
        assert result["error"], result


def test_peek_without_sni_is_judged_by_the_connect_name(setting):
    (result,) = tls_client(setting, [{"target": "tls-a.example:9443", "sni": None}])
    assert result["connect"] == 200, (result, explain(setting, "peek"))
    assert "tls-server sni=- " in (result["body"] or ""), (result, explain(setting, "peek"))


def test_peek_refuses_a_tunnel_that_is_not_tls(setting):
    (result,) = tls_client(setting, [{"target": "tls-a.example:9443", "sni": None, "mode": "plain"}])
    assert "tls-server" not in (result["body"] or ""), result


def test_peek_keeps_the_access_rules(setting):
    """A CONNECT that http_access denies never reaches the server. On an ssl-bump port
    Squid 5.7 answers it `200 Connection established` and then serves its 403 page
    inside TLS, with the port's own certificate ("Force bump action on error": it does
    so whatever the ssl_bump rules say, as soon as there are some)."""
    results = tls_client(setting, [
        {"target": "notgranted.example:9443", "sni": "notgranted.example"},
        {"target": "notgranted.example:9443", "sni": "tls-a.example"},
        {"target": "tls-a.example:9443", "sni": "tls-a.example", "src": GUEST},
        {"target": "allowed.example:443", "sni": "allowed.example", "src": GUEST},
    ])
    for result in results:
        body = result["body"] or ""
        assert result["connect"] in (200, 403), result
        assert "tls-server" not in body and "egress-lab" not in body, result
        if result["connect"] == 200:
            assert "403 Forbidden" in body and "ERR_ACCESS_DENIED" in body, result
    log = (setting["proxies"]["peek"].folder / "access.log").read_text()
    # logged as denied (TCP_DENIED/200: the code is the 200 sent to the CONNECT)
    assert re.search(r"TCP_DENIED/\d+ \d+ CONNECT notgranted\.example:9443 ", log), log


def test_peek_closed_stage_answers_403_to_the_connect(setting):
    """The include of a stage with no proxied grant has no ssl_bump rule, so Squid
    answers the CONNECT itself with 403, even on an ssl-bump port."""
    results = tls_client(setting, [
        {"target": "tls-a.example:9443", "sni": "tls-a.example", "port": PORT_PEEK_CLOSED},
        {"target": "www.tls-b.example:9443", "sni": None, "port": PORT_PEEK_CLOSED},
    ])
    assert [r["connect"] for r in results] == [403, 403], results
    connect, _, _ = curl(setting, "https://allowed.example:443/", port=PORT_PEEK_CLOSED)
    assert connect == "403"


def test_peek_with_an_internal_ca_shows_the_403_page(setting):
    """docs/squid.md, option B: with an internal CA (trusted by the workstations) and
    generate-host-certificates=on, a denied HTTPS site shows Squid's 403 page without a
    certificate error; allowed sites are still spliced, never decrypted."""
    ca = str(setting["folder"] / "ca.pem")
    connect, http, body = curl(setting, "https://notgranted.example:9443/", WORKSTATION, PORT_PEEK_CA, True,
                               "--cacert", ca)
    assert (connect, http) == ("200", "403") and "ERR_ACCESS_DENIED" in body, (connect, http, body,
                                                                             explain(setting, "peek-ca"))
    (result,) = tls_client(setting, [{"target": "tls-a.example:9443", "sni": "tls-a.example", "port": PORT_PEEK_CA}])
    assert "tls-server sni=tls-a.example" in (result["body"] or ""), result
    mismatch = {"target": "tls-a.example:9443", "sni": "www.tls-b.example", "port": PORT_PEEK_CA}
    (result,) = tls_client(setting, [mismatch])
    assert "tls-server" not in (result["body"] or "") and result["error"], result

"""`egress resolve` against a real dnsmasq on loopback: the lock file it writes."""

from __future__ import annotations

import socket
import subprocess
import threading
import time

import pytest
from click.testing import CliRunner

from egress.cli import main
from egress.resolve import parse_nameserver, render_lock
from tests.test_diagnostics import BASE, write


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_dnsmasq(system, tmp_path, options: list[str]):
    """A dnsmasq on 127.0.0.1 (a free port) with these options: yields "127.0.0.1:PORT"
    once it listens, stops it after (the body of the fixtures below)."""
    port = free_port()
    proc = subprocess.Popen(
        [
            system.get("dnsmasq", "dnsmasq"), "--keep-in-foreground", "--no-resolv", "--no-hosts",
            "--conf-file=/dev/null", f"--port={port}", "--listen-address=127.0.0.1", "--bind-interfaces",
            f"--pid-file={tmp_path / 'dnsmasq.pid'}", "--user=root", "--group=root", *options,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                break  # dnsmasq holds the port
        time.sleep(0.05)
    yield f"127.0.0.1:{port}"
    proc.terminate()
    proc.wait(5)


@pytest.fixture
def dnsmasq(system, tmp_path):
    """A dnsmasq on 127.0.0.1 answering static records, nothing forwarded."""
    yield from serve_dnsmasq(system, tmp_path, [
        "--address=/mx.partner.example/203.0.113.25",
        "--address=/mx.partner.example/2001:db8:113::25",
        "--address=/mx.partner.example/203.0.113.7",
        "--address=/gone.example/",  # NXDOMAIN
    ])


def _servfail_upstream(sock: socket.socket) -> None:
    """Answer every question with SERVFAIL (a broken upstream), until the socket closes."""
    import dns.message
    import dns.rcode

    while True:
        try:
            data, peer = sock.recvfrom(4096)
        except OSError:
            return
        reply = dns.message.make_response(dns.message.from_wire(data))
        reply.set_rcode(dns.rcode.SERVFAIL)
        sock.sendto(reply.to_wire(), peer)


@pytest.fixture
def flaky_dnsmasq(system, tmp_path):
    """A real dnsmasq that answers the A question of each name below from its own
    records and fails the AAAA one in a different way:

    - servfail.example: forwarded to an upstream that answers SERVFAIL (passed on);
    - refused.example: no server for it, so dnsmasq answers REFUSED;
    - silent.example: forwarded to an upstream that never answers (a timeout);
    - nodata.example: a local domain, so AAAA gets NODATA (a real answer).
    """
    servfail = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    servfail.bind(("127.0.0.1", 0))
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    threading.Thread(target=_servfail_upstream, args=(servfail,), daemon=True).start()
    names = ("servfail", "refused", "silent", "nodata")
    yield from serve_dnsmasq(system, tmp_path, [
        *(f"--host-record={name}.example,203.0.113.25" for name in names),
        f"--server=/servfail.example/127.0.0.1#{servfail.getsockname()[1]}",
        f"--server=/silent.example/127.0.0.1#{silent.getsockname()[1]}",
        "--local=/nodata.example/",
    ])
    servfail.close()
    silent.close()


@pytest.mark.system("dnsmasq")
def test_resolve_writes_the_expected_lock_file(tmp_path, dnsmasq):
    path = write(tmp_path, BASE, lock=None)
    result = CliRunner().invoke(main, ["resolve", str(path), "--nameserver", dnsmasq])
    assert result.exit_code == 0, result.output
    lock = (tmp_path / "policy.lock.yaml").read_text().splitlines()
    resolved = [line for line in lock if line.startswith("resolved: ")]
    assert len(resolved) == 1
    assert [line for line in lock if not line.startswith("resolved: ")] == [
        "# egress lock file: pinned addresses of the hosts of direct grants.",
        "# Written by `egress resolve`; review and commit it with the policy.",
        "egress-lock: 1",
        "policy: base",
        f'resolver: "{dnsmasq}"',
        "hosts:",
        "  mx.partner.example:",
        '    - "203.0.113.7"',
        '    - "203.0.113.25"',
        '    - "2001:db8:113::25"',
    ]
    assert CliRunner().invoke(main, ["validate", str(path), "--at", "2023-07-01"]).exit_code == 0


@pytest.mark.system("dnsmasq")
def test_resolve_twice_leaves_the_lock_file_alone(tmp_path, dnsmasq):
    path = write(tmp_path, BASE, lock=None)
    assert CliRunner().invoke(main, ["resolve", str(path), "--nameserver", dnsmasq]).exit_code == 0
    before = (tmp_path / "policy.lock.yaml").read_bytes()
    result = CliRunner().invoke(main, ["resolve", str(path), "--nameserver", dnsmasq])
    assert result.exit_code == 0 and "unchanged" in result.stderr
    assert (tmp_path / "policy.lock.yaml").read_bytes() == before


@pytest.mark.system("dnsmasq")
def test_unresolvable_host_changes_nothing(tmp_path, dnsmasq):
    text = BASE.replace("      - host: mx.partner.example", "      - host: mx.partner.example\n      - host: gone.example")
    path = write(tmp_path, text, lock=None)
    result = CliRunner().invoke(main, ["resolve", str(path), "--nameserver", dnsmasq])
    assert result.exit_code == 1
    assert "gone.example: no address" in result.stderr
    assert not (tmp_path / "policy.lock.yaml").exists()


@pytest.mark.system("dnsmasq")
@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_a_lock_path_that_cannot_be_written_is_exit_2(tmp_path, dnsmasq, kind):
    """The lock path a folder or a FIFO (validate reports it, resolve goes on to rewrite
    it): the write failed with exit 3 (a FIFO was even replaced by a file)."""
    import os

    path = write(tmp_path, BASE, lock=None)
    lock = tmp_path / "policy.lock.yaml"
    lock.mkdir() if kind == "folder" else os.mkfifo(lock)
    result = CliRunner().invoke(main, ["resolve", str(path), "--nameserver", dnsmasq])
    assert result.exit_code == 2, result.output
    assert f"egress: cannot write {lock}: not a regular file" in result.stderr
    assert lock.is_dir() if kind == "folder" else lock.is_fifo()


PINNED_BOTH = """\
egress-lock: 1
policy: base
hosts:
  {host}: [203.0.113.25, "2001:db8:113::25"]
"""


def resolve_pinned(tmp_path, host: str, *options: str):
    """`egress resolve` of BASE with `host` for the partner, its lock file pinning both
    families (PINNED_BOTH); (result, the lock file's bytes before)."""
    path = write(tmp_path, BASE.replace("mx.partner.example", host), lock=PINNED_BOTH.format(host=host))
    before = (tmp_path / "policy.lock.yaml").read_bytes()
    return CliRunner().invoke(main, ["resolve", str(path), *options]), before


@pytest.mark.system("dnsmasq")
@pytest.mark.parametrize("host, said", [
    ("servfail.example", "SERVFAIL from 127.0.0.1:"),
    ("refused.example", "REFUSED from 127.0.0.1:"),
    ("silent.example", "no answer within 1 s"),
])
def test_failed_aaaa_keeps_the_pinned_ipv6_address(tmp_path, flaky_dnsmasq, host, said):
    """A answers, AAAA fails: the lock file keeps its IPv6 address, exit 1 names host and family."""
    result, before = resolve_pinned(tmp_path, host, "--nameserver", flaky_dnsmasq, "--timeout", "1")
    assert result.exit_code == 1, result.output
    assert f"egress: {host}: IPv6 (AAAA) lookup failed ({said}" in result.stderr
    assert "IPv4 (A)" not in result.stderr
    assert "lock file left unchanged" in result.stderr
    assert (tmp_path / "policy.lock.yaml").read_bytes() == before


@pytest.mark.system("dnsmasq")
def test_nodata_for_aaaa_is_an_answer_and_drops_the_ipv6_address(tmp_path, flaky_dnsmasq):
    """NODATA is a real answer: the host has no IPv6 address any more, and the lock file says so."""
    path = write(tmp_path, BASE.replace("mx.partner.example", "nodata.example"),
                 lock=PINNED_BOTH.format(host="nodata.example"))
    result = CliRunner().invoke(main, ["resolve", str(path), "--nameserver", flaky_dnsmasq, "--timeout", "1"])
    assert result.exit_code == 0, result.output
    lock = (tmp_path / "policy.lock.yaml").read_text()
    assert '    - "203.0.113.25"' in lock and "2001:db8" not in lock


@pytest.fixture
def poisoned_dnsmasq(system, tmp_path):
    """A resolver that answers what a lock file may not hold (rebinding, poisoning)."""
    yield from serve_dnsmasq(system, tmp_path, [
        "--address=/metadata.example/169.254.169.254",
        "--address=/metadata.example/2001:db8:113::25",
        "--address=/loopback.example/203.0.113.25",
        "--address=/loopback.example/::1",
        "--address=/inzone.example/192.0.2.25",  # zone dmz of BASE
    ])


@pytest.mark.system("dnsmasq")
@pytest.mark.parametrize("host, said", [
    ("metadata.example", "answered 169.254.169.254, in the link-local"),
    ("loopback.example", "answered ::1, in the loopback range ::1/128"),
    ("inzone.example", "answered 192.0.2.25, inside zone 'dmz'"),
])
def test_an_answer_no_lock_entry_may_hold_changes_nothing(tmp_path, poisoned_dnsmasq, host, said):
    """resolve wrote such answers and exited 0; the lock file then failed validation (E145)."""
    result, before = resolve_pinned(tmp_path, host, "--nameserver", poisoned_dnsmasq)
    assert result.exit_code == 1, result.output
    assert f"egress: {host}: {said}" in result.stderr
    assert "lock file left unchanged" in result.stderr
    assert (tmp_path / "policy.lock.yaml").read_bytes() == before


@pytest.mark.parametrize("value, expected", [
    ("192.0.2.53", ("192.0.2.53", 53)),
    ("127.0.0.1:5353", ("127.0.0.1", 5353)),
    ("2001:db8::53", ("2001:db8::53", 53)),
    ("[2001:db8::53]:5353", ("2001:db8::53", 5353)),
])
def test_parse_nameserver(value, expected):
    assert parse_nameserver(value) == expected


def test_bad_nameserver_is_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["resolve", str(write(tmp_path, BASE)), "--nameserver", "dns.example"])
    assert result.exit_code == 2


def test_render_lock_is_sorted_and_quoted():
    import datetime as dt

    text = render_lock("p", {"b.example": ["192.0.2.1"], "a.example": ["2001:db8::1"]}, "system", dt.datetime(2023, 1, 1))
    assert text.index("a.example") < text.index("b.example")
    assert '- "2001:db8::1"' in text


@pytest.mark.parametrize("timeout", ["nan", "inf", "0", "-1", "301"])
def test_a_timeout_that_never_ends_is_a_usage_error(tmp_path, timeout):
    """`--timeout nan` or `inf` passed click's float and waited for ever on a silent server."""
    result = CliRunner().invoke(main, ["resolve", str(write(tmp_path, BASE)), "--nameserver", "127.0.0.1:9",
                                       "--timeout", timeout])
    assert result.exit_code == 2, result.output
    assert "seconds above 0" in result.output


def test_nothing_to_pin_writes_no_lock_file(tmp_path):
    """No direct grant reaches a host by name: validate asks for no lock file, so resolve
    says so and writes none (an empty one would only be noise in review)."""
    path = write(tmp_path, BASE.replace("      - host: mx.partner.example\n", ""), lock=None)
    assert CliRunner().invoke(main, ["validate", str(path), "--at", "2023-07-01"]).exit_code == 0
    result = CliRunner().invoke(main, ["resolve", str(path), "--nameserver", "127.0.0.1:9", "--timeout", "1"])
    assert result.exit_code == 0, result.output
    assert "nothing to pin" in result.output
    assert not (tmp_path / "policy.lock.yaml").exists()

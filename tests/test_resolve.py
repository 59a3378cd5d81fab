"""`egress resolve` against a real dnsmasq on loopback: the lock file it writes."""

from __future__ import annotations

import socket
import subprocess
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


@pytest.fixture
def dnsmasq(system, tmp_path):
    """A dnsmasq on 127.0.0.1 answering static records, nothing forwarded."""
    port = free_port()
    proc = subprocess.Popen(
        [
            system.get("dnsmasq", "dnsmasq"), "--keep-in-foreground", "--no-resolv", "--no-hosts",
            "--conf-file=/dev/null", f"--port={port}", "--listen-address=127.0.0.1", "--bind-interfaces",
            f"--pid-file={tmp_path / 'dnsmasq.pid'}", "--user=root", "--group=root",
            "--address=/mx.partner.example/203.0.113.25",
            "--address=/mx.partner.example/2001:db8:113::25",
            "--address=/mx.partner.example/203.0.113.7",
            "--address=/gone.example/",  # NXDOMAIN
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

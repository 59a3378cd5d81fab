"""Issue 14 item 11: messages that say where and what to do, with no cascade.

Each case edits the small valid policy of test_diagnostics and checks the exact line,
column and wording of the one diagnostic it must give.
"""

from __future__ import annotations

import datetime as dt

import pytest

from egress.check import validate
from tests.test_diagnostics import BASE, LOCK, where, write

AT = dt.date(2023, 7, 1)


def only(tmp_path, text: str, lock: str | None = LOCK):
    diagnostics = [d for d in validate(str(write(tmp_path, text, lock=lock)), AT)[1] if d.code != "W107"]
    assert len(diagnostics) == 1, [str(d) for d in diagnostics]  # W107: a misspelt name leaves a service unused
    return diagnostics[0]


@pytest.mark.parametrize("old, new, marker, code, says", [
    ("        from: lan\n        to: partner", "        from: labo\n        to: partner", "labo", "E130",
     "grant 'g-partner': from 'labo' is not a defined zone; did you mean 'lan'?"),
    ("        from: lan\n        to: web", "        from: [dmz, lann]\n        to: web", "lann", "E130",
     "from 'lann' is not a defined zone; did you mean 'lan'?"),
    ("        to: partner", "        to: partnr", "partnr", "E131",
     "grant 'g-partner': to 'partnr' is not a defined service; did you mean 'partner'?"),
    ("    grants: []", "    grants: []\n    revoke: [g-partnr]", "g-partnr", "E133",
     "revokes 'g-partnr', which is no grant; did you mean 'g-partner'?"),
])
def test_unknown_names_point_at_the_name_and_suggest(tmp_path, old, new, marker, code, says):
    text = BASE.replace(old, new, 1)
    d = only(tmp_path, text)
    assert (d.code, d.line, d.column) == (code, *where(text, marker))
    assert says in d.message


@pytest.mark.parametrize("ports, marker, says", [
    ("[tcp/25, 8443]", "8443", "8443 is a number, not a port: write tcp/8443 or udp/8443"),
    ("[tcp/25, tcp/84430]", "tcp/84430", "port 84430 is out of range; ports run from 1 to 65535"),
    ("[tcp/25, tcp/443-80]", "tcp/443-80", "the range is backwards; write tcp/80-443"),
    ("[tcp/25, tcp/0443]", "tcp/0443", "write tcp/443 (no leading zero)"),
])
def test_bad_ports_say_the_fix(tmp_path, ports, marker, says):
    text = BASE.replace("[tcp/25, tcp/443]", ports)
    d = only(tmp_path, text)
    assert (d.code, d.line, d.column) == ("E124", *where(text, marker))
    assert says in d.message


def test_a_bad_port_does_not_cascade(tmp_path):
    # the service's only port is wrong: the grant narrowing to tcp/25 must not add
    # "which service 'partner' does not offer ()"
    text = BASE.replace("[tcp/25, tcp/443]", "[tcp/2500000]").replace(
        "        reason: Partner flow", "        ports: [tcp/25]\n        reason: Partner flow")
    d = only(tmp_path, text)
    assert d.code == "E124"


def test_expiry_in_another_format_gives_the_forms(tmp_path):
    text = BASE.replace("        reason: Partner flow", "        reason: Partner flow\n        expires: 31/12/2023")
    d = only(tmp_path, text)
    assert (d.code, d.line, d.column) == ("E112", *where(text, "31/12/2023"))
    assert "YYYY-MM-DD" in d.message and "+02:00" in d.message


def test_tab_indentation_says_indent_with_spaces(tmp_path):
    text = BASE.replace("  lan:\n    addresses", "  lan:\n\taddresses")
    d = only(tmp_path, text)
    assert (d.code, d.line, d.column) == ("E101", *where(text, "\taddresses"))
    assert "indent with spaces" in d.message


def test_direct_web_host_without_lock_suggests_the_proxy(tmp_path):
    text = BASE.replace("[tcp/25, tcp/443]", "[tcp/443]")
    d = only(tmp_path, text, lock=None)
    assert (d.code, d.line, d.column) == ("E140", *where(text, "mx.partner.example"))
    assert "run `egress resolve" in d.message and "send grant 'g-partner' `via: proxy`" in d.message


def test_direct_non_web_host_without_lock_does_not_suggest_the_proxy(tmp_path):
    text = BASE.replace("[tcp/25, tcp/443]", "[udp/53]")
    d = only(tmp_path, text, lock=None)
    assert d.code == "E140" and "via: proxy" not in d.message


def test_w103_names_the_overlapping_range(tmp_path):
    text = BASE.replace("addresses: [192.0.2.25]", "addresses: [10.0.0.128/25]")
    d = only(tmp_path, text)
    assert d.code == "W103" and "overlap on 10.0.0.128/25" in d.message

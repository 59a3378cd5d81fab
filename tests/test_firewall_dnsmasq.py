"""egress/firewall/dnsmasq.py (issue 10 items 10 and 11): what a feed may hold, which
paths are refused, and whether a main configuration reads the feed. The live cycle with
a running dnsmasq is in tests/test_apply_addons.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from egress.firewall import dnsmasq, paths
from egress.firewall.errors import Refused, Unusable

ROOT = Path(__file__).resolve().parent.parent
POLICIES = [ROOT / "examples" / "minimal" / "policy.yaml", ROOT / "policies" / "chu-rennes-2023" / "policy.yaml"]
LINE = "nftset=/api.example/4#inet#egress#dyn_api_v4,6#inet#egress#dyn_api_v6"


def test_compiled_feeds_pass(tmp_path):
    feeds = []
    for policy in POLICIES:
        out = tmp_path / policy.parent.name
        cp = subprocess.run([sys.executable, "-m", "egress.cli", "compile", str(policy), "--all-stages", "--out",
                             str(out), "--at", "2023-07-01"], capture_output=True, text=True)
        assert cp.returncode == 0, cp.stderr
        feeds += sorted(out.glob("*/dnsmasq-egress.conf"))
    assert any("nftset=" in f.read_text() for f in feeds)
    for feed in feeds:
        dnsmasq.check_feed(feed.read_text())


@pytest.mark.parametrize("text, message", [
    ("dhcp-script=/tmp/evil\n", "only nftset= lines"),
    ("conf-file=/etc/shadow\n", "only nftset= lines"),
    ("server=203.0.113.9\n", "only nftset= lines"),
    ("# ok\n" + LINE + "\nnftset=/a.example/4#inet#filter#allow\n", ":3: an nftset= line must name sets of table"),
    ("nftset=/a.example/4#ip#egress#dyn_a_v4\n", "must name sets"),
    ("nftset=/a.example/4#inet#egress#dyn_a_v4,\n", "must name sets"),  # dnsmasq 2.90 crashes on it
    ("nftset=/a.example/inet#egress#dyn_a_v4\n", "must name sets"),
    ("nftset=a.example/4#inet#egress#dyn_a_v4\n", "must name sets"),
    ("nftset=/a.example/4#inet#egress#dyn_a_v4\x1b[2J\n", "must name sets"),
])
def test_anything_but_egress_nftset_lines_is_refused(text, message):
    with pytest.raises(Refused, match=message.replace("[", r"\[")) as err:
        dnsmasq.check_feed(text)
    assert "\x1b" not in str(err.value)


def test_good_feed_passes():
    dnsmasq.check_feed("# comment\n\n" + LINE + "\nnftset=/a.example/b.example/4#inet#egress#dyn_x_v4\n")


def test_symlinks_are_refused_with_the_real_path(tmp_path, monkeypatch):
    real = tmp_path / "real.conf"
    real.write_text("")
    link = tmp_path / "link.conf"
    link.symlink_to(real)
    with pytest.raises(Unusable, match=f"goes through a symbolic link \\(to {real}\\): give the real path"):
        paths.plain_path(link, "--squid-include")
    (tmp_path / "dirlink").symlink_to(tmp_path)
    with pytest.raises(Unusable, match="symbolic link"):
        paths.plain_path(tmp_path / "dirlink" / "real.conf", "--dnsmasq-include")
    with pytest.raises(Unusable, match="not a regular file"):
        paths.plain_path(tmp_path, "--dnsmasq-include")
    assert paths.plain_path(real, "--squid-include") == real
    assert paths.plain_path(tmp_path / "new.conf", "--squid-include") == tmp_path / "new.conf"
    monkeypatch.chdir(tmp_path)
    assert paths.plain_path(Path("real.conf"), "--squid-include") == real


def test_reads_feed(tmp_path):
    feed = tmp_path / "d" / "egress.conf"
    base = tmp_path
    assert dnsmasq.reads_feed(f"conf-file={feed}\n", feed, base)
    assert dnsmasq.reads_feed("conf-file=d/egress.conf\n", feed, base)
    assert dnsmasq.reads_feed(f"conf-dir={feed.parent}\n", feed, base)
    assert dnsmasq.reads_feed(f"conf-dir={feed.parent},*.conf\n", feed, base)
    assert not dnsmasq.reads_feed(f"conf-dir={feed.parent},*.cfg\n", feed, base)
    assert not dnsmasq.reads_feed(f"conf-dir={feed.parent},.conf\n", feed, base)
    assert not dnsmasq.reads_feed(f"#conf-file={feed}\n", feed, base)
    assert not dnsmasq.reads_feed("conf-file=/etc/other.conf\n", feed, base)

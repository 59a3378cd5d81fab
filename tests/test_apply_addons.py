"""`egress apply` against attacks and with its add-ons (issue 10 items 6, 7, 8, 10, 11):
static scope check, metadata cross-check and escaping, signed bundles, real include
paths, the dnsmasq feed with a running dnsmasq.

As in tests/test_apply.py (whose helpers and guards these tests share), every apply runs
inside a network namespace made for the test."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import test_apply
from test_apply import (
    ALLOW_LOOPBACK,
    ANSIBLE,
    EGRESS,
    audit,
    egress,
    nft_list,
    ruleset,
    status,
    wait_until,
    write_bundle,
)

# the fixtures of tests/test_apply.py, and its guard that keeps nft out of this namespace
netns = test_apply.netns
live_squid = test_apply.live_squid
minimal_bundle = test_apply.minimal_bundle
nft_refuses_the_root_namespace = test_apply.nft_refuses_the_root_namespace

nft_system = pytest.mark.system("nft", "ip")


def in_ns(ns: str, *argv: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, check=check, **kw)


def host_table(ns: str) -> str:
    """The firewall's own `table inet filter` that no egress bundle may touch."""
    in_ns(ns, "nft", "-f", "-", input=textwrap.dedent("""\
        table inet filter {
        \tchain input { type filter hook input priority filter; policy accept; tcp dport 22 counter accept; }
        }
        """))
    return in_ns(ns, "nft", "list", "table", "inet", "filter").stdout


# --------------------------------------------------------------------------- item 6: scope


@nft_system
def test_a_bundle_that_declares_then_deletes_the_hosts_table_is_refused(netns, tmp_path):
    ns, state = netns(), tmp_path / "state"
    before = host_table(ns)
    attack = write_bundle(tmp_path / "attack", "table inet filter {}\ndelete table inet filter\n" + ruleset())
    cp = egress(ns, state, "apply", str(attack), "--no-wait")
    assert cp.returncode == 1, cp.stdout + cp.stderr
    assert "names another table" in cp.stderr and "table inet egress only" in cp.stderr
    assert len(cp.stderr.strip().splitlines()) == 1 and "Traceback" not in cp.stderr
    assert in_ns(ns, "nft", "list", "table", "inet", "filter").stdout == before
    assert nft_list(ns) is None
    assert [(a["action"], a["result"]) for a in audit(state)] == [("apply", "refused")]
    for variant in ("table inet egress {}\nadd table inet egress # x \\\ndelete table inet filter\n",
                    "delete table inet handle 1\n", "flush ruleset\n"):
        bundle = write_bundle(tmp_path / "variant", ruleset() + variant)
        cp = egress(ns, state, "apply", str(bundle), "--no-wait")
        assert cp.returncode == 1 and "table inet egress only" in cp.stderr, (variant, cp.stderr)
        assert in_ns(ns, "nft", "list", "table", "inet", "filter").stdout == before


# --------------------------------------------------------------------------- item 7: metadata, escaping


@nft_system
def test_edited_stage_or_policy_is_refused(netns, tmp_path):
    ns, state = netns(), tmp_path / "state"
    bundle = write_bundle(tmp_path / "b", ruleset(), stage="s1")
    manifest = json.loads((bundle / "manifest.json").read_text())
    for key, value in (("stage", "s6-online-booking"), ("policy", "other-policy")):
        (bundle / "manifest.json").write_text(json.dumps(dict(manifest, **{key: value})))
        cp = egress(ns, state, "apply", str(bundle), "--no-wait")
        assert cp.returncode == 1, cp.stdout + cp.stderr
        assert f"manifest.json says {key} {value}, egress.nft says" in cp.stderr
        assert nft_list(ns) is None


@nft_system
def test_control_characters_from_a_bundle_never_reach_the_terminal_or_the_log(netns, tmp_path):
    ns, state = netns(), tmp_path / "state"
    nasty = "Title\x1b[2J\x1b]0;pwned\x07\r\u202egnp.exe\x9b31m"
    bundle = write_bundle(tmp_path / "b", ruleset(), stage="s1", title=nasty, revision="sha256:\x1b[31mred")
    cp = egress(ns, state, "apply", str(bundle), "--no-wait")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    status = egress(ns, state, "status")
    rollback = egress(ns, state, "rollback")
    assert rollback.returncode == 0, rollback.stderr
    for out in (cp.stdout, cp.stderr, status.stdout, status.stderr, rollback.stdout, rollback.stderr):
        assert not any(c in out for c in "\x1b\x07\r\x9b\u202e"), repr(out)
    assert "\\x1b[2J" in cp.stdout  # shown, escaped
    for line in audit(state):
        text = json.dumps(line, ensure_ascii=False)
        assert not any(c in text for c in "\x1b\x07\r\x9b\u202e"), text


@nft_system
def test_an_included_file_is_never_echoed(netns, tmp_path):
    """A tampered egress.nft that includes another file (here a stand-in for /etc/shadow):
    refused before nft reads it, and none of that file's lines reach stderr or the log."""
    ns, state = netns(), tmp_path / "state"
    secret = tmp_path / "shadow"
    marker = "root:$6$MARKER-5f3a9$hash:19000:0:99999:7:::"
    secret.write_text(marker + "\n")
    for text in (ruleset() + f'include "{secret}"\n', f'include "{secret}"\n' + ruleset()):
        bundle = write_bundle(tmp_path / "b", text)
        cp = egress(ns, state, "apply", str(bundle), "--no-wait")
        assert cp.returncode == 1, cp.stdout + cp.stderr
        assert "include" in cp.stderr
        assert "MARKER" not in cp.stdout + cp.stderr
        assert "MARKER" not in (state / "audit.jsonl").read_text()


# --------------------------------------------------------------------------- item 8: signatures


def make_key(folder: Path, name: str) -> Path:
    key = folder / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True)
    return key


def sign(bundle: Path, key: Path) -> None:
    cp = subprocess.run([*EGRESS, "sign", str(bundle), "--key", str(key)], capture_output=True, text=True)
    assert cp.returncode == 0, cp.stderr


@pytest.mark.system("nft", "ip", "ssh-keygen")
def test_signed_bundles(netns, tmp_path):
    ns, state = netns(), tmp_path / "state"
    approver, stranger = make_key(tmp_path, "approver"), make_key(tmp_path, "stranger")
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"crisis-cell@chu {approver.with_suffix('.pub').read_text()}")
    trust = ["--allowed-signers", str(allowed)]

    good = write_bundle(tmp_path / "good", ruleset(), stage="s1")
    sign(good, approver)
    cp = egress(ns, state, "apply", str(good), "--no-wait", *trust)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert "signed by crisis-cell@chu" in cp.stdout
    assert egress(ns, state, "confirm").returncode == 0
    assert audit(state)[0]["signer"] == "crisis-cell@chu"
    assert status(ns, state)["loaded"]["signer"] == "crisis-cell@chu"
    assert "signed by crisis-cell@chu" in egress(ns, state, "status").stdout
    before = nft_list(ns)

    unsigned = write_bundle(tmp_path / "unsigned", ruleset((443, 80)), stage="s2")
    other = write_bundle(tmp_path / "other", ruleset((443, 80)), stage="s2")
    sign(other, stranger)
    edited_manifest = write_bundle(tmp_path / "edited-manifest", ruleset((443, 80)), stage="s2")
    sign(edited_manifest, approver)
    doc = json.loads((edited_manifest / "manifest.json").read_text())
    (edited_manifest / "manifest.json").write_text(json.dumps(dict(doc, revision="sha256:r2"), indent=2) + "\n")
    edited_file = write_bundle(tmp_path / "edited-file", ruleset((443, 80)), stage="s2")
    sign(edited_file, approver)
    (edited_file / "egress.nft").write_text((edited_file / "egress.nft").read_text().replace("443, 80", "443, 22"))
    # both changed together, hashes consistent: only the signature can tell
    both = write_bundle(tmp_path / "both", ruleset((443, 80)), stage="s2")
    sign(both, approver)
    signature = (both / "manifest.json.sig").read_bytes()
    write_bundle(both, ruleset((443, 22)), stage="s2")
    (both / "manifest.json.sig").write_bytes(signature)

    cases = [
        (unsigned, trust, "not signed"),
        (other, trust, "signed by a key that"),
        (edited_manifest, trust, "changed after it was signed"),
        (edited_file, trust, "sha256 mismatch"),
        (both, trust, "changed after it was signed"),
        (good, [*trust, "--signer", "someone-else"], "does not verify for someone-else"),
    ]
    for bundle, args, message in cases:
        cp = egress(ns, state, "apply", str(bundle), "--no-wait", *args)
        assert cp.returncode == 1, (bundle.name, cp.stdout, cp.stderr)
        assert message in cp.stderr, (bundle.name, cp.stderr)
        assert nft_list(ns) == before, bundle.name
    assert [a["result"] for a in audit(state)[2:]] == ["refused"] * len(cases)
    cp = egress(ns, state, "apply", str(good), "--no-wait", "--allowed-signers", str(tmp_path / "nowhere"))
    assert cp.returncode == 2 and "cannot read the allowed signers" in cp.stderr


@pytest.mark.system("nft", "ip", "ssh-keygen")
def test_an_older_signed_bundle_is_refused_as_a_replay(netns, tmp_path):
    """A validly signed stage that opened more (signed on Monday) put back in place of
    Tuesday's: refused, kernel unchanged; a forged time is refused; --allow-older applies
    it and the audit says so; status shows the signing times."""
    from egress.firewall import signing

    ns, state = netns(), tmp_path / "state"
    approver = make_key(tmp_path, "approver")
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"crisis-cell@chu {approver.with_suffix('.pub').read_text()}")
    trust = ["--allowed-signers", str(allowed)]
    monday = write_bundle(tmp_path / "monday", ruleset((443, 80, 22)), stage="s2")  # opened more
    tuesday = write_bundle(tmp_path / "tuesday", ruleset((443,)), stage="s3")
    signing.sign(monday / "manifest.json", approver, signed_at="2026-11-30T09:00:00Z")
    signing.sign(tuesday / "manifest.json", approver, signed_at="2026-12-01T09:00:00Z")

    cp = egress(ns, state, "apply", str(tuesday), "--no-wait", *trust)
    assert cp.returncode == 0, cp.stderr
    assert "signed by crisis-cell@chu at 2026-12-01T09:00:00Z" in cp.stdout
    assert egress(ns, state, "confirm").returncode == 0
    before = nft_list(ns)
    doc = status(ns, state)
    assert doc["loaded"]["signed_at"] == "2026-12-01T09:00:00Z"
    assert doc["newest_signed"]["signed_at"] == "2026-12-01T09:00:00Z" and doc["newest_signed"]["stage"] == "s3"
    text = egress(ns, state, "status").stdout
    assert "signed by crisis-cell@chu at 2026-12-01T09:00:00Z" in text
    assert "newest signing time applied here 2026-12-01T09:00:00Z" in text

    cp = egress(ns, state, "apply", str(monday), "--no-wait", *trust)
    assert cp.returncode == 1, cp.stdout + cp.stderr
    assert "signed at 2026-11-30T09:00:00Z, before the newest signed bundle applied here, signed at " \
           "2026-12-01T09:00:00Z" in cp.stderr and "--allow-older" in cp.stderr
    assert len(cp.stderr.strip().splitlines()) == 1 and "Traceback" not in cp.stderr
    assert nft_list(ns) == before

    # the time moved forward in the statement: the signature no longer verifies
    forged = tmp_path / "forged"
    shutil.copytree(monday, forged)
    sig = forged / "manifest.json.sig"
    sig.write_bytes(sig.read_bytes().replace(b"2026-11-30T09:00:00Z", b"2026-12-02T09:00:00Z"))
    cp = egress(ns, state, "apply", str(forged), "--no-wait", *trust)
    assert cp.returncode == 1 and "the signature does not verify" in cp.stderr, cp.stderr
    assert nft_list(ns) == before
    assert [(a["action"], a["result"]) for a in audit(state)[2:]] == [("apply", "refused")] * 2

    cp = egress(ns, state, "apply", "--allow-older", str(monday), "--no-wait")
    assert cp.returncode == 2 and "--allow-older goes with --allowed-signers" in cp.stderr
    cp = egress(ns, state, "apply", str(monday), "--no-wait", "--allow-older", *trust)
    assert cp.returncode == 0, cp.stderr
    assert "applied with --allow-older" in cp.stderr
    line = audit(state)[-1]
    assert line["action"] == "apply" and line["result"] == "ok" and line["allowed_older"] is True
    assert line["signed_at"] == "2026-11-30T09:00:00Z" and "applied with --allow-older" in line["detail"]
    assert "dport { 22, 80, 443 }" in (nft_list(ns) or "")
    assert status(ns, state)["newest_signed"]["signed_at"] == "2026-12-01T09:00:00Z"  # not lowered
    # a rollback is local: it puts Tuesday's table back without reading any signature
    assert egress(ns, state, "rollback").returncode == 0
    assert nft_list(ns) == before


# --------------------------------------------------------------------------- item 10: real include paths


@pytest.mark.system("nft", "ip", "squid", "curl")
def test_a_squid_include_through_a_symlink_is_refused(netns, tmp_path, live_squid):
    ns, state = netns(), tmp_path / "state"
    include, conf = live_squid["include"], live_squid["conf"]
    link = tmp_path / "link.conf"
    link.symlink_to(include)
    old = include.read_bytes()
    good = write_bundle(tmp_path / "good", ruleset(), ALLOW_LOOPBACK, stage="s1")
    cp = egress(ns, state, "apply", str(good), "--no-wait", "--squid-include", str(link), "--squid-conf", str(conf))
    assert cp.returncode == 2, cp.stdout + cp.stderr
    assert f"give the real path, --squid-include {include}" in cp.stderr
    assert link.is_symlink() and include.read_bytes() == old and nft_list(ns) is None

    # a link that appears after the apply is not replaced by the rollback either: it says so
    cp = egress(ns, state, "apply", str(good), "--no-wait", "--squid-include", str(include), "--squid-conf", str(conf))
    assert cp.returncode == 0, cp.stdout + cp.stderr
    elsewhere = live_squid["dir"] / "elsewhere.conf"
    elsewhere.write_bytes(include.read_bytes())
    include.unlink()
    include.symlink_to(elsewhere)
    cp = egress(ns, state, "rollback")
    assert cp.returncode == 1 and "rollback incomplete" in cp.stderr and "symbolic link" in cp.stderr, cp.stderr
    assert include.is_symlink() and elsewhere.read_text() == ALLOW_LOOPBACK
    assert "198.51.100.0/24" not in (nft_list(ns) or "")  # the ruleset itself was rolled back


# --------------------------------------------------------------------------- item 11: the dnsmasq feed


WEB_ADDR = "198.51.100.77"
FEED = "# feed of stage s1\nnftset=/web.example/4#inet#egress#dyn_web_v4\n"


@pytest.fixture
def live_dnsmasq(netns, tmp_path):
    """In a fresh namespace: an upstream dnsmasq that knows web.example, and the dnsmasq
    under test (daemon, pid file) whose dnsmasq.conf reads the feed `egress.conf`; a
    restart script that logs each restart and fails while the feed holds `fail-me`."""
    ns = netns()
    folder = tmp_path / "dnsmasq"
    folder.mkdir()
    in_ns(ns, "ip", "link", "set", "lo", "up")
    common = ["--no-resolv", "--no-hosts", "--listen-address=127.0.0.1", "--bind-interfaces", "--user=root"]
    in_ns(ns, "dnsmasq", *common, "--port=5354", f"--pid-file={folder / 'upstream.pid'}",
          f"--address=/web.example/{WEB_ADDR}")
    feed = folder / "egress.conf"
    feed.write_text("# no stage yet\n")
    conf = folder / "dnsmasq.conf"
    conf.write_text("\n".join([*(c.lstrip("-") for c in common), "port=5353", "server=127.0.0.1#5354",
                               f"pid-file={folder / 'dnsmasq.pid'}", f"conf-file={feed}", ""]))
    restart = folder / "restart.sh"
    restart.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        echo restart >> {folder}/restarts.log
        if grep -q fail-me {feed}; then echo "dnsmasq: refused to start" >&2; exit 1; fi
        if [ -s {folder}/dnsmasq.pid ]; then
            pid=$(cat {folder}/dnsmasq.pid); kill "$pid"
            while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
        fi
        exec dnsmasq -C {conf}
        """))
    restart.chmod(0o755)
    in_ns(ns, str(restart))
    (folder / "restarts.log").unlink()
    args = ["--dnsmasq-include", str(feed), "--dnsmasq-conf", str(conf), "--dnsmasq-restart", str(restart)]
    yield {"ns": ns, "feed": feed, "conf": conf, "folder": folder, "args": args}


def _restarts(folder: Path) -> int:
    log = folder / "restarts.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def _resolve(ns: str, name: str) -> str:
    script = ("import dns.message, dns.query\n"
              f"r = dns.query.udp(dns.message.make_query({name!r}, 'A'), '127.0.0.1', port=5353, timeout=3)\n"
              "print(' '.join(str(rr) for rrset in r.answer for rr in rrset))\n")
    return in_ns(ns, sys.executable, "-c", script).stdout.strip()


def _dyn(ns: str) -> str:
    return in_ns(ns, "nft", "list", "set", "inet", "egress", "dyn_web_v4").stdout


@pytest.mark.system("nft", "ip", "dnsmasq")
def test_dnsmasq_feed_installed_restarted_and_rolled_back(live_dnsmasq, tmp_path):
    ns, feed, folder, args = live_dnsmasq["ns"], live_dnsmasq["feed"], live_dnsmasq["folder"], live_dnsmasq["args"]
    state = tmp_path / "state"
    old = feed.read_bytes()
    pid_before = (folder / "dnsmasq.pid").read_text()
    bundle = write_bundle(tmp_path / "s1", ruleset(), stage="s1", files={"dnsmasq-egress.conf": FEED})

    cp = egress(ns, state, "apply", str(bundle), "--no-wait", *args)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert feed.read_text() == FEED and _restarts(folder) == 1
    assert wait_until(lambda: (folder / "dnsmasq.pid").read_text() != pid_before, 5)
    assert wait_until(lambda: _resolve(ns, "web.example") == WEB_ADDR, 5)
    assert WEB_ADDR in _dyn(ns)  # the running dnsmasq feeds the stage's set

    cp = egress(ns, state, "rollback")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert feed.read_bytes() == old and _restarts(folder) == 2
    assert "dyn_web_v4" not in nft_list(ns)  # fail closed: the deny-all table, not the stage's
    assert wait_until(lambda: _resolve(ns, "web.example") == WEB_ADDR, 5)  # dnsmasq runs again


@pytest.mark.system("nft", "ip", "dnsmasq")
def test_dnsmasq_failures_put_the_previous_feed_back(live_dnsmasq, tmp_path):
    ns, feed, folder, args = live_dnsmasq["ns"], live_dnsmasq["feed"], live_dnsmasq["folder"], live_dnsmasq["args"]
    state = tmp_path / "state"
    old = feed.read_bytes()

    hostile = write_bundle(tmp_path / "hostile", ruleset(), files={"dnsmasq-egress.conf": "dhcp-script=/tmp/x\n"})
    cp = egress(ns, state, "apply", str(hostile), "--no-wait", *args)
    assert cp.returncode == 1 and "only nftset= lines" in cp.stderr, cp.stderr
    unread = tmp_path / "unread.conf"
    unread.write_text("port=5399\n")
    good = write_bundle(tmp_path / "good", ruleset(), files={"dnsmasq-egress.conf": FEED})
    cp = egress(ns, state, "apply", str(good), "--no-wait", *args[:2], "--dnsmasq-conf", str(unread), *args[4:])
    assert cp.returncode == 1 and "does not read" in cp.stderr, cp.stderr
    assert feed.read_bytes() == old and nft_list(ns) is None and _restarts(folder) == 0

    failing = write_bundle(tmp_path / "failing", ruleset(), files={"dnsmasq-egress.conf": "# fail-me\n" + FEED})
    cp = egress(ns, state, "apply", str(failing), "--no-wait", *args)
    assert cp.returncode == 1, cp.stdout + cp.stderr
    assert "refused to start" in cp.stderr and "put back" in cp.stderr
    assert feed.read_bytes() == old and "dyn_web_v4" not in (nft_list(ns) or "")  # no table before: deny-all
    assert _restarts(folder) == 2  # the failed restart, then the restart on the old feed
    assert wait_until(lambda: _resolve(ns, "web.example") == WEB_ADDR, 5)
    assert [a["result"] for a in audit(state)] == ["refused", "refused", "error"]


# --------------------------------------------------------------------------- the Ansible example


@pytest.mark.system("nft", "ip", "ansible-playbook", "ssh-keygen", "dnsmasq")
def test_ansible_push_signed_on_the_controller_with_the_dnsmasq_feed(netns, tmp_path, minimal_bundle):
    """push-stage.yml with egress_allowed_signers: an unsigned stage stops the push; with
    egress_sign_key the play signs it on the controller and the host applies it, with
    its dnsmasq feed installed (egress_dnsmasq_include, a restart command that only logs)."""
    ns, state = netns(), tmp_path / "state"
    bundle = tmp_path / "bundle"
    shutil.copytree(minimal_bundle, bundle)
    approver = make_key(tmp_path, "approver")
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"crisis-cell@chu {approver.with_suffix('.pub').read_text()}")
    feed = tmp_path / "dnsmasq.d" / "egress.conf"
    feed.parent.mkdir()
    restarts = tmp_path / "restarts.log"
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(textwrap.dedent(f"""\
        [firewalls]
        fw-test ansible_connection=local ansible_python_interpreter={sys.executable}

        [firewalls:vars]
        egress_cmd="ip netns exec {ns} {sys.executable} -m egress.cli"
        egress_local_cmd="{sys.executable} -m egress.cli"
        egress_state_dir={state}
        egress_remote_dir={tmp_path / 'remote'}
        egress_become=false
        egress_allowed_signers={allowed}
        egress_dnsmasq_include={feed}
        egress_dnsmasq_restart="sh -c 'echo restart >> {restarts}'"
        """))

    def push(*extra: str):
        return subprocess.run(
            ["ansible-playbook", "-i", str(inventory), str(ANSIBLE / "push-stage.yml"), "-e", f"bundle_dir={bundle}",
             "-e", "stage=s1-partner-results", "-e", "confirm_timeout=30", *extra],
            capture_output=True, text=True, cwd=ANSIBLE, timeout=300,
            env=dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_HOST_KEY_CHECKING="False"))

    cp = push()
    assert cp.returncode != 0 and "not signed" in cp.stdout, cp.stdout[-3000:]
    assert nft_list(ns) is None and not feed.exists()

    cp = push("-e", f"egress_sign_key={approver}")
    assert cp.returncode == 0, cp.stdout[-3000:] + cp.stderr[-2000:]
    assert (bundle / "s1-partner-results" / "manifest.json.sig").exists()
    doc = status(ns, state)
    assert doc["loaded"]["stage"] == "s1-partner-results" and doc["pending"] is None
    assert audit(state)[-2]["signer"] == "crisis-cell@chu"
    assert feed.read_bytes() == (bundle / "s1-partner-results" / "dnsmasq-egress.conf").read_bytes()
    assert restarts.read_text() == "restart\n"

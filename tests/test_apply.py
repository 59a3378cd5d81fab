"""`egress apply / confirm / rollback / status` (egress/firewall/) and the Ansible example.

Every apply runs INSIDE a network namespace (`ip netns exec NS egress apply ...`): a
bare namespace made here, or the `fw` side of the lab fixture for traffic checks. The
root namespace of the machine is never given a ruleset; the state directory's namespace
rule (a state directory refuses commands from another namespace) guards that too.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from egress.firewall import host, nft as nftlib, squid as squidlib, verify
from egress.firewall.errors import Refused, Unusable

ROOT = Path(__file__).resolve().parent.parent
MINIMAL = ROOT / "examples" / "minimal" / "policy.yaml"
CHU = ROOT / "policies" / "chu-rennes-2023" / "policy.yaml"
ANSIBLE = ROOT / "examples" / "ansible"
EGRESS = [sys.executable, "-m", "egress.cli"]

nft_system = pytest.mark.system("nft", "ip")
squid_system = pytest.mark.system("nft", "ip", "squid", "curl")


# --------------------------------------------------------------------------- safety


@pytest.fixture(scope="module", autouse=True)
def nft_refuses_the_root_namespace(tmp_path_factory):
    """Every egress run by these tests (and by the Ansible run) uses, through EGRESS_NFT,
    an nft wrapper that refuses to run in the network namespace of this test process: a
    test that forgets its `ip netns exec` fails instead of loading a ruleset on the
    machine itself."""
    real = shutil.which("nft") or shutil.which("nft", path="/usr/sbin:/sbin")
    if not real:
        yield
        return
    wrapper = tmp_path_factory.mktemp("guard") / "nft"
    here = os.readlink("/proc/self/ns/net")
    wrapper.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        if [ "$(readlink /proc/self/ns/net)" = "{here}" ]; then
            echo "test guard: nft refused in the test's own network namespace {here}" >&2
            exit 99
        fi
        exec {real} "$@"
        """))
    wrapper.chmod(0o755)
    saved = os.environ.get("EGRESS_NFT")
    os.environ["EGRESS_NFT"] = str(wrapper)
    yield
    if saved is None:
        os.environ.pop("EGRESS_NFT", None)
    else:
        os.environ["EGRESS_NFT"] = saved


@nft_system
def test_the_guard_refuses_nft_here():
    cp = subprocess.run([os.environ["EGRESS_NFT"], "list", "tables"], capture_output=True, text=True)
    assert cp.returncode == 99 and "test guard" in cp.stderr


# --------------------------------------------------------------------------- helpers


def write_bundle(folder: Path, nft: str, squid: str | None = None, *, policy: str = "test-policy",
                 stage: str = "s1", revision: str = "sha256:r1", title: str | None = None) -> Path:
    """A hand-written stage bundle with a correct manifest (the shape of egress/bundle.py)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"egress.nft": nft.encode(), "dnsmasq-egress.conf": b"# none\n"}
    if squid is not None:
        files["squid-egress.conf"] = squid.encode()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    manifest = {
        "policy": policy, "revision": revision, "stage": stage, "stage_title": title or stage,
        "language_version": 1, "compiler_version": "test", "at": "2023-07-01",
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return folder


def ruleset(ports=(443,), dst="198.51.100.0/24") -> str:
    """A reloadable `table inet egress` in the style of the nftables target: declare,
    flush, fill (a dynamic set keeps its elements across loads)."""
    return textwrap.dedent(f"""\
        table inet egress {{
        \tset dyn_web_v4 {{ type ipv4_addr; flags timeout; timeout 1d; }}
        \tset allow_v4 {{ type ipv4_addr; flags interval; }}
        \tchain forward {{ type filter hook forward priority filter; policy drop; }}
        }}
        flush chain inet egress forward
        flush set inet egress allow_v4
        add element inet egress allow_v4 {{ {dst} }}
        add rule inet egress forward ct state established,related accept
        add rule inet egress forward ip daddr @allow_v4 tcp dport {{ {", ".join(map(str, ports))} }} accept comment "grant web"
        add rule inet egress forward ip daddr @dyn_web_v4 tcp dport 443 accept
        """)


def egress(ns: str, state: Path, *args: str, env: dict | None = None, timeout: float = 60,
           input: str | None = None) -> subprocess.CompletedProcess:
    assert ns, "egress runs in a network namespace in these tests"
    environment = dict(os.environ, EGRESS_STATE_DIR=str(state))
    environment.pop("SUDO_USER", None)
    environment.update(env or {})
    return subprocess.run(["ip", "netns", "exec", ns, *EGRESS, *args], capture_output=True, text=True, env=environment,
                          timeout=timeout, input=input, stdin=None if input is not None else subprocess.DEVNULL)


def spawn_egress(ns: str, state: Path, *args: str) -> subprocess.Popen:
    environment = dict(os.environ, EGRESS_STATE_DIR=str(state))
    return subprocess.Popen(["ip", "netns", "exec", ns, *EGRESS, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=environment)


def nft_list(ns: str) -> str | None:
    cp = subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "table", "inet", "egress"],
                        capture_output=True, text=True)
    return cp.stdout if cp.returncode == 0 else None


def is_deny_all(listing: str | None) -> bool:
    """The fail-closed table: policy drop, and no rule that accepts anything but
    established/related connections, ICMP errors (and loopback on the output hook)."""
    if listing is None or "policy drop" not in listing:
        return False
    accepts = [line.strip() for line in listing.splitlines() if line.strip().endswith("accept")]
    return all(line.startswith(("ct state established,related", "icmp type", "icmpv6 type", 'oifname "lo"'))
               for line in accepts)


def nft(ns: str, *args: str) -> str:
    cp = subprocess.run(["ip", "netns", "exec", ns, "nft", *args], capture_output=True, text=True)
    assert cp.returncode == 0, cp.stderr
    return cp.stdout


def audit(state: Path) -> list[dict]:
    path = state / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def status(ns: str, state: Path) -> dict:
    cp = egress(ns, state, "status", "--format", "json")
    assert cp.returncode == 0, cp.stderr
    return json.loads(cp.stdout)


def wait_until(predicate, timeout: float = 10.0, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def _netns_pids(name: str) -> list[int]:
    try:
        target = os.stat(f"/run/netns/{name}")
    except OSError:
        return []
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                st = os.stat(f"/proc/{entry}/ns/net")
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == (target.st_dev, target.st_ino):
                pids.append(int(entry))
    return pids


@pytest.fixture
def netns():
    """A bare network namespace (no traffic needed); its processes (watchdogs) are
    killed and it is deleted afterwards."""
    made = []

    def make() -> str:
        name = f"egap{os.getpid()}-{secrets.token_hex(2)}"
        subprocess.run(["ip", "netns", "add", name], check=True)
        made.append(name)
        return name

    yield make
    for name in made:
        for pid in _netns_pids(name):
            with _suppress():
                os.kill(pid, signal.SIGKILL)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


class _suppress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return exc[0] is not None and issubclass(exc[0], OSError)


@pytest.fixture(scope="module")
def minimal_bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("minimal") / "bundle"
    cp = subprocess.run([*EGRESS, "compile", str(MINIMAL), "--all-stages", "--out", str(out), "--at", "2023-07-01"],
                        capture_output=True, text=True)
    if cp.returncode:
        pytest.fail(f"cannot compile {MINIMAL}: {cp.stderr}")
    return out


# --------------------------------------------------------------------------- without root


def test_manifest_checks(tmp_path):
    bundle = write_bundle(tmp_path / "b", ruleset())
    verify.verify_bundle(verify.read_manifest(bundle))  # a good bundle passes
    (bundle / "egress.nft").write_text(ruleset(ports=(443, 80)))
    with pytest.raises(Refused, match="sha256 mismatch"):
        verify.verify_bundle(verify.read_manifest(bundle))
    (bundle / "egress.nft").unlink()
    with pytest.raises(Refused, match="missing"):
        verify.verify_bundle(verify.read_manifest(bundle))
    with pytest.raises(Refused, match=r"lists no squid-egress\.conf"):
        verify.verify_bundle(verify.read_manifest(write_bundle(tmp_path / "c", ruleset())), need_squid=True)
    (bundle / "manifest.json").write_text("{not json")
    with pytest.raises(Unusable, match="not JSON"):
        verify.read_manifest(bundle)
    (bundle / "manifest.json").write_text('{"files": {"../../etc/passwd": "00"}}')
    with pytest.raises(Refused, match="outside the bundle"):
        verify.verify_bundle(verify.read_manifest(bundle))
    with pytest.raises(Unusable, match="not a bundle folder"):
        verify.read_manifest(tmp_path / "nowhere")


LISTING = """table inet egress {
\tset dyn_web_v4 {
\t\ttype ipv4_addr
\t\ttimeout 1d
\t\telements = { 192.0.2.7 expires 23h59m58s, 192.0.2.8 timeout 1h expires 59m }
\t}

\tset allow_v4 {
\t\ttype ipv4_addr
\t\tflags interval
\t\telements = { 198.51.100.0/24,
\t\t\t     203.0.113.0/24 }
\t}

\tchain forward {
\t\ttype filter hook forward priority filter; policy drop;
\t}
}
"""


def test_listing_helpers():
    assert "elements" not in nftlib.strip_elements(LISTING)
    assert "set allow_v4" in nftlib.strip_elements(LISTING)
    sets = nftlib.dynamic_sets(LISTING)
    assert list(sets) == ["dyn_web_v4"]  # the interval set is static
    saved = LISTING.replace("192.0.2.7 expires 23h59m58s, 192.0.2.8 timeout 1h expires 59m", "192.0.2.1")
    carried = nftlib.carry_dynamic_elements(saved, LISTING)
    assert carried.startswith("add element inet egress dyn_web_v4 {")
    assert "192.0.2.7" in carried and "198.51.100" not in carried
    other_type = saved.replace("type ipv4_addr\n\t\ttimeout", "type ipv6_addr\n\t\ttimeout")
    assert nftlib.carry_dynamic_elements(other_type, LISTING) == ""


def test_squid_parse_output_is_read_not_only_the_exit_code(tmp_path):
    """A fake squid: exit 0 but a WARNING line must refuse; `Processing:` echoes of
    configuration lines are not problems; the include must have been read."""
    include = tmp_path / "egress.conf"
    include.write_text("# x\n")
    fake = tmp_path / "squid"

    def squid_says(*lines, code=0):
        body = "\n".join(f"echo {shlex.quote('2023/07/01 10:00:00| ' + line)} >&2" for line in lines)
        fake.write_text(f"#!/bin/sh\n{body}\nexit {code}\n")
        fake.chmod(0o755)
        return squidlib.Squid(include, None, binary=str(fake))

    read = f"Processing Configuration File: {include} (depth 1)"
    squid_says(read, "Processing: acl error_pages dstdomain .warning.example").parse()
    with pytest.raises(Refused, match=r"WARNING: 'www\.a\.fr' is a subdomain"):
        squid_says(read, "WARNING: 'www.a.fr' is a subdomain of '.a.fr'").parse()
    with pytest.raises(Refused, match="unrecognized"):
        squid_says(read, f"{include}(3): unrecognized: 'nonsense'").parse()
    with pytest.raises(Refused, match="squid -k parse refused"):
        squid_says(read, code=1).parse()
    with pytest.raises(Refused, match="did not read"):
        squid_says("Processing Configuration File: /etc/squid/squid.conf (depth 0)").parse()
    # a warning about the host, given before the change too, is not the include's fault
    host = "WARNING: BCP 177 violation. Detected non-functional IPv6 loopback."
    squid = squid_says(read, host)
    squid.parse(squid.baseline())
    with pytest.raises(Refused, match="BCP 177"):
        squid.parse()


def test_cli_usage_errors(tmp_path):
    cp = subprocess.run([*EGRESS, "apply", str(tmp_path), "--confirm-timeout", "0"], capture_output=True, text=True)
    assert cp.returncode == 2 and "Traceback" not in cp.stderr
    for command in ("apply", "confirm", "rollback", "status"):
        cp = subprocess.run([*EGRESS, command, "--help"], capture_output=True, text=True)
        assert cp.returncode == 0 and "--state-dir" in cp.stdout
    assert "Examples" in subprocess.run([*EGRESS, "apply", "--help"], capture_output=True, text=True).stdout


@pytest.mark.system("ansible-playbook")
def test_ansible_playbook_syntax():
    cp = subprocess.run(["ansible-playbook", "--syntax-check", "-i", str(ANSIBLE / "inventory.ini"),
                         str(ANSIBLE / "push-stage.yml")], capture_output=True, text=True, cwd=ANSIBLE)
    assert cp.returncode == 0, cp.stdout + cp.stderr


# --------------------------------------------------------------------------- nft in a namespace


@nft_system
def test_confirm_then_unconfirmed_apply_rolls_back(netns, tmp_path):
    ns, state = netns(), tmp_path / "state"
    one = write_bundle(tmp_path / "s1", ruleset((443,)), stage="s1")
    two = write_bundle(tmp_path / "s2", ruleset((443, 80)), stage="s2")

    cp = egress(ns, state, "apply", str(one), "--no-wait", "--confirm-timeout", "30")
    assert cp.returncode == 0, cp.stderr
    assert egress(ns, state, "confirm").returncode == 0
    in_force = nft_list(ns)
    assert "dport 443 accept" in in_force

    started = time.monotonic()
    cp = egress(ns, state, "apply", str(two), "--confirm-timeout", "2")  # waits, nobody confirms
    assert cp.returncode == 1, cp.stdout + cp.stderr
    assert 1.5 < time.monotonic() - started < 15
    assert "rolled back" in cp.stdout
    assert nft_list(ns) == in_force  # stage 1 exactly, as listed before
    doc = status(ns, state)
    assert doc["loaded"]["stage"] == "s1" and doc["pending"] is None and doc["matches"] is True
    actions = [(a["action"], a["result"], a["stage"]) for a in audit(state)]
    assert actions == [("apply", "ok", "s1"), ("confirm", "ok", "s1"), ("apply", "ok", "s2"),
                       ("rollback", "ok", "s2")]
    assert audit(state)[-1]["automatic"] is True and audit(state)[-1]["restored"]["stage"] == "s1"


@nft_system
def test_watchdog_rolls_back_when_the_applying_process_is_killed(netns, tmp_path):
    ns, state = netns(), tmp_path / "state"
    one = write_bundle(tmp_path / "s1", ruleset((443,)), stage="s1")
    two = write_bundle(tmp_path / "s2", ruleset((443, 80)), stage="s2")
    assert egress(ns, state, "apply", str(one), "--no-wait").returncode == 0
    assert egress(ns, state, "confirm").returncode == 0
    before = nft_list(ns)

    proc = spawn_egress(ns, state, "apply", str(two), "--confirm-timeout", "3")
    assert wait_until(lambda: (nft_list(ns) or "") != before, 15), proc.communicate(timeout=5)
    pending = wait_until(lambda: status(ns, state)["pending"], 5)
    assert pending and pending["watchdog_running"]
    proc.send_signal(signal.SIGKILL)  # `ip netns exec` execs: this is the egress process itself
    proc.wait(5)
    assert "80" in nft_list(ns)  # killed: stage 2 is still loaded, for now...
    assert wait_until(lambda: nft_list(ns) == before, 15)  # ...until the watchdog's deadline
    assert wait_until(lambda: audit(state)[-1]["action"] == "rollback", 5)
    last = audit(state)[-1]
    assert (last["action"], last["result"], last["automatic"]) == ("rollback", "ok", True)
    assert not host.pid_alive(pending["watchdog_pid"]) or wait_until(lambda: not host.pid_alive(pending["watchdog_pid"]), 5)


@nft_system
def test_watchdog_rolls_back_with_no_wait_and_rollback_on_demand(netns, tmp_path):
    ns, state = netns(), tmp_path / "state"
    one = write_bundle(tmp_path / "s1", ruleset((443,)), stage="s1")
    two = write_bundle(tmp_path / "s2", ruleset((443, 80)), stage="s2")

    # first apply on a namespace without the table: rolling back loads the deny-all table
    assert egress(ns, state, "apply", str(one), "--no-wait", "--confirm-timeout", "2").returncode == 0
    assert nft_list(ns) is not None
    assert wait_until(lambda: is_deny_all(nft_list(ns)), 15)

    assert egress(ns, state, "apply", str(one), "--no-wait").returncode == 0
    assert egress(ns, state, "confirm").returncode == 0
    before = nft_list(ns)
    # rollback during the pending apply
    assert egress(ns, state, "apply", str(two), "--no-wait").returncode == 0
    cp = egress(ns, state, "rollback")
    assert cp.returncode == 0 and "rolled back" in cp.stdout
    assert nft_list(ns) == before
    cp = egress(ns, state, "confirm")
    assert cp.returncode == 1 and "no confirmation is pending" in cp.stderr
    # rollback after a confirmation: back to s1, once (one level of undo)
    assert egress(ns, state, "apply", str(two), "--no-wait").returncode == 0
    assert egress(ns, state, "confirm").returncode == 0
    assert status(ns, state)["rollback"]["restores"]["stage"] == "s1"
    assert egress(ns, state, "rollback").returncode == 0
    assert nft_list(ns) == before
    assert status(ns, state)["loaded"]["stage"] == "s1"
    cp = egress(ns, state, "rollback")
    assert cp.returncode == 1 and "nothing to roll back" in cp.stderr
    assert nft_list(ns) == before


@nft_system
def test_foreground_ctrl_c_rolls_back_now_and_yes_on_a_terminal_confirms(netns, tmp_path):
    import pty

    ns, state = netns(), tmp_path / "state"
    one = write_bundle(tmp_path / "s1", ruleset((443,)), stage="s1")
    two = write_bundle(tmp_path / "s2", ruleset((443, 80)), stage="s2")
    assert egress(ns, state, "apply", str(one), "--no-wait").returncode == 0
    assert egress(ns, state, "confirm").returncode == 0
    before = nft_list(ns)

    proc = spawn_egress(ns, state, "apply", str(two), "--confirm-timeout", "60")
    assert wait_until(lambda: (status(ns, state)["pending"] or {}).get("watchdog_running"), 15)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 1 and "interrupted (Ctrl-C)" in out, out + err
    assert time.monotonic() - started < 10 and nft_list(ns) == before
    assert audit(state)[-1]["automatic"] is False

    # on a terminal: typing `yes` confirms
    pid, fd = pty.fork()
    if pid == 0:  # the child: egress on the pty
        os.environ["EGRESS_STATE_DIR"] = str(state)
        os.execvp("ip", ["ip", "netns", "exec", ns, *EGRESS, "apply", str(two), "--confirm-timeout", "60"])
    output = b""
    try:
        deadline = time.monotonic() + 30
        while b"type yes" not in output and time.monotonic() < deadline:
            output += os.read(fd, 4096)
        os.write(fd, b"yes\n")
        while time.monotonic() < deadline:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
    finally:
        _, code = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(code) == 0, output.decode(errors="replace")
    assert b"confirmed" in output
    doc = status(ns, state)
    assert doc["loaded"]["stage"] == "s2" and doc["pending"] is None


@nft_system
def test_sigterm_to_the_watchdog_rolls_back_at_once(netns, tmp_path):
    ns, state = netns(), tmp_path / "state"
    one = write_bundle(tmp_path / "s1", ruleset(), stage="s1")
    assert egress(ns, state, "apply", str(one), "--no-wait", "--confirm-timeout", "600").returncode == 0
    pid = status(ns, state)["pending"]["watchdog_pid"]
    os.kill(pid, signal.SIGTERM)
    assert wait_until(lambda: is_deny_all(nft_list(ns)), 10)
    assert wait_until(lambda: audit(state)[-1]["action"] == "rollback", 5)
    assert "watchdog received SIGTERM" in audit(state)[-1]["detail"]
    assert status(ns, state)["pending"] is None


@nft_system
def test_refused_bundles_leave_the_ruleset_unchanged(netns, tmp_path):
    ns, state = netns(), tmp_path / "state"
    good = write_bundle(tmp_path / "good", ruleset(), stage="s1")
    assert egress(ns, state, "apply", str(good), "--no-wait").returncode == 0
    assert egress(ns, state, "confirm").returncode == 0
    before = nft_list(ns)

    tampered = write_bundle(tmp_path / "tampered", ruleset((443, 80)), stage="s2")
    with open(tampered / "egress.nft", "a") as f:
        f.write("add rule inet egress forward accept\n")
    missing = write_bundle(tmp_path / "missing", ruleset(), stage="s2")
    (missing / "egress.nft").unlink()
    bad_nft = write_bundle(tmp_path / "bad-nft", ruleset() + "add rule inet egress forward ip daddr @nowhere accept\n",
                           stage="s2")
    flusher = write_bundle(tmp_path / "flusher", "flush ruleset\n" + ruleset(), stage="s2")
    other = write_bundle(tmp_path / "other", ruleset() + "table ip nat { }\n", stage="s2")
    nothing = write_bundle(tmp_path / "nothing", "table ip egress_other { }\n", stage="s2")
    unreadable = tmp_path / "unreadable"
    unreadable.mkdir()
    (unreadable / "manifest.json").write_text("[1, 2")

    cases = [
        (tampered, 1, "sha256 mismatch"),
        (missing, 1, "missing"),
        (bad_nft, 1, "refused by `nft -c`"),
        (flusher, 1, "removes other tables"),
        (other, 1, "creates other tables (table ip nat)"),
        (nothing, 1, "does not create table inet egress"),
        (unreadable, 2, "not JSON"),
        (tmp_path / "absent", 2, "not a bundle folder"),
    ]
    for bundle, code, message in cases:
        cp = egress(ns, state, "apply", str(bundle), "--no-wait")
        assert cp.returncode == code, (bundle.name, cp.stdout, cp.stderr)
        assert message in cp.stderr, (bundle.name, cp.stderr)
        assert "Traceback" not in cp.stderr and len(cp.stderr.strip().splitlines()) == 1
        assert nft_list(ns) == before, bundle.name
    lines = audit(state)[2:]
    assert [(a["action"], a["result"]) for a in lines] == [("apply", "refused")] * len(cases)
    assert status(ns, state)["pending"] is None


@nft_system
def test_lock_and_pending_block_a_second_apply(netns, tmp_path):
    ns, state = netns(), tmp_path / "state"
    one = write_bundle(tmp_path / "s1", ruleset(), stage="s1")
    state.mkdir()
    with open(state / "lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        cp = egress(ns, state, "apply", str(one), "--no-wait", "--lock-timeout", "0.5")
    assert cp.returncode == 1 and "another egress command holds" in cp.stderr
    assert nft_list(ns) is None
    assert egress(ns, state, "apply", str(one), "--no-wait").returncode == 0
    cp = egress(ns, state, "apply", str(one), "--no-wait")
    assert cp.returncode == 1 and "a confirmation is pending" in cp.stderr
    assert egress(ns, state, "confirm").returncode == 0


@nft_system
def test_audit_and_status(netns, tmp_path):
    ns, state = netns(), tmp_path / "state"
    one = write_bundle(tmp_path / "s1", ruleset(), stage="s1", title="Stage one")
    cp = egress(ns, state, "apply", str(one), "--no-wait", "--confirm-timeout", "60", env={"SUDO_USER": "alice"})
    assert cp.returncode == 0, cp.stderr
    doc = status(ns, state)
    assert doc["table"] == "present" and doc["matches"] is True
    assert doc["loaded"]["policy"] == "test-policy" and doc["loaded"]["stage"] == "s1"
    assert doc["loaded"]["sha256"] == json.loads((one / "manifest.json").read_text())["files"]["egress.nft"]
    pending = doc["pending"]
    assert 50 < pending["seconds_left"] <= 60 and pending["watchdog_running"] and pending["by"] == "alice"
    assert pending["deadline"].endswith("Z") and pending["restores"] == {"table": False, "deny_all": True}
    text = egress(ns, state, "status").stdout
    assert "CONFIRMATION PENDING" in text and "test-policy stage s1" in text and "Stage one" in text

    assert egress(ns, state, "confirm", env={"SUDO_USER": "bob"}).returncode == 0
    nft(ns, "add", "rule", "inet", "egress", "forward", "tcp", "dport", "22", "accept")  # a hand edit
    doc = status(ns, state)
    assert doc["pending"] is None and doc["rollback"] == {"restores": {"table": False, "deny_all": True}}
    assert doc["matches"] is False and any("changed" in n for n in doc["notes"])

    lines = audit(state)
    assert [(a["action"], a["result"], a["user"]) for a in lines] == [("apply", "ok", "alice"), ("confirm", "ok", "bob")]
    for line in lines:
        assert {"time", "user", "policy", "stage", "sha256", "action", "result", "detail"} <= set(line)
        assert line["time"].endswith("Z") and line["policy"] == "test-policy" and line["stage"] == "s1"
        assert line["sha256"] == doc["loaded"]["sha256"]


@nft_system
def test_state_dir_refuses_another_namespace(netns, tmp_path):
    first, second, state = netns(), netns(), tmp_path / "state"
    assert egress(first, state, "apply", str(write_bundle(tmp_path / "s1", ruleset())), "--no-wait").returncode == 0
    before = nft_list(first)
    for command in ("rollback", "confirm"):
        cp = egress(second, state, command)
        assert cp.returncode == 2 and "belongs to network namespace" in cp.stderr
    assert nft_list(first) == before and nft_list(second) is None
    assert egress(first, state, "rollback").returncode == 0


@nft_system
def test_dynamic_set_elements_across_a_rollback(netns, tmp_path):
    """Same policy revision: the addresses dnsmasq added meanwhile are kept; another
    revision: the saved table comes back exactly (its hosts may differ)."""
    ns, state = netns(), tmp_path / "state"
    one = write_bundle(tmp_path / "s1", ruleset((443,)), stage="s1", revision="sha256:same")
    two = write_bundle(tmp_path / "s2", ruleset((443, 80)), stage="s2", revision="sha256:same")
    two_v2 = write_bundle(tmp_path / "s2v2", ruleset((443, 80)), stage="s2", revision="sha256:other")
    assert egress(ns, state, "apply", str(one), "--no-wait").returncode == 0
    nft(ns, "add", "element", "inet", "egress", "dyn_web_v4", "{ 192.0.2.1 }")
    assert egress(ns, state, "confirm").returncode == 0

    assert egress(ns, state, "apply", str(two), "--no-wait").returncode == 0
    nft(ns, "add", "element", "inet", "egress", "dyn_web_v4", "{ 192.0.2.2 }")  # learned meanwhile
    assert egress(ns, state, "rollback").returncode == 0
    listing = nft(ns, "list", "set", "inet", "egress", "dyn_web_v4")
    assert "192.0.2.1" in listing and "192.0.2.2" in listing
    assert "dport 80" not in nft_list(ns) and "tcp dport 443" in nft_list(ns)

    assert egress(ns, state, "apply", str(two_v2), "--no-wait").returncode == 0
    nft(ns, "add", "element", "inet", "egress", "dyn_web_v4", "{ 192.0.2.3 }")
    assert egress(ns, state, "rollback").returncode == 0
    listing = nft(ns, "list", "set", "inet", "egress", "dyn_web_v4")
    assert "192.0.2.1" in listing and "192.0.2.2" in listing and "192.0.2.3" not in listing


@nft_system
def test_real_bundles_of_every_stage_apply_in_turn(netns, tmp_path):
    """The compiled chu-rennes-2023 stages, s0 to s6, each confirmed, then undo."""
    ns, state = netns(), tmp_path / "state"
    out = tmp_path / "build"
    cp = subprocess.run([*EGRESS, "compile", str(CHU), "--all-stages", "--out", str(out), "--at", "2023-07-01"],
                        capture_output=True, text=True)
    assert cp.returncode == 0, cp.stderr
    stages = [json.loads((d / "manifest.json").read_text())["stage"] for d in sorted(out.iterdir()) if d.is_dir()]
    listings = {}
    for stage in stages:
        cp = egress(ns, state, "apply", str(out / stage), "--no-wait")
        assert cp.returncode == 0, (stage, cp.stderr)
        assert egress(ns, state, "confirm").returncode == 0
        listings[stage] = nft(ns, "-s", "list", "table", "inet", "egress")
        assert status(ns, state)["loaded"]["stage"] == stage
    assert egress(ns, state, "rollback").returncode == 0
    assert nftlib.strip_elements(nft(ns, "-s", "list", "table", "inet", "egress")) == nftlib.strip_elements(listings[stages[-2]])
    assert status(ns, state)["loaded"]["stage"] == stages[-2]
    # a stage loads over a table restored from its listing (rollback, fix, push again)
    for stage in (stages[-1], stages[0]):
        cp = egress(ns, state, "apply", str(out / stage), "--no-wait")
        assert cp.returncode == 0, (stage, cp.stderr)
        assert egress(ns, state, "confirm").returncode == 0
        assert nft(ns, "-s", "list", "table", "inet", "egress") == listings[stage]


# --------------------------------------------------------------------------- traffic (lab)


def test_traffic_follows_apply_and_rollback(lab, minimal_bundle, tmp_path):
    """examples/minimal: s0 closes everything, s1 opens lab -> partner-lab tcp/443."""
    state = tmp_path / "state"
    fw = lab.ns("fw")
    lab.add_lan("10.30.0.10")
    lab.add_wan("203.0.113.20")
    lab.listen("wan", [443])
    flow = ("10.30.0.10", "203.0.113.20", "tcp", 443)
    assert lab.probe("lan", [flow]) == [True]  # no ruleset yet

    assert egress(fw, state, "apply", str(minimal_bundle / "s0-isolation"), "--no-wait").returncode == 0
    assert egress(fw, state, "confirm").returncode == 0
    assert lab.probe("lan", [flow]) == [False]

    proc = spawn_egress(fw, state, "apply", str(minimal_bundle / "s1-partner-results"), "--confirm-timeout", "3")
    assert wait_until(lambda: lab.probe("lan", [flow], timeout=0.5) == [True], 10), proc.communicate(timeout=10)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1 and "rolled back" in out, out + err
    assert lab.probe("lan", [flow]) == [False]
    assert status(fw, state)["loaded"]["stage"] == "s0-isolation"

    # killed before the deadline: the watchdog closes the flow again
    proc = spawn_egress(fw, state, "apply", str(minimal_bundle / "s1-partner-results"), "--confirm-timeout", "3")
    assert wait_until(lambda: lab.probe("lan", [flow], timeout=0.5) == [True], 10)
    proc.kill()
    proc.wait(5)
    assert wait_until(lambda: lab.probe("lan", [flow], timeout=0.5) == [False], 15)

    # confirmed: stays open
    assert egress(fw, state, "apply", str(minimal_bundle / "s1-partner-results"), "--no-wait",
                  "--confirm-timeout", "2").returncode == 0
    assert egress(fw, state, "confirm").returncode == 0
    time.sleep(2.5)
    assert lab.probe("lan", [flow]) == [True]


# --------------------------------------------------------------------------- squid


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_squid(tmp_path):
    """An unprivileged Squid on 127.0.0.1 (user proxy, its own pid file and logs), whose
    squid.conf includes `egress.conf`, plus a web server on loopback to fetch through it."""
    # not under tmp_path: pytest's base folder is 0700 and Squid runs as user proxy
    folder = Path(tempfile.mkdtemp(prefix="egress-squid-"))
    folder.chmod(0o755)
    port, web_port = _free_port(), _free_port()
    include = folder / "egress.conf"
    include.write_text("http_access deny all\n")
    conf = folder / "squid.conf"
    conf.write_text(textwrap.dedent(f"""\
        http_port 127.0.0.1:{port}
        pid_filename {folder}/squid.pid
        cache_log {folder}/cache.log
        access_log {folder}/access.log
        cache deny all
        cache_mem 8 MB
        shutdown_lifetime 1 seconds
        coredump_dir {folder}
        include {include}
        http_access deny all
        """))
    shutil.chown(folder, "proxy", "proxy")
    for path in (include, conf):
        path.chmod(0o644)
    web = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(web_port)],
                           cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    squid = subprocess.Popen(["runuser", "-u", "proxy", "--", "squid", "-N", "-f", str(conf)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        ok = wait_until(lambda: (folder / "squid.pid").exists() and _fetch(port, web_port) == "403", 20, 0.2)
        if not ok:
            pytest.fail(f"test squid did not start: {(folder / 'cache.log').read_text() if (folder / 'cache.log').exists() else ''}")
        yield {"port": port, "web_port": web_port, "include": include, "conf": conf, "dir": folder}
    finally:
        with _suppress():
            os.killpg(squid.pid, signal.SIGTERM)
        try:
            squid.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(squid.pid, signal.SIGKILL)
        web.kill()
        web.wait()
        shutil.rmtree(folder, ignore_errors=True)


def _fetch(port: int, web_port: int) -> str:
    cp = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
                         "-x", f"http://127.0.0.1:{port}", f"http://127.0.0.1:{web_port}/"],
                        capture_output=True, text=True)
    return cp.stdout.strip()


ALLOW_LOOPBACK = """\
acl egress_z_test src 127.0.0.1/32
acl egress_s_web dst 127.0.0.1/32
http_access allow egress_z_test egress_s_web
http_access deny all
"""


@squid_system
def test_squid_include_installed_reconfigured_and_rolled_back(netns, tmp_path, live_squid):
    ns, state = netns(), tmp_path / "state"
    include, conf = live_squid["include"], live_squid["conf"]
    old = include.read_bytes()
    squid_args = ["--squid-include", str(include), "--squid-conf", str(conf)]
    fetch = lambda: _fetch(live_squid["port"], live_squid["web_port"])  # noqa: E731

    good = write_bundle(tmp_path / "good", ruleset(), ALLOW_LOOPBACK, stage="s1")
    cp = egress(ns, state, "apply", str(good), "--no-wait", *squid_args)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert include.read_bytes() == (good / "squid-egress.conf").read_bytes()
    assert wait_until(lambda: fetch() == "200", 15)  # squid -k reconfigure took effect
    assert egress(ns, state, "rollback", "--allow-no-table").returncode == 0
    assert include.read_bytes() == old
    assert wait_until(lambda: fetch() == "403", 15)
    assert nft_list(ns) is None
    last = audit(state)[-1]
    assert (last["action"], last["result"]) == ("rollback", "ok")


@squid_system
def test_rollback_of_a_first_include_closes_the_proxy(netns, tmp_path, live_squid):
    """No include before the apply: the rollback installs a deny-all include (removing
    the file would make squid.conf unparsable, and Squid would keep the allowing rules)."""
    ns, state = netns(), tmp_path / "state"
    include, conf = live_squid["include"], live_squid["conf"]
    include.unlink()
    good = write_bundle(tmp_path / "good", ruleset(), ALLOW_LOOPBACK, stage="s1")
    cp = egress(ns, state, "apply", str(good), "--no-wait", "--squid-include", str(include), "--squid-conf", str(conf))
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert wait_until(lambda: _fetch(live_squid["port"], live_squid["web_port"]) == "200", 15)
    cp = egress(ns, state, "rollback")
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert include.read_bytes().endswith(b"\nhttp_access deny all\n")
    assert wait_until(lambda: _fetch(live_squid["port"], live_squid["web_port"]) == "403", 15)


@squid_system
def test_squid_broken_include_is_refused_and_the_previous_stays(netns, tmp_path, live_squid, minimal_bundle):
    ns, state = netns(), tmp_path / "state"
    include, conf = live_squid["include"], live_squid["conf"]
    squid_args = ["--squid-include", str(include), "--squid-conf", str(conf)]

    # the real compiled include of examples/minimal passes squid -k parse
    real = minimal_bundle / "s2-reference-sites"
    cp = egress(ns, state, "apply", str(real), "--no-wait", *squid_args)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert egress(ns, state, "confirm").returncode == 0
    assert include.read_bytes() == (real / "squid-egress.conf").read_bytes()
    before_nft, before_include = nft_list(ns), include.read_bytes()

    overlapping = "acl egress_s_web dstdomain .example.org www.example.org\nhttp_access deny all\n"
    unknown = "no_such_directive on\nhttp_access deny all\n"
    fatal = "acl egress_s_web dstdomain\nhttp_access allow egress_nowhere\n"
    for name, text in (("overlap", overlapping), ("unknown", unknown), ("fatal", fatal)):
        bundle = write_bundle(tmp_path / name, ruleset((443, 80)), text, stage="s3")
        cp = egress(ns, state, "apply", str(bundle), "--no-wait", *squid_args)
        assert cp.returncode == 1, (name, cp.stdout, cp.stderr)
        assert "squid -k parse refused" in cp.stderr, (name, cp.stderr)
        assert include.read_bytes() == before_include, name
        assert nft_list(ns) == before_nft, name
    assert _fetch(live_squid["port"], live_squid["web_port"]) == "403"  # squid still runs, old rules

    # an include that squid.conf does not read is refused too
    elsewhere = write_bundle(tmp_path / "elsewhere", ruleset(), ALLOW_LOOPBACK, stage="s3")
    cp = egress(ns, state, "apply", str(elsewhere), "--no-wait", "--squid-include", str(tmp_path / "other.conf"),
                "--squid-conf", str(conf))
    assert cp.returncode == 1 and "did not read" in cp.stderr
    assert not (tmp_path / "other.conf").exists()
    assert [a["result"] for a in audit(state)[-4:]] == ["refused"] * 4


# --------------------------------------------------------------------------- ansible


@pytest.mark.system("nft", "ip", "ansible-playbook")
def test_ansible_push_stage_applies_and_confirms(netns, tmp_path, minimal_bundle):
    """A full run of examples/ansible/push-stage.yml against a local inventory whose
    `egress` runs inside a network namespace."""
    ns, state = netns(), tmp_path / "state"
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(textwrap.dedent(f"""\
        [firewalls]
        fw-test ansible_connection=local ansible_python_interpreter={sys.executable}

        [firewalls:vars]
        egress_cmd="ip netns exec {ns} {sys.executable} -m egress.cli"
        egress_state_dir={state}
        egress_remote_dir={tmp_path / 'remote'}
        egress_become=false
        """))

    def push(stage: str, bundle: Path = minimal_bundle):
        return subprocess.run(
            ["ansible-playbook", "-i", str(inventory), str(ANSIBLE / "push-stage.yml"),
             "-e", f"bundle_dir={bundle}", "-e", f"stage={stage}", "-e", "confirm_timeout=30"],
            capture_output=True, text=True, cwd=ANSIBLE, timeout=300,
            env=dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_HOST_KEY_CHECKING="False"))

    cp = push("s1-partner-results")
    assert cp.returncode == 0, cp.stdout[-3000:] + cp.stderr[-2000:]
    assert "test guard" not in cp.stdout + cp.stderr
    doc = status(ns, state)
    assert doc["loaded"]["stage"] == "s1-partner-results" and doc["pending"] is None
    assert [(a["action"], a["result"]) for a in audit(state)] == [("apply", "ok"), ("confirm", "ok")]

    # a bundle that does not verify stops the push; nothing changes
    broken = tmp_path / "broken"
    shutil.copytree(minimal_bundle, broken)
    with open(broken / "s2-reference-sites" / "egress.nft", "a") as f:
        f.write("# tampered\n")
    before = nft_list(ns)
    cp = push("s2-reference-sites", broken)
    assert cp.returncode != 0
    assert "sha256 mismatch" in cp.stdout
    assert nft_list(ns) == before


# --------------------------------------------------------------------------- fail closed (issue 10)


def test_a_first_apply_rolls_back_to_a_deny_all_table(lab, minimal_bundle, tmp_path):
    """Issue 10 item 2: the rollback of a first apply (no table before) must not open the
    perimeter: a deny-all table of the same hook takes the place of "no table"."""
    state = tmp_path / "state"
    fw = lab.ns("fw")
    lab.add_lan("10.30.0.10")
    lab.add_wan("203.0.113.20")
    lab.listen("wan", [443])
    flow = ("10.30.0.10", "203.0.113.20", "tcp", 443)
    assert lab.probe("lan", [flow]) == [True]  # no ruleset yet

    cp = egress(fw, state, "apply", str(minimal_bundle / "s1-partner-results"), "--no-wait", "--confirm-timeout", "2")
    assert cp.returncode == 0, cp.stderr
    assert lab.probe("lan", [flow]) == [True]  # s1 opens it
    assert wait_until(lambda: (audit(state) or [{}])[-1].get("action") == "rollback", 15)
    assert lab.probe("lan", [flow]) == [False]  # closed, not "no table at all"
    assert is_deny_all(nft_list(fw)) and "hook forward" in nft_list(fw)
    last = audit(state)[-1]
    assert last["automatic"] is True and last["deny_all"] is True and "deny-all" in last["detail"]
    doc = status(fw, state)
    assert doc["loaded"]["deny_all"] is True and doc["loaded"]["policy"] == "minimal-lab" and doc["matches"] is True
    assert "deny-all table inet egress" in egress(fw, state, "status").stdout


@nft_system
def test_bare_rollback_never_ends_with_no_table(netns, tmp_path):
    """`egress rollback` of a first apply loads the deny-all table; only
    --allow-no-table deletes the table."""
    ns, state = netns(), tmp_path / "state"
    one = write_bundle(tmp_path / "s1", ruleset(), stage="s1")
    assert egress(ns, state, "apply", str(one), "--no-wait").returncode == 0
    cp = egress(ns, state, "rollback")  # pending
    assert cp.returncode == 0 and "deny-all" in cp.stdout, cp.stdout + cp.stderr
    assert is_deny_all(nft_list(ns))
    cp = egress(ns, state, "rollback")
    assert cp.returncode == 1 and "nothing to roll back" in cp.stderr
    assert is_deny_all(nft_list(ns))

    ns, state = netns(), tmp_path / "state2"
    assert egress(ns, state, "apply", str(one), "--no-wait").returncode == 0
    assert egress(ns, state, "confirm").returncode == 0
    assert "deny-all" in egress(ns, state, "status").stdout  # what the undo would restore
    cp = egress(ns, state, "rollback")  # after the confirmation
    assert cp.returncode == 0 and is_deny_all(nft_list(ns)), cp.stderr
    # an apply over the deny-all table, then its rollback: the deny-all table comes back
    assert egress(ns, state, "apply", str(one), "--no-wait").returncode == 0
    assert not is_deny_all(nft_list(ns))
    assert egress(ns, state, "rollback").returncode == 0
    assert is_deny_all(nft_list(ns)) and status(ns, state)["loaded"]["deny_all"] is True

    ns, state = netns(), tmp_path / "state3"
    assert egress(ns, state, "apply", str(one), "--no-wait").returncode == 0
    assert egress(ns, state, "confirm").returncode == 0
    cp = egress(ns, state, "rollback", "--allow-no-table")
    assert cp.returncode == 0 and nft_list(ns) is None, cp.stderr
    assert audit(state)[-1]["deny_all"] is False


@nft_system
def test_a_killed_watchdog_is_caught_by_the_next_command(netns, tmp_path):
    """Issue 10 item 3: kill -9 of the watchdog must not leave an unconfirmed ruleset in
    force: status, apply, rollback and confirm roll an overdue apply back first."""
    ns, state = netns(), tmp_path / "state"
    one = write_bundle(tmp_path / "s1", ruleset((443,)), stage="s1")
    two = write_bundle(tmp_path / "s2", ruleset((443, 80)), stage="s2")
    assert egress(ns, state, "apply", str(one), "--no-wait").returncode == 0
    assert egress(ns, state, "confirm").returncode == 0
    before = nft_list(ns)

    def unguarded_overdue_apply():
        cp = egress(ns, state, "apply", str(two), "--no-wait", "--confirm-timeout", "3")
        assert cp.returncode == 0, cp.stderr
        os.kill(json.loads((state / "state.json").read_text())["pending"]["watchdog_pid"], signal.SIGKILL)
        time.sleep(3.5)
        assert "dport { 80, 443 }" in nft_list(ns)  # nobody rolled it back by itself

    for command in (["status"], ["apply", str(one), "--no-wait"], ["rollback"], ["rollback", "--if-overdue"],
                    ["confirm"]):
        unguarded_overdue_apply()
        cp = egress(ns, state, *command)
        assert nft_list(ns) == before if command[0] != "apply" else "dport 443" in nft_list(ns), command
        lines = [a for a in audit(state) if a["action"] == "rollback"]
        assert lines[-1]["automatic"] is True and lines[-1]["restored"]["stage"] == "s1"
        assert f"found overdue by `egress {command[0]}`" in lines[-1]["detail"] or command[0] == "confirm"
        assert cp.returncode == (1 if command[0] == "confirm" else 0), (command, cp.stdout, cp.stderr)
        if command[0] == "apply":  # rolled back first, then applied s1 as asked
            assert audit(state)[-1]["action"] == "apply" and audit(state)[-1]["result"] == "ok"
            assert egress(ns, state, "confirm").returncode == 0
        assert status(ns, state)["pending"] is None
    cp = egress(ns, state, "rollback", "--if-overdue")
    assert cp.returncode == 0 and "nothing overdue" in cp.stdout


def test_deadline_timer_unit(tmp_path):
    """Issue 10 item 3, the systemd timer: the unit that apply would create (systemd does
    not run in this sandbox; where it does, apply arms it and status shows it)."""
    from egress.firewall import timer

    token = secrets.token_hex(16)
    argv = timer.command(tmp_path / "state", token, 120, "fw", {"EGRESS_NFT": "/x/nft", "HOME": "/root"})
    assert argv[0] == "systemd-run" and "--collect" in argv
    assert "--on-active=122s" in argv and "--timer-property=AccuracySec=1s" in argv
    assert f"--unit={timer.unit_name(token)}" in argv and "--setenv=EGRESS_NFT=/x/nft" in argv
    assert not any("HOME" in a for a in argv)
    tail = argv[argv.index("--") + 1:]
    assert tail[:4] == ["ip", "netns", "exec", "fw"]
    assert tail[4:] == [sys.executable, "-m", "egress.cli", "rollback", "--if-overdue", "--state-dir",
                        str(tmp_path / "state")]
    assert not any(token[:8] in a for a in argv)  # nothing of the token on the command line
    assert timer.command(tmp_path, token, 1.2, "", {})[-7] == sys.executable  # the init namespace: no netns exec
    if not timer.systemd_runs():
        unit, note = timer.arm(tmp_path, token, 10)
        assert unit is None and "systemd does not run here" in note


# --------------------------------------------------------------------------- trust nothing (issue 10)


@nft_system
@pytest.mark.parametrize("planted", ["lock", "audit.jsonl", "watchdog.log", "state.json"])
def test_planted_symlinks_in_the_state_directory_are_refused(netns, tmp_path, planted):
    """Issue 10 item 5: a link planted in the state directory must not make root truncate
    or append to its target (nor read a forged state through it)."""
    ns, state = netns(), tmp_path / "state"
    state.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (state / planted).symlink_to(victim)
    one = write_bundle(tmp_path / "s1", ruleset(), stage="s1")
    for command in (["apply", str(one), "--no-wait"], ["status"], ["rollback"], ["confirm"]):
        cp = egress(ns, state, *command)
        assert cp.returncode == 2, (command, cp.stdout, cp.stderr)
        assert "symbolic link" in cp.stderr and "Traceback" not in cp.stderr
    assert victim.read_text() == "precious\n" and nft_list(ns) is None


@nft_system
def test_a_state_directory_others_can_write_is_refused(netns, tmp_path):
    ns, state = netns(), tmp_path / "state"
    one = write_bundle(tmp_path / "s1", ruleset(), stage="s1")
    state.mkdir()
    state.chmod(0o777)
    cp = egress(ns, state, "apply", str(one), "--no-wait")
    assert cp.returncode == 2 and "writable by group and others" in cp.stderr, cp.stderr
    assert nft_list(ns) is None and not (state / "state.json").exists()
    state.chmod(0o700)
    assert egress(ns, state, "apply", str(one), "--no-wait").returncode == 0
    (state / "state.json").chmod(0o666)
    for command in ("status", "confirm", "rollback"):
        cp = egress(ns, state, command)
        assert cp.returncode == 2 and "state.json: writable by group or others" in cp.stderr, (command, cp.stderr)
    (state / "state.json").chmod(0o600)
    os.chown(state, 65534, 65534)
    cp = egress(ns, state, "confirm")
    assert cp.returncode == 2 and "owned by uid 65534" in cp.stderr
    os.chown(state, 0, 0)
    assert egress(ns, state, "confirm").returncode == 0
    cp = egress(ns, state, "status", "--state-dir", "")
    assert cp.returncode == 2 and "--state-dir is empty" in cp.stderr


@nft_system
def test_a_forged_state_file_is_refused(netns, tmp_path):
    """A state.json that points out of snapshots/ (or is not a state at all) is refused
    before anything is read or loaded through it."""
    ns, state = netns(), tmp_path / "state"
    one = write_bundle(tmp_path / "s1", ruleset(), stage="s1")
    assert egress(ns, state, "apply", str(one), "--no-wait").returncode == 0
    before = nft_list(ns)
    doc = json.loads((state / "state.json").read_text())
    evil = tmp_path / "evil"
    (evil / "snap").mkdir(parents=True)
    (evil / "snap" / "meta.json").write_text('{"id": "x", "taken_at": "", "table": true, "current": null, "squid": null}')
    (evil / "snap" / "ruleset.nft").write_text("flush ruleset\n")
    forgeries = {
        "traversal": dict(doc, pending=dict(doc["pending"], snapshot="../../evil/snap")),
        "undo": dict(doc, undo="/etc"),
        "extra key": dict(doc, pending=dict(doc["pending"], command="rm -rf /")),
        "not a state": ["nothing"],
    }
    for name, forged in forgeries.items():
        (state / "state.json").write_text(json.dumps(forged))
        (state / "state.json").chmod(0o600)
        for command in ("rollback", "status", "confirm"):
            cp = egress(ns, state, command)
            assert cp.returncode == 2 and "unreadable state" in cp.stderr, (name, command, cp.stderr)
            assert len(cp.stderr.strip().splitlines()) == 1
        assert nft_list(ns) == before, name


@nft_system
def test_the_watchdog_token_is_not_on_a_command_line(netns, tmp_path):
    ns, state = netns(), tmp_path / "state"
    one = write_bundle(tmp_path / "s1", ruleset(), stage="s1")
    assert egress(ns, state, "apply", str(one), "--no-wait").returncode == 0
    pending = json.loads((state / "state.json").read_text())["pending"]
    cmdline = Path(f"/proc/{pending['watchdog_pid']}/cmdline").read_bytes().decode()
    assert "watchdog" in cmdline and pending["token"] not in cmdline and pending["token"][:8] not in cmdline
    assert egress(ns, state, "rollback").returncode == 0  # and it still guards its own apply
    assert wait_until(lambda: not host.pid_alive(pending["watchdog_pid"]), 10)


@nft_system
def test_non_regular_bundle_files_and_bad_timeouts(netns, tmp_path):
    """Issue 10 item 9: a FIFO or a link to /dev/zero in a bundle must not block apply;
    --confirm-timeout inf/nan/-1 is a usage error (2), never a crash (3); a bundle root
    instead of a stage folder says which folder to give."""
    ns, state = netns(), tmp_path / "state"
    for name, make in (("fifo", lambda p: os.mkfifo(p)), ("zero", lambda p: p.symlink_to("/dev/zero"))):
        bundle = write_bundle(tmp_path / name, ruleset(), stage="s1")
        (bundle / "dnsmasq-egress.conf").unlink()
        make(bundle / "dnsmasq-egress.conf")
        cp = egress(ns, state, "apply", str(bundle), "--no-wait", timeout=20)
        assert cp.returncode == 1 and "dnsmasq-egress.conf" in cp.stderr, (name, cp.stderr)
        assert "FIFO" in cp.stderr or "symbolic link" in cp.stderr
    manifest_fifo = tmp_path / "mfifo"
    manifest_fifo.mkdir()
    os.mkfifo(manifest_fifo / "manifest.json")
    cp = egress(ns, state, "apply", str(manifest_fifo), "--no-wait", timeout=20)
    assert cp.returncode == 2 and "FIFO" in cp.stderr, cp.stderr
    one = write_bundle(tmp_path / "build" / "s1", ruleset(), stage="s1")
    for value in ("inf", "nan", "-1", "1e400"):
        cp = egress(ns, state, "apply", str(one), "--no-wait", "--confirm-timeout", value)
        assert cp.returncode == 2 and "Traceback" not in cp.stderr, (value, cp.stderr)
    cp = egress(ns, state, "apply", str(tmp_path / "build"), "--no-wait")
    assert cp.returncode == 2 and f"give {tmp_path / 'build'}/<stage> (stages: s1)" in cp.stderr, cp.stderr
    assert nft_list(ns) is None


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 2 MiB tmpfs for a state directory, to fill up (unmounted afterwards)."""
    mount = tmp_path / "small"
    mount.mkdir(mode=0o700)
    cp = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "egress-test", str(mount)],
                        capture_output=True, text=True)
    if cp.returncode:
        pytest.fail(f"cannot mount a tmpfs: {cp.stderr}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(folder: Path) -> None:
    """Fill the filesystem of `folder` to the last byte."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (1 << 16, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)


@nft_system
def test_full_disk_the_watchdog_still_rolls_back_and_records_it(netns, tmp_path, small_tmpfs):
    """Issue 10 item 4: with the state filesystem full, the watchdog's rollback leaves
    kernel, state and audit consistent (the reserve is given up for the records), and
    an apply on a full filesystem is refused before anything changes."""
    ns, state = netns(), small_tmpfs / "state"
    one = write_bundle(tmp_path / "s1", ruleset((443,)), stage="s1")
    two = write_bundle(tmp_path / "s2", ruleset((443, 80)), stage="s2")
    assert egress(ns, state, "apply", str(one), "--no-wait").returncode == 0
    assert egress(ns, state, "confirm").returncode == 0
    before = nft_list(ns)
    assert egress(ns, state, "apply", str(two), "--no-wait", "--confirm-timeout", "3").returncode == 0
    fill(small_tmpfs)
    assert wait_until(lambda: nft_list(ns) == before, 15)
    assert wait_until(lambda: audit(state)[-1]["action"] == "rollback", 10), audit(state)[-1]
    last = audit(state)[-1]
    assert (last["result"], last["automatic"], last["restored"]["stage"]) == ("ok", True, "s1")
    assert "reserve was used" in last["detail"]
    doc = status(ns, state)
    assert doc["pending"] is None and doc["loaded"]["stage"] == "s1" and doc["matches"] is True
    assert any("has been full" in note for note in doc["notes"])

    fill(small_tmpfs)  # what the reserve left free, too
    cp = egress(ns, state, "apply", str(two), "--no-wait")  # full: refused, nothing changed
    assert cp.returncode == 1 and "free space" in cp.stderr and "Traceback" not in cp.stderr, cp.stderr
    assert nft_list(ns) == before and status(ns, state)["pending"] is None
    (small_tmpfs / "filler").unlink()
    assert egress(ns, state, "apply", str(two), "--no-wait").returncode == 0  # the reserve is made again
    assert (state / "reserve").stat().st_size == 256 << 10
    assert egress(ns, state, "rollback").returncode == 0 and nft_list(ns) == before

"""Shared test fixtures: the system-test gate and the network lab.

System tests run the real programs (``nft``, ``ip``, ``dnsmasq``, ``squid``,
``curl``) and need root.  Mark them, or ask for the fixture::

    @pytest.mark.system                    # needs all five programs
    def test_a(): ...

    @pytest.mark.system("nft", "ip")       # needs only these
    def test_b(): ...

    def test_c(system): ...                # the same gate as a fixture (all programs,
                                           # or those of the test's system marker)

    def test_d(lab): ...                   # a fresh network lab (tests/lab.py);
                                           # implies the gate for ip + nft

When a program is missing and we are root, the gate installs its Debian package
once per session (``apt-get install -y``; ``apt-get update`` and again if that
fails).  If the test still cannot run (not root, no package, no network
namespaces) it is skipped with the reason, unless ``EGRESS_SYSTEM_TESTS=1``
(set by CI), in which case it fails: system tests cannot quietly skip there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

_TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

import lab as lab_module  # noqa: E402  (tests/lab.py)

#: program -> Debian package that provides it
PACKAGES = {
    "nft": "nftables",
    "ip": "iproute2",
    "dnsmasq": "dnsmasq-base",
    "squid": "squid-openssl",
    "curl": "curl",
    "ulogd": "ulogd2",  # its JSON output plugin is the package ulogd2-json (tests/test_observe_live.py)
    "ansible-playbook": "ansible-core",  # only for the tests of examples/ansible
    "ssh-keygen": "openssh-client",  # only for signed bundles (egress/firewall/signing.py)
    "chromium": "chromium",  # only for the browser tests of `egress report`
    "chromedriver": "chromium-driver",
}
ALL_PROGRAMS = ("nft", "ip", "dnsmasq", "squid", "curl")
LAB_PROGRAMS = ("ip", "nft")
ENV_STRICT = "EGRESS_SYSTEM_TESTS"

_SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")
_install_attempted: set[str] = set()
_install_errors: dict[str, str] = {}
_netns_reason: list = []  # memo: [reason or None]


def strict() -> bool:
    """True when system tests must fail instead of skipping (CI)."""
    return os.environ.get(ENV_STRICT) == "1"


def find_program(name: str) -> str | None:
    """Path of a program, looking in the sbin directories too."""
    path = os.pathsep.join([os.environ.get("PATH", os.defpath), *_SBIN])
    return shutil.which(name, path=path)


def _tail(text: str, lines: int = 5) -> str:
    return " | ".join(line for line in (text or "").strip().splitlines()[-lines:])


def _apt_install(packages: list[str]) -> str | None:
    """Install packages with apt-get; None on success, else the error."""
    apt = find_program("apt-get")
    if apt is None:
        return "apt-get not found"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = [apt, "-o", "DPkg::Lock::Timeout=120", "install", "-y", *packages]

    def run(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, env=env,
                                  stdin=subprocess.DEVNULL, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as e:
            return subprocess.CompletedProcess(argv, 1, "", str(e))

    result = run(cmd)
    if result.returncode != 0:
        run([apt, "-o", "DPkg::Lock::Timeout=120", "update"])
        result = run(cmd)
    if result.returncode != 0:
        return f"apt-get install {' '.join(packages)} failed: {_tail(result.stderr)}"
    return None


def _check_netns() -> str | None:
    """Can we create network namespaces? (Root in a container may not.)"""
    if not _netns_reason:
        name = f"eg{os.getpid()}chk"
        try:
            r = subprocess.run(["ip", "netns", "add", name], capture_output=True,
                               text=True, timeout=30)
            if r.returncode != 0:
                _netns_reason.append(f"cannot create a network namespace: {_tail(r.stderr)}")
            else:
                subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)
                _netns_reason.append(None)
        except (OSError, subprocess.TimeoutExpired) as e:
            _netns_reason.append(f"cannot create a network namespace: {e}")
    return _netns_reason[0]


def system_unavailable(programs=ALL_PROGRAMS, netns: bool = False) -> str | None:
    """Why the system tests needing ``programs`` cannot run here, or None.

    As root, installs the packages of missing programs (once per session)."""
    unknown = [p for p in programs if p not in PACKAGES]
    if os.geteuid() != 0:
        return f"system test needs root (running as uid {os.geteuid()})"
    missing = [p for p in programs if find_program(p) is None]
    to_install = sorted({PACKAGES[p] for p in missing if p in PACKAGES}
                        - _install_attempted)
    if to_install:
        _install_attempted.update(to_install)
        error = _apt_install(to_install)
        if error:
            for package in to_install:
                _install_errors[package] = error
        missing = [p for p in programs if find_program(p) is None]
    if missing:
        details = [_install_errors.get(PACKAGES.get(p, ""), "") for p in missing]
        why = "; ".join(sorted({d for d in details if d}))
        packages = ", ".join(PACKAGES.get(p, "?") for p in missing)
        return (f"system test needs {', '.join(missing)} (Debian: {packages})"
                + (f"; {why}" if why else "")
                + (f"; unknown program(s) {unknown}" if unknown else ""))
    if netns:
        return _check_netns()
    return None


def gate(reason: str):
    """Skip with reason, or fail under EGRESS_SYSTEM_TESTS=1."""
    if strict():
        pytest.fail(f"system test could not run and {ENV_STRICT}=1: {reason}", pytrace=False)
    pytest.skip(reason)


def require_system(*programs: str, netns: bool = False) -> dict[str, str]:
    """Gate the current test on root and ``programs`` (default: all); returns their paths."""
    programs = programs or ALL_PROGRAMS
    reason = system_unavailable(programs, netns=netns)
    if reason:
        gate(reason)
    return {p: find_program(p) for p in programs}


def _marker_programs(item) -> tuple[str, ...] | None:
    """Programs named by the test's system markers; None if not marked."""
    markers = list(item.iter_markers("system"))
    if not markers:
        return None
    programs: list[str] = []
    for marker in markers:
        programs.extend(marker.args or ALL_PROGRAMS)
    return tuple(dict.fromkeys(programs))


# ----------------------------------------------------------------------------- hooks

def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "system(*programs): needs root and real programs (default: nft, ip, dnsmasq, "
        "squid, curl); installs missing Debian packages as root; skips otherwise, "
        f"fails instead when {ENV_STRICT}=1")


def pytest_report_header(config):
    return (f"system tests: {'must run' if strict() else 'may skip'} "
            f"({ENV_STRICT}={os.environ.get(ENV_STRICT, '')!s}, uid {os.geteuid()})")


def pytest_runtest_setup(item):
    programs = _marker_programs(item)
    if programs is not None:
        require_system(*programs)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"_egress_rep_{report.when}", report)  # for the lab fixture's diagnostics
    return report


# ----------------------------------------------------------------------------- fixtures

@pytest.fixture
def system(request) -> dict[str, str]:
    """Gate: root and the programs (all five, or those of the test's system marker).
    Returns {program: path}."""
    return require_system(*(_marker_programs(request.node) or ALL_PROGRAMS))


def _lab_session(request):
    require_system(*LAB_PROGRAMS, netns=True)
    with lab_module.Lab() as lab:
        yield lab
        report = getattr(request.node, "_egress_rep_call", None)
        if report is not None and report.failed:
            # printed in the failing test's teardown section
            print(lab.describe())


@pytest.fixture
def lab(request):
    """A fresh network lab (tests/lab.py), torn down after the test whatever happens."""
    yield from _lab_session(request)


@pytest.fixture(scope="module")
def module_lab(request):
    """One lab shared by the tests of a module: cheaper, but tests must not rely on
    a clean state (flush the ruleset with ``module_lab.flush()``, use distinct
    addresses and ports)."""
    yield from _lab_session(request)

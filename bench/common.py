"""Helpers shared by the benchmarks: the benchmark policy, timing, peak memory, netns.

The benchmarks print figures; they are not tests. Timings are the best of N runs (the
machine is shared, so the best is the least disturbed); peak memory is the maximum
resident set size of a fresh child process, read with `os.wait4` (Linux reports it in
KiB), so that nothing the benchmark itself holds is counted.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))  # `import gen_policy` from any working directory

import gen_policy  # noqa: E402

WORK = Path(os.environ.get("EGRESS_BENCH_DIR", "/tmp/egress-bench"))
"""Where generated policies and outputs go (override with EGRESS_BENCH_DIR)."""

AT = dt.date(2026, 6, 1)
"""The date given to validate and compile: no generated grant has expired by then, and
none expires within the 14 days of the expiry warning."""

PYTHON = sys.executable


def policy_for(params: gen_policy.Params, path: str | None = None) -> str:
    """The path of a generated policy with these parameters, generating it if missing.

    A file generated with other parameters (its first line says which) is replaced.
    """
    if path is None:
        proxied = round(100 * params.proxied_fraction)
        path = str(WORK / f"bench-z{params.zones}-s{params.services}x{params.destinations}-g{params.grants}"
                          f"-st{params.stages}-p{proxied}-seed{params.seed}.yaml")
    target = Path(path)
    stamp = f"# generator {gen_policy.VERSION}, params: {params!r}"
    if target.exists() and Path(gen_policy.lock_path(path)).exists():
        with open(target, encoding="utf-8") as handle:
            if handle.readline().rstrip("\n") == stamp:
                return path
    start = time.perf_counter()
    gen_policy.write(params, path)
    text = target.read_text(encoding="utf-8")
    target.write_text(stamp + "\n" + text, encoding="utf-8")
    print(f"generated {path} ({target.stat().st_size:,} bytes) in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return path


def best_of(fn, repeat: int = 3):
    """(best wall time in seconds, result of the last call)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


_LAUNCHER = """
import os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as handle:
    handle.write(f"{usage.ru_maxrss} {time.perf_counter() - start} {usage.ru_utime + usage.ru_stime}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_measured(argv: list[str], **kwargs) -> tuple[float, int, subprocess.CompletedProcess]:
    """Run a command; (wall seconds, peak RSS in bytes, its result): see `run_cpu_measured`."""
    wall, peak, _, proc = run_cpu_measured(argv, **kwargs)
    return wall, peak, proc


def run_cpu_measured(argv: list[str], **kwargs) -> tuple[float, int, float, subprocess.CompletedProcess]:
    """Run a command; (wall seconds, peak RSS in bytes of that process, its CPU seconds
    (user + system, its own: the kernel's work for its syscalls counts, a machine busy
    with other work inflates it much less than the wall time), its result).

    Output is captured. The command is started by a small launcher process, which
    forks it, reaps it with `wait4` and reports its own child's rusage: a child forked
    straight from this (possibly large) process would count this process's memory in
    its peak, since the maximum RSS of a process includes what it held before `exec`.
    The peak and the CPU time are those of the process itself (its own children are not
    counted).
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err, \
            tempfile.NamedTemporaryFile("r", suffix=".rusage") as report:
        proc = subprocess.run([PYTHON, "-c", _LAUNCHER, report.name, *argv], stdout=out, stderr=err, text=True, **kwargs)
        maxrss, wall, cpu = report.read().split()
        out.seek(0)
        err.seek(0)
        result = subprocess.CompletedProcess(argv, proc.returncode, out.read(), err.read())
        return float(wall), int(maxrss) * 1024, float(cpu), result


def python_measured(code: str, *args: str) -> tuple[float, int, subprocess.CompletedProcess]:
    """Run `code` in a fresh Python with `args` as sys.argv[1:]; see `run_measured`."""
    return run_measured([PYTHON, "-c", code, *args], cwd=str(REPO))


def egress_cli() -> list[str]:
    """The argv prefix that runs the `egress` command of this checkout."""
    found = shutil.which("egress")
    return [found] if found else [PYTHON, "-m", "egress.cli"]


def mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MB"


def secs(t: float) -> str:
    return f"{t:.3f} s" if t < 10 else f"{t:.2f} s"


def table(rows: list[list[str]], header: list[str]) -> str:
    """A plain text table, first column left-aligned, the others right-aligned."""
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    lines = []
    for k, row in enumerate([header] + rows):
        cells = [str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


class Netns:
    """A network namespace created for one benchmark and deleted after it.

    Every nftables load of the benchmarks happens in one of these, never in the root
    namespace. Needs root and `ip`.
    """

    def __init__(self, purpose: str):
        self.name = f"egbench-{purpose}-{os.getpid()}"

    def __enter__(self) -> Netns:
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        return self

    def run(self, argv: list[str], **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", self.name, *argv], capture_output=True, text=True, **kwargs)

    def __exit__(self, *exc) -> None:
        subprocess.run(["ip", "netns", "delete", self.name], check=False)


def netns_available() -> str | None:
    """None if network namespaces and nft can be used here, else why not."""
    if os.geteuid() != 0:
        return "needs root (ip netns add)"
    for tool in ("ip", "nft"):
        if not shutil.which(tool):
            return f"`{tool}` is not installed"
    return None


# -- reading nft files ------------------------------------------------------------------


def chains(text: str) -> dict[str, list[str]]:
    """The rules of every chain of an nft file, by chain name (a chain declared several
    times, as egress declares then defines them, gets the rules of all its blocks)."""
    out: dict[str, list[str]] = {}
    depth, current, current_depth = 0, None, 0
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith("comment") else raw.strip()
        if not line:
            continue
        match = re.match(r"chain (\S+) \{$", line)
        if match and current is None:
            current, current_depth = match.group(1), depth
            out.setdefault(current, [])
            depth += 1
            continue
        opened, closed = line.count("{"), line.count("}")
        if current is not None and line == "}" and depth - 1 == current_depth:
            current = None
            depth -= 1
            continue
        if current is not None and depth == current_depth + 1 and not line.startswith(("type ", "policy ", "comment ")):
            out[current].append(line)
        depth += opened - closed
    return out


def egress_per_packet(text: str) -> tuple[int | str, str]:
    """The most rules a new packet meets in egress's ruleset `text`: loaded in a network
    namespace of its own and counted from `nft -j list ruleset` (`rules_met`), since
    the paths go through verdict maps that the text alone does not resolve."""
    why = netns_available()
    if why:
        return "n/a", why
    base = "output" if "type filter hook output priority filter; policy drop;" in text else "forward"
    with Netns("rules") as ns, tempfile.NamedTemporaryFile("w", suffix=".nft") as handle:
        handle.write(text)
        handle.flush()
        loaded = ns.run(["nft", "-f", handle.name])
        if loaded.returncode != 0:
            return "n/a", f"nft -f failed: {loaded.stderr.strip()[:200]}"
        listing = json.loads(ns.run(["nft", "-j", "list", "ruleset"]).stdout)
    return rules_met(listing, base), "worst path in the loaded ruleset (nft -j)"


# -- reading a loaded ruleset (nft -j) ------------------------------------------------------


def nft_objects(listing: dict) -> tuple[dict[str, list], dict[str, list]]:
    """(chains: name -> rules' expression lists, sets and maps: name -> elements) of
    the parsed JSON of `nft -j list ruleset` (or of one table)."""
    chains: dict[str, list] = {}
    sets: dict[str, list] = {}
    for item in listing.get("nftables", []):
        if "chain" in item:
            chains.setdefault(item["chain"]["name"], [])
        elif "rule" in item:
            chains.setdefault(item["rule"]["chain"], []).append(item["rule"]["expr"])
        elif "set" in item or "map" in item:
            body = item.get("set") or item.get("map")
            sets[body["name"]] = body.get("elem", [])
    return chains, sets


def element_count(listing: dict) -> int:
    """The number of elements of every set and map (as the kernel holds them)."""
    return sum(len(elements) for elements in nft_objects(listing)[1].values())


def _targets(node, sets: dict[str, list]) -> list[tuple[str, str]]:
    """The (jump|goto, chain) verdicts an expression may take, including those of the
    maps it looks up (named or inline)."""
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for verdict in ("jump", "goto"):
            if verdict in node and isinstance(node[verdict], dict) and "target" in node[verdict]:
                found.append((verdict, node[verdict]["target"]))
        vmap = node.get("vmap")
        if isinstance(vmap, dict) and isinstance(vmap.get("data"), str) and vmap["data"].startswith("@"):
            for element in sets.get(vmap["data"][1:], []):
                found += _targets(element, sets)
        for key, value in node.items():
            if key != "vmap" or not isinstance(value, dict) or not isinstance(value.get("data"), str):
                found += _targets(value, sets)
    elif isinstance(node, list):
        for value in node:
            found += _targets(value, sets)
    return found


def rules_met(listing: dict, base: str) -> int:
    """The most rules a new packet can meet from base chain `base` of a loaded ruleset:
    every rule of a chain is met unless a verdict ends the walk; a jump (direct or
    through a verdict map) adds the worst of its chain then goes on; a goto adds the
    worst of its chain and returns to the caller. Verdicts that end the walk (accept,
    drop) only shorten a path, so they are not followed."""
    chains, sets = nft_objects(listing)
    memo: dict[str, int] = {}

    def worst(name: str, depth: int = 0) -> int:
        if name in memo:
            return memo[name]
        if depth > 16:
            raise ValueError(f"chain {name}: jumps nest too deep")
        total = 0
        for expr in reversed(chains.get(name, [])):
            rest = total
            jumps = [worst(t, depth + 1) for v, t in set(_targets(expr, sets)) if v == "jump"]
            gotos = [worst(t, depth + 1) for v, t in set(_targets(expr, sets)) if v == "goto"]
            total = 1 + max([rest] + [j + rest for j in jumps] + gotos)
        memo[name] = total
        return total

    return worst(base)

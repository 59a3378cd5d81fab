"""How long the `egress` command takes to start, against importing click and yaml.

    python bench/bench_startup.py              # best and median of 20 runs each
    python bench/bench_startup.py --repeat 50
    python bench/bench_startup.py --instructions   # and each once under valgrind: instructions

A pre-commit hook runs `egress validate` on every commit, and scripts call
`egress --version`: what they pay is the start of a Python process plus the imports of
the command. The floor is `python -c "import click, yaml"` (the interpreter, site, and
the two libraries any such CLI needs). Measured, each in a fresh process:

- floor: `python -c "import click, yaml"`;
- `egress --version` (goal: <= 2.0x the floor, and under 0.15 s);
- `egress --help`;
- `egress validate examples/minimal` (goal: <= 2.0x the floor; it imports the loader and
  the checks, reads the schema's generated validator and, for its `domain:`, the Public
  Suffix List).

Times are wall-clock, best and median of --repeat runs taken in turns (the machine is
shared: the best is the least disturbed run), and the best CPU time (user + system) of the
process, which a loaded machine inflates less. On a machine shared by several people even
that drifts: `--instructions` also runs each command once under valgrind's callgrind and
reports the instructions it executes, a count that the load does not change (it leaves
out waiting on the disk and cache misses: a proxy for the time, not the time).

Each command first runs once untimed, with PYTHONDONTWRITEBYTECODE removed from its
environment: an installed egress has its modules byte-compiled (pip does it at install),
as click and yaml of the floor have theirs, so the runs measured must not compile
egress's source each time (about 0.04 s) just because the shell that started the bench
disables writing `__pycache__`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GOAL_RATIO = 2.0
GOAL_SECONDS = 0.15


def egress_command() -> list[str]:
    """The installed `egress` script beside this Python, else `python -m egress.cli`."""
    script = Path(sys.executable).parent / "egress"
    return [str(script)] if script.exists() else [sys.executable, "-m", "egress.cli"]


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of running argv to completion. CPU is user + system time of
    the process (`wait4`): on a loaded machine it says what the command costs, where
    wall-clock time also counts the waiting for a core."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO, env=env)
    _, _, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime


def timed(cases: list[list[str]], repeat: int) -> list[tuple[float, float, float]]:
    """(best wall, median wall, best CPU) seconds of each command, after one untimed run
    of each that writes the byte-code caches. The commands take turns, so that a
    change of the machine's load falls on all of them, floor included."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    for argv in cases:
        run_once(argv, env)
    walls: list[list[float]] = [[] for _ in cases]
    cpus: list[list[float]] = [[] for _ in cases]
    for _ in range(repeat):
        for i, argv in enumerate(cases):
            wall, cpu = run_once(argv, env)
            walls[i].append(wall)
            cpus[i].append(cpu)
    return [(min(w), statistics.median(w), min(c)) for w, c in zip(walls, cpus, strict=True)]


def instructions(argv: list[str]) -> int | None:
    """Instructions executed by argv, counted by valgrind's callgrind; None without valgrind."""
    try:
        done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv], cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    except FileNotFoundError:
        return None
    counted = [line.rsplit(":", 1)[1] for line in done.stderr.splitlines() if "Collected :" in line]
    return int(counted[-1]) if counted else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--instructions", action="store_true", help="also count each command's instructions (valgrind)")
    args = parser.parse_args()
    egress = egress_command()
    cases = [
        ("floor: python -c 'import click, yaml'", [sys.executable, "-c", "import click, yaml"]),
        ("egress --version", [*egress, "--version"]),
        ("egress --help", [*egress, "--help"]),
        ("egress validate examples/minimal", [*egress, "validate", "examples/minimal", "--at", "2023-07-01"]),
    ]
    results: dict[str, tuple[float, float]] = {}
    floor_label = cases[0][0]
    print(f"{'command':<40} {'best':>8} {'median':>8} {'cpu':>8} {'x floor':>8}")
    for (label, _), (best, median, cpu) in zip(cases, timed([argv for _, argv in cases], args.repeat), strict=True):
        results[label] = (best, cpu)
        floor = results[floor_label][0]
        print(f"{label:<40} {best:>7.3f}s {median:>7.3f}s {cpu:>7.3f}s {best / floor:>7.2f}x")
    floor = results[floor_label][0]
    load = f"[{os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}]"
    version, cpu = results["egress --version"]
    ok = version / floor <= GOAL_RATIO and version < GOAL_SECONDS
    print(f"egress --version: {version:.3f} s ({cpu:.3f} s of CPU), {version / floor:.2f}x the floor "
          f"(goal <= {GOAL_RATIO}x and < {GOAL_SECONDS} s): {'met' if ok else 'NOT met'} {load}")
    validate, cpu = results["egress validate examples/minimal"]
    ok = validate / floor <= GOAL_RATIO
    print(f"egress validate: {validate:.3f} s ({cpu:.3f} s of CPU), {validate / floor:.2f}x the floor "
          f"(goal <= {GOAL_RATIO}x): {'met' if ok else 'NOT met'} {load}")
    if args.instructions:
        counts = {label: instructions(argv) for label, argv in cases}
        base = counts[floor_label]
        if base is None:
            print("instructions: valgrind is not installed")
            return 0
        for label, count in counts.items():
            print(f"{label:<40} {count or 0:>13,} instructions {(count or 0) / base:>7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How long the `egress` command takes to start, against importing click and yaml.

    python bench/bench_startup.py              # best and median of 20 runs each
    python bench/bench_startup.py --repeat 50

A pre-commit hook runs `egress validate` on every commit, and scripts call
`egress --version`: what they pay is the start of a Python process plus the imports of
the command. The floor is `python -c "import click, yaml"` (the interpreter, site, and
the two libraries any such CLI needs). Measured, each in a fresh process:

- floor: `python -c "import click, yaml"`;
- `egress --version` (goal: <= 2.0x the floor, and under 0.15 s);
- `egress --help`;
- `egress validate examples/minimal` (imports the loader and the checks: reported).

Times are wall-clock, best and median of --repeat runs (the machine is shared: the best
is the least disturbed run), and the best CPU time (user + system) of the process, which
a loaded machine inflates less.
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


def timed(argv: list[str], repeat: int) -> tuple[float, float, float]:
    """(best wall, median wall, best CPU) seconds of running argv to completion.

    CPU is user + system time of the process (`wait4`): on a loaded machine it says what
    the command costs, where wall-clock time also counts the waiting for a core."""
    walls, cpus = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
        _, _, usage = os.wait4(proc.pid, 0)
        walls.append(time.perf_counter() - start)
        cpus.append(usage.ru_utime + usage.ru_stime)
    return min(walls), statistics.median(walls), min(cpus)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    egress = egress_command()
    cases = [
        ("floor: python -c 'import click, yaml'", [sys.executable, "-c", "import click, yaml"]),
        ("egress --version", [*egress, "--version"]),
        ("egress --help", [*egress, "--help"]),
        ("egress validate examples/minimal", [*egress, "validate", "examples/minimal", "--at", "2023-07-01"]),
    ]
    results: dict[str, tuple[float, float]] = {}
    print(f"{'command':<40} {'best':>8} {'median':>8} {'cpu':>8} {'x floor':>8}")
    for label, argv in cases:
        best, median, cpu = timed(argv, args.repeat)
        results[label] = (best, cpu)
        floor = results[cases[0][0]][0]
        print(f"{label:<40} {best:>7.3f}s {median:>7.3f}s {cpu:>7.3f}s {best / floor:>7.2f}x")
    version, cpu = results["egress --version"]
    ratio = version / results[cases[0][0]][0]
    ok = ratio <= GOAL_RATIO and version < GOAL_SECONDS
    print(f"egress --version: {version:.3f} s ({cpu:.3f} s of CPU), {ratio:.2f}x the floor "
          f"(goal <= {GOAL_RATIO}x and < {GOAL_SECONDS} s): {'met' if ok else 'NOT met'}"
          f" [{os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())

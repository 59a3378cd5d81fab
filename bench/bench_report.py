"""How long `egress report` takes on a large policy, against `egress compile --all-stages`.

    python bench/bench_report.py                    # the default preset (100k destinations)
    python bench/bench_report.py --policy FILE      # any policy (its lock file beside it)
    python bench/bench_report.py --repeat 1 --profile 25

Figures (best of --repeat runs, each command in a fresh process, as a user runs it):
- `egress compile POLICY --all-stages --out DIR --at DATE`;
- `egress report POLICY --out FILE.html --at DATE`, its peak memory and the file's size;
- the ratio report / compile (goal: <= 2.0, issue 13);
- an in-process breakdown of the report: validate, stage history (a diff per stage),
  matrix, agenda, HTML rendering, writing.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import gen_policy

GOAL_RATIO = 2.0


def breakdown(path: str, at: dt.date) -> dict[str, float]:
    """Seconds per step of a report built in process (what `egress report` does)."""
    from egress import expiring, htmlreport
    from egress.check import validate
    from egress.flows import resolve
    from egress.htmlreport import data

    start = dt.datetime.combine(at, dt.time(), dt.UTC)
    times: dict[str, float] = {}

    def step(name, fn):
        t0 = time.perf_counter()
        out = fn()
        times[name] = time.perf_counter() - t0
        return out

    policy, _ = step("validate", lambda: validate(path, at))
    last = policy.stages[-1].id
    chosen = step("resolve the stage", lambda: resolve(policy, last, at))
    history = step("stage history (diff per stage)", lambda: data.stage_history(policy, at))
    temporary = step("temporary openings", lambda: data.temporary_openings(policy, history))
    matrix = step("matrix", lambda: data.matrix(chosen))
    agenda = step("agenda", lambda: expiring.agenda(chosen, start, dt.timedelta(days=data.AGENDA_DAYS)))
    revision = step("git revision", lambda: data.git_revision([path]))
    report = data.Report(policy, path, revision, "bench", chosen, start, history, temporary, matrix, agenda)
    html = step("render HTML", lambda: htmlreport.render(report, "en"))
    with tempfile.TemporaryDirectory() as folder:
        step("write", lambda: htmlreport.write(str(Path(folder) / "r.html"), html))
    times["total"] = sum(times.values())
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--policy", help="a policy file (default: the generated 100k-destination preset)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the best counts (default 3)")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="print the top N functions of the report")
    args = parser.parse_args(argv)

    path = args.policy or common.policy_for(gen_policy.Params())
    at = common.AT
    egress = common.egress_cli()
    print(f"policy: {path} ({Path(path).stat().st_size:,} bytes), --at {at}")
    with tempfile.TemporaryDirectory(dir=str(common.WORK) if common.WORK.exists() else None) as folder:
        out_dir = Path(folder) / "bundle"
        out_html = Path(folder) / "report.html"
        compile_argv = [*egress, "compile", path, "--all-stages", "--out", str(out_dir), "--at", at.isoformat()]
        report_argv = [*egress, "report", path, "--out", str(out_html), "--at", at.isoformat()]
        compile_runs, report_runs = [], []
        for _ in range(args.repeat):  # alternate, so that a busy moment hurts both alike
            wall, _, proc = common.run_measured(compile_argv)
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                return 1
            compile_runs.append(wall)
            wall, rss, proc = common.run_measured(report_argv)
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                return 1
            report_runs.append((wall, rss))
        size = out_html.stat().st_size
    compile_time = min(compile_runs)
    report_time, report_rss = min(report_runs)
    ratio = report_time / compile_time
    print(common.table([
        ["egress compile --all-stages", common.secs(compile_time), ""],
        ["egress report", common.secs(report_time), f"peak {common.mb(report_rss)}, file {size / 2**20:,.1f} MB"],
    ], [f"command (best of {args.repeat}, fresh process)", "time", ""]))
    print(f"ratio report / compile --all-stages   {ratio:.2f}x   goal <= {GOAL_RATIO:.1f}x: "
          f"{'met' if ratio <= GOAL_RATIO else 'NOT MET'}")

    best: dict[str, float] = {}
    for _ in range(args.repeat):
        for name, seconds in breakdown(path, at).items():
            best[name] = min(best.get(name, float("inf")), seconds)
    print()
    print(common.table([[name, common.secs(t)] for name, t in best.items()], ["report in process, by step", "best"]))

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        breakdown(path, at)
        profiler.disable()
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_stats(args.profile)
        print(stream.getvalue())
    return 0 if ratio <= GOAL_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())

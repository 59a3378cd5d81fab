"""How long compiling every stage of a large policy takes, and loading the result.

    python bench/bench_compile.py                  # the default preset (100k dest., 5k grants)
    python bench/bench_compile.py --preset 10k     # 10k destinations (200 services x 50)
    python bench/bench_compile.py --policy FILE    # any policy
    python bench/bench_compile.py --no-nft         # skip the nft -f measure

In one run, on one file:
- the floor: `yaml.compose(text, Loader=yaml.CSafeLoader)` of the policy with Python's
  cyclic garbage collector OFF (with it on, compose rescans its growing node tree: 34x
  the time for 10x the data, which would flatter the ratio);
- compile in this process, with the collector as `egress compile` runs it (on, paused
  by `load.collector_paused` while loading, and again while compiling):
  `egress.check.validate` (the model), then for every stage `egress.flows.resolve`, the
  `render` of every target of `egress.targets.TARGETS` and the Squid file of each later
  period of the stage (`egress.bundle.squid_schedule`, what `compile --all-stages`
  writes); timed as a whole (goal: <= 2x the floor), and the part after validation
  alone (what compile adds to `egress validate`), split into load / resolve / each
  target, and stage by stage (resolve + render; the first stage also fills the
  per-policy caches that the others reuse);
- `egress compile --all-stages --out DIR` once in a fresh process: wall time and peak
  memory (goal: < 800 MB);
- `nft -f` of the largest stage's `egress.nft` in a network namespace made for it (and
  deleted after): a first load, a reload of the same file, and a load of that stage
  over the stage before it (the transition an operator makes). Never in the root
  namespace.
Times are the best of --repeat runs (default 3).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib
import json
import re
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import gen_policy
import yaml

GOAL_RATIO = 2.0
GOAL_MEMORY = 800 * 2**20


def available_targets() -> tuple[dict, list[str]]:
    """(targets whose module imports, names of the missing ones)."""
    from egress.targets import TARGETS

    found, missing = {}, []
    for name, target in TARGETS.items():
        try:
            importlib.import_module(target.module)
        except ImportError:
            missing.append(name)
        else:
            found[name] = target
    return found, missing


def compile_in_process(path: str, at: dt.date, targets: dict) -> dict[str, float]:
    """One compile of every stage; the seconds of each part, and the sizes."""
    from egress.check import validate
    from egress.diagnostics import has_errors
    from egress.flows import resolve
    from egress.load import collector_paused

    times: dict[str, float] = {}
    start = time.perf_counter()
    policy, diagnostics = validate(path, at)
    times["load and check (check.validate)"] = time.perf_counter() - start
    if policy is None or has_errors(diagnostics):
        raise SystemExit(f"bench_compile: {path} is invalid; run `egress validate {path}`")
    times["resolve (flows.resolve, every stage)"] = 0.0
    for name in targets:
        times[f"render {name} (every stage)"] = 0.0
    sizes = dict.fromkeys(targets, 0)
    schedule = "squid" in targets
    if schedule:
        from egress.bundle import squid_schedule

        times["squid periods (bundle.squid_schedule, every stage)"] = 0.0
    after = time.perf_counter()
    with collector_paused():  # as `egress compile` does (egress/cli.py)
        for stage in policy.stages:
            t0 = stage_start = time.perf_counter()
            flows = resolve(policy, stage.id, at)
            times["resolve (flows.resolve, every stage)"] += time.perf_counter() - t0
            for name, target in targets.items():
                t0 = time.perf_counter()
                text = target.render(flows)
                times[f"render {name} (every stage)"] += time.perf_counter() - t0
                sizes[name] += len(text)
            if schedule:
                t0 = time.perf_counter()
                periods = squid_schedule(flows)
                times["squid periods (bundle.squid_schedule, every stage)"] += time.perf_counter() - t0
                sizes["squid"] += sum(len(data) for _, _, data in periods)
            del flows
            times[f"stage {stage.id} (resolve + render)"] = time.perf_counter() - stage_start
    times["after validation"] = time.perf_counter() - after
    times["total"] = time.perf_counter() - start
    return times, sizes


def nft_load(bundle: Path) -> list[list[str]]:
    """Rows of the nft -f measure on the largest stage (by egress.nft size)."""
    stages = sorted(p for p in bundle.iterdir() if (p / "egress.nft").exists())
    if not stages:
        return [["nft -f", "-", "no egress.nft in the bundle"]]
    largest = max(stages, key=lambda p: (p / "egress.nft").stat().st_size)
    order = [p.name for p in stages]
    rows = []
    nft_file = largest / "egress.nft"
    size = nft_file.stat().st_size
    with common.Netns("nft") as ns:
        argv = ["ip", "netns", "exec", ns.name, "nft", "-f", str(nft_file)]
        wall, rss, proc = common.run_measured(argv)
        if proc.returncode != 0:
            return [["nft -f (first load)", "FAILED", proc.stderr.strip()[:300]]]
        rows.append([f"nft -f {largest.name}/egress.nft, first load", common.secs(wall),
                     f"{size:,} bytes, nft peak {common.mb(rss)}"])
        wall, rss, proc = common.run_measured(argv)
        rows.append([f"nft -f {largest.name}/egress.nft, reload of the same", common.secs(wall),
                     f"nft peak {common.mb(rss)}" + ("" if proc.returncode == 0 else f"; FAILED: {proc.stderr.strip()[:200]}")])
        listing = json.loads(ns.run(["nft", "-j", "list", "table", "inet", "egress"]).stdout)
        chains, sets = common.nft_objects(listing)
        rows.append(["  (the loaded table, nft -j)", "", f"{common.element_count(listing):,} set elements in "
                     f"{len(sets):,} sets and maps, {len(chains):,} chains"])
    index = order.index(largest.name)
    if index > 0:
        before = bundle / order[index - 1] / "egress.nft"
        with common.Netns("nft2") as ns:
            loaded = ns.run(["nft", "-f", str(before)])
            if loaded.returncode == 0:
                wall, rss, proc = common.run_measured(["ip", "netns", "exec", ns.name, "nft", "-f", str(nft_file)])
                rows.append([f"nft -f {largest.name} over {order[index - 1]}", common.secs(wall),
                             "the transition between two stages" + ("" if proc.returncode == 0 else f"; FAILED: {proc.stderr.strip()[:200]}")])
    return rows


def profile(path: str, at: dt.date, targets: dict, top: int) -> str:
    """cProfile of resolve + every target's render, over every stage in order.

    Every stage, as in the timed compile: resolve and the nftables target keep per-policy
    work for the stages that follow, so one stage alone would show the cost of filling
    those caches, not the cost of a compile."""
    import cProfile
    import io
    import pstats

    from egress.check import validate
    from egress.flows import resolve

    policy, _ = validate(path, at)
    profiler = cProfile.Profile()
    profiler.enable()
    for stage in policy.stages:
        flows = resolve(policy, stage.id, at)
        for target in targets.values():
            target.render(flows)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return f"cProfile of resolve + render of every stage (top {top}):\n" + out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--policy", help="a policy file to measure (default: generate the preset)")
    gen_policy.add_arguments(parser)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measure; the best is kept (default 3)")
    parser.add_argument("--at", type=dt.date.fromisoformat, default=common.AT, help=f"date for expiries (default {common.AT})")
    parser.add_argument("--out", default=str(common.WORK / "bundle"), help="where the CLI writes its bundle")
    parser.add_argument("--no-nft", action="store_true", help="skip the nft -f measure")
    parser.add_argument("--no-cli", action="store_true", help="skip the CLI run (and so nft -f)")
    parser.add_argument("--profile", type=int, metavar="N", default=0, help="print the top N functions of a cProfile run")
    args = parser.parse_args(argv)
    path = args.policy or common.policy_for(gen_policy.params_from(args))
    print(f"policy: {path} ({Path(path).stat().st_size:,} bytes)")
    print(f"python {sys.version.split()[0]}, PyYAML {yaml.__version__} (libyaml: {yaml.__with_libyaml__}), best of {args.repeat}")
    targets, missing = available_targets()
    if missing:
        print(f"targets not written yet, left out: {', '.join(missing)}")
    print()

    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    best_compose = float("inf")
    best: dict[str, float] = {}
    sizes = {}
    for _ in range(args.repeat):
        gc.collect()
        gc.disable()  # the floor: compose with the collector off (see the docstring)
        try:
            start = time.perf_counter()
            node = yaml.compose(text, Loader=yaml.CSafeLoader)
            best_compose = min(best_compose, time.perf_counter() - start)
        finally:
            gc.enable()
        del node
        gc.collect()
        times, sizes = compile_in_process(path, args.at, targets)
        for key, value in times.items():
            best[key] = min(best.get(key, float("inf")), value)
    ratio = best["total"] / best_compose
    print(f"floor: yaml.compose (CSafeLoader), gc off    {common.secs(best_compose):>10}")
    print(f"compile every stage, in process              {common.secs(best['total']):>10}   "
          f"({len(targets)} targets: {', '.join(targets)})")
    print(f"ratio compile / floor                        {ratio:>8.2f}x   goal <= {GOAL_RATIO:.1f}x: "
          f"{'met' if ratio <= GOAL_RATIO else 'NOT MET'}")
    print(f"  of which after validation (resolve, render, periods) {common.secs(best['after validation']):>10}   "
          f"{best['after validation'] / best_compose:5.2f}x floor")
    for key, value in best.items():
        if key not in ("total", "after validation"):
            print(f"  {key:<42} {common.secs(value):>10}   {value / best_compose:5.2f}x floor")
    for name, size in sizes.items():
        print(f"  output of {name}, all stages: {size:,} characters")

    if args.profile:
        print()
        print(profile(path, args.at, targets, args.profile))
    out = Path(args.out)
    if args.no_cli:
        return 0
    if missing:
        print("`egress compile --all-stages`: skipped (it writes every target; some are missing)")
        return 0
    wall, rss, proc = common.run_measured(
        [*common.egress_cli(), "compile", path, "--all-stages", "--out", str(out), "--at", args.at.isoformat()]
    )
    status = "" if proc.returncode == 0 else f"; exit {proc.returncode}: {proc.stderr.strip()[-300:]}"
    print(f"`egress compile --all-stages --out` CLI      {common.secs(wall):>10}   {wall / best_compose:5.2f}x floor, "
          f"peak {common.mb(rss)}, goal < {common.mb(GOAL_MEMORY)}: {'met' if rss < GOAL_MEMORY else 'NOT MET'}{status}")
    if proc.returncode != 0:
        return 1
    largest = max((p / "egress.nft" for p in out.iterdir() if (p / "egress.nft").exists()), key=lambda p: p.stat().st_size)
    text = largest.read_text()
    rules, how = common.egress_per_packet(text)
    sets = len(set(re.findall(r"^\s*(?:set|map) (\S+) \{", text, re.MULTILINE)))
    print(f"  largest egress.nft: {largest.parent.name}, {largest.stat().st_size:,} bytes, {sets:,} sets and maps; "
          f"a new packet meets at most {rules} rules ({how})")

    if args.no_nft:
        return 0
    why = common.netns_available()
    print()
    if why:
        print(f"nft -f: skipped, {why}")
        return 0
    print(common.table(nft_load(out), ["nft -f, in a fresh network namespace", "time", "note"]))
    if out.exists() and out.parent == common.WORK:
        shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

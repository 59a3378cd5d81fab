"""How long `egress validate` takes on a large policy, against parsing the same YAML.

    python bench/bench_validate.py                 # the default preset (100k dest., 5k grants)
    python bench/bench_validate.py --preset 10k    # 10k destinations (200 services x 50)
    python bench/bench_validate.py --policy FILE   # any policy
    python bench/bench_validate.py --profile 25    # and the top 25 functions of cProfile
    python bench/bench_validate.py --what-if       # and the YAML paths and schema check compared

In one run, on one file:
- the floor: `yaml.compose(text, Loader=yaml.CSafeLoader)` with Python's cyclic garbage
  collector OFF, what any YAML tool with line numbers pays (libyaml's parser; the node
  tree is built in Python). With the collector on, compose rescans its growing tree
  (34x the time for 10x the data), which would flatter every ratio: it is shown, never
  divided by;
- validate: `egress.check.validate(path, date)` in this process (load, schema, model,
  lock file, semantic checks), with the collector on (the default, what users get;
  egress pauses it while loading) and off, and the `egress validate` command once in a
  subprocess;
- the ratio validate / floor (goal: <= 1.5, both regimes) and the peak memory of a
  validation in a fresh process (goal: < 600 MB);
- a breakdown by step, timing the functions of `egress.yamlpos`, `egress.load` and
  `egress.check` one by one, and each semantic rule.
Times are the best of --repeat runs (default 3).
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import datetime as dt
import gc
import io
import pstats
import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import gen_policy
import yaml

GOAL_RATIO = 1.5
GOAL_MEMORY = 600 * 2**20

VALIDATE_CODE = """
import datetime, sys
from egress.check import validate
policy, diagnostics = validate(sys.argv[1], datetime.date.fromisoformat(sys.argv[2]))
print(len(diagnostics), sum(d.severity == "error" for d in diagnostics))
"""

COMPOSE_CODE = """
import sys, yaml
with open(sys.argv[1], encoding="utf-8") as handle:
    text = handle.read()
node = yaml.compose(text, Loader=yaml.CSafeLoader)
"""


def compose(path: str):
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    return lambda: yaml.compose(text, Loader=yaml.CSafeLoader)


def measure_pair(path: str, at: dt.date, repeat: int, gc_on: bool):
    """(best compose, best validate, diagnostics) with the collector on or off."""
    from egress.check import validate

    run_compose = compose(path)
    best_compose, best_validate, diagnostics = float("inf"), float("inf"), []
    for _ in range(repeat):
        for what in ("compose", "validate"):
            gc.collect()  # start each run from the same heap, holding nothing of the last
            if not gc_on:
                gc.disable()
            try:
                start = time.perf_counter()
                result = run_compose() if what == "compose" else validate(path, at)
                elapsed = time.perf_counter() - start
            finally:
                gc.enable()
            if what == "compose":
                best_compose = min(best_compose, elapsed)
            else:
                best_validate = min(best_validate, elapsed)
                diagnostics = result[1]
            del result
    return best_compose, best_validate, diagnostics


def breakdown(path: str, at: dt.date, repeat: int, gc_on: bool = True) -> list[tuple[str, float]]:
    """Best time of each step of `egress.check.validate`, called one by one as it does."""
    from egress import check, instants, load, yamlpos

    steps: dict[str, float] = {}

    def step(name, fn):
        gc.collect()
        if not gc_on:
            gc.disable()
        try:
            start = time.perf_counter()
            result = fn()
            elapsed = time.perf_counter() - start
        finally:
            gc.enable()
        steps[name] = min(steps.get(name, float("inf")), elapsed)
        return result

    for _ in range(repeat):
        text = step("read (yamlpos.read_text)", partial(yamlpos.read_text, path))
        doc, _ = step("yaml with positions (yamlpos.load)", partial(yamlpos.load, text, path))
        schema = step("schema (load.schema_diagnostics)", partial(load.schema_diagnostics, doc))
        step("floats (load.float_diagnostics)", partial(load.float_diagnostics, doc, schema_valid=not schema))
        policy, _ = step("model (load.build_model)", partial(load.build_model, doc, path))
        del doc
        lock, _ = step("lock file (load.load_lock)", lambda: load.load_lock(load.lock_path(path)))
        policy = dataclasses.replace(policy, lock=lock)
        instant = instants.moment(at, policy.timezone)  # what check.check hands each rule
        for rule in check.RULES:
            step(f"  check: {rule.__name__}", partial(lambda r, p, when: list(r(p, when)), rule, policy, instant))
        step("semantic checks (check.check)", partial(check.check, policy, at))
    return list(steps.items())


def profile(path: str, at: dt.date, top: int) -> str:
    from egress.check import validate

    profiler = cProfile.Profile()
    profiler.enable()
    validate(path, at)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


# -- what-if: prototypes of the optimisations suggested for egress/ ---------------------
# None of this is used by egress; it measures what a change there would gain, on the
# same document, so that the suggestions come with figures.


def what_if(path: str, at: dt.date, repeat: int) -> None:
    import json

    from jsonschema import Draft202012Validator

    from egress import load, yamlpos

    def timed(fn):
        def run():
            gc.collect()
            gc.disable()
            try:
                return fn()
            finally:
                gc.enable()
        return common.best_of(run, repeat)

    text = yamlpos.read_text(path)
    print("what-if (gc off): the three YAML paths of egress.yamlpos, and the schema check of an invalid policy")
    rows = []
    t_compose, node = timed(lambda: yamlpos.compose(text, path))
    t_cost, _ = timed(partial(yamlpos._check_cost, node, path))
    t_convert, doc = timed(partial(yamlpos._convert, node, path, []))
    del node
    t_plain, _ = timed(lambda: yamlpos._plain_data(text, path))
    t_block, _ = timed(lambda: yamlpos._block_data(text, path))
    rows.append(["yaml, node-tree path: yamlpos.compose", common.secs(t_compose), "anchors, aliases, tags, errors"])
    rows.append(["yaml, node-tree path: the alias-cost walk (_check_cost)", common.secs(t_cost), ""])
    rows.append(["yaml, node-tree path: the conversion (_convert)", common.secs(t_convert), ""])
    rows.append(["yaml, node-tree path: sum", common.secs(t_compose + t_cost + t_convert), ""])
    rows.append(["yaml, one-pass path (_plain_data)", common.secs(t_plain), "plain documents, from libyaml's events"])
    rows.append(["yaml, line reader (_block_data)", common.secs(t_block), "block-style documents (the usual case)"])

    t_schema, diagnostics = timed(partial(load.schema_diagnostics, doc))
    with open(load.SCHEMA_PATH, encoding="utf-8") as handle:
        schema = json.load(handle)
    t_refs, errors = timed(partial(lambda d: list(Draft202012Validator(schema).iter_errors(d)), doc))
    t_full, flat_errors = timed(partial(lambda d: list(load._validator().iter_errors(d)), doc))
    rows.append(["schema: load.schema_diagnostics (fastjsonschema)", common.secs(t_schema), f"{len(diagnostics)} diagnostics"])
    rows.append(["schema: jsonschema, the schema file as written", common.secs(t_refs), f"{len(errors)} errors"])
    rows.append(["schema: jsonschema, $refs inlined (invalid-policy path)", common.secs(t_full), f"{len(flat_errors)} errors"])
    del doc
    gc.collect()
    model = "from egress.load import build_model; policy = build_model(doc, path)"
    tree = "from egress import yamlpos; doc, _ = yamlpos.to_data(yamlpos.compose(yamlpos.read_text(path), path), path)"
    plain = "from egress import yamlpos; doc = yamlpos._plain_data(yamlpos.read_text(path), path)"
    for label, code in (("peak memory: node-tree path + model", tree), ("peak memory: one-pass path + model", plain)):
        _, rss, proc = common.python_measured(f"import sys; path = sys.argv[1]; {code}; {model}", path)
        rows.append([label, common.mb(rss), "fresh process" + ("" if proc.returncode == 0 else f"; FAILED {proc.stderr[-200:]}")])
    print(common.table(rows, ["step", "time", "note"]))

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--policy", help="a policy file to measure (default: generate the preset)")
    gen_policy.add_arguments(parser)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measure; the best is kept (default 3)")
    parser.add_argument("--at", type=dt.date.fromisoformat, default=common.AT, help=f"date for expiries (default {common.AT})")
    parser.add_argument("--profile", type=int, metavar="N", default=0, help="print the top N functions of a cProfile run")
    parser.add_argument("--what-if", action="store_true", help="compare the three YAML paths and the invalid-policy schema path")
    parser.add_argument("--no-breakdown", action="store_true")
    parser.add_argument("--breakdown-gc", choices=["on", "off"], default="on", help="the collector during the breakdown")
    args = parser.parse_args(argv)
    path = args.policy or common.policy_for(gen_policy.params_from(args))
    size = Path(path).stat().st_size
    print(f"policy: {path} ({size:,} bytes; lock file {gen_policy.lock_path(path)})")
    print(f"python {sys.version.split()[0]}, PyYAML {yaml.__version__} (libyaml: {yaml.__with_libyaml__}), best of {args.repeat}")
    print()


    # side by side in one process, alternately: compose, then validate. Python's cyclic
    # garbage collector costs these two very differently (the node tree of compose is
    # scanned again and again while it grows), so both are measured with the collector
    # on (Python's default, what a user gets today) and off (what `gc.disable()` around
    # loading would give).
    regimes = {}
    diagnostics = []
    for gc_on in (True, False):
        best_compose, best_validate, diagnostics = measure_pair(path, args.at, args.repeat, gc_on)
        regimes[gc_on] = (best_compose, best_validate)
    errors = sum(d.severity == "error" for d in diagnostics)
    floor = regimes[False][0]  # compose with the collector off: see the docstring
    print(f"{'':<34}{'gc on (default)':>16}{'gc off':>12}")
    print(f"{'yaml.compose (CSafeLoader)':<34}{common.secs(regimes[True][0]):>16}{common.secs(floor):>12}"
          "   (the floor: gc off)")
    print(f"{'egress.check.validate':<34}{common.secs(regimes[True][1]):>16}{common.secs(regimes[False][1]):>12}"
          f"   ({len(diagnostics)} diagnostics, {errors} errors)")
    ratios = {k: v[1] / floor for k, v in regimes.items()}
    print(f"{'ratio validate / floor':<34}{ratios[True]:>15.2f}x{ratios[False]:>11.2f}x   goal <= {GOAL_RATIO:.1f}x: "
          + ", ".join(f"{'met' if ratios[k] <= GOAL_RATIO else 'NOT MET'} ({'gc on' if k else 'gc off'})" for k in (True, False)))
    best_compose = floor

    cli_wall, cli_rss, cli = common.run_measured([*common.egress_cli(), "validate", path, "--at", args.at.isoformat()])
    wall, rss, proc = common.python_measured(VALIDATE_CODE, path, args.at.isoformat())
    compose_wall, compose_rss, _ = common.python_measured(COMPOSE_CODE, path)
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
    print(f"peak memory, validate          {common.mb(rss):>10}   goal < {common.mb(GOAL_MEMORY)}: "
          f"{'met' if rss < GOAL_MEMORY else 'NOT MET'}   (fresh process, {common.secs(wall)} wall with imports)")
    print(f"peak memory, compose only      {common.mb(compose_rss):>10}   (fresh process, {common.secs(compose_wall)} wall)")
    print(f"`egress validate` CLI, once    {common.secs(cli_wall):>10}   peak {common.mb(cli_rss)}, exit {cli.returncode}: "
          f"{cli.stderr.strip().splitlines()[-1] if cli.stderr.strip() else ''}")

    if not args.no_breakdown:
        print()
        print(f"breakdown, gc {args.breakdown_gc} (best of each step; the steps of egress.check.validate, called one by one):")
        rows = breakdown(path, args.at, args.repeat, args.breakdown_gc == "on")
        total = sum(t for name, t in rows if not name.startswith("  ") and not name.startswith("semantic"))
        total += dict(rows)["semantic checks (check.check)"]
        for name, t in rows:
            share = "" if name.startswith("  ") else f"{100 * t / total:5.1f}%"
            print(f"  {name:<42} {common.secs(t):>10} {share:>6}   {t / best_compose:5.2f}x floor")
        print(f"  {'sum of the steps':<42} {common.secs(total):>10}")

    if args.what_if:
        print()
        what_if(path, args.at, args.repeat)

    if args.profile:
        print()
        print(f"cProfile of one validate (top {args.profile}, by own time then by cumulative time):")
        print(profile(path, args.at, args.profile))
    gc.collect()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How long `egress diff` takes on two large versions of a policy, against loading them.

    python bench/bench_diff.py                    # the default preset (100k destinations)
    python bench/bench_diff.py --policy FILE      # any policy (its lock file beside it)
    python bench/bench_diff.py --repeat 1         # faster, noisier

The old version is the generated benchmark policy (bench/gen_policy.py); the new one
is a copy changed a little, the way a merge request would:
- one address added to a direct service (opens it);
- one v4 network of a service narrowed to its first half (closes the other half);
- one port added to a service (opens that port to every zone granted the service);
- one host removed from a proxied service (closes that name);
- the approver of one grant changed (metadata: `changed`);
- the destinations of one service listed in reverse order (no change).

Figures (best of --repeat runs):
- load: `egress.check.validate` of both versions (YAML, schema, model, checks);
- diff: what `egress diff OLD NEW --stage LAST` does after loading: resolve both
  versions at the stage, the semantic diff, and the JSON output, step by step;
- the ratio diff / load (goal: <= 2.0);
- for reference, a stage diff of the old version (its last two stages).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import gen_policy

GOAL_RATIO = 2.0


def changed_copy(path: str, folder: Path) -> tuple[str, list[str]]:  # noqa: C901 - independent edits, one per change measured
    """Write the new version beside a copy of the lock file; (its path, what changed)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    done: list[str] = []

    def service_blocks():
        """(index of the `destinations:` line, indexes of its items) of each service."""
        i = 0
        while i < len(lines):
            if lines[i] == "    destinations:":
                items = []
                j = i + 1
                while j < len(lines) and lines[j].startswith("      - "):
                    items.append(j)
                    j += 1
                yield i, items
                i = j
            else:
                i += 1

    blocks = list(service_blocks())
    # 1. one more address in the first service made of addresses
    for _, items in blocks:
        if all("address:" in lines[k] for k in items):
            lines[items[-1]] += "\n      - address: 198.51.100.77"
            done.append(f"added address 198.51.100.77 (line {items[-1] + 2})")
            break
    # 2. a v4 network narrowed to its first half
    for _, items in blocks[10:]:
        hit = next((k for k in items if re.search(r"address: \d+\.\d+\.\d+\.\d+/(\d+)$", lines[k])), None)
        if hit is not None:
            prefix = int(lines[hit].rsplit("/", 1)[1])
            if prefix < 32:
                old = lines[hit]
                lines[hit] = lines[hit].rsplit("/", 1)[0] + f"/{prefix + 1}"
                done.append(f"narrowed {old.split(': ')[1]} to /{prefix + 1} (line {hit + 1})")
                break
    # 3. one more port on a service offering tcp/443 only
    for k, line in enumerate(lines):
        if line == "    ports: [tcp/443]" and k > len(lines) // 3:
            lines[k] = "    ports: [tcp/443, tcp/8443]"
            done.append(f"added tcp/8443 to a service (line {k + 1})")
            break
    # 4. one host removed from a proxied service with more than one destination
    for _, items in blocks[20:]:
        hosts = [k for k in items if "- host:" in lines[k]]
        if hosts and len(items) > 2 and any("- domain:" in lines[k] for k in items):
            done.append(f"removed {lines[hosts[0]].split(': ')[1]} (line {hosts[0] + 1})")
            lines[hosts[0]] = None  # type: ignore[call-overload]
            break
    # 5. a new approver
    for k, line in enumerate(lines):
        if line is not None and line.startswith("        approved_by: ") and k > len(lines) // 2:
            lines[k] = "        approved_by: Crisis cell, new decision"
            done.append(f"changed an approver (line {k + 1})")
            break
    # 6. the destinations of one service in reverse order
    start, items = blocks[5]
    values = [lines[k] for k in items]
    if None not in values:
        for k, value in zip(items, reversed(values), strict=True):
            lines[k] = value
        done.append(f"reversed the destinations of a service (line {start + 1}; no change of reach)")
    folder.mkdir(parents=True, exist_ok=True)
    new_path = folder / Path(path).name
    new_path.write_text("\n".join(line for line in lines if line is not None) + "\n", encoding="utf-8")
    shutil.copy(gen_policy.lock_path(path), gen_policy.lock_path(str(new_path)))
    return str(new_path), done


def best(fn, repeat: int):
    return common.best_of(fn, repeat)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    gen_policy.add_arguments(parser)
    parser.add_argument("--policy", help="an existing policy instead of a generated one")
    parser.add_argument("--at", type=dt.date.fromisoformat, default=common.AT, help=f"date for expiries (default {common.AT})")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each measure; the best counts (default 2)")
    args = parser.parse_args(argv)

    from egress import diff as D
    from egress.check import validate
    from egress.flows import resolve

    old_path = args.policy or common.policy_for(gen_policy.params_from(args))
    new_path, changes = changed_copy(old_path, common.WORK / "bench-diff-new")
    print(f"old: {old_path}\nnew: {new_path}", file=sys.stderr)
    for change in changes:
        print(f"  - {change}", file=sys.stderr)

    def load(path):
        policy, diagnostics = validate(path, args.at)
        errors = [str(d) for d in diagnostics if d.severity == "error"]
        if policy is None or errors:
            raise SystemExit(f"{path} is invalid: {errors[:5]}")
        return policy

    t_old, old = best(lambda: load(old_path), args.repeat)
    t_new, new = best(lambda: load(new_path), args.repeat)
    stage = old.stages[-1].id
    destinations = sum(len(s.destinations) for s in old.services.values())

    t_resolve, (a, b) = best(lambda: (resolve(old, stage, args.at), resolve(new, stage, args.at)), args.repeat)
    t_diff, result = best(lambda: D.diff(a, b, old_path, new_path, args.at), args.repeat)
    t_json, text = best(lambda: json.dumps(result.as_json()), args.repeat)
    t_whole, _ = best(lambda: json.dumps(D.version_diff(old, new, stage, args.at, old_path, new_path).as_json()), args.repeat)

    previous = old.stages[-2].id
    t_stage, stage_result = best(lambda: D.stage_diff(old, previous, stage, args.at), args.repeat)

    load_both = t_old + t_new
    ratio = t_whole / load_both
    s = result.summary()
    print()
    print(f"policy: {len(old.services):,} services, {destinations:,} destinations, {len(old.grants):,} grants, "
          f"{len(a.flows):,} flows at stage {stage}")
    print(f"diff found: {s['opened']} opened, {s['closed']} closed, {s['changed']} changed "
          f"(net {s['net_opened']} opened, {s['net_closed']} closed); JSON {len(text):,} bytes")
    print()
    print(common.table([
        ["load old version (validate)", common.secs(t_old)],
        ["load new version (validate)", common.secs(t_new)],
        ["load both", common.secs(load_both)],
        ["  resolve both at the stage", common.secs(t_resolve)],
        ["  semantic diff", common.secs(t_diff)],
        ["  JSON output", common.secs(t_json)],
        ["diff after loading (resolve + diff + JSON)", common.secs(t_whole)],
        [f"stage diff {previous} -> {stage} (resolve + diff)", common.secs(t_stage)],
    ], ["step", "time"]))
    print()
    verdict = "ok" if ratio <= GOAL_RATIO else "OVER GOAL"
    print(f"ratio diff / load both: {ratio:.2f} (goal <= {GOAL_RATIO}): {verdict}")
    print(f"stage diff: {len(stage_result.opened)} opened, {len(stage_result.closed)} closed")
    return 0 if ratio <= GOAL_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())

"""`egress apply` of a stage change on a large policy, end to end, in a namespace.

    python bench/bench_apply.py                  # the 100k preset's largest stage change
    python bench/bench_apply.py --preset 10k

The policy is generated (bench/gen_policy.py) and compiled with `egress compile
--all-stages --out` into a temporary folder. Then, in a network namespace made for the
run (`egbench-apply-...`, deleted after, never the root namespace) and with a state
folder of its own:

- the stage before the largest one is applied (`--no-wait`) and confirmed: the firewall
  as an operator finds it;
- the largest stage is applied over it (`--no-wait`), timed from the command's start to
  its exit: every check the firewall side makes (sha256 sums, the scope and allow-list
  check, the header, `nft -c`, the load in a scratch namespace, the snapshot of the
  table in force, the load itself and the read-back of the base chains), then
  `egress confirm`, timed apart;
- `egress rollback` to the stage before, timed (the way back an operator takes).

Each apply is a fresh `egress` process, as on a firewall. Best of `--repeat` (default
1: a 100k apply takes seconds, the machine is shared).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import gen_policy


def egress(ns: common.Netns, *args: str) -> float:
    """Run one egress command in the namespace; its wall time (exit 0 required)."""
    start = time.perf_counter()
    proc = ns.run([*common.egress_cli(), *args])
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"bench_apply: egress {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return took


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=sorted(gen_policy.PRESETS), default="100k")
    parser.add_argument("--repeat", type=int, default=1, help="runs; the best is kept (default 1)")
    args = parser.parse_args(argv)
    why = common.netns_available()
    if why:
        print(f"bench_apply: {why}", file=sys.stderr)
        return 2
    policy = common.policy_for(gen_policy.PRESETS[args.preset])
    with tempfile.TemporaryDirectory(prefix="egress-bench-apply-") as tmp:
        out = Path(tmp) / "build"
        start = time.perf_counter()
        subprocess.run([*common.egress_cli(), "compile", policy, "--all-stages", "--out", str(out),
                        "--at", common.AT.isoformat()], check=True, capture_output=True)
        print(f"compile --all-stages: {time.perf_counter() - start:.2f} s", file=sys.stderr)
        stages = sorted((d for d in out.iterdir() if d.is_dir()), key=lambda d: d.name)
        largest = max(stages[1:], key=lambda d: (d / "egress.nft").stat().st_size)
        before = stages[stages.index(largest) - 1]
        runs: dict[str, list[float]] = {"apply": [], "confirm": [], "rollback": []}
        for _ in range(args.repeat):
            state = Path(tmp) / f"state-{len(runs['apply'])}"
            state.mkdir(mode=0o700)
            os.chmod(state, 0o700)
            with common.Netns("apply") as ns:
                egress(ns, "apply", str(before), "--no-wait", "--confirm-timeout", "3600", "--state-dir", str(state))
                egress(ns, "confirm", "--state-dir", str(state))
                runs["apply"].append(egress(ns, "apply", str(largest), "--no-wait", "--confirm-timeout", "3600",
                                            "--state-dir", str(state)))
                runs["confirm"].append(egress(ns, "confirm", "--state-dir", str(state)))
                runs["rollback"].append(egress(ns, "rollback", "--state-dir", str(state)))
        size = (largest / "egress.nft").stat().st_size
        print(f"egress apply, {args.preset} preset, {before.name} -> {largest.name} (egress.nft {size:,} bytes), "
              f"best of {args.repeat}, wall time of each command:")
        print(common.table([[what, common.secs(min(times))] for what, times in runs.items()], ["", "wall"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`nft -f` of egress's ruleset against the floor: the same elements in one set.

    python bench/bench_nft_load.py                  # 10k and 100k destinations
    python bench/bench_nft_load.py --sizes 10k      # one size

For each size, a policy is generated (bench/gen_policy.py: `10k` is 200 services x 50
destinations, 500 grants, 20 zones; `100k` is the default preset, 2,000 services, 5,000
grants, 50 zones) and its largest stage (the one whose ruleset holds the most set
elements) is compiled. Then, each in network namespaces of its own (created and deleted
here, never the host's):

- floor: a hand-written file holding the destination x port elements of that stage's
  direct egress flows in one concatenated interval set per family (`ipv4_addr .
  inet_proto . inet_service`, disjoint elements), and one rule that looks them up: what
  any ruleset that enforces these flows must at least load (it knows no zone, no
  proxy, no ingress: egress's file holds those too). Its reload replaces its table in
  one transaction (`delete table` then the table again);
- egress: `egress.nft` of that stage. First load: into an empty namespace. Reload: the
  same file again. Stage change: from the stage before it to it (the file of a stage
  change is the file of the new stage).

Each load is timed (best of `--repeat`, the kinds interleaved in each round: on a
shared machine the slower runs measure the neighbours): the wall time, and the CPU time
of the `nft` process (user + system: the kernel's work for it counts; other processes
inflate it much less than the wall time), with its peak memory, read with wait4
(bench/common.py). The ratios compare the two files of the same run. Element counts
come from `nft -j list ruleset` (not from the text); "rules met" is the most rules a new
packet can meet in the loaded ruleset (bench/common.rules_met). Goals (issue 15): egress's first load, reload and
stage change at most 1.5x the floor's, nft's peak below 2x the floor's, at most 16
rules met.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import gen_policy

SIZES = gen_policy.PRESETS


def floor_text(flows) -> str:
    """One concatenated interval set per family with the destination x port elements of
    the stage's direct egress flows (disjoint), and one rule that looks them up."""
    from egress.targets import nftables

    tables = {4: nftables._Table(), 6: nftables._Table()}
    for flow in flows.flows:
        if flow.via != "direct" or flow.direction != "egress":
            continue
        ranges = flow.dst_ranges
        specs = nftables.port_specs(flow.ports)
        for v in (4, 6):
            far = tuple((a, b) for version, a, b in ranges if version == v)
            tables[v].add(id(ranges), far, specs[v], "floor", None)
    lines = ["table inet floor {"]
    for v in (4, 6):
        permanent, _ = tables[v].elements()
        texts = [f"{nftables._address(a, b, v)} . {nftables.PROTO_BY_NUMBER[p]} . {nftables._ports(pf, pl)}"
                 for a, b, p, pf, pl, _ in permanent]
        lines += [f"\tset d{v} {{", f"\t\ttype {nftables.ADDR_TYPE[v]} . inet_proto . inet_service",
                  "\t\tflags interval"]
        if texts:
            lines += ["\t\telements = {", "\t\t\t" + ",\n\t\t\t".join(texts), "\t\t}"]
        lines.append("\t}")
    lines += ["\tchain forward {", "\t\ttype filter hook forward priority filter; policy drop;",
              "\t\tip daddr . meta l4proto . th dport @d4 accept",
              "\t\tip6 daddr . meta l4proto . th dport @d6 accept", "\t}", "}"]
    return "\n".join(lines) + "\n"


def load(ns: common.Netns, path: Path) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, peak bytes) of `nft -f path` in namespace `ns`."""
    wall, peak, cpu, proc = common.run_cpu_measured(["ip", "netns", "exec", ns.name, "nft", "-f", str(path)])
    if proc.returncode != 0:
        raise SystemExit(f"nft -f {path} failed: {proc.stderr[:500]}")
    return wall, cpu, peak


def listing(ns: common.Netns) -> dict:
    return json.loads(ns.run(["nft", "-j", "list", "ruleset"], check=True).stdout)


def measure(size: str, params: gen_policy.Params, repeat: int, work: Path) -> list[list[str]]:
    from egress.check import validate
    from egress.flows import resolve
    from egress.targets import nftables

    path = common.policy_for(params)
    policy, diagnostics = validate(path, common.AT)
    assert policy is not None, diagnostics[:3]
    texts = {}
    for stage in policy.stages:
        texts[stage.id] = nftables.render(resolve(policy, stage.id, common.AT))
    ids = [s.id for s in policy.stages]
    largest = max(ids[1:], key=lambda s: texts[s].count("\n"))
    previous = ids[ids.index(largest) - 1]
    files = {}
    for name, text in (("egress", texts[largest]), ("previous", texts[previous]),
                       ("floor", floor_text(resolve(policy, largest, common.AT)))):
        files[name] = work / f"{size}-{name}.nft"
        files[name].write_text(text)
    files["floor-reload"] = work / f"{size}-floor-reload.nft"
    files["floor-reload"].write_text("table inet floor {}\ndelete table inet floor\n" + files["floor"].read_text())

    runs: dict[str, list[tuple[float, float, int]]] = {
        k: [] for k in ("floor first", "floor reload", "egress first", "egress reload", "egress change")}
    counts = {}
    for _ in range(repeat):  # the kinds interleaved, so that each sees the machine as the others do
        with common.Netns(f"floor-{size}") as ns:
            runs["floor first"].append(load(ns, files["floor"]))
            runs["floor reload"].append(load(ns, files["floor-reload"]))
            counts["floor"] = (common.element_count(listing(ns)), common.rules_met(listing(ns), "forward"))
        with common.Netns(f"egress-{size}") as ns:
            runs["egress first"].append(load(ns, files["egress"]))
            runs["egress reload"].append(load(ns, files["egress"]))
            counts["egress"] = (common.element_count(listing(ns)), common.rules_met(listing(ns), "forward"))
        with common.Netns(f"change-{size}") as ns:
            load(ns, files["previous"])
            runs["egress change"].append(load(ns, files["egress"]))
    # best of the runs: on a shared machine the other runs measure the neighbours too
    best = {k: (min(w for w, _, _ in v), min(c for _, c, _ in v), max(p for _, _, p in v)) for k, v in runs.items()}
    rows = []
    for label, floor, egress in ((f"{size} first load", "floor first", "egress first"),
                                 (f"{size} reload", "floor reload", "egress reload"),
                                 (f"{size} stage change", "floor reload", "egress change")):
        f, e = best[floor], best[egress]
        rows.append([label, common.secs(f[0]), common.secs(e[0]), f"{e[0] / f[0]:.2f}x",
                     common.secs(f[1]), common.secs(e[1]), f"{e[1] / f[1]:.2f}x",
                     common.mb(f[2]), common.mb(e[2]), f"{e[2] / f[2]:.2f}x"])
    rows.append([f"{size} elements (nft -j)", f"{counts['floor'][0]:,}", f"{counts['egress'][0]:,}",
                 f"{counts['egress'][0] / counts['floor'][0]:.2f}x", "", "", "", "", "", ""])
    rows.append([f"{size} rules met (worst)", str(counts["floor"][1]), str(counts["egress"][1]), "", "", "", "", "", "", ""])
    print(f"{size}: stage {largest} (change from {previous}); files {files['egress'].stat().st_size:,} bytes "
          f"(floor {files['floor'].stat().st_size:,})", file=sys.stderr)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", choices=sorted(SIZES), default=["10k", "100k"])
    parser.add_argument("--repeat", type=int, default=5, help="loads of each kind; the best is kept (default 5)")
    args = parser.parse_args(argv)
    why = common.netns_available()
    if why:
        print(f"bench_nft_load: {why}", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory(prefix="egress-nft-load-") as tmp:
        for size in args.sizes:
            rows += measure(size, SIZES[size], args.repeat, Path(tmp))
    print(f"nft -f, best of {args.repeat} ({dt.date.today()}; wall and CPU (user + system) time and peak RSS"
          " of the nft process)")
    print(common.table(rows, ["", "floor", "egress", "ratio", "floor CPU", "egress CPU", "ratio",
                              "floor nft peak", "egress nft peak", "ratio"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""egress against Aerleon's nftables generator, on equivalent policies of 3 sizes.

    python bench/bench_aerleon.py                       # 100, 1,000 and 5,000 grants
    python bench/bench_aerleon.py --sizes 100 1000      # other sizes
    python bench/bench_aerleon.py --no-nft              # skip loading the rulesets

Aerleon (https://github.com/aerleon/aerleon) runs from its own virtual environment,
`/tmp/aerleon-venv`, which this script creates (`python -m venv` + `pip install aerleon`)
if it is missing; it is never a dependency of egress.

For each size, one egress policy is generated (bench/gen_policy.py) with only what both
tools can express the same way: direct grants from zones to services of `address`
destinations, tcp/udp ports, no proxy, no host names, no ingress, one stage of grants
after isolation. From that same data come Aerleon's definitions (a network per zone and
per service, a service per protocol/port) and a policy of one `mixed forward` filter
with one term per grant (source: the grant's zones, destination: its services,
protocol and destination-port: its ports, action accept). Then, side by side:
- `egress compile POLICY --stage s1-stage --target nftables` and Aerleon's `aclgen
  --policy_file`, each in a fresh process: wall time and peak memory, and how many
  times faster egress is (goal: at least 10x at 5,000 grants);
- the number of rules a new packet meets in the worst case (a packet that no rule
  accepts): for egress, every rule of the base chain plus every rule of the largest
  zone chain it jumps to; for Aerleon, every rule of its base chain (one `jump` per
  term) plus every rule of every term chain;
- optionally, `nft -f` of each ruleset in a fresh network namespace (deleted after).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
import gen_policy

GOAL_GRANTS, GOAL_SPEEDUP = 5000, 10.0  # issue 15: compile at least 10x faster than aclgen at 5,000 grants
VENV = Path(os.environ.get("AERLEON_VENV", "/tmp/aerleon-venv"))
ACLGEN = VENV / "bin" / "aclgen"


def ensure_aerleon() -> str | None:
    """None once aclgen is installed in its venv, else why it cannot be."""
    if ACLGEN.exists():
        return None
    print(f"installing aerleon into {VENV} ...", file=sys.stderr)
    steps = [[sys.executable, "-m", "venv", str(VENV)], [str(VENV / "bin" / "pip"), "install", "--quiet", "aerleon"]]
    for step in steps:
        proc = subprocess.run(step, capture_output=True, text=True)
        if proc.returncode != 0:
            lines = [line for line in (proc.stderr or proc.stdout).splitlines() if line.strip() and "WARNING" not in line]
            return f"`{' '.join(step)}` failed (exit {proc.returncode}): {' / '.join(lines[-3:])}"
    return None if ACLGEN.exists() else f"pip installed aerleon but {ACLGEN} is missing"


def aerleon_version() -> str:
    proc = subprocess.run([str(VENV / "bin" / "pip"), "show", "aerleon"], capture_output=True, text=True)
    match = re.search(r"^Version: (\S+)", proc.stdout, re.MULTILINE)
    return match.group(1) if match else "?"


# -- the equivalent policies -------------------------------------------------------------


def params_for(grants: int, destinations: int, zones: int, seed: int) -> gen_policy.Params:
    return gen_policy.Params(
        zones=zones,
        services=max(10, grants * 2 // 5),
        destinations=destinations,
        stages=2,
        grants=grants,
        proxied_fraction=0.0,
        host_fraction=0.0,
        ingress=0,
        expires_fraction=0.0,
        revoke_fraction=0.0,
        icmp=False,
        seed=seed,
    )


def _token(kind: str, name: str) -> str:
    return f"{kind}_{name.upper().replace('-', '_')}"


def _port_token(port: str) -> tuple[str, str, str]:
    """`tcp/443` -> (token, protocol, aerleon port text)."""
    proto, numbers = port.split("/")
    return f"P_{proto.upper()}_{numbers.replace('-', '_')}", proto, numbers


def write_aerleon(gen: gen_policy.Generated, folder: Path) -> Path:
    """Aerleon's definitions and policy for the same zones, services and grants."""
    (folder / "def").mkdir(parents=True, exist_ok=True)
    (folder / "pol").mkdir(parents=True, exist_ok=True)
    services = {s.name: s for s in gen.services}
    lines = ["networks:"]
    for zone, (v4, v6) in gen.zones.items():
        lines += [f"  {_token('Z', zone)}:", "    values:", f"      - address: {v4}", f"      - address: {v6}"]
    for service in gen.services:
        lines += [f"  {_token('S', service.name)}:", "    values:"]
        lines += [f"      - address: {value}" for kind, value in service.destinations if kind == "address"]
    (folder / "def" / "networks.yaml").write_text("\n".join(lines) + "\n")
    ports = sorted({p for s in gen.services for p in s.ports})
    lines = ["services:"]
    for port in ports:
        token, proto, numbers = _port_token(port)
        lines += [f"  {token}:", f"    - port: {numbers}", f"      protocol: {proto}"]
    (folder / "def" / "services.yaml").write_text("\n".join(lines) + "\n")
    lines = [
        "filters:",
        "  - header:",
        "      comment: Equivalent of an egress benchmark policy",
        "      targets:",
        "        nftables: mixed forward",
        "    terms:",
    ]
    for stage in gen.stages:
        for grant in stage:
            grant_ports = grant.ports or sorted({p for t in grant.targets for p in services[t].ports})
            protocols = sorted({p.split("/")[0] for p in grant_ports})
            lines += [
                f"      - name: {grant.id}",
                f"        source-address: {' '.join(_token('Z', z) for z in grant.sources)}",
                f"        destination-address: {' '.join(_token('S', t) for t in grant.targets)}",
                f"        protocol: {' '.join(protocols)}",
                f"        destination-port: {' '.join(_port_token(p)[0] for p in grant_ports)}",
                "        action: accept",
            ]
    policy = folder / "pol" / "bench.yaml"
    policy.write_text("\n".join(lines) + "\n")
    return policy


# -- counting the rules a packet meets -----------------------------------------------------


def aerleon_per_packet(text: str) -> tuple[int, str]:
    found = common.chains(text)
    base = [n for n in found if n.startswith("root")]
    base_rules = sum(len(found[n]) for n in base)
    term_rules = sum(len(r) for n, r in found.items() if n not in base)
    return base_rules + term_rules, f"{base_rules} base + {term_rules} in {len(found) - len(base)} term chains"


# -- one size ----------------------------------------------------------------------------


def nft_load_time(path: Path, purpose: str) -> str:
    with common.Netns(purpose) as ns:
        wall, _rss, proc = common.run_measured(["ip", "netns", "exec", ns.name, "nft", "-f", str(path)])
    if proc.returncode != 0:
        return f"FAILED ({proc.stderr.strip().splitlines()[0][:80] if proc.stderr.strip() else proc.returncode})"
    return common.secs(wall)


def run_size(grants: int, args) -> dict:
    params = params_for(grants, args.destinations, args.zones, args.seed)
    folder = common.WORK / f"aerleon-g{grants}-d{args.destinations}-z{args.zones}"
    policy = common.policy_for(params, str(folder / "egress" / "policy.yaml"))
    gen = gen_policy.generate(params)
    aerleon_policy = write_aerleon(gen, folder / "aerleon")
    out_egress = folder / "egress.nft"
    out_aerleon = folder / "aerleon" / "out"
    out_aerleon.mkdir(exist_ok=True)
    for old in out_aerleon.glob("*"):
        old.unlink()

    row = {"grants": grants, "destinations": sum(len(s.destinations) for s in gen.services)}
    best = {}
    for _ in range(args.repeat):
        wall, rss, proc = common.run_measured(
            [*common.egress_cli(), "compile", policy, "--stage", "s1-stage", "--target", "nftables", "--at", common.AT.isoformat()]
        )
        if proc.returncode != 0:
            raise SystemExit(f"egress compile failed: {proc.stderr[-500:]}")
        out_egress.write_text(proc.stdout)
        best["egress"] = min(best.get("egress", (float("inf"), 0)), (wall, rss))
        wall, rss, proc = common.run_measured(
            [str(ACLGEN), "--policy_file", str(aerleon_policy), "--base_directory", str(aerleon_policy.parent),
             "--definitions_directory", str(folder / "aerleon" / "def"), "--output_directory", str(out_aerleon),
             "--max_renderers", "1"]
        )
        produced = list(out_aerleon.glob("*.nft"))
        if proc.returncode != 0 or not produced:
            raise SystemExit(f"aclgen failed (exit {proc.returncode}): {(proc.stderr or proc.stdout)[-800:]}")
        best["aerleon"] = min(best.get("aerleon", (float("inf"), 0)), (wall, rss))
    aerleon_text = produced[0].read_text()
    egress_text = out_egress.read_text()
    row["egress_time"], row["egress_rss"] = best["egress"]
    row["aerleon_time"], row["aerleon_rss"] = best["aerleon"]
    row["egress_rules"], row["egress_how"] = common.egress_per_packet(egress_text)
    row["aerleon_rules"], row["aerleon_how"] = aerleon_per_packet(aerleon_text)
    row["egress_bytes"], row["aerleon_bytes"] = len(egress_text), len(aerleon_text)
    if args.nft and not common.netns_available():
        row["egress_nft"] = nft_load_time(out_egress, "egress")
        row["aerleon_nft"] = nft_load_time(produced[0], "aerleon")
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000], help="numbers of grants (default 100 1000 5000)")
    parser.add_argument("--destinations", type=int, default=50, help="destinations per service (default 50)")
    parser.add_argument("--zones", type=int, default=50, help="zones (default 50)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each compile; the best is kept (default 1)")
    parser.add_argument("--no-nft", dest="nft", action="store_false", help="skip loading the rulesets with nft -f")
    args = parser.parse_args(argv)
    why = ensure_aerleon()
    if why:
        print(f"aerleon cannot be installed here: {why}")
        return 1
    print(f"aerleon {aerleon_version()} ({ACLGEN}); egress {common.egress_cli()[0]}; best of {args.repeat}")
    if args.nft and common.netns_available():
        print(f"nft -f: skipped, {common.netns_available()}")
    print()
    rows = [run_size(size, args) for size in args.sizes]
    header = ["grants", "destinations", "egress compile", "aclgen", "aclgen / egress", "egress peak", "aclgen peak",
              "egress rules/packet", "aerleon rules/packet", "egress.nft", "aerleon .nft"]
    if args.nft and not common.netns_available():
        header += ["egress nft -f", "aerleon nft -f"]
    table = []
    for r in rows:
        line = [f"{r['grants']:,}", f"{r['destinations']:,}", common.secs(r["egress_time"]), common.secs(r["aerleon_time"]),
                f"{r['aerleon_time'] / r['egress_time']:.1f}x", common.mb(r["egress_rss"]), common.mb(r["aerleon_rss"]), f"{r['egress_rules']:,}", f"{r['aerleon_rules']:,}",
                f"{r['egress_bytes'] / 1e6:.1f} MB", f"{r['aerleon_bytes'] / 1e6:.1f} MB"]
        if "egress_nft" in r:
            line += [r["egress_nft"], r["aerleon_nft"]]
        table.append(line)
    print(common.table(table, header))
    print()
    for r in rows:
        print(f"{r['grants']:>6,} grants: egress {r['egress_how']}; aerleon {r['aerleon_how']}")
    for r in rows:
        if r["grants"] == GOAL_GRANTS:
            speedup = r["aerleon_time"] / r["egress_time"]
            print(f"compile {speedup:.1f}x faster than aclgen at {GOAL_GRANTS:,} grants; goal >= {GOAL_SPEEDUP:.0f}x: "
                  f"{'met' if speedup >= GOAL_SPEEDUP else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How fast `egress blocked` reads logs, and that its memory does not grow with them.

    python bench/bench_logs.py                  # 1,000,000 lines, then the same file 3 times
    python bench/bench_logs.py --lines 200000   # smaller, faster
    python bench/bench_logs.py --profile        # cProfile of the read, top functions

The logs are generated (seeded, so every run reads the same bytes) for the shipped
policy `policies/chu-rennes-2023/policy.yaml` at its last stage, the way a busy
hospital's would look after a day: a mix of the four formats, thousands of sources, a
long tail of destinations (Zipf: a few destinations take most denials, most appear a few
times):

- ulogd2 JSON denials (40% of the lines), as ulogd2's JSON plugin writes them (30 fields);
- kernel log lines of the same denials (15%), in /var/log/syslog among other programs'
  lines (5%);
- Squid access.log (30%): refusals of names not granted and allowed requests;
- dnsmasq log-queries lines (10%): query and reply, naming the addresses denied.

Figures, each from a fresh process (peak memory is its maximum resident set size, read
by a launcher: see bench/common.py):
- read: lines per second of the read and aggregation alone (every file opened, sniffed,
  parsed, aggregated into the tables of distinct flows), the goal being >= 200,000 in
  one process; per wall second and per CPU second of the process (on a shared machine
  the second is the one that does not depend on the neighbours);
- blocked: the whole command (policy loaded, logs read, every blocked flow judged with
  egress.query, JSON written);
- peak memory of the whole command for the file once and for the same file read three
  times (three times the lines, the same distinct flows): flat is the goal.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

POLICY = common.REPO / "policies" / "chu-rennes-2023" / "policy.yaml"
AT = "2023-09-30"
GOAL = 200_000

ZONES = ["10.100.{}.{}", "10.30.{}.{}", "10.20.{}.{}", "10.40.{}.{}"]
WEIGHTS = [0.85, 0.06, 0.05, 0.04]
PORTS = [443, 443, 443, 443, 80, 80, 8443, 22, 123, 53, 3389, 25]


def zipf_picker(rng: random.Random, population: int, s: float = 1.1):
    """A function returning an index in [0, population) with Zipf weights."""
    weights = [1 / (k + 1) ** s for k in range(population)]
    total = sum(weights)
    cumulative, acc = [], 0.0
    for w in weights:
        acc += w / total
        cumulative.append(acc)
    from bisect import bisect_left

    return lambda: min(bisect_left(cumulative, rng.random()), population - 1)


def generate(path: Path, lines: int, seed: int = 42) -> dict:
    """Write `lines` lines of mixed logs into path.* files; return what was written."""
    rng = random.Random(seed)
    sources = []
    for _ in range(5000):
        zone = rng.choices(ZONES, WEIGHTS)[0]
        sources.append(zone.format(rng.randrange(0, 4), rng.randrange(1, 255)))
    addresses = [f"{rng.choice([198, 203, 185, 151])}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
                 for _ in range(8000)]
    names = [f"www.site{k}.example" if k % 3 else f"cdn{k}.media.example" for k in range(4000)]
    pick_source = zipf_picker(rng, len(sources), 0.6)
    pick_address = zipf_picker(rng, len(addresses))
    pick_name = zipf_picker(rng, len(names))
    files = {fmt: open(f"{path}.{fmt}", "w", encoding="utf-8") for fmt in ("json", "syslog", "access", "dnsmasq")}  # noqa: SIM115 - closed below
    t0 = 1796131140
    counts = dict.fromkeys(files, 0)
    repeats = [1, 1, 1, 2, 3, 3, 4, 6]  # a refused connection: its SYN and the retransmissions, or a retried request
    i = 0
    while i < lines:
        t = t0 + i // 20
        r = rng.random()
        src = sources[pick_source()]
        times = rng.choice(repeats)
        if r < 0.40:
            dst, port = addresses[pick_address()], rng.choice(PORTS)
            proto = 17 if port in (53, 123) else 6
            for _ in range(times):
                files["json"].write(
                    f'{{"timestamp": "2026-12-01T13:19:00.136991", "dvc": "Netfilter", "raw.pktlen": 60, "raw.pktcount": 1, '
                    f'"oob.prefix": "egress chu-rennes-2023 drop: ", "oob.time.sec": {t}, "oob.time.usec": {i % 1000000}, '
                    f'"oob.mark": 0, "oob.ifindex_in": 2, "oob.ifindex_out": 3, "oob.hook": 2, "raw.mac_len": 14, '
                    f'"oob.family": 2, "oob.protocol": 2048, "raw.label": 0, "raw.type": 1, "raw.mac.addrlen": 6, '
                    f'"ip.protocol": {proto}, "ip.tos": 0, "ip.ttl": 63, "ip.totlen": 60, "ip.ihl": 5, "ip.csum": 32533, '
                    f'"ip.id": {i % 65536}, "ip.fragoff": 16384, "src_port": {30000 + i % 30000}, "dest_port": {port}, '
                    f'"oob.in": "lan", "oob.out": "wan", "src_ip": "{src}", "dest_ip": "{dst}"}}\n')
            counts["json"] += times
        elif r < 0.55:
            dst, port = addresses[pick_address()], rng.choice(PORTS)
            proto = "UDP" if port in (53, 123) else "TCP"
            stamp = time.strftime("%b %e %H:%M:%S", time.gmtime(t))
            for _ in range(times):
                files["syslog"].write(
                    f"{stamp} fw1 kernel: [{i / 10:.4f}] egress chu-rennes-2023 drop: IN=lan OUT=wan "
                    f"MAC=02:00:00:00:01:02:02:00:00:00:01:01:08:00 SRC={src} DST={dst} LEN=60 TOS=0x00 PREC=0x00 "
                    f"TTL=63 ID={i % 65536} DF PROTO={proto} SPT={30000 + i % 30000} DPT={port} WINDOW=64240 RES=0x00 SYN URGP=0\n")
            counts["syslog"] += times
        elif r < 0.60:
            stamp = time.strftime("%b %e %H:%M:%S", time.gmtime(t))
            files["syslog"].write(f"{stamp} fw1 systemd[1]: Started session {i} of user root.\n")
            times = 1
            counts["syslog"] += 1
        elif r < 0.90:
            name = names[pick_name()]
            denied = rng.random() < 0.7
            action = "TCP_DENIED/403" if denied else "TCP_TUNNEL/200"
            hier = "HIER_NONE/-" if denied else f"HIER_DIRECT/{addresses[pick_address()]}"
            times = min(times, 3)
            for _ in range(times):
                files["access"].write(f"{t}.{i % 1000:03d} {rng.randrange(1, 900):6d} {src} {action} 3900 CONNECT "
                                      f"{name}:443 - {hier} text/html\n")
            counts["access"] += times
        else:
            name, dst = names[pick_name()], addresses[pick_address()]
            stamp = time.strftime("%b %e %H:%M:%S", time.gmtime(t))
            files["dnsmasq"].write(f"{stamp} dnsmasq[812]: query[A] {name} from {src}\n"
                                   f"{stamp} dnsmasq[812]: reply {name} is {dst}\n")
            times = 2
            counts["dnsmasq"] += 2
        i += times
    for handle in files.values():
        handle.close()
    return {"files": [f"{path}.{fmt}" for fmt in files], "lines": sum(counts.values()), "counts": counts}


READ = """
import sys, time, json
from egress.observe.inputs import collect
start, cpu = time.perf_counter(), time.process_time()
obs = collect(sys.argv[1:], "egress chu-rennes-2023 drop: ")
elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
print(json.dumps({"seconds": elapsed, "cpu": cpu, "lines": sum(f.lines for f in obs.files), "denials": len(obs.denials),
                  "requests": len(obs.requests), "names": len(obs.names)}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    common.WORK.mkdir(parents=True, exist_ok=True)
    base = common.WORK / f"logs-{args.lines}"
    start = time.perf_counter()
    made = generate(base, args.lines)
    files = made["files"]
    size = sum(Path(f).stat().st_size for f in files)
    print(f"generated {made['lines']:,} lines ({size / 2**20:,.0f} MB) in {time.perf_counter() - start:.1f} s: {made['counts']}")
    if args.profile:
        import cProfile
        import pstats

        from egress.observe.inputs import collect

        cProfile.runctx("collect(files, 'egress chu-rennes-2023 drop: ')", globals(), {"collect": collect, "files": files},
                        str(base) + ".prof")
        pstats.Stats(str(base) + ".prof").sort_stats("cumulative").print_stats(15)
        return 0

    rows = []
    for label, inputs in (("once", files), ("3 times", files * 3)):
        _, peak, result = common.python_measured(READ, *inputs)
        assert result.returncode == 0, result.stderr
        read = json.loads(result.stdout)
        rate, cpu_rate = read["lines"] / read["seconds"], read["lines"] / read["cpu"]
        cmd = [*common.egress_cli(), "blocked", str(POLICY), *inputs, "--stage", "last", "--at", AT, "--format", "json"]
        wall_b, peak_b, result_b = common.run_measured(cmd)
        assert result_b.returncode == 0, result_b.stderr
        flows = len(json.loads(result_b.stdout)["flows"])
        rows.append([label, f"{read['lines']:,}", common.secs(read["seconds"]), f"{rate:,.0f}", f"{cpu_rate:,.0f}",
                     f"{read['denials']:,} + {read['requests']:,}", common.mb(peak), common.secs(wall_b), f"{flows:,}",
                     common.mb(peak_b)])
    print(common.table(rows, ["input", "lines", "read", "lines/s", "lines/cpu-s", "distinct fw + proxy", "read peak",
                              "blocked", "flows", "blocked peak"]))
    rate, cpu_rate = (float(rows[0][i].replace(",", "")) for i in (3, 4))
    print(f"read goal >= {GOAL:,} lines/s in one process: {'met' if rate >= GOAL else 'NOT met'} ({rate:,.0f} wall; "
          f"{cpu_rate:,.0f} per CPU second: the machine may be shared)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

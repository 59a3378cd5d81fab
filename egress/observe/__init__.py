"""Observe: what the rules do, read from the logs and counters the firewall and the proxy
already produce.

Two questions of a staged reopening, in both directions:

- `egress blocked`: what are users blocked on? Denials of the firewall (ulogd2 JSON, or
  kernel log lines) and of the proxy (Squid's access.log), named with the answers of the
  hospital's resolver (dnsmasq `log-queries`), aggregated into blocked flows, each judged
  against the flows of a stage: what would open it (`blocked.py`), and a draft stage with
  one grant per chosen flow (`draft.py`);
- `egress usage`: which grants carry traffic, and which carried none (candidates to revoke):
  the allowed lines of access.log and the per-element counters of the nftables sets
  (`usage.py`).

The pipeline, like the compiler's, goes one way:

    files -> inputs (plain, .gz, stdin; the format sniffed per file)
          -> parsers (one module per format: ulogd, syslog for kernel and dnsmasq lines, squid)
          -> observations (aggregated while streaming: memory grows with distinct flows,
             never with lines)
          -> blocked, usage (judged against `StageFlows` with `egress.query`)
          -> render (text, markdown, json), draft (YAML)

Nothing here writes files or prints: the CLI renders.
"""

"""The firewall side: push a compiled stage to this firewall, and take it back unless it
is confirmed.

`egress apply BUNDLE/<stage>` is run as root on the firewall (or inside the firewall's
network namespace). It works like `iptables-apply` or Junos `commit confirmed`: the new
ruleset is loaded, and unless `egress confirm` is run before a deadline, the ruleset that
was in force before is put back by itself. A push that cuts the operator off therefore
heals itself.

One job per module:

    errors.py       the failures, with the exit codes of the CLI contract
    host.py         clocks, boot id, network namespace, user, root, live pids
    verify.py       a stage folder: manifest (egress/manifest.py) and sha256 of every file, read once
    signing.py      OpenSSH signatures of a manifest and its signing time (`egress sign`, `apply --allowed-signers`)
    freshness.py    a signed bundle older than the newest signed one applied is a replay: refused
    scope.py        egress.nft read before it runs: it may name table inet egress only
    allowlist.py    ... and say there only what egress writes (statement kinds and shapes)
    sanitize.py     text from a bundle escaped for terminal and log; manifest against header
    paths.py        include paths: real paths only, never through a symbolic link
    dnsmasq.py      the dnsmasq feed: check, install, `dnsmasq --test`, restart
    nft.py          the nft program, queried with `nft -j`; text listings as snapshots; scope check
    squid.py        the Squid include: write, `squid -k parse`, `squid -k reconfigure`
    safeio.py       opening files without following links, blocking on FIFOs, or unbounded reads
    trust.py        whether a state directory (or a stage folder to sign) may be trusted (sshd StrictModes)
    state.py        typed, frozen state and snapshot records, checked against a JSON schema
    store.py        the state directory: lock, state.json, snapshot folders, the full-disk reserve
    audit.py        audit.jsonl lines (returned, never printed)
    session.py      what every command works with: store, nft, where to report
    snapshots.py    save what is in force (or the deny-all table that replaces "nothing"); put it back
    rollback.py     restore a snapshot, then record it; overdue applies rolled back first
    watchdog.py     the detached process that rolls back at the deadline
    timer.py        the systemd deadline timer, where systemd runs (a second guard)
    expiry.py       the manifest's expiry instants: next expiry for status, warnings for apply
    proxytimer.py   the proxy include of each later period, swapped in at its instant
    countdown.py    the foreground wait of `egress apply`
    transaction.py  apply, confirm, rollback
    status.py       `egress status` as data
    render.py       `egress status` and ruleset names as text
"""

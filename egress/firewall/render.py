"""Text for people: how a loaded ruleset is named, and `egress status` as text.

The one place where the firewall side turns its records into sentences; the JSON form of
status is the dict that status.py returns.
"""

from __future__ import annotations

from typing import Any

from egress.firewall import sanitize
from egress.firewall.state import Record


def describe(record: Record | dict | None, table: bool = True) -> str:
    """`policy stage ID "title" (egress.nft sha256 0123456789ab)`, or what stands instead."""
    if not table:
        return "no table inet egress"
    if not record:
        return "a table inet egress not loaded by egress"
    if (record.deny_all if isinstance(record, Record) else record.get("deny_all")):
        policy = record.policy if isinstance(record, Record) else record.get("policy")
        return f"a deny-all table inet egress (fail closed: the first apply of {policy} was rolled back)"
    doc = record.summary() if isinstance(record, Record) else record
    title = f' "{doc["stage_title"]}"' if doc.get("stage_title") else ""
    return f"{doc.get('policy')} stage {doc.get('stage')}{title} (egress.nft sha256 {str(doc.get('sha256'))[:12]})"


def restores_text(restores: dict | None) -> str:
    if restores is None:
        return "(snapshot unreadable)"
    if restores.get("deny_all"):
        return ("a deny-all table inet egress (no table was in force before; "
                "`egress rollback --allow-no-table` deletes the table instead)")
    if not restores.get("table"):
        return "no table inet egress (the table is deleted)"
    if restores.get("policy"):
        return describe(restores)
    return "the table inet egress that was in force (not loaded by egress)"


def _expiry_lines(found: dict[str, Any] | None) -> list[str]:
    if not found:
        return []
    lines = []
    if found.get("at"):
        seconds = found["in_seconds"]
        left = f"{seconds / 86400:.1f} days" if seconds >= 86400 else f"{seconds / 3600:.1f} h" if seconds >= 3600 \
            else f"{seconds} s"
        lines.append(f"expiry:   next at {found['at']} (in {left}), closes {'; '.join(found['closes'])}")
    else:
        lines.append("expiry:   no expiry to come in the stage in force")
    for entry in found.get("past") or []:
        lines.append(f"          PAST ITS EXPIRY, still in the loaded bundle: {entry}; compile and apply again")
    return lines


def format_status(doc: dict[str, Any]) -> str:
    lines = [f"state directory: {doc['state_dir']} (network namespace {doc['netns']})"]
    loaded = doc.get("loaded")
    table = doc.get("table")
    if loaded and loaded.get("deny_all"):
        lines.append(f"in force: {describe(loaded)}")
        lines.append(f"          loaded {loaded.get('applied_at')}; nothing new passes until a stage is applied")
    elif loaded:
        lines.append(f"in force: {describe(loaded)}")
        lines.append(f"          sha256 {loaded['sha256']}")
        lines.append(f"          applied {loaded.get('applied_at')} by {loaded.get('applied_by')} from {loaded.get('bundle')}")
        if loaded.get("signer"):
            lines.append(f"          signed by {loaded['signer']}"
                         + (f" at {loaded['signed_at']}" if loaded.get("signed_at") else ""))
        if loaded.get("squid_include"):
            lines.append(f"          squid include {loaded['squid_include']}")
        if loaded.get("dnsmasq_include"):
            lines.append(f"          dnsmasq feed {loaded['dnsmasq_include']}")
        if doc.get("matches") is True:
            lines.append("          table inet egress: present, as loaded (set elements not compared)")
    else:
        shown = {"absent": "no table inet egress", "present": "table inet egress, not from egress"}.get(table or "", "unknown")
        lines.append(f"in force: {shown}")
    lines += _expiry_lines(doc.get("expiry"))
    pending = doc.get("pending")
    if pending:
        state = "OVERDUE" if pending["overdue"] else f"{pending['seconds_left']:.0f} s left"
        lines.append(f"pending:  CONFIRMATION PENDING until {pending['deadline']} ({state}); applied by {pending.get('by')}")
        lines.append(f"          watchdog pid {pending.get('watchdog_pid')}: "
                     + ("running" if pending["watchdog_running"] else "NOT RUNNING")
                     + (f"; deadline timer {pending['timer']}" if pending.get("timer") else "; no deadline timer"))
        lines.append(f"          without `egress confirm`, rollback restores {restores_text(pending.get('restores'))}")
    else:
        lines.append("pending:  no confirmation pending")
        if doc.get("rollback"):
            lines.append(f"undo:     `egress rollback` would restore {restores_text(doc['rollback'].get('restores'))}")
    newest = doc.get("newest_signed")
    if newest:
        lines.append(f"signed:   newest signing time applied here {newest['signed_at']}: {describe(newest)}; "
                     "a bundle signed before it is refused (apply --allow-older)")
    last = doc.get("last")
    if last:
        lines.append(f"last:     {last.get('outcome')} at {last.get('at')}"
                     + (f" ({last['reason']})" if last.get("reason") else "") + (f" by {last['by']}" if last.get("by") else ""))
    for note in doc.get("notes") or []:
        lines.append(f"note:     {note}")
    return "\n".join(sanitize.clean(line) for line in lines) + "\n"  # records quote bundles

"""Log files in: plain or gzip (told by the magic bytes, not the name), or `-` for standard
input, each sniffed for its format from its first lines.

A rotated set (`access.log access.log.1 access.log.2.gz`) is just several files: each is
opened and sniffed on its own, and since the observations keep the first and last time of
each flow, the order of the files does not matter.

A file whose first lines match no format we read is an error naming the file (exit 2): a
wrong file given by mistake must not pass for "nothing blocked". An empty file is not an
error (a log rotated a minute ago is empty); it is reported as such.
"""

from __future__ import annotations

import gzip
import io
import itertools
import os
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from egress.observe import squid, syslog, ulogd

SNIFF_LINES = 50
"""How many non-blank lines may be read to recognise a format."""

FORMATS = {
    "ulogd2-json": ulogd,
    "squid": squid,
    "syslog": syslog,
}
"""Format name -> parser module, in sniffing order (the most specific first)."""

KNOWN = "ulogd2 JSON, kernel or dnsmasq log lines (syslog, journalctl, dmesg), Squid access.log (native format)"


class LogError(Exception):
    """A log cannot be used (unreadable, or of no format we read): exit 2."""


@dataclass
class Log:
    """One opened log: its name as given, its format, its lines, and the time that dates
    year-less timestamps (the file's modification time, or now for standard input)."""

    name: str
    format: str
    lines: Iterator[str]
    reference: float
    truncated: str | None = None
    handle: io.TextIOWrapper | None = None

    def close(self) -> None:
        if self.handle is not None:
            _release(self.handle, self.name)
            self.handle = None


def _release(handle: io.TextIOWrapper, name: str) -> None:
    """Close a log's file (standard input is only let go of, not closed)."""
    if name == "<stdin>":
        handle.detach()
    else:
        handle.close()


def open_log(path: str) -> Log:
    """Open and sniff one log. `LogError` if it cannot be read or has no known format."""
    name = "<stdin>" if path == "-" else path
    try:
        if path == "-":
            raw = sys.stdin.buffer
            reference = time.time()
        else:
            raw = open(path, "rb")  # noqa: SIM115 - closed by Log.close
            reference = os.fstat(raw.fileno()).st_mtime
    except OSError as err:
        raise LogError(f"{name}: cannot read: {err.strerror or err}") from None
    text = io.TextIOWrapper(_maybe_gzip(raw, path), encoding="utf-8", errors="replace", newline=None)
    head: list[str] = []
    found = None
    cut = None
    filled = 0
    try:
        for line in text:
            head.append(line)
            if line.strip():
                filled += 1
                found = sniff(line)
                if found or filled >= SNIFF_LINES:
                    break
    except (OSError, EOFError, zlib.error) as err:
        if not head:
            _release(text, name)
            raise LogError(f"{name}: cannot read: {err}") from None
        cut = f"{name}: compressed data ends early or is corrupt ({err}); the lines before it count"
    if not filled:
        _release(text, name)
        return Log(name, "empty", iter(()), reference)
    if found is None:
        _release(text, name)
        first = next(h for h in head if h.strip()).strip()
        shown = first[:60] + ("..." if len(first) > 60 else "")
        raise LogError(f"{name}: not a log that egress reads (expected {KNOWN}); it starts {shown!r}")
    lines = iter(head) if cut else itertools.chain(head, text)
    return Log(name, found, lines, reference, cut, text)


def sniff(line: str) -> str | None:
    """The format whose lines look like `line`, or None."""
    for name, module in FORMATS.items():
        if module.sniff(line):
            return name
    return None


def _maybe_gzip(raw, path: str):
    """`raw`, or its gzip decompression if it starts with gzip's magic bytes (a file is
    reopened with `gzip.open`, which then owns it and closes it)."""
    if not hasattr(raw, "peek"):  # a standard input replaced by a plain stream (tests, embedding)
        raw = io.BufferedReader(raw)
    if raw.peek(2)[:2] != b"\x1f\x8b":
        return raw
    if path == "-":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    raw.close()
    return gzip.open(path, "rb")


def collect(paths: list[str], policy_prefix: str, proxy_allowed: bool = False, say=None):
    """Read every log into one `Observations`.

    Every file is opened and sniffed first, so that a file of another format stops the
    command (`LogError`) before any work. `policy_prefix` is the log prefix of the
    policy's denials; `proxy_allowed` keeps the proxy's allowed requests too (usage).
    `say` gets a one-line note for a file that ended early."""
    from egress.observe.observations import FileReport, Observations, Parsed

    if paths.count("-") > 1:
        raise LogError("standard input (-) can be given once")
    logs = []
    try:
        for path in paths:
            logs.append(open_log(path))
    except LogError:
        for log in logs:
            log.close()
        raise
    observations = Observations()
    for log in logs:
        report = FileReport(log.name, log.format)
        module = FORMATS.get(log.format)
        if module is None:
            observations.files.append(report)
            continue
        parsed = Parsed()
        try:
            module.read(log.lines, policy_prefix, report, parsed, proxy_allowed)
        except (OSError, EOFError, zlib.error) as err:
            # a gzip member cut short (rotated while written): the lines before count
            log.truncated = f"{log.name}: compressed data ends early or is corrupt ({err}); the lines before it count"
        finally:
            log.close()
        if log.truncated:
            report.truncated = log.truncated
            if say:
                say(log.truncated)
        observations.merge(report, parsed, module.clock(log.reference))
    return observations

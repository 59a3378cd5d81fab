"""The failures of the firewall side, each carrying the exit code of the CLI contract.

Every module of the package raises these and only these for expected failures; the CLI
turns them into one line on stderr and the exit code (1 refused, 2 unusable).
"""

from __future__ import annotations

EXIT_REFUSED = 1
EXIT_USAGE = 2


class ApplyError(Exception):
    """A clean, one-line failure with the exit code the command should return."""

    code = EXIT_REFUSED

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code


class Refused(ApplyError):
    """The bundle (or the state of the machine) does not allow the action: exit 1."""


class Unusable(ApplyError):
    """Wrong usage, unreadable bundle, wrong namespace, not root: exit 2."""

    code = EXIT_USAGE


def first_lines(text: str, count: int = 3) -> str:
    """The first non-blank lines of a program's output, on one line (for error messages),
    each escaped and cut short: programs quote the file they refuse, and a refused file
    is echoed no further than that (sanitize.py)."""
    from egress.firewall.sanitize import excerpt

    lines = [excerpt(line) for line in text.strip().splitlines() if line.strip()]
    shown = " | ".join(lines[:count])
    return shown + (" | ..." if len(lines) > count else "")

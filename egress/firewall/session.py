"""What every firewall command works with: the state directory, nft, and where to report.

The library never prints: `say` (progress, results) and `warn` (something the operator
must know, such as an audit line that could not be written) are given by the caller,
the CLI or the watchdog's log.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from egress.firewall import audit, sanitize
from egress.firewall.errors import ApplyError
from egress.firewall.nft import Nft
from egress.firewall.state import Record
from egress.firewall.store import FULL_NOTE, Store

Say = Callable[[str], object]


def to_stderr(message: str) -> None:
    print(message, file=sys.stderr)


@dataclass
class Session:
    store: Store
    nft: Nft = field(default_factory=Nft)
    say: Say = print
    warn: Say = to_stderr

    def __post_init__(self) -> None:
        """Whatever is said may quote a bundle (stage title, program output): escaped."""
        say, warn = self.say, self.warn
        self.say = lambda message: say(sanitize.clean(message))
        self.warn = lambda message: warn(sanitize.clean(message))

    def audit(self, action: str, result: str, record: Record | None, detail: str, **extra: Any) -> dict[str, Any]:
        """Append an audit line (with the store's pending note); warn when it cannot be written."""
        note, self.store.note = self.store.note, None
        entry = audit.line(action, result, record, detail + (f" ({note})" if note else ""), **extra)
        try:
            self.store.ensure()
        except ApplyError as err:
            self.warn(f"egress: warning: cannot write the audit log {self.store.audit_file}: {err}")
            return entry
        written = audit.append(self.store.audit_file, entry)
        if written.full and self.store.release_reserve():
            self.store.note = None
            entry["detail"] += f" ({FULL_NOTE})"
            written = audit.append(self.store.audit_file, entry)
        if written.error:
            self.warn(f"egress: warning: {written.error}")
        return entry

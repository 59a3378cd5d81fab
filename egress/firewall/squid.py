"""The Squid include that an apply installs: write, `squid -k parse`, `squid -k reconfigure`.

`squid -k parse` is judged on its output, not only its exit code (Squid exits 0 on many
warnings, and ignores the ACL entry it warns about): a WARNING/ERROR/FATAL/unrecognized
line refuses the include, unless the configuration in place already gave that line
before the change (a warning about the host, such as "BCP 177 violation" where IPv6
loopback is off, is not the include's fault and would otherwise refuse every include);
and the parse must have read the include at all.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from egress.firewall.errors import ApplyError, Refused, Unusable, first_lines
from egress.firewall.paths import plain_path, read_include, replace_include

#: What a rollback installs when no include was in place before the apply: removing the
#: file would leave a squid.conf that no longer parses, so Squid would keep the rolled-back rules.
CLOSED_INCLUDE = (b"# egress: no include was in place before the apply that was rolled back;\n"
                  b"# nothing is allowed through the proxy until a stage is applied.\n"
                  b"http_access deny all\n")

_SQUID_PROBLEM = re.compile(r"\b(warning|error|fatal|bungled|unrecognized)\b", re.I)


@dataclass
class Squid:
    include: Path
    conf: Path | None = None
    binary: str = field(default_factory=lambda: os.environ.get("EGRESS_SQUID") or "squid")

    def _argv(self, *args: str) -> list[str]:
        return [self.binary, *(["-f", str(self.conf)] if self.conf else []), *args]

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(self._argv(*args), capture_output=True, text=True, timeout=120)
        except FileNotFoundError:
            raise Unusable(f"{self.binary}: not found (install squid, or leave out --squid-include)") from None
        except subprocess.TimeoutExpired:
            raise ApplyError(f"squid {' '.join(args)}: timed out") from None

    def read(self) -> bytes | None:
        return read_include(self.include)

    def write(self, data: bytes | None) -> None:
        """Put data at the include path (`paths.replace_include`; None: remove the file)."""
        if data is None:
            plain_path(self.include, "--squid-include")
            with contextlib.suppress(FileNotFoundError):
                self.include.unlink()
            return
        replace_include(self.include, data, "--squid-include")

    def check(self) -> tuple[int, list[str], bool, str]:
        """`squid -k parse`: (exit code, problem lines, whether the include was read, output)."""
        cp = self._run("-k", "parse")
        output = (cp.stdout or "") + (cp.stderr or "")
        problems = []
        read_include = False
        for line in output.splitlines():
            text = (line.split("| ", 1)[1] if "| " in line else line).strip()
            if text.startswith("Processing Configuration File:"):
                name = text.split(":", 1)[1].strip().rsplit(" (depth", 1)[0]
                read_include |= os.path.realpath(name) == os.path.realpath(self.include)
                continue
            if text.startswith("Processing:"):
                continue  # an echo of a configuration line, whatever its words
            if _SQUID_PROBLEM.search(text):
                problems.append(text)
        return cp.returncode, problems, read_include, output

    def baseline(self) -> set[str]:
        """The problem lines of the configuration in place, before a change."""
        return set(self.check()[1])

    def parse(self, baseline: set[str] | None = None) -> None:
        """Refuse on a non-zero exit, on a problem line that the configuration in place did
        not already give, or if the include was not read."""
        code, problems, read_include, output = self.check()
        new = [line for line in problems if line not in (baseline or set())]
        if code or new:
            shown = "; ".join(new[:3]) or first_lines(output)
            raise Refused(f"squid -k parse refused {self.include}: {shown}")
        if not read_include:
            where = self.conf or "squid's default configuration"
            raise Refused(
                f"squid -k parse did not read {self.include}: add `include {self.include}` to {where}, "
                "or give the main file with --squid-conf")

    def reconfigure(self) -> None:
        cp = self._run("-k", "reconfigure")
        if cp.returncode:
            raise ApplyError(f"squid -k reconfigure failed: {first_lines(cp.stderr or cp.stdout)}")

    def install(self, data: bytes) -> bytes | None:
        """Install `data` checked by `squid -k parse` (put the old include back on refusal).
        Returns the include that was in place (None: there was none)."""
        old = self.read()
        baseline = self.baseline()
        self.write(data)
        try:
            self.parse(baseline)
        except ApplyError:
            self.write(old)
            raise
        return old

"""`egress --version` and `--help` start fast: the CLI imports the library lazily
(bench/bench_startup.py measures the time; this checks the cause)."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from egress.cli import main

HEAVY = ("egress.check", "egress.load", "egress.flows", "egress.diff", "egress.targets.", "egress.firewall",
         "jsonschema", "fastjsonschema", "netaddr", "yaml", "dns")


def test_importing_the_cli_loads_no_library_module():
    code = "import sys, egress.cli; print('\\n'.join(sorted(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    heavy = [m for m in loaded if m.startswith(HEAVY)]
    assert not heavy, f"imported at start-up: {heavy}"


def test_at_shows_date_as_its_placeholder():
    for command in ("validate", "compile", "diff", "query", "stages"):
        text = CliRunner().invoke(main, [command, "--help"]).output
        assert "--at DATE" in text and "%Y" not in text, (command, text)

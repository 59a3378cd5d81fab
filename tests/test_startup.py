"""`egress --version` and `--help` start fast: the CLI imports the library lazily
(bench/bench_startup.py measures the time; this checks the cause)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from egress import yamlpos
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


def test_the_subset_check_of_yamlpos_is_the_character_class_it_replaces():
    """`yamlpos._outside_subset` (three cheap patterns) says what the one class of allowed
    characters said, for every code point, in an ASCII text and in any other."""
    allowed = re.compile("[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd]")
    differ = [code for code in range(0x110000)
              if yamlpos._outside_subset("é" + chr(code)) != bool(allowed.search(chr(code)))]
    assert not differ, [hex(code) for code in differ[:10]]
    differ = [code for code in range(128) if yamlpos._outside_subset("a" + chr(code)) != bool(allowed.search(chr(code)))]
    assert not differ, differ
    assert not yamlpos._outside_subset("key: valeur été\n- x\n") and yamlpos._outside_subset("a\tb")


def test_the_resolver_patterns_of_yamlpos_are_compiled_on_first_use():
    """`yamlpos._Unions` compiles, for a first character, the pattern that the table built
    at import held, and remembers it; None where PyYAML has no resolver."""
    unions = yamlpos._Unions()
    assert not unions
    for first, resolvers in yamlpos._IMPLICIT.items():
        joined = "|".join(f"(?{'x' if regexp.flags & re.VERBOSE else ''}:{regexp.pattern})" for _, regexp in resolvers)
        assert unions[first].pattern == joined
        assert unions[first] is unions[first]
    for first in ("a", "é", "/"):
        assert unions[first] is None
    for value in ("1", "0x1f", "1.5", "-2", ".inf", "yes", "No", "true", "on", "~", "null", "2023-06-21", "<<", "10.0.0.0/8"):
        said = unions[value[0]].match(value) is not None
        assert said == any(regexp.match(value) for _, regexp in yamlpos._IMPLICIT[value[0]]), value


VALIDATE_NEEDS_NONE_OF = {"netaddr", "fastjsonschema", "jsonschema", "dns", "jinja2", "hashlib", "egress.diff",
                          "egress.targets.nftables", "egress.targets.squid", "egress.targets.dnsmasq",
                          "egress.targets.dynamic", "egress.firewall", "egress.query", "egress.bundle",
                          "egress.htmlreport"}
"""Packages and modules (with their submodules) that `egress validate` of a small policy
does without (`egress.targets.nftables_tags`, the E149 count, is read; its plans are not)."""


def test_validating_a_small_policy_imports_only_what_it_needs():
    """What `egress validate` of examples/minimal (a pre-commit hook's run) leaves out:
    netaddr (the model keeps `egress.addresses.Network`s; sets are built by the targets),
    the schema compilers (egress/schemacode.py is generated), the targets and the rest."""
    code = ("import sys; from egress.cli import main\n"
            "try:\n    main(['validate', 'examples/minimal', '--at', '2023-07-01'])\n"
            "except SystemExit as end:\n    assert end.code in (0, None), end.code\n"
            "print('\\n'.join(sorted(sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parent.parent).stdout.split()
    assert "egress.check" in loaded and "egress.suffixes" in loaded
    assert not [m for m in loaded if m in VALIDATE_NEEDS_NONE_OF or m.rpartition(".")[0] in VALIDATE_NEEDS_NONE_OF]

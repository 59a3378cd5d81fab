"""`egress validate` and `egress stages` from the outside: exit codes, formats, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from egress.cli import main
from tests.test_diagnostics import BASE, write

ROOT = Path(__file__).parent.parent


def run(*args: str):
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    return result


BAD_INPUTS = {
    "yaml-syntax": "egress: 1\npolicy: x\n  zones: [\n",
    "list-root": "- egress: 1\n",
    "scalar-root": "egress\n",
    "empty": "",
    "version-2": BASE.replace("egress: 1", "egress: 2"),
    "version-missing": BASE.replace("egress: 1\n", ""),
    "version-string": BASE.replace("egress: 1", "egress: '1'"),
    "unknown-key": BASE.replace("policy: base", "policy: base\npolcy: x"),
    "undefined-zone": BASE.replace("        from: lan\n        to: partner", "        from: nowhere\n        to: partner"),
    "undefined-service": BASE.replace("        to: partner", "        to: nothing"),
    "duplicate-zone-key": BASE.replace("  dmz:\n", "  lan:\n    addresses: [10.7.0.0/24]\n  dmz:\n"),
    "duplicate-grant": BASE.replace("id: g-web", "id: g-partner"),
    "duplicate-stage": BASE.replace("id: s1", "id: s0"),
    "bad-cidr": BASE.replace("10.0.0.0/24", "10.0.0.0/33"),
    "host-bits": BASE.replace("10.0.0.0/24", "10.0.0.9/24"),
    "bad-address": BASE.replace("10.0.0.0/24", "10.0.0"),
    "address-trailing-newline": BASE.replace("10.0.0.0/24", '"10.0.0.0/24\\n"'),
    "bad-port-proto": BASE.replace("tcp/25, tcp/443", "tcp/25, sctp/443"),
    "bad-port-range": BASE.replace("tcp/25, tcp/443", "tcp/25, tcp/0"),
    "bad-port-word": BASE.replace("tcp/25, tcp/443", "tcp/25, https"),
    "bad-port-int": BASE.replace("tcp/25, tcp/443", "tcp/25, 443"),
    "null-port": BASE.replace("tcp/25, tcp/443", "tcp/25, null"),  # found by test_property: exit 3
}
INJECTIONS = ["a.example\nhttp_access allow all", "a.example;", "a{.example", "a}.example", 'a".example',
              "a'.example", "a .example", "*.a.example", "a.example.", "a.example:8080", "a\\.example",
              "bücher.example", "A.EXAMPLE", ".a.example", "a..example", "-a.example", "a.example\tx",
              "a.example\n"]  # a regex `$` matches before a final newline: the last one catches that
for index, name in enumerate(INJECTIONS):
    BAD_INPUTS[f"host-injection-{index}"] = BASE.replace("host: mx.partner.example", f"host: {json.dumps(name)}")
    BAD_INPUTS[f"domain-injection-{index}"] = BASE.replace("domain: example.org", f"domain: {json.dumps(name)}")


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_is_a_clean_error(tmp_path, name):
    path = write(tmp_path, BAD_INPUTS[name])
    result = run("validate", str(path))
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stdout.splitlines() if " error E" in line]
    assert lines, result.output
    for line in lines:
        file, line_no, col, _rest = line.split(":", 3)
        assert file == str(path) and int(line_no) >= 1 and int(col) >= 1


def test_non_utf8_and_alias_bomb_and_huge(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "policy.yaml").write_bytes(b"egress: 1\npolicy: \xff\n")
    assert run("validate", str(tmp_path / "a" / "policy.yaml")).exit_code == 1
    bomb = 'egress: 1\na: &a ["x","x","x","x","x","x","x","x"]\n' + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 8) + "]\n" for i in range(10)
    )
    (tmp_path / "b").mkdir()
    result = run("validate", str(write(tmp_path / "b", bomb)))
    assert result.exit_code == 1 and "E103" in result.stdout
    from egress import yamlpos

    monkeypatch.setattr(yamlpos, "MAX_BYTES", 4096)
    (tmp_path / "c").mkdir()
    result = run("validate", str(write(tmp_path / "c", BASE + "#" * 5000)))
    assert result.exit_code == 1 and "E100" in result.stdout


def test_unreadable_is_exit_2(tmp_path):
    result = run("validate", str(tmp_path / "missing.yaml"))
    assert result.exit_code == 2
    assert "cannot read" in result.stderr


def test_usage_errors_are_exit_2(tmp_path):
    assert run("validate").exit_code == 2
    assert run("validate", str(write(tmp_path, BASE)), "--format", "xml").exit_code == 2
    assert run("validate", str(write(tmp_path, BASE)), "--at", "tomorrow").exit_code == 2
    (tmp_path / "none").mkdir()
    assert run("validate", str(tmp_path / "none")).exit_code == 2


def test_every_missing_key_is_named_in_one_run(tmp_path):
    path = write(tmp_path, "egress: 1\npolicy: x\nzones:\n  lan: {addresses: [10.0.0.0/24]}\n")
    result = run("validate", str(path))
    assert result.exit_code == 1
    assert f"{path}:1:1: error E111 the document needs the keys 'services' and 'stages'" in result.output


def test_valid_policy_exit_0_and_summary(tmp_path):
    result = run("validate", str(write(tmp_path, BASE)), "--at", "2023-07-01")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "1 policy checked: 0 errors, 0 warnings" in result.stderr


def test_strict_fails_on_warnings(tmp_path):
    path = write(tmp_path, BASE.replace("address: 203.0.113.0/24", "address: 0.0.0.0/0"))
    assert run("validate", str(path)).exit_code == 0
    assert run("validate", str(path), "--strict").exit_code == 1


def test_at_date_drives_expiry_warnings(tmp_path):
    path = write(tmp_path, BASE.replace("reason: Partner flow", "reason: Partner flow\n        expires: 2023-07-10"))
    assert "W106" in run("validate", str(path), "--at", "2023-07-01").stdout
    assert "W105" in run("validate", str(path), "--at", "2023-07-15").stdout
    assert run("validate", str(path), "--at", "2023-08-01").stdout == ""  # old news: the grant is its record
    assert run("validate", str(path), "--at", "2023-06-01").stdout == ""


def test_formats(tmp_path):
    path = write(tmp_path, BASE.replace("10.0.0.0/24", "10.0.0.1/24"))
    data = json.loads(run("validate", str(path), "--format", "json").stdout)
    assert data == [{"path": str(path), "line": 5, "column": 17, "severity": "error", "code": "E121",
                     "message": "'10.0.0.1/24' has host bits set; write 10.0.0.0/24"}]
    github = run("validate", str(path), "--format", "github").stdout
    assert github.startswith(f"::error file={path},line=5,col=17,title=E121::")
    sarif = json.loads(run("validate", str(path), "--format", "sarif").stdout)
    result = sarif["runs"][0]["results"][0]
    assert result["ruleId"] == "E121" and result["locations"][0]["physicalLocation"]["region"] == {"startLine": 5, "startColumn": 17}


def test_folder_finds_policies_not_includes_or_locks(tmp_path):
    (tmp_path / "p").mkdir()
    write(tmp_path / "p", BASE.replace("policy: base", "policy: base\ninclude: [extra.yaml]"), extra={"extra.yaml": "zones:\n  lab:\n    addresses: [10.9.0.0/24]\n"})
    result = run("validate", str(tmp_path), "--format", "json")
    assert result.exit_code == 0, result.output
    assert "1 policy checked" in result.stderr


def test_lock_or_include_file_stands_for_its_policy(tmp_path):
    write(tmp_path, BASE)
    result = run("validate", str(tmp_path / "policy.lock.yaml"))
    assert result.exit_code == 0 and "1 policy checked" in result.stderr


def test_stages_command(tmp_path):
    path = write(tmp_path, BASE)
    result = run("stages", str(path), "--at", "2023-07-01")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1].split()[:2] == ["0", "s0"]
    rows = json.loads(run("stages", str(path), "--format", "json").stdout)
    assert [(r["id"], r["added"], r["in_force"]) for r in rows] == [("s0", 0, 0), ("s1", 3, 3)]


def test_stages_of_invalid_policy_is_exit_1(tmp_path):
    result = run("stages", str(write(tmp_path, BASE.replace("10.0.0.0/24", "10.0.0.1/24"))))
    assert result.exit_code == 1 and "E121" in result.stderr


def test_help_everywhere():
    for command in ([], ["validate"], ["stages"], ["compile"]):
        result = run(*command, "--help")
        assert result.exit_code == 0 and "Usage:" in result.stdout


def test_real_process_no_traceback(tmp_path):
    """The installed console script, for real: bad input is one line, not a traceback."""
    path = write(tmp_path, "egress: 1\npolicy: [\n")
    proc = subprocess.run([sys.executable, "-m", "egress.cli", "validate", str(path)], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "E101" in proc.stdout


def test_shipped_policies_and_examples_validate_cleanly():
    result = run("validate", str(ROOT / "policies"), str(ROOT / "examples"), "--at", "2023-07-01")
    assert result.exit_code == 0, result.output
    assert " 0 errors" in result.stderr


@pytest.mark.parametrize("args", [
    ("expiring", "policies/chu-rennes-2023/policy.yaml", "--at", "2023-08-20"),
    ("blocked", "policies/chu-rennes-2023/policy.yaml", "--stage", "last", "--as-stage", "s7-draft", "/dev/null"),
])
def test_a_full_disk_under_standard_output_is_exit_2_not_a_bug(args):
    """Found by attacking the new commands: writing to /dev/full ended in 'internal error', exit 3."""
    with open("/dev/full", "w") as full:
        cp = subprocess.run([sys.executable, "-m", "egress.cli", *args], cwd=ROOT, stdout=full,
                            stderr=subprocess.PIPE, text=True)
    assert cp.returncode == 2, cp.stderr
    assert "No space left on device" in cp.stderr and "internal error" not in cp.stderr

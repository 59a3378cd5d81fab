"""`egress compile --all-stages --out DIR`: replaces only what egress wrote, all or nothing."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from egress import bundle
from egress.cli import main

ROOT = Path(__file__).resolve().parent.parent
MINIMAL = ROOT / "examples" / "minimal" / "policy.yaml"
CHU = ROOT / "policies" / "chu-rennes-2023" / "policy.yaml"
MINIMAL_STAGES = ["s0-isolation", "s1-partner-results", "s2-reference-sites"]


def compile_all(policy, out, at="2023-07-03"):
    return CliRunner().invoke(main, ["compile", str(policy), "--all-stages", "--out", str(out), "--at", at])


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder`, by relative path: to compare bundles byte for byte."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A policy repository (the minimal example, a .git) as the current directory."""
    shutil.copy(MINIMAL, tmp_path / "policy.yaml")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_bundle_root_has_a_marker_naming_policy_and_stages(tmp_path):
    result = compile_all(MINIMAL, tmp_path / "build")
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(tmp_path / "build")) == [bundle.MARKER, *MINIMAL_STAGES]
    marker = json.loads((tmp_path / "build" / bundle.MARKER).read_text())
    assert marker == {"egress-bundle": 1, "policy": "minimal-lab", "stages": MINIMAL_STAGES}


@pytest.mark.parametrize("out", [".", "..", "sub/.."])
def test_out_holding_the_policy_is_refused_and_nothing_is_deleted(repo, out):
    (repo / "sub").mkdir()
    before = tree(repo)
    result = compile_all("policy.yaml", out)
    assert result.exit_code == 2, result.output
    assert "holds the policy's own file policy.yaml" in result.stderr
    assert tree(repo) == before and (repo / ".git").is_dir()


def test_out_holding_the_lock_file_is_refused(tmp_path):
    """The lock file (and includes) are sources too: a folder holding one is not replaced."""
    policy = tmp_path / "p" / "policy.yaml"
    policy.parent.mkdir()
    shutil.copy(CHU.parent / "policy.yaml", policy)
    for extra in CHU.parent.iterdir():
        shutil.copy(extra, policy.parent / extra.name)
    result = compile_all(policy, tmp_path)  # the parent of the policy's folder
    assert result.exit_code == 2 and "holds the policy's own file" in result.stderr
    assert (policy.parent / "policy.lock.yaml").exists()
    assert not [e for e in os.listdir(tmp_path) if e.startswith(".")]


def test_foreign_folder_is_refused(repo):
    (repo / "out").mkdir()
    (repo / "out" / "notes.txt").write_text("mine\n")
    result = compile_all("policy.yaml", "out")
    assert result.exit_code == 2
    assert "holds 'notes.txt', which egress did not write" in result.stderr
    assert os.listdir(repo / "out") == ["notes.txt"]
    assert sorted(os.listdir(repo)) == [".git", "out", "policy.yaml"]  # no temporary left


def test_previous_bundle_is_replaced_stale_stages_included(tmp_path):
    out = tmp_path / "build"
    assert compile_all(CHU, out).exit_code == 0
    result = compile_all(MINIMAL, out)
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(out)) == [bundle.MARKER, *MINIMAL_STAGES]
    assert "replaced the bundle of policy chu-rennes-2023" in result.stderr
    assert sorted(os.listdir(tmp_path)) == ["build"]  # no temporary left


def test_bundle_from_before_the_marker_is_replaced(tmp_path):
    out = tmp_path / "build"
    assert compile_all(MINIMAL, out).exit_code == 0
    (out / bundle.MARKER).unlink()
    (out / "s9-gone").mkdir()  # a stage the policy no longer has, written by an older egress
    shutil.copy(out / "s0-isolation" / "manifest.json", out / "s9-gone" / "manifest.json")
    manifest = json.loads((out / "s9-gone" / "manifest.json").read_text())
    (out / "s9-gone" / "manifest.json").write_text(json.dumps({**manifest, "stage": "s9-gone"}))
    assert compile_all(MINIMAL, out).exit_code == 0
    assert sorted(os.listdir(out)) == [bundle.MARKER, *MINIMAL_STAGES]


def test_a_stage_folder_with_a_foreign_file_is_not_an_old_bundle(tmp_path):
    out = tmp_path / "build"
    assert compile_all(MINIMAL, out).exit_code == 0
    (out / bundle.MARKER).unlink()
    (out / "s0-isolation" / "keep-me").write_text("x")
    result = compile_all(MINIMAL, out)
    assert result.exit_code == 2 and "'s0-isolation', which egress did not write" in result.stderr
    assert (out / "s0-isolation" / "keep-me").exists()


def test_forged_marker_cannot_claim_foreign_entries(repo):
    (repo / "out").mkdir()
    (repo / "out" / ".keep").mkdir()
    (repo / "out" / bundle.MARKER).write_text(json.dumps({"egress-bundle": 1, "policy": "x", "stages": [".keep"]}))
    result = compile_all("policy.yaml", "out")
    assert result.exit_code == 2 and "not a marker written by egress" in result.stderr
    assert (repo / "out" / ".keep").is_dir()


def test_a_marker_whose_policy_is_not_a_name_is_not_ours(tmp_path):
    """The marker's policy is printed (`note: replaced the bundle of policy ...`): one
    holding ESC, BEL or CR sequences rewrote the terminal."""
    out = tmp_path / "out"
    out.mkdir()
    (out / bundle.MARKER).write_text(json.dumps({"egress-bundle": 1, "policy": "x\x1b]0;owned\x07\r", "stages": []}))
    result = compile_all(MINIMAL, out)
    assert result.exit_code == 2 and "not a marker written by egress" in result.stderr
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert os.listdir(out) == [bundle.MARKER]


def test_names_found_in_out_are_printed_escaped(tmp_path):
    """A file or a nested bundle in --out named with ESC or BEL reached the terminal raw."""
    out = tmp_path / "out"
    assert compile_all(MINIMAL, out / "nested\x1b]0;x\x07").exit_code == 0
    result = compile_all(MINIMAL, out)
    assert result.exit_code == 0 and "nested\\x1b]0;x\\x07" in result.stderr
    (out / "junk\x1b[2J").write_text("")
    result = compile_all(MINIMAL, out)
    assert result.exit_code == 2 and "junk\\x1b[2J" in result.stderr
    assert "\x1b" not in result.output and "\x07" not in result.output


@pytest.mark.parametrize("order", ["tour-then-runbook", "runbook-then-tour"])
def test_nested_bundles_keep_each_other(tmp_path, order):
    """The README's tour compiles into build/minimal, the runbook into build/: in either
    order, and again, both bundles end up whole and as compiled alone."""
    alone = {}
    for name, policy in (("minimal", MINIMAL), ("chu", CHU)):
        assert compile_all(policy, tmp_path / "alone" / name).exit_code == 0
        alone[name] = tree(tmp_path / "alone" / name)
    build = tmp_path / "build"
    steps = [("minimal", MINIMAL, build / "minimal"), ("chu", CHU, build)]
    if order == "runbook-then-tour":
        steps.reverse()
    done = set()
    for name, policy, out in steps * 2:
        result = compile_all(policy, out)
        assert result.exit_code == 0, result.output
        done.add(name)
        if "minimal" in done:
            assert tree(build / "minimal") == alone["minimal"]
        if "chu" in done:
            assert {k: v for k, v in tree(build).items() if not k.startswith("minimal/")} == alone["chu"]
        if name == "chu" and "minimal" in done:
            assert "kept the other bundle in " in result.stderr


def test_nested_bundle_named_like_a_stage_is_refused(tmp_path):
    out = tmp_path / "build"
    assert compile_all(CHU, out / "s0-isolation").exit_code == 0
    result = compile_all(MINIMAL, out)
    assert result.exit_code == 2 and "holds another egress bundle" in result.stderr
    assert (out / "s0-isolation" / bundle.MARKER).exists()


@pytest.mark.parametrize("out, said", [
    ("/dev/null", "is a device, not a folder"),
    ("/proc/self", "which egress did not write"),
    ("fifo", "is a FIFO, not a folder"),
    ("link-to-null", "is a device, not a folder"),
])
def test_out_that_is_not_a_folder_of_ours_exits_2(repo, out, said):
    os.mkfifo(repo / "fifo")
    (repo / "link-to-null").symlink_to("/dev/null")
    result = compile_all("policy.yaml", out)
    assert result.exit_code == 2, result.output
    assert said in result.stderr and "internal error" not in result.stderr


def test_out_that_is_a_file_exits_2(repo):
    result = compile_all("policy.yaml", "policy.yaml")
    assert result.exit_code == 2
    assert (repo / "policy.yaml").read_bytes() == MINIMAL.read_bytes()


def test_failure_leaves_the_previous_bundle_and_its_neighbours(tmp_path, monkeypatch):
    build = tmp_path / "build"
    assert compile_all(MINIMAL, build / "minimal").exit_code == 0
    assert compile_all(CHU, build).exit_code == 0
    before = tree(build)

    def broken(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bundle, "render_stage", broken)
    result = compile_all(CHU, build)
    assert result.exit_code == 2 and "No space left on device" in result.stderr
    assert tree(build) == before
    assert sorted(os.listdir(tmp_path)) == ["build"]


def test_every_file_is_on_disk_before_the_tree_is_renamed_into_place(tmp_path, monkeypatch):
    """Files are written first and flushed together (`atomic.fsync_files`), but each of
    them, and each folder, is flushed before the rename that puts the tree in place."""
    from egress import atomic

    build = tmp_path / "build"
    events: list[tuple[str, str]] = []
    real_fsync, real_rename = os.fsync, os.rename

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    def rename(src, dst):
        events.append(("rename", str(dst)))
        return real_rename(src, dst)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    monkeypatch.setattr(bundle.os, "rename", rename)
    assert compile_all(CHU, build).exit_code == 0
    placed = events.index(("rename", str(build)))
    staging = Path(next(path for kind, path in events if kind == "fsync" and path.endswith(bundle.MARKER))).parent
    flushed = {str(Path(path).relative_to(staging)) for kind, path in events[:placed]
               if kind == "fsync" and Path(path).is_relative_to(staging)}
    written = set(tree(build))
    folders = {str(p.relative_to(build)) for p in build.iterdir() if p.is_dir()}
    assert len(folders) == 7 and written | folders | {"."} == flushed


def test_a_failed_flush_leaves_the_previous_bundle(tmp_path, monkeypatch):
    from egress import atomic

    build = tmp_path / "build"
    assert compile_all(CHU, build).exit_code == 0
    before = tree(build)

    def full(_fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(atomic.os, "fsync", full)
    result = compile_all(CHU, build, at="2023-09-01")
    assert result.exit_code == 2 and "Input/output error" in result.stderr
    assert tree(build) == before
    assert sorted(os.listdir(tmp_path)) == ["build"]


def test_failed_swap_gives_nested_bundles_back(tmp_path, monkeypatch):
    build = tmp_path / "build"
    assert compile_all(MINIMAL, build / "minimal").exit_code == 0
    assert compile_all(CHU, build).exit_code == 0
    before = tree(build)
    real_rename = os.rename

    def rename(src, dst):
        if Path(src) == build:  # the old tree cannot be moved aside (a mount point, say)
            raise OSError(16, "Device or resource busy")
        return real_rename(src, dst)

    monkeypatch.setattr(bundle.os, "rename", rename)
    result = compile_all(CHU, build)
    assert result.exit_code == 2 and "Device or resource busy" in result.stderr
    assert tree(build) == before
    assert sorted(os.listdir(tmp_path)) == ["build"]


def test_out_with_a_trailing_slash_is_shown_once(tmp_path):
    result = compile_all(MINIMAL, f"{tmp_path / 'build'}/")
    assert result.exit_code == 0
    assert f"into {tmp_path / 'build'}/\n" in result.stderr and "//" not in result.stderr


def test_expired_grant_is_noted_once(tmp_path):
    result = compile_all(CHU, tmp_path / "build", at="2023-09-30")
    assert result.exit_code == 0
    notes = [line for line in result.stderr.splitlines() if "pacs-remote-support" in line]
    assert notes == [
        "note: grant 'pacs-remote-support' expired at 2023-08-31 24:00 UTC (2023-09-01T00:00:00Z); "
        "left out of stage s2-secure-messaging and every later stage"
    ]


def test_compile_of_a_folder_says_it_takes_one_policy_file():
    result = CliRunner().invoke(main, ["compile", str(MINIMAL.parent), "--all-stages", "--out", "build"])
    assert result.exit_code == 2
    assert "compile takes one policy file" in result.output and str(MINIMAL) in result.output


def test_a_file_added_while_compiling_is_not_deleted(tmp_path, monkeypatch):
    """--out is judged again just before the swap: what appeared meanwhile refuses it."""
    out = tmp_path / "build"
    assert compile_all(MINIMAL, out).exit_code == 0
    real_render = bundle.render_stage

    def render_and_meddle(flows):
        (out / "notes.txt").write_text("written during the compile\n")
        return real_render(flows)

    monkeypatch.setattr(bundle, "render_stage", render_and_meddle)
    result = compile_all(MINIMAL, out)
    assert result.exit_code == 2 and "holds 'notes.txt'" in result.stderr
    assert (out / "notes.txt").exists() and (out / bundle.MARKER).exists()
    assert sorted(os.listdir(tmp_path)) == ["build"]


def test_all_stages_with_a_target_names_the_target_not_out(tmp_path):
    result = CliRunner().invoke(main, ["compile", str(MINIMAL), "--all-stages", "--target", "nftables",
                                       "--out", str(tmp_path / "build")])
    assert result.exit_code == 2
    assert "leave out --target" in result.output and "needs --out" not in result.output
    result = CliRunner().invoke(main, ["compile", str(MINIMAL), "--all-stages"])
    assert result.exit_code == 2 and "needs --out DIR" in result.output

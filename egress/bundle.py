"""Bundles: every target of every stage written to `DIR/<stage>/`, all or nothing.

The whole tree is written into a fresh temporary folder beside `DIR` and only then
renamed into place (the previous `DIR`, if any, is moved aside first and removed
last), so a failure at any point leaves either the old bundle or the new one, never a
mix. Each stage folder holds a `manifest.json` with the sha256 of each file, which
`egress apply` checks before loading anything.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from egress import __version__, instants
from egress.flows import StageFlows
from egress.targets import TARGETS


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def source_revision(paths: list[str]) -> str:
    """A content address of the policy's sources (policy, includes, lock file)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).name.encode() + b"\0" + Path(path).read_bytes() + b"\0")
    return "sha256:" + digest.hexdigest()


def render_stage(flows: StageFlows) -> dict[str, bytes]:
    """Every target's file for one stage, by file name."""
    return {t.filename: t.render(flows).encode("utf-8") for t in TARGETS.values()}


def manifest(flows: StageFlows, files: dict[str, bytes], revision: str) -> bytes:
    doc = {
        "policy": flows.policy.name,
        "revision": revision,
        "stage": flows.stage.id,
        "stage_title": flows.stage.title,
        "language_version": flows.policy.version,
        "compiler_version": __version__,
        "at": instants.iso(flows.at),
        "files": {name: sha256(data) for name, data in sorted(files.items())},
    }
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def write_bundle(out: str, stages: list[StageFlows], revision: str, progress=None) -> None:
    """Write `out/<stage>/...` for each stage, replacing `out` atomically."""
    target = Path(out).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    try:
        for flows in stages:
            files = render_stage(flows)
            files["manifest.json"] = manifest(flows, files, revision)
            folder = staging / flows.stage.id
            folder.mkdir()
            for name, data in files.items():
                (folder / name).write_bytes(data)
            if progress:
                progress(flows, files)
        os.chmod(staging, 0o755)
        _swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _swap_into_place(staging: Path, target: Path) -> None:
    if not target.exists():
        os.rename(staging, target)
        return
    if not target.is_dir():
        raise NotADirectoryError(f"{target} exists and is not a folder")
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    os.rename(target, old / "bundle")
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(old / "bundle", target)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)

"""Bundles: every target of every stage written to `DIR/<stage>/`, all or nothing.

The whole tree is written into a fresh temporary folder beside `DIR` and only then
renamed into place (the previous `DIR`, if any, is moved aside first and removed
last), so a failure at any point leaves either the old bundle or the new one, never a
mix. Each stage folder holds a `manifest.json` with the sha256 of each file, which
`egress apply` checks before loading anything.

`--out DIR` is replaced only when egress can tell it wrote what is there, because
replacing means deleting: `--out .` in a policy repository must not take the policy and
`.git` with it. The bundle root holds a marker, `.egress-bundle`, naming the policy and
the stage folders egress wrote. DIR may be:

- missing, or an empty folder: the bundle is created;
- a previous bundle (the marker, or, for bundles written before the marker existed,
  stage folders holding nothing but an egress `manifest.json` and the files it lists):
  its stage folders are replaced;
- a folder of other bundles (`build/` holding `build/minimal/` from the README's tour):
  those nested bundles are carried over untouched into the new tree, so compiling into
  `build/` and into `build/minimal/` in any order keeps both.

Anything else in DIR (a file or folder egress did not write) refuses the compile, and so
does a DIR that holds the policy, its includes or its lock file, or is not a folder at
all (`/dev/null`, a FIFO, a file): `BundleError`, which the CLI reports in one line,
exit 2. Nothing is deleted then.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from egress import __version__, instants
from egress.atomic import fsync_dir, fsync_files, write_new
from egress.firewall.safeio import read_regular
from egress.flows import StageFlows
from egress.manifest import MANIFEST, Manifest, ManifestError
from egress.targets import TARGETS, squid

MARKER = ".egress-bundle"
"""At a bundle's root: JSON `{"egress-bundle": 1, "policy": NAME, "stages": [ID...]}`."""

_MAX_METADATA = 1 << 20  # a marker or manifest larger than this was not written by egress
_STAGE_ID = re.compile(r"[a-z0-9][a-z0-9-]*\Z")  # what a marker may name: never `.git`, `..` or a control character


class BundleError(Exception):
    """`--out` cannot be (re)placed: a one-line message saying why and what to do."""


class _Stranded(BundleError):
    """A failed swap could not give a nested bundle back: the temporary tree must stay."""


@dataclass(frozen=True)
class Written:
    """What `write_bundle` did: the folder, the policy whose bundle it replaced (None
    if there was none) and the nested bundles it carried over."""

    path: Path
    replaced: str | None
    kept: tuple[str, ...]


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


def squid_schedule(flows: StageFlows) -> list[tuple[str, str, bytes]]:
    """The Squid include of each later period of the stage: (instant, file name, bytes)
    for each instant at which a proxied grant in force expires, rendered from the flows
    in force from that instant on (Squid has no date ACL: the firewall's proxy timer
    swaps the include at the instant, firewall/proxytimer.py). Direct grants need none:
    their rules stop matching in the kernel by themselves."""
    closing = sorted({g.expires for g in flows.grants if g.via == "proxy" and g.expires is not None
                      and g.expires > flows.at})
    found = []
    for when, text in zip(closing, squid.render_later(flows, closing), strict=True):
        name = f"squid-egress.{when.astimezone(instants.UTC).strftime('%Y%m%dT%H%M%SZ')}.conf"
        found.append((instants.iso(when), name, text.encode("utf-8")))
    return found


def manifest(flows: StageFlows, files: dict[str, bytes], revision: str,
             schedule: list[tuple[str, str, bytes]] | None = None) -> bytes:
    return Manifest(
        policy=flows.policy.name,
        revision=revision,
        stage=flows.stage.id,
        stage_title=flows.stage.title,
        language_version=flows.policy.version,
        compiler_version=__version__,
        at=instants.iso(flows.at),
        files={name: sha256(data) for name, data in sorted(files.items())},
        expiries=expiries(flows),
        squid_schedule=[{"at": at, "file": name} for at, name, _ in schedule or []],
    ).to_bytes()


def expiries(flows: StageFlows) -> list[dict]:
    """Every expiry instant of the grants in force at the stage, with what it closes."""
    closing = sorted((grant.expires, grant.id, grant) for grant in flows.grants if grant.expires is not None)
    return [{"at": instants.iso(when), "grant": gid, "via": grant.via, "from": list(grant.sources),
             "to": list(grant.targets)} for when, gid, grant in closing]


def marker(policy: str, stage_ids: Iterable[str]) -> bytes:
    """The root marker: deterministic (no time), like every other file of the bundle."""
    doc = {"egress-bundle": 1, "policy": policy, "stages": list(stage_ids)}
    return (json.dumps(doc, indent=2) + "\n").encode()


def write_bundle(out: str, stages: list[StageFlows], revision: str,
                 progress: Callable[[StageFlows, dict[str, bytes]], None] | None = None,
                 sources: Iterable[str] = ()) -> Written:
    """Write `out/<stage>/...` for each stage, replacing a previous bundle atomically.

    `sources` are the files the policy was read from: `out` may not hold them.
    Raises `BundleError` when `out` is not for egress to replace (nothing touched then).
    """
    target = Path(os.path.abspath(out))
    if target.is_symlink():
        target = target.resolve()
    new_ids = [flows.stage.id for flows in stages]
    _refuse_sources_inside(out, target, sources)
    plan = _plan(out, target, new_ids)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    except OSError as err:
        raise BundleError(f"cannot write --out {out}: {err.strerror or err}") from None
    try:
        written: list[Path] = []
        for flows in stages:
            files = render_stage(flows)
            schedule = squid_schedule(flows)
            files.update({name: data for _, name, data in schedule})
            files[MANIFEST] = manifest(flows, files, revision, schedule)
            folder = staging / flows.stage.id
            folder.mkdir()
            for name, data in files.items():
                write_new(folder / name, data, flush=False)
                written.append(folder / name)
            if progress:
                progress(flows, files)
        if stages:
            write_new(staging / MARKER, marker(stages[0].policy.name, new_ids), flush=False)
            written.append(staging / MARKER)
        fsync_files(written)  # every file on disk before the tree is renamed into place
        for flows in stages:
            fsync_dir(staging / flows.stage.id)
        os.chmod(staging, 0o755)
        fsync_dir(staging)
        plan = _plan(out, target, new_ids)  # again: rendering a large policy takes a while
        _swap_into_place(staging, target, plan)
    except _Stranded:
        raise
    except OSError as err:
        shutil.rmtree(staging, ignore_errors=True)
        raise BundleError(f"cannot write --out {out}: {err.strerror or err}; the previous content is unchanged") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Written(target, plan.replaced, plan.kept)


# ------------------------------------------------------------------ what --out holds


@dataclass(frozen=True)
class _Plan:
    exists: bool
    replaced: str | None  # the policy of the previous bundle, or "" if unnamed (an old bundle)
    kept: tuple[str, ...]  # nested bundles to carry over


def _refuse_sources_inside(out: str, target: Path, sources: Iterable[str]) -> None:
    """The policy, its includes and its lock file may not be inside `target`."""
    real = target.resolve()
    for source in sources:
        path = Path(source).resolve()
        if real == path or real in path.parents:
            raise BundleError(
                f"--out {out} holds the policy's own file {source}: replacing it would delete it; "
                "give a folder of its own, such as build/")


def _plan(out: str, target: Path, new_ids: list[str]) -> _Plan:
    """What replacing `target` would remove and keep, or `BundleError` if it is not ours."""
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        return _Plan(False, None, ())
    except OSError as err:
        raise BundleError(f"cannot use --out {out}: {err.strerror or err}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise BundleError(f"--out {out} is {_kind(info.st_mode)}, not a folder; give a folder for the bundle, such as build/")
    try:
        entries = sorted(os.listdir(target))
    except OSError as err:
        raise BundleError(f"cannot read --out {out}: {err.strerror or err}") from None
    replaced: str | None = None
    owned: set[str] = set()
    if MARKER in entries:
        doc = _marker(target)
        if doc is None:
            raise BundleError(f"{os.path.join(out, MARKER)} is not a marker written by egress; "
                              "give another folder, or remove the marker if the folder is yours to replace")
        replaced, owned = doc["policy"], {MARKER, *doc["stages"]}
    kept = []
    for entry in entries:
        if entry in owned:
            continue
        path = target / entry
        if _is_bundle(path):
            if entry in new_ids:
                raise BundleError(
                    f"{os.path.join(out, entry)} holds another egress bundle, and the policy has a stage '{entry}' "
                    "that would replace it; compile into another folder")
            kept.append(entry)
        elif _is_stage_folder(path, entry):  # a bundle written before the marker existed
            replaced = replaced if replaced is not None else ""
        else:
            raise BundleError(
                f"--out {out} holds '{entry}', which egress did not write: egress replaces only its own bundles; "
                "give an empty or new folder, such as build/")
    return _Plan(True, replaced, tuple(kept))


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISREG, "a file"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return name
    return "not a folder"


def _read_small(path: Path) -> bytes | None:
    """A regular file's bytes, never following a link or blocking on a FIFO; None otherwise."""
    try:
        return read_regular(path, _MAX_METADATA)
    except OSError:
        return None


def _json(path: Path) -> dict | None:
    data = _read_small(path)
    try:
        doc = json.loads(data) if data is not None else None
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _marker(folder: Path) -> dict | None:
    """The marker of a bundle root, if it is one egress wrote."""
    doc = _json(folder / MARKER)
    if (doc is None or doc.get("egress-bundle") != 1 or not isinstance(doc.get("policy"), str)
            or not _STAGE_ID.match(doc["policy"])  # a name, as egress wrote it: it is printed
            or not isinstance(doc.get("stages"), list)
            or not all(isinstance(s, str) and _STAGE_ID.match(s) for s in doc["stages"])):
        return None
    return doc


def _is_stage_folder(path: Path, name: str) -> bool:
    """A real folder holding an egress manifest for stage `name` and only the files it lists."""
    if path.is_symlink() or not path.is_dir():
        return False
    data = _read_small(path / MANIFEST)
    try:
        manifest = Manifest.from_bytes(data) if data is not None else None
    except ManifestError:
        return False
    if manifest is None or manifest.stage != name:
        return False
    return set(os.listdir(path)) <= {MANIFEST, *manifest.files}


def _is_bundle(path: Path) -> bool:
    """A real folder holding an egress bundle: its marker, or only old-style stage folders."""
    if path.is_symlink() or not path.is_dir():
        return False
    if _marker(path) is not None:
        return True
    entries = os.listdir(path)
    return bool(entries) and all(_is_stage_folder(path / entry, entry) for entry in entries)


# ------------------------------------------------------------------ the swap


def _swap_into_place(staging: Path, target: Path, plan: _Plan) -> None:
    """Carry the nested bundles over, then put `staging` where `target` was, in one rename."""
    if not plan.exists:
        os.rename(staging, target)
        fsync_dir(target.parent)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    moved: list[str] = []
    try:
        for entry in plan.kept:
            os.rename(target / entry, staging / entry)
            moved.append(entry)
        os.rename(target, old / "bundle")
        try:
            os.rename(staging, target)
        except BaseException:
            os.rename(old / "bundle", target)
            raise
    except BaseException:
        with contextlib.suppress(OSError):
            os.rmdir(old)  # only if empty: it may hold the previous tree if putting it back failed
        try:
            for entry in moved:  # the previous tree is back at `target`: give its entries back
                os.rename(staging / entry, target / entry)
        except OSError as err:
            raise _Stranded(f"replacing {target} failed, and so did moving {', '.join(moved)} back from {staging} "
                            f"({err.strerror}): move them back by hand") from err
        raise
    fsync_dir(target.parent)
    shutil.rmtree(old, ignore_errors=True)

"""Step 1 of an apply: read a stage folder's manifest and check every file's sha256.

Nothing here touches the firewall: a bundle that fails is refused before anything changes.
Every file is read through safeio: a FIFO or a link to /dev/zero among the listed files
is refused at once instead of blocking or reading for ever.
"""

from __future__ import annotations

import errno
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from egress.firewall import safeio
from egress.firewall.errors import Refused, Unusable
from egress.manifest import MANIFEST, Manifest, ManifestError

_MAX_MANIFEST = 1 << 20

NFT_FILE = "egress.nft"
SQUID_FILE = "squid-egress.conf"


@dataclass(frozen=True)
class Bundle:
    """A stage folder (`BUNDLE_DIR/<stage>`) and its manifest."""

    path: Path
    manifest: Manifest

    @property
    def sha256(self) -> str | None:
        """The sha256 of egress.nft: the identity of the ruleset in state and audit."""
        return self.manifest.files.get(NFT_FILE)

    def file(self, name: str) -> Path:
        return self.path / name


def file_sha256(path: Path, limit: int = safeio.MAX_FILE) -> str:
    """sha256 of a regular file (never through a link), refused beyond `limit` bytes."""
    digest = hashlib.sha256()
    read = 0
    with os.fdopen(safeio.open_regular(path), "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            read += len(block)
            if read > limit:
                raise safeio.NotRegular(errno.EFBIG, f"larger than {limit} bytes (refused)", str(path))
            digest.update(block)
    return digest.hexdigest()


def _stage_folders(folder: Path) -> list[str]:
    """The stage folders of a bundle root (`egress compile --all-stages --out DIR`)."""
    try:
        return sorted(entry.name for entry in folder.iterdir() if (entry / MANIFEST).is_file())
    except OSError:
        return []


def read_manifest(path: str | os.PathLike) -> Bundle:
    """The bundle's manifest, without checking the files yet. Unusable (exit 2) when the
    folder or its manifest cannot be read or is not a manifest at all."""
    folder = Path(path)
    if not folder.is_dir():
        raise Unusable(f"{folder}: not a bundle folder (expected BUNDLE_DIR/<stage> with {MANIFEST})")
    if not (folder / MANIFEST).exists() and not (folder / MANIFEST).is_symlink():
        stages = _stage_folders(folder)
        if stages:
            shown = ", ".join(stages[:6]) + (", ..." if len(stages) > 6 else "")
            raise Unusable(f"{folder}: a bundle, not one stage of it: give {folder}/<stage> (stages: {shown})")
    try:
        raw = safeio.read_regular(folder / MANIFEST, _MAX_MANIFEST)
    except OSError as err:
        raise Unusable(f"{folder / MANIFEST}: cannot read: {err.strerror or err}") from None
    try:
        manifest = Manifest.from_bytes(raw)
    except ManifestError as err:
        raise Unusable(f"{folder / MANIFEST}: {err}") from None
    return Bundle(folder.resolve(), manifest)


def verify_bundle(bundle: Bundle, need_squid: bool = False) -> None:
    """Refuse (exit 1) unless every listed file is there with its sha256."""
    files = bundle.manifest.files
    for name in files:
        if "/" in name or name in ("", ".", ".."):
            raise Refused(f"{bundle.path}: {MANIFEST} names a file outside the bundle: {name!r}")
    needed = [NFT_FILE] + ([SQUID_FILE] if need_squid else [])
    for name in needed:
        if name not in files:
            raise Refused(f"{bundle.path}: {MANIFEST} lists no {name}")
    for name, expected in sorted(files.items()):
        path = bundle.file(name)
        try:
            actual = file_sha256(path)
        except FileNotFoundError:
            raise Refused(f"{path}: missing (listed in {MANIFEST})") from None
        except OSError as err:
            raise Refused(f"{path}: cannot read: {err.strerror or err}") from None
        if actual != expected.lower():
            raise Refused(f"{path}: sha256 mismatch (manifest {expected[:16]}..., file {actual[:16]}...): refused")

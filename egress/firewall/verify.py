"""Step 1 of an apply: read a stage folder's manifest and check every file's sha256.

Nothing here touches the firewall: a bundle that fails is refused before anything changes.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from egress.firewall.errors import Refused, Unusable
from egress.manifest import MANIFEST, Manifest, ManifestError

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


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(path: str | os.PathLike) -> Bundle:
    """The bundle's manifest, without checking the files yet. Unusable (exit 2) when the
    folder or its manifest cannot be read or is not a manifest at all."""
    folder = Path(path)
    if not folder.is_dir():
        raise Unusable(f"{folder}: not a bundle folder (expected BUNDLE_DIR/<stage> with {MANIFEST})")
    try:
        raw = (folder / MANIFEST).read_bytes()
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

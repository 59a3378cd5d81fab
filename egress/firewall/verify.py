"""Step 1 of an apply: read a stage folder's manifest and check every file's sha256.

Nothing here touches the firewall: a bundle that fails is refused before anything changes.
Every file is read through safeio: a FIFO or a link to /dev/zero among the listed files
is refused at once instead of blocking or reading for ever.

Every file is read once, and what apply uses afterwards is those bytes, never the path
again: the manifest's bytes are the ones whose signature is checked (with
`--allowed-signers`, see signing.py) and then parsed; each file's bytes are the ones
whose sha256 is checked and then installed or loaded (transaction.py copies egress.nft
into a private folder). A file swapped in the bundle folder between the check and the
use changes nothing.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from egress.firewall import safeio, signing
from egress.firewall.errors import Refused, Unusable
from egress.manifest import MANIFEST, Manifest, ManifestError

_MAX_MANIFEST = 1 << 20

NFT_FILE = "egress.nft"
SQUID_FILE = "squid-egress.conf"
DNSMASQ_FILE = "dnsmasq-egress.conf"


@dataclass(frozen=True)
class Bundle:
    """A stage folder (`BUNDLE_DIR/<stage>`) and its manifest."""

    path: Path
    manifest: Manifest
    signer: str | None = None  # the identity that signed the manifest (with --allowed-signers)
    signed_at: str | None = None  # when it was signed (UTC), read from inside the signature

    @property
    def sha256(self) -> str | None:
        """The sha256 of egress.nft: the identity of the ruleset in state and audit."""
        return self.manifest.files.get(NFT_FILE)

    def file(self, name: str) -> Path:
        return self.path / name


def _stage_folders(folder: Path) -> list[str]:
    """The stage folders of a bundle root (`egress compile --all-stages --out DIR`)."""
    try:
        return sorted(entry.name for entry in folder.iterdir() if (entry / MANIFEST).is_file())
    except OSError:
        return []


def read_manifest(path: str | os.PathLike, allowed_signers: str | None = None, signer: str | None = None) -> Bundle:
    """The bundle's manifest, without checking the files yet. Unusable (exit 2) when the
    folder or its manifest cannot be read or is not a manifest at all. With
    `allowed_signers`, Refused unless `manifest.json.sig` signs these very bytes."""
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
    signed = None
    if allowed_signers is not None:
        signed = _check_signature(folder, raw, Path(allowed_signers), signer)
    try:
        manifest = Manifest.from_bytes(raw)
    except ManifestError as err:
        raise Unusable(f"{folder / MANIFEST}: {err}") from None
    return Bundle(folder.resolve(), manifest, signed.signer if signed else None, signed.signed_at if signed else None)


def _check_signature(folder: Path, raw: bytes, allowed_signers: Path, signer: str | None) -> signing.Signed:
    sig_path = signing.signature_path(folder / MANIFEST)
    try:
        signature: bytes | None = safeio.read_regular(sig_path, signing.MAX_SIGNATURE)
    except FileNotFoundError:
        signature = None
    except OSError as err:
        raise Refused(f"{sig_path}: cannot read: {err.strerror or err}") from None
    try:
        return signing.verify(raw, signature, allowed_signers, signer, name=str(folder / MANIFEST))
    except signing.SignatureError as err:
        raise (Unusable if err.usage else Refused)(str(err)) from None


def verify_bundle(bundle: Bundle, need: tuple[str, ...] = (), need_squid: bool = False) -> dict[str, bytes]:
    """Refuse (exit 1) unless every listed file is there with its sha256 (and the files
    of `need`, or squid's, are listed). Returns the bytes that were checked, by name."""
    files = bundle.manifest.files
    for name in files:
        if "/" in name or name in ("", ".", ".."):
            raise Refused(f"{bundle.path}: {MANIFEST} names a file outside the bundle: {name!r}")
    needed = [NFT_FILE, *need] + ([SQUID_FILE] if need_squid else [])
    for name in needed:
        if name not in files:
            raise Refused(f"{bundle.path}: {MANIFEST} lists no {name}")
    contents = {}
    for name, expected in sorted(files.items()):
        path = bundle.file(name)
        try:
            data = safeio.read_regular(path)
        except FileNotFoundError:
            raise Refused(f"{path}: missing (listed in {MANIFEST})") from None
        except OSError as err:
            raise Refused(f"{path}: cannot read: {err.strerror or err}") from None
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected.lower():
            raise Refused(f"{path}: sha256 mismatch (manifest {expected[:16]}..., file {actual[:16]}...): refused")
        contents[name] = data
    return contents

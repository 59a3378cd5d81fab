"""Step 1 of an apply: read a stage folder's manifest and check every file's sha256.

Nothing here touches the firewall: a bundle that fails is refused before anything changes.

Every file is read once, and what apply uses afterwards is those bytes, never the path
again: the manifest's bytes are the ones whose signature is checked (with
`--allowed-signers`, see signing.py) and then parsed; each file's bytes are the ones
whose sha256 is checked and then installed or loaded (transaction.py copies them into
the state directory). A file swapped in the bundle folder between the check and the use
changes nothing. Reads are bounded and refuse what is not a regular file (a FIFO would
block, a symbolic link to /dev/zero would never end).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from egress.firewall import signing
from egress.firewall.errors import Refused, Unusable
from egress.manifest import MANIFEST, Manifest, ManifestError

NFT_FILE = "egress.nft"
SQUID_FILE = "squid-egress.conf"
DNSMASQ_FILE = "dnsmasq-egress.conf"
MAX_FILE = 256 * 1024 * 1024  # a 100,000-destination egress.nft is ~10 MB
MAX_MANIFEST = 1024 * 1024


@dataclass(frozen=True)
class Bundle:
    """A stage folder (`BUNDLE_DIR/<stage>`) and its manifest."""

    path: Path
    manifest: Manifest
    signer: str | None = None  # the identity that signed the manifest (with --allowed-signers)

    @property
    def sha256(self) -> str | None:
        """The sha256 of egress.nft: the identity of the ruleset in state and audit."""
        return self.manifest.files.get(NFT_FILE)

    def file(self, name: str) -> Path:
        return self.path / name


def read_regular(path: Path, limit: int = MAX_FILE) -> bytes:
    """The bytes of a regular file, read once: OSError for a missing file, ValueError
    for a symbolic link, a FIFO or device, or a file over `limit` bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as err:
        if err.errno == errno.ELOOP:  # O_NOFOLLOW met a symbolic link
            raise ValueError("a symbolic link, not a regular file") from None
        raise
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise ValueError("not a regular file")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"larger than {limit} bytes")
    return data


def read_manifest(path: str | os.PathLike, allowed_signers: str | None = None, signer: str | None = None) -> Bundle:
    """The bundle's manifest, without checking the files yet. Unusable (exit 2) when the
    folder or its manifest cannot be read or is not a manifest at all. With
    `allowed_signers`, Refused unless `manifest.json.sig` signs these very bytes."""
    folder = Path(path)
    if not folder.is_dir():
        raise Unusable(f"{folder}: not a bundle folder (expected BUNDLE_DIR/<stage> with {MANIFEST})")
    try:
        raw = read_regular(folder / MANIFEST, MAX_MANIFEST)
    except (OSError, ValueError) as err:
        why = err.strerror if isinstance(err, OSError) and err.strerror else err
        raise Unusable(f"{folder / MANIFEST}: cannot read: {why}") from None
    identity = None
    if allowed_signers is not None:
        identity = _check_signature(folder, raw, Path(allowed_signers), signer)
    try:
        manifest = Manifest.from_bytes(raw)
    except ManifestError as err:
        raise Unusable(f"{folder / MANIFEST}: {err}") from None
    return Bundle(folder.resolve(), manifest, identity)


def _check_signature(folder: Path, raw: bytes, allowed_signers: Path, signer: str | None) -> str:
    sig_path = signing.signature_path(folder / MANIFEST)
    try:
        signature: bytes | None = read_regular(sig_path, signing.MAX_SIGNATURE)
    except FileNotFoundError:
        signature = None
    except (OSError, ValueError) as err:
        raise Refused(f"{sig_path}: cannot read: {err}") from None
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
            data = read_regular(path)
        except FileNotFoundError:
            raise Refused(f"{path}: missing (listed in {MANIFEST})") from None
        except OSError as err:
            raise Refused(f"{path}: cannot read: {err.strerror or err}") from None
        except ValueError as err:
            raise Refused(f"{path}: refused: {err}") from None
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected.lower():
            raise Refused(f"{path}: sha256 mismatch (manifest {expected[:16]}..., file {actual[:16]}...): refused")
        contents[name] = data
    return contents

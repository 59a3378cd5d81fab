"""Signed bundles: OpenSSH signatures over a stage's `manifest.json`.

Why OpenSSH: every firewall already has `ssh-keygen`, every approver already has an SSH
key (or a hardware token behind ssh-agent), and `allowed_signers` files are a format
that operators know from git commit signing. No new crypto, no new key store.

What is signed is a one-line *statement* about the manifest: the sha256 of
`manifest.json` and the signing time (UTC, to the second). The manifest holds the sha256
of every file of the stage folder, and apply checks each file against it, so one
signature covers the whole stage; the time inside the statement is what lets a firewall
refuse a validly signed but *older* approval (a replay: a stage that opened more, or a
version whose grant was revoked since; see freshness.py). The statement, then the
armoured SSH signature of its bytes, live beside the manifest as `manifest.json.sig`:

    {"format": "egress-signature-1", "manifest_sha256": "...", "signed_at": "2026-12-01T16:00:00Z"}
    -----BEGIN SSH SIGNATURE-----
    ...

in the namespace `egress-bundle` (a signature made for git or for a file elsewhere does
not verify here, and the reverse). A time edited in the statement breaks the signature;
a time given anywhere else is not read.

- `sign()`: `ssh-keygen -Y sign -n egress-bundle -f KEY` over the statement; the file is
  written atomically. KEY may be a public key whose private half is in ssh-agent
  (hardware tokens). Before signing, the stage folder must be the signer's alone (as
  sshd's StrictModes judges ~/.ssh, trust.py: owned by the signer or root, writable by
  no one else, no symbolic link among its files, its ancestors likewise), and every file
  the manifest lists must have the manifest's sha256: the approver signs what was
  compiled and reviewed, not what someone changed since. It returns the files and
  sha256 it vouches for, which `egress sign` prints.
- `verify()`: `ssh-keygen -Y verify` of the statement, whose manifest sha256 must be
  that of the very bytes that apply then parses (read once: nothing can change between
  the check and the use). The signer identity is the one given (`--signer`), or else
  the principals that `allowed_signers` gives for the key that signed (`-Y
  find-principals`); `allowed_signers` options (`namespaces=`, `valid-before=`) apply
  as ssh-keygen applies them. A signature of the manifest's bytes alone (the format of
  the previous egress, with no signing time) is refused: sign the stage again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from egress.atomic import write_atomically
from egress.firewall import trust
from egress.firewall.errors import Unusable
from egress.firewall.safeio import read_regular
from egress.firewall.sanitize import clean, excerpt
from egress.manifest import MANIFEST, Manifest, ManifestError

NAMESPACE = "egress-bundle"
SUFFIX = ".sig"
MAX_SIGNATURE = 64 * 1024
FORMAT = "egress-signature-1"
ARMOUR = b"-----BEGIN SSH SIGNATURE-----"
ARMOUR_END = b"-----END SSH SIGNATURE-----"  # nothing may follow it: no second, unsigned statement
_SIGNED_AT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")  # fixed width: compared as text


@dataclass(frozen=True)
class Signed:
    """A verified signature: who signed, and when (UTC, `2026-12-01T16:00:00Z`)."""

    signer: str
    signed_at: str


class SignatureError(ValueError):
    """A signature is missing, made by a key that is not allowed, or does not verify
    (exit 1); `usage` is set when the cause is our input (no ssh-keygen, unreadable
    allowed_signers or key: exit 2)."""

    def __init__(self, message: str, usage: bool = False):
        super().__init__(message)
        self.usage = usage


def _ssh_keygen() -> str:
    found = os.environ.get("EGRESS_SSH_KEYGEN") or shutil.which("ssh-keygen")
    if not found:
        raise SignatureError("ssh-keygen: not found (install openssh-client)", usage=True)
    return found


def _run(argv: list[str], data: bytes) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, input=data, capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        raise SignatureError(f"{argv[0]} {argv[1]} {argv[2]}: timed out") from None


def signature_path(manifest: Path) -> Path:
    return manifest.with_name(manifest.name + SUFFIX)


def statement(manifest: bytes, signed_at: str) -> bytes:
    """The bytes that are signed: the manifest's sha256 and the signing time."""
    doc = {"format": FORMAT, "manifest_sha256": hashlib.sha256(manifest).hexdigest(), "signed_at": signed_at}
    return (json.dumps(doc, sort_keys=True) + "\n").encode()


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


STAGE_FOLDER = "the stage folder to sign"
_FIX = "only you may write it (chmod go-w; own it yourself), or compile into a folder of your own"


@dataclass(frozen=True)
class Signature:
    """What `sign` signed: where the signature went, when, and the files it vouches for."""

    path: Path
    signed_at: str
    files: list[tuple[str, str]]  # (name, sha256): manifest.json first, then the files it lists
    policy: str | None
    stage: str | None


def sign(manifest: Path, key: Path, signed_at: str | None = None) -> Signature:
    """Sign the stage folder of `manifest` with `key` at `signed_at` (default: now).

    Refused (SignatureError, not usage) when the folder or one of its files is not the
    signer's alone (trust.py: owned by you or root, writable by no one else, no link):
    someone else could have changed it between the build and the signature, and the
    approver would sign their content; or when a file differs from the manifest's sha256."""
    folder = manifest.parent
    _trusted(folder, [manifest, signature_path(manifest)])
    data = read_manifest(manifest)
    try:
        parsed = Manifest.from_bytes(data)
    except ManifestError as err:
        raise SignatureError(f"{manifest}: {err}", usage=True) from None
    files = [(manifest.name, hashlib.sha256(data).hexdigest()), *_listed_files(folder, parsed)]
    if not key.is_file():
        raise SignatureError(f"{key}: no such key file", usage=True)
    signed_at = signed_at or now()
    text = statement(data, signed_at)
    cp = _run([_ssh_keygen(), "-Y", "sign", "-n", NAMESPACE, "-f", str(key)], text)
    if cp.returncode or not cp.stdout.startswith(ARMOUR):
        raise SignatureError(f"ssh-keygen -Y sign with {key} failed: {excerpt(cp.stderr.decode(errors='replace'))}",
                             usage=True)
    target = signature_path(manifest)
    try:
        write_atomically(target, text + cp.stdout, mode=0o644)
    except OSError as err:
        raise SignatureError(f"{target}: cannot write: {err.strerror or err}", usage=True) from None
    return Signature(target, signed_at, files, parsed.policy, parsed.stage)


def _trusted(folder: Path, entries: list[Path]) -> None:
    try:
        trust.check_dir(folder, STAGE_FOLDER, _FIX)
        for entry in entries:
            trust.check_entry(entry, STAGE_FOLDER, _FIX)
    except Unusable as err:
        raise SignatureError(str(err)) from None


def _listed_files(folder: Path, manifest: Manifest) -> list[tuple[str, str]]:
    """(name, sha256) of each file the manifest lists, checked: a file of the folder,
    trusted, and with the manifest's sha256 (else the signature would vouch for a stage
    that apply refuses, or for content nobody compiled)."""
    found = []
    for name, expected in sorted(manifest.files.items()):
        path = folder / name
        if "/" in name or name in ("", ".", ".."):
            raise SignatureError(f"{folder / MANIFEST}: names a file outside the stage folder: {clean(name)!r}")
        _trusted(folder, [path])
        try:
            actual = hashlib.sha256(read_regular(path)).hexdigest()
        except OSError as err:
            raise SignatureError(f"{path}: cannot read: {err.strerror or err} (listed in {MANIFEST}); "
                                 "compile the stage again") from None
        if actual != expected.lower():
            raise SignatureError(f"{path}: sha256 {actual[:16]}... is not the manifest's {expected[:16]}...: "
                                 "the stage changed after it was compiled; compile it again, review, then sign")
        found.append((name, actual))
    return found


def read_manifest(manifest: Path) -> bytes:
    """The bytes of the manifest to sign (SignatureError, usage, when unreadable)."""
    try:
        return read_regular(manifest)  # a FIFO would hang, a link to /dev/zero fill the memory
    except FileNotFoundError:
        stages = sorted(entry.parent.name for entry in manifest.parent.glob(f"*/{manifest.name}"))
        if stages:  # `egress sign build`: the bundle, not one of its stages
            raise SignatureError(f"{manifest.parent}: a bundle, not one stage of it: give {manifest.parent}/<stage> "
                                 f"(stages: {', '.join(stages[:6])}{', ...' if len(stages) > 6 else ''})",
                                 usage=True) from None
        raise SignatureError(f"{manifest}: cannot read: no such file", usage=True) from None
    except OSError as err:
        raise SignatureError(f"{manifest}: cannot read: {err.strerror or err}", usage=True) from None


def principals(signature: Path, allowed_signers: Path) -> list[str]:
    """The identities that `allowed_signers` gives to the key that made `signature`."""
    cp = _run([_ssh_keygen(), "-Y", "find-principals", "-s", str(signature), "-f", str(allowed_signers)], b"")
    if cp.returncode:
        return []
    return [line.strip() for line in cp.stdout.decode(errors="replace").splitlines() if line.strip()]


def _parse(signature: bytes, name: str) -> tuple[bytes, bytes, str, str]:
    """(statement, armoured signature, manifest sha256, signing time) of a signature file, or
    SignatureError when it is not one that this egress writes."""
    sig_name = f"{name}{SUFFIX}"
    if signature.startswith(ARMOUR):
        raise SignatureError(f"{sig_name}: signed without a signing time (by an earlier egress): "
                             "have the stage signed again with `egress sign`")
    text, _, armour = signature.partition(b"\n")
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or set(doc) != {"format", "manifest_sha256",
                                                                                "signed_at"}:
        raise SignatureError(f"{sig_name}: not an egress signature (expected a {FORMAT} statement, then the "
                             "SSH signature)")
    signed_at = doc["signed_at"]
    try:
        valid = isinstance(signed_at, str) and bool(_SIGNED_AT.fullmatch(signed_at)) \
            and bool(dt.datetime.strptime(signed_at, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        valid = False
    if not valid or not armour.startswith(ARMOUR) or not armour.rstrip(b"\n").endswith(ARMOUR_END):
        raise SignatureError(f"{sig_name}: not an egress signature (bad signing time, no SSH signature, or words "
                             "after it)")
    return text + b"\n", armour, str(doc["manifest_sha256"]), signed_at


def verify(data: bytes, signature: bytes | None, allowed_signers: Path, signer: str | None = None,
           name: str = "manifest.json") -> Signed:
    """Check that `signature` is a statement about `data` (its sha256) signed with a key
    that `allowed_signers` allows (for `signer` if given). Returns who signed, and when."""
    if not os.access(allowed_signers, os.R_OK) or not allowed_signers.is_file():
        raise SignatureError(f"{allowed_signers}: cannot read the allowed signers file", usage=True)
    if signature is None:
        raise SignatureError(f"{name}: not signed (no {name}{SUFFIX}); sign it with `egress sign` "
                             "on the approver's machine")
    if len(signature) > MAX_SIGNATURE:
        raise SignatureError(f"{name}{SUFFIX}: too large to be a signature")
    text, armour, signed_sha256, signed_at = _parse(signature, name)
    with tempfile.TemporaryDirectory(prefix="egress-sig-") as tmp:
        sig = Path(tmp) / "manifest.json.sig"
        sig.write_bytes(armour)
        found = [signer] if signer else principals(sig, allowed_signers)
        if not found:
            raise SignatureError(f"{name}: signed by a key that {allowed_signers} does not list "
                                 "(or not an SSH signature): refused")
        cp = _run([_ssh_keygen(), "-Y", "verify", "-f", str(allowed_signers), "-I", found[0], "-n", NAMESPACE,
                   "-s", str(sig)], text)
    if cp.returncode:
        why = "" if signer else " (the signature or its signing time was changed?)"
        raise SignatureError(f"{name}: the signature does not verify for {clean(found[0])} "
                             f"with {allowed_signers}{why}: refused")
    if signed_sha256 != hashlib.sha256(data).hexdigest():
        raise SignatureError(f"{name}: changed after it was signed (its sha256 is not the signed one): refused")
    return Signed(found[0], signed_at)

"""Signed bundles: OpenSSH signatures over a stage's `manifest.json`.

Why OpenSSH: every firewall already has `ssh-keygen`, every approver already has an SSH
key (or a hardware token behind ssh-agent), and `allowed_signers` files are a format
that operators know from git commit signing. No new crypto, no new key store.

What is signed is the manifest; the manifest holds the sha256 of every file of the
stage folder, and apply checks each file against it, so one signature covers the whole
stage. The signature lives beside it as `manifest.json.sig`, in the namespace
`egress-bundle` (a signature made for git or for a file elsewhere does not verify
here, and the reverse).

- `sign()`: `ssh-keygen -Y sign -n egress-bundle -f KEY` over the manifest's bytes; the
  signature is written atomically. KEY may be a public key whose private half is in
  ssh-agent (hardware tokens).
- `verify()`: `ssh-keygen -Y verify` of the very bytes that apply then parses (read
  once: nothing can change between the check and the use). The signer identity is the
  one given (`--signer`), or else the principals that `allowed_signers` gives for the
  key that signed (`-Y find-principals`); `allowed_signers` options (`namespaces=`,
  `valid-before=`) apply as ssh-keygen applies them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from egress.atomic import write_atomically
from egress.firewall.safeio import read_regular
from egress.firewall.sanitize import clean, excerpt

NAMESPACE = "egress-bundle"
SUFFIX = ".sig"
MAX_SIGNATURE = 64 * 1024


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


def sign(manifest: Path, key: Path) -> Path:
    """Sign `manifest` with `key`; returns the signature's path."""
    try:
        data = read_regular(manifest)  # a FIFO would hang, a link to /dev/zero fill the memory
    except FileNotFoundError:
        stages = sorted(entry.parent.name for entry in manifest.parent.glob(f"*/{manifest.name}"))
        if stages:  # `egress sign build`: the bundle, not one of its stages
            raise SignatureError(f"{manifest.parent}: a bundle, not one stage of it: give {manifest.parent}/<stage> "
                                 f"(stages: {', '.join(stages[:6])}{', ...' if len(stages) > 6 else ''})",
                                 usage=True) from None
        raise SignatureError(f"{manifest}: cannot read: no such file", usage=True) from None
    except OSError as err:
        raise SignatureError(f"{manifest}: cannot read: {err.strerror or err}", usage=True) from None
    if not key.is_file():
        raise SignatureError(f"{key}: no such key file", usage=True)
    cp = _run([_ssh_keygen(), "-Y", "sign", "-n", NAMESPACE, "-f", str(key)], data)
    if cp.returncode or not cp.stdout.startswith(b"-----BEGIN SSH SIGNATURE-----"):
        raise SignatureError(f"ssh-keygen -Y sign with {key} failed: {excerpt(cp.stderr.decode(errors='replace'))}",
                             usage=True)
    target = signature_path(manifest)
    try:
        write_atomically(target, cp.stdout, mode=0o644)
    except OSError as err:
        raise SignatureError(f"{target}: cannot write: {err.strerror or err}", usage=True) from None
    return target


def principals(signature: Path, allowed_signers: Path) -> list[str]:
    """The identities that `allowed_signers` gives to the key that made `signature`."""
    cp = _run([_ssh_keygen(), "-Y", "find-principals", "-s", str(signature), "-f", str(allowed_signers)], b"")
    if cp.returncode:
        return []
    return [line.strip() for line in cp.stdout.decode(errors="replace").splitlines() if line.strip()]


def verify(data: bytes, signature: bytes | None, allowed_signers: Path, signer: str | None = None,
           name: str = "manifest.json") -> str:
    """Check that `signature` signs `data` with a key that `allowed_signers` allows (for
    `signer` if given). Returns the identity of the signer."""
    if not os.access(allowed_signers, os.R_OK) or not allowed_signers.is_file():
        raise SignatureError(f"{allowed_signers}: cannot read the allowed signers file", usage=True)
    if signature is None:
        raise SignatureError(f"{name}: not signed (no {name}{SUFFIX}); sign it with `egress sign` "
                             "on the approver's machine")
    if len(signature) > MAX_SIGNATURE:
        raise SignatureError(f"{name}{SUFFIX}: too large to be a signature")
    with tempfile.TemporaryDirectory(prefix="egress-sig-") as tmp:
        sig = Path(tmp) / "manifest.json.sig"
        sig.write_bytes(signature)
        found = [signer] if signer else principals(sig, allowed_signers)
        if not found:
            raise SignatureError(f"{name}: signed by a key that {allowed_signers} does not list "
                                 "(or not an SSH signature): refused")
        cp = _run([_ssh_keygen(), "-Y", "verify", "-f", str(allowed_signers), "-I", found[0], "-n", NAMESPACE,
                   "-s", str(sig)], data)
    if cp.returncode:
        why = "" if signer else " (the manifest was changed after it was signed?)"
        raise SignatureError(f"{name}: the signature does not verify for {clean(found[0])} "
                             f"with {allowed_signers}{why}: refused")
    return found[0]

"""egress/firewall/signing.py (issue 10 item 8) with real ssh-keygen keys made here."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

import pytest

from egress.firewall import signing

pytestmark = pytest.mark.system("ssh-keygen")


def make_key(folder: Path, name: str) -> Path:
    key = folder / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True)
    return key


@pytest.fixture
def keys(tmp_path):
    """An approver's key listed in allowed_signers, and a stranger's key that is not."""
    approver, stranger = make_key(tmp_path, "approver"), make_key(tmp_path, "stranger")
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f'crisis-cell@chu namespaces="egress-bundle" {approver.with_suffix(".pub").read_text()}')
    manifest = tmp_path / "stage" / "manifest.json"
    manifest.parent.mkdir()
    manifest.write_text('{"files": {}, "policy": "p", "stage": "s1"}\n')
    return {"approver": approver, "stranger": stranger, "allowed": allowed, "manifest": manifest}


def test_signed_by_an_allowed_key_verifies(keys):
    signed = signing.sign(keys["manifest"], keys["approver"])
    sig, signed_at = signed.path, signed.signed_at
    assert signed.files == [("manifest.json", hashlib.sha256(keys["manifest"].read_bytes()).hexdigest())]
    assert sig == keys["manifest"].with_name("manifest.json.sig")
    data = keys["manifest"].read_bytes()
    assert signing.verify(data, sig.read_bytes(), keys["allowed"]) == signing.Signed("crisis-cell@chu", signed_at)
    assert signing.verify(data, sig.read_bytes(), keys["allowed"], signer="crisis-cell@chu").signer == "crisis-cell@chu"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", signed_at)


def test_the_signing_time_is_inside_what_is_signed(keys):
    """The statement (manifest sha256, time) is what the SSH signature covers: a time
    edited in it breaks the signature; the signature of the manifest alone (the
    previous format, no time) is refused."""
    sig = signing.sign(keys["manifest"], keys["approver"], signed_at="2026-01-01T00:00:00Z").path
    data, raw = keys["manifest"].read_bytes(), sig.read_bytes()
    statement, _, armour = raw.partition(b"\n")
    assert json.loads(statement) == {"format": "egress-signature-1", "signed_at": "2026-01-01T00:00:00Z",
                                     "manifest_sha256": hashlib.sha256(data).hexdigest()}
    assert signing.verify(data, raw, keys["allowed"]).signed_at == "2026-01-01T00:00:00Z"
    forged = raw.replace(b"2026-01-01T00:00:00Z", b"2026-06-01T00:00:00Z")
    with pytest.raises(signing.SignatureError, match="does not verify for crisis-cell@chu"):
        signing.verify(data, forged, keys["allowed"])
    for bad in (b"2026-13-01T00:00:00Z", b"2026-01-01 00:00:00Z", b"yesterday"):
        with pytest.raises(signing.SignatureError, match="bad signing time"):
            signing.verify(data, raw.replace(b"2026-01-01T00:00:00Z", bad), keys["allowed"])
    with pytest.raises(signing.SignatureError, match="signed without a signing time"):
        signing.verify(data, armour, keys["allowed"])
    legacy = subprocess.run(["ssh-keygen", "-Y", "sign", "-n", "egress-bundle", "-f", str(keys["approver"])],
                            input=data, capture_output=True, check=True).stdout
    with pytest.raises(signing.SignatureError, match="signed without a signing time"):
        signing.verify(data, legacy, keys["allowed"])
    with pytest.raises(signing.SignatureError, match="not an egress signature"):
        signing.verify(data, b'{"format": "egress-signature-1"}\n' + armour, keys["allowed"])
    # a newer time put beside the signed one, outside what the signature covers
    newer = signing.statement(data, "2026-06-01T00:00:00Z")
    extra_key = raw.replace(b'"}\n', b'", "signed_at_2": "2026-06-01T00:00:00Z"}\n', 1)
    assert extra_key != raw
    for forged in (newer + raw, raw + newer, extra_key):
        with pytest.raises(signing.SignatureError, match=r"does not verify|not an egress signature"):
            signing.verify(data, forged, keys["allowed"])


def test_unsigned_other_key_modified_or_wrong_signer_are_refused(keys):
    data = keys["manifest"].read_bytes()
    with pytest.raises(signing.SignatureError, match="not signed") as err:
        signing.verify(data, None, keys["allowed"])
    assert not err.value.usage
    stranger = signing.sign(keys["manifest"], keys["stranger"]).path.read_bytes()
    with pytest.raises(signing.SignatureError, match="does not list"):
        signing.verify(data, stranger, keys["allowed"])
    with pytest.raises(signing.SignatureError, match="does not verify for crisis-cell@chu"):
        signing.verify(data, stranger, keys["allowed"], signer="crisis-cell@chu")
    good = signing.sign(keys["manifest"], keys["approver"]).path.read_bytes()
    with pytest.raises(signing.SignatureError, match="changed after it was signed"):
        signing.verify(data.replace(b'"s1"', b'"s2"'), good, keys["allowed"])
    with pytest.raises(signing.SignatureError, match="does not verify for someone-else"):
        signing.verify(data, good, keys["allowed"], signer="someone-else")
    with pytest.raises(signing.SignatureError, match="not an egress signature"):
        signing.verify(data, b"garbage\n", keys["allowed"])


def test_a_signature_of_another_namespace_does_not_verify(keys):
    """A signature the approver made for something else (here: git's namespace) is not
    an approval of a bundle."""
    data = keys["manifest"].read_bytes()
    statement = signing.statement(data, signing.now())
    cp = subprocess.run(["ssh-keygen", "-Y", "sign", "-n", "git", "-f", str(keys["approver"])], input=statement,
                        capture_output=True, check=True)
    with pytest.raises(signing.SignatureError, match="does not verify"):
        signing.verify(data, statement + cp.stdout, keys["allowed"])


def test_usage_errors(keys, tmp_path):
    with pytest.raises(signing.SignatureError, match="no such key file") as err:
        signing.sign(keys["manifest"], tmp_path / "nokey")
    assert err.value.usage
    with pytest.raises(signing.SignatureError, match="cannot read the allowed signers") as err:
        signing.verify(b"", b"", tmp_path / "nowhere")
    assert err.value.usage
    with pytest.raises(signing.SignatureError, match="cannot read") as err:
        signing.sign(tmp_path / "none" / "manifest.json", keys["approver"])


def test_sign_command(keys, tmp_path):
    import sys

    egress = [sys.executable, "-m", "egress.cli", "sign"]
    stage = keys["manifest"].parent
    cp = subprocess.run([*egress, str(stage), "--key", str(keys["approver"])], capture_output=True, text=True)
    assert cp.returncode == 0, cp.stderr
    assert (stage / "manifest.json.sig").read_text().startswith('{"format": "egress-signature-1"')
    signing.verify(keys["manifest"].read_bytes(), (stage / "manifest.json.sig").read_bytes(), keys["allowed"])
    cp = subprocess.run([*egress, str(tmp_path / "nowhere"), "--key", str(keys["approver"])],
                        capture_output=True, text=True)
    assert cp.returncode == 2 and "cannot read" in cp.stderr and "Traceback" not in cp.stderr
    cp = subprocess.run([*egress, "--help"], capture_output=True, text=True)
    assert cp.returncode == 0 and "allowed-signers" in cp.stdout and "Examples" in cp.stdout


@pytest.mark.parametrize("kind", ["fifo", "link to /dev/zero"])
def test_sign_refuses_a_manifest_that_is_not_a_regular_file(keys, kind):
    """A FIFO made `egress sign` hang; a link to /dev/zero made it read until MemoryError (exit 3)."""
    manifest = keys["manifest"]
    manifest.unlink()
    if kind == "fifo":
        import os
        os.mkfifo(manifest)
    else:
        manifest.symlink_to("/dev/zero")
    with pytest.raises(signing.SignatureError, match=r"not a regular file|a symbolic link") as err:
        signing.sign(manifest, keys["approver"])
    assert not err.value.usage  # refused before any read (exit 1)
    assert not manifest.with_name("manifest.json.sig").exists()


def test_sign_that_cannot_write_the_signature_is_a_usage_error(keys):
    """A folder (or a FIFO, a read-only stage folder) where the signature goes: exit 3."""
    keys["manifest"].with_name("manifest.json.sig").mkdir()
    with pytest.raises(signing.SignatureError, match=r"manifest\.json\.sig: cannot write") as err:
        signing.sign(keys["manifest"], keys["approver"])
    assert err.value.usage


def test_signing_the_bundle_root_names_its_stages(keys, tmp_path):
    """`egress sign build` (the runbook signs build/<stage>) said only that
    build/manifest.json cannot be read."""
    with pytest.raises(signing.SignatureError, match=r"a bundle, not one stage of it: give .*/<stage> \(stages: stage\)"):
        signing.sign(tmp_path / "manifest.json", keys["approver"])


# --------------------------------------------------------------------------- egress sign: what it signs, and where


def real_stage(folder: Path) -> Path:
    """A stage folder as compile writes it: manifest.json listing its files' sha256."""
    import hashlib

    folder.mkdir(parents=True, mode=0o755)
    files = {"egress.nft": b"table inet egress {}\n", "dnsmasq-egress.conf": b"# none\n"}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    manifest = {"policy": "p", "stage": "s1", "files": {n: hashlib.sha256(d).hexdigest() for n, d in files.items()}}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return folder


def test_sign_prints_each_file_and_its_sha256_then_a_summary(keys, tmp_path):
    import hashlib
    import sys

    stage = real_stage(tmp_path / "build" / "s1")
    cp = subprocess.run([sys.executable, "-m", "egress.cli", "sign", str(stage), "--key", str(keys["approver"])],
                        capture_output=True, text=True)
    assert cp.returncode == 0, cp.stderr
    lines = cp.stdout.splitlines()
    expected = [f"{hashlib.sha256((stage / name).read_bytes()).hexdigest()}  {name}"
                for name in ("manifest.json", "dnsmasq-egress.conf", "egress.nft")]
    assert lines[:3] == expected  # the format of sha256sum: `sha256sum -c` can check it
    assert re.fullmatch(rf"signed policy p stage s1 \(3 files\) with {re.escape(str(keys['approver']))} at "
                        rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ: {re.escape(str(stage / 'manifest.json.sig'))}", lines[3])
    assert len(lines) == 4


@pytest.mark.parametrize("where", ["folder", "file", "manifest", "parent"])
def test_sign_refuses_a_stage_others_can_write(keys, tmp_path, where):
    """Whoever can write the stage folder could change it between the build and the
    signature: the approver would sign their content."""
    stage = real_stage(tmp_path / "build" / "s1")
    target = {"folder": stage, "file": stage / "egress.nft", "manifest": stage / "manifest.json",
              "parent": stage.parent}[where]
    target.chmod(target.stat().st_mode | 0o022)
    with pytest.raises(signing.SignatureError, match=r"writable by (group and others|group or others)") as err:
        signing.sign(stage / "manifest.json", keys["approver"])
    assert not err.value.usage
    assert not (stage / "manifest.json.sig").exists()


def test_sign_refuses_a_stage_owned_by_someone_else(keys, tmp_path):
    import os

    stage = real_stage(tmp_path / "build" / "s1")
    os.chown(stage / "egress.nft", 4321, 4321)
    with pytest.raises(signing.SignatureError, match=r"egress.nft: owned by uid 4321"):
        signing.sign(stage / "manifest.json", keys["approver"])
    os.chown(stage / "egress.nft", 0, 0)
    os.chown(stage, 4321, 4321)
    with pytest.raises(signing.SignatureError, match=r"refused as \(part of\) the stage folder to sign: owned by uid 4321"):
        signing.sign(stage / "manifest.json", keys["approver"])


def test_sign_refuses_a_link_or_a_file_that_changed(keys, tmp_path):
    stage = real_stage(tmp_path / "build" / "s1")
    (stage / "egress.nft").write_text("table inet egress { }\n")
    with pytest.raises(signing.SignatureError, match=r"egress.nft: sha256 .* is not the manifest's .*compile it again"):
        signing.sign(stage / "manifest.json", keys["approver"])
    (stage / "egress.nft").unlink()
    (stage / "egress.nft").symlink_to(tmp_path / "elsewhere.nft")
    with pytest.raises(signing.SignatureError, match=r"egress.nft: a symbolic link in the stage folder to sign"):
        signing.sign(stage / "manifest.json", keys["approver"])
    assert not (stage / "manifest.json.sig").exists()


def test_sign_command_refusals_are_one_line_exit_1(keys, tmp_path):
    import sys

    stage = real_stage(tmp_path / "build" / "s1")
    (stage / "egress.nft").chmod(0o666)
    cp = subprocess.run([sys.executable, "-m", "egress.cli", "sign", str(stage), "--key", str(keys["approver"])],
                        capture_output=True, text=True)
    assert cp.returncode == 1, cp.stderr
    assert cp.stdout == "" and len(cp.stderr.strip().splitlines()) == 1 and "Traceback" not in cp.stderr
    assert "egress.nft: writable by group or others (mode 0666, refused); only you may write it" in cp.stderr

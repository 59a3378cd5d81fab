"""Whether a folder may be trusted, as sshd's StrictModes judges ~/.ssh.

Root reads `state.json` to decide which ruleset to load and which files to write: a
state directory that someone else can write to is someone else's control of the
firewall. The directory, each of its ancestors and each file egress uses in it must be
owned by root (or the user running egress) and writable by no one else (an ancestor
with the sticky bit, such as /tmp, is accepted: others cannot rename what is not theirs).
Files must be regular files, never symbolic links.

`egress sign` holds the stage folder it signs to the same rules (`role` and `fix` name
that folder in the messages): an approver who signs a folder that someone else can
write signs whatever that someone put there between the build and the signature.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from egress.firewall.errors import Unusable

STATE_DIR = "the state directory"
_FIX = "fix it (chown root:root; chmod go-w) or give another --state-dir"


def _owners() -> set[int]:
    return {0, os.geteuid()}


def _owner_text() -> str:
    return "root" if os.geteuid() == 0 else f"root or by you (uid {os.geteuid()})"


def check_dir(path: Path, role: str = STATE_DIR, fix: str = _FIX) -> None:
    """The folder (if it exists) and every ancestor."""
    absolute = Path(os.path.abspath(path))
    for folder in [absolute, *absolute.parents]:
        try:
            st = os.stat(folder)
        except FileNotFoundError:
            continue
        except OSError as err:
            raise Unusable(f"{folder}: cannot check {role}: {err.strerror or err}") from None
        if not stat.S_ISDIR(st.st_mode):
            raise Unusable(f"{folder}: not a folder; give another --state-dir" if role == STATE_DIR
                           else f"{folder}: not a folder")
        if st.st_uid not in _owners():
            raise Unusable(f"{folder}: refused as (part of) {role}: owned by uid {st.st_uid}, "
                           f"not by {_owner_text()}; {fix}")
        writable = st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        if writable and not (folder != absolute and st.st_mode & stat.S_ISVTX):
            who = "group and others" if writable == (stat.S_IWGRP | stat.S_IWOTH) else \
                "its group" if writable == stat.S_IWGRP else "others"
            raise Unusable(f"{folder}: refused as (part of) {role}: writable by {who} "
                           f"(mode {stat.S_IMODE(st.st_mode):04o}); {fix}")


def check_entry(path: Path, role: str = STATE_DIR, fix: str = _FIX) -> None:
    """A file or folder inside the folder (absent is fine): not a link, owned by root
    (or us), writable by no one else."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        raise Unusable(f"{path}: a symbolic link in {role} (refused: never followed); "
                       "remove it and look for who planted it")
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        raise Unusable(f"{path}: not a regular file (refused); remove it")
    if st.st_uid not in _owners():
        raise Unusable(f"{path}: owned by uid {st.st_uid}, not by {_owner_text()} (refused); {fix}")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise Unusable(f"{path}: writable by group or others (mode {stat.S_IMODE(st.st_mode):04o}, refused); {fix}")

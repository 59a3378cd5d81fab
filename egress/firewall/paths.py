"""Paths of files outside the state directory that an apply replaces (the includes).

They are replaced by rename (write a temporary file, rename it over the path): atomic,
but a rename over a symbolic link replaces the link by a regular file, and leaves the
file it pointed to as it was, so Squid or dnsmasq would go on reading the old rules
while egress reports the new ones, and the administrator's link is gone. Rather than
follow links silently, a path that is, or goes through, a symbolic link is refused,
with the real path to give instead.
"""

from __future__ import annotations

import os
from pathlib import Path

from egress.atomic import write_atomically
from egress.firewall.errors import Unusable


def plain_path(path: Path, option: str) -> Path:
    """`path` made absolute, if no part of it is a symbolic link; Unusable otherwise."""
    absolute = Path(os.path.abspath(path))
    real = Path(os.path.realpath(absolute))
    if real != absolute:
        raise Unusable(f"{option} {absolute} goes through a symbolic link (to {real}): give the real path, "
                       f"{option} {real}")
    if absolute.exists() and not absolute.is_file():
        raise Unusable(f"{option} {absolute} is not a regular file")
    return absolute


def read_include(path: Path) -> bytes | None:
    """What the include holds, or None when there is none (what a rollback puts back)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def replace_include(path: Path, data: bytes, option: str) -> None:
    """Install `data` at `path` atomically, keeping the mode and owner of the file it
    replaces (0644 root for a new one); a path through a symbolic link is refused
    (`plain_path`), at apply and at rollback alike."""
    plain_path(path, option)
    try:
        st = path.stat()
    except FileNotFoundError:
        st = None
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, data, mode=(st.st_mode & 0o7777) if st else 0o644,
                     owner=(st.st_uid, st.st_gid) if st else None)

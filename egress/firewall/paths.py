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

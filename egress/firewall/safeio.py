"""Opening files that root must not be tricked by: never through a symbolic link, never
blocking on a FIFO or a device, never reading without a bound.

A bundle arrives from elsewhere and a state directory may have been tampered with:
`O_NOFOLLOW` refuses a planted link (root would otherwise truncate or append to any file
of the system), `O_NONBLOCK` opens a FIFO without waiting for a writer, and `fstat` on
the opened descriptor (not on the name, which may change) refuses anything that is not
a regular file.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from egress.firewall.errors import Unusable

#: The largest file of a bundle or of the state directory that egress reads.
MAX_FILE = 64 << 20


class NotRegular(OSError):
    """A name that is a link, a FIFO, a device or a folder where a regular file must be."""


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISDIR, "a folder"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def open_regular(path: Path, flags: int = os.O_RDONLY, mode: int = 0o600) -> int:
    """A descriptor on the regular file `path`, never through a link; NotRegular otherwise."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise NotRegular(errno.ELOOP, "a symbolic link (refused: never followed)", str(path)) from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise NotRegular(errno.EINVAL, f"{_kind(st.st_mode)}, not a regular file (refused)", str(path))
    os.set_blocking(fd, True)
    return fd


def read_regular(path: Path, limit: int = MAX_FILE) -> bytes:
    """The bytes of the regular file `path` (at most `limit`: a larger file is refused)."""
    fd = open_regular(path)
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise NotRegular(errno.EFBIG, f"larger than {limit} bytes (refused)", str(path))
    return data


def describe(err: OSError) -> str:
    """`PATH: why` for a one-line error message."""
    return f"{err.filename}: {err.strerror}" if err.filename else str(err)


def unusable(err: OSError, what: str) -> Unusable:
    return Unusable(f"{describe(err)} ({what})")

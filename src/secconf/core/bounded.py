"""Reading a file that a pull request chose: a regular file, and never more than a limit.

A path in a config repo can be a symbolic link to anything on the machine that runs
secconf: `/dev/zero` or `/dev/urandom` never end, a FIFO never opens, a file of the
system can be gigabytes. `read_regular` opens without waiting (O_NONBLOCK: a FIFO opens
at once and is then refused), refuses what is not a regular file, and reads at most
`limit` + 1 bytes whatever the file's size says (a file of /proc says 0 and holds more;
a file may grow while it is read), so the caller can say "too large" without holding it.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
_FLAGS |= getattr(os, "O_CLOEXEC", 0)
_CHUNK = 1 << 16  # read on in pieces: a read asks for (allocates) what it may get


class NotRegularFile(OSError):
    """The path is a directory, a device, a FIFO or a socket, not a file to read."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(errno.EINVAL, "not a regular file", str(path))


def read_regular(path: str | Path, limit: int) -> bytes:
    """The bytes of the regular file at `path` (a symlink is followed): all of them when
    it holds at most `limit`, else `limit` + 1 of them. Raises OSError (FileNotFoundError,
    PermissionError...) as opening and reading do, NotRegularFile for anything else
    than a regular file."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise NotRegularFile(path)
    fd = os.open(path, _FLAGS)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFile(path)
        data = os.read(fd, min(info.st_size, limit) + 1)
        if len(data) > limit:
            return data
        rest = bytearray(data)
        while len(rest) <= limit:  # the size said less (a file of /proc; it grew)
            more = os.read(fd, min(limit + 1 - len(rest), _CHUNK))
            if not more:
                break
            rest += more
        return data if len(rest) == len(data) else bytes(rest)
    finally:
        os.close(fd)

"""File locks of the file store, waited for briefly and often (a write takes milliseconds).

One kind of lock, `hold(path)`: exclusive, or shared. The master key file's lock is
held shared by every write of a store reading that key file, so writes of different
stores still run side by side, and exclusive by `store rekey`, so no write runs while
the key is replaced. A store's own lock and the generations record's are exclusive.
Where the platform has no flock (Windows), filelock's exclusive lock stands in for both
modes: correct, only less concurrent.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

from secconf.core.errors import StoreError

POLL_SECONDS = 0.005


@contextlib.contextmanager
def hold(
    path: Path, timeout: float, *, shared: bool = False, hint: str | None = None
) -> Iterator[None]:
    """Hold the lock at `path` (created 0600 if missing) for the `with` block, across
    processes and threads; StoreError when it stays taken for `timeout` seconds, with
    `hint` (default: a store's) saying who may hold it. Not reentrant: a process that
    holds a lock does not take it again."""
    try:
        import fcntl
    except ImportError:
        with _portable(path, timeout, hint):
            yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        mode = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
        give_up = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, mode)
                break
            except BlockingIOError:
                if time.monotonic() > give_up:
                    raise _busy(path, timeout, hint) from None
                time.sleep(POLL_SECONDS)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def _portable(path: Path, timeout: float, hint: str | None) -> Iterator[None]:
    from filelock import FileLock, Timeout

    try:
        with FileLock(str(path)).acquire(timeout=timeout, poll_interval=POLL_SECONDS):
            yield
    except Timeout:
        raise _busy(path, timeout, hint) from None


def _busy(path: Path, timeout: float, hint: str | None) -> StoreError:
    return StoreError(
        f"the lock {path.name} stayed taken for {timeout:g} s",
        hint=hint or "another secconf is writing this store or re-keying; wait for it, then retry",
    )

"""The highest generation of each file store that secconf has seen on this machine.

Every write of a file store raises its generation by one (a number covered by the
file's integrity tag). A store file put back from before a rotation (a replayed whole
file, e.g. an old version restored from git) is still a valid store, but its generation
is lower than one seen before: that is what is recorded here, to be warned about.

The record is `.secconf/state/generations.json` (git-ignored, mode 0600, rewritten
under a lock): `{"version": 1, "stores": {ENV: {STORE_PATH: GENERATION}}}`.
It is bookkeeping: a record that cannot be read or written only weakens the check.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from pathlib import Path
from typing import Any

MAX_STATE_BYTES = 1 << 20
STATE_FILE = Path(".secconf") / "state" / "generations.json"
LOCK_TIMEOUT_SECONDS = 10

# What this process has recorded or read already, so a store read again at the same
# generation costs nothing: (record, environment, store) -> generation.
_known: dict[tuple[Path, str, str], int] = {}
_known_lock = threading.Lock()


def state_file(root: Path) -> Path:
    """Where the record of a config repo lives."""
    return root / STATE_FILE


def observe(state: Path, environment: str, store: str, generation: int) -> int | None:
    """Record that `store` was seen at `generation`; return the higher generation seen
    before, when there is one (the store went back), else None."""
    key = (state, environment, store)
    with _known_lock:
        if _known.get(key) == generation:
            return None
    # The record is replaced atomically, so it can be read without the lock; the lock is
    # taken only to raise it.
    seen = _read(state).get(environment, {}).get(store, 0)
    if generation > seen:
        seen = _raise(state, environment, store, generation)
    if seen <= generation:
        with _known_lock:
            _known[key] = generation
    return seen if seen > generation else None


def _raise(state: Path, environment: str, store: str, generation: int) -> int:
    """Record `generation` unless a higher one was recorded meanwhile; the highest."""
    from secconf.core.errors import StoreError
    from secconf.store import locking
    from secconf.store.masterkey import private_directory

    try:
        private_directory(state.parent)
        lock = state.parent.parent / "locks" / "generations.lock"
        private_directory(lock.parent)
        with locking.hold(lock, LOCK_TIMEOUT_SECONDS):
            stores = _read(state, fresh=True)
            seen = stores.get(environment, {}).get(store, 0)
            if generation > seen:
                stores.setdefault(environment, {})[store] = generation
                _write(state, stores)
            return max(seen, generation)
    except (OSError, StoreError):
        return generation  # cannot keep the record here (a read-only checkout): no check


# The record as last parsed, by file identity, for the reads without the lock: a
# thousand stores read in one run parse it once, not once each. Under the lock it is
# always read anew (a rewrite within the clock's resolution may keep the identity).
_parsed: dict[Path, tuple[tuple[int, int, int, int], dict[str, dict[str, int]]]] = {}


def _read(state: Path, *, fresh: bool = False) -> dict[str, dict[str, int]]:
    """The record's stores, {} when there is none; shared unless `fresh`: not to change."""
    try:
        with state.open("rb") as handle:
            info = os.fstat(handle.fileno())
            identity = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
            with _known_lock:
                cached = None if fresh else _parsed.get(state)
            if cached is not None and cached[0] == identity:
                return cached[1]
            stores = _parse(handle.read(MAX_STATE_BYTES + 1))
    except (OSError, ValueError):
        return {}  # none yet, or damaged: start again
    with _known_lock:
        if fresh:
            _parsed.pop(state, None)
        else:
            _parsed[state] = (identity, stores)
    return stores


def _parse(raw: bytes) -> dict[str, dict[str, int]]:
    data: Any = json.loads(raw or b"{}")
    stores = data.get("stores") if isinstance(data, dict) else None
    if not isinstance(stores, dict):
        return {}
    return {
        str(env): {
            str(k): v for k, v in paths.items() if isinstance(v, int) and not isinstance(v, bool)
        }
        for env, paths in stores.items()
        if isinstance(paths, dict)
    }


def _write(state: Path, stores: dict[str, dict[str, int]]) -> None:
    """Rewrite the record in place, under the lock, mode 0600, never through a symlink.

    Neither renamed into place nor fsynced, unlike secconf's other files: it is
    bookkeeping rewritten on every store write. A reader without the lock that meets a
    half-written record reads nothing, and decides again under the lock; a crash while
    writing it only weakens the check until the next write.
    """
    text = json.dumps({"version": 1, "stores": stores}, indent=2, sort_keys=True) + "\n"
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    with contextlib.suppress(OSError):
        fd = os.open(state, flags, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))

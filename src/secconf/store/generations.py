"""The highest generation of each file store that secconf has seen on this machine.

Every write of a file store raises its generation by one (a number covered by the
file's integrity tag). A store file put back from before a rotation (a replayed whole
file, e.g. an old version restored from git) is still a valid store, but its generation
is lower than one seen before: that is what is recorded here, to be warned about.

The record is `.secconf/state/generations.json` (git-ignored, mode 0600, written
atomically under a lock): `{"version": 1, "stores": {ENV: {STORE_PATH: GENERATION}}}`.
It is bookkeeping: a record that cannot be read or written only weakens the check.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

MAX_STATE_BYTES = 1 << 20
STATE_FILE = Path(".secconf") / "state" / "generations.json"
LOCK_TIMEOUT_SECONDS = 10


def state_file(root: Path) -> Path:
    """Where the record of a config repo lives."""
    return root / STATE_FILE


def observe(state: Path, environment: str, store: str, generation: int) -> int | None:
    """Record that `store` was seen at `generation`; return the higher generation seen
    before, when there is one (the store went back), else None."""
    from filelock import FileLock, Timeout

    from secconf.store.masterkey import private_directory

    try:
        private_directory(state.parent)
        lock = state.parent.parent / "locks" / "generations.lock"
        private_directory(lock.parent)
        with FileLock(str(lock), timeout=LOCK_TIMEOUT_SECONDS):
            stores = _read(state)
            seen = stores.get(environment, {}).get(store, 0)
            if generation > seen:
                stores.setdefault(environment, {})[store] = generation
                _write(state, stores)
    except (OSError, Timeout):
        return None  # cannot keep the record here (a read-only checkout): no check
    return seen if seen > generation else None


def _read(state: Path) -> dict[str, dict[str, int]]:
    try:
        with state.open("rb") as handle:
            data: Any = json.loads(handle.read(MAX_STATE_BYTES + 1) or b"{}")
    except (OSError, ValueError):
        return {}  # none yet, or damaged: start again
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
    from secconf.files import write_atomic

    text = json.dumps({"version": 1, "stores": stores}, indent=2, sort_keys=True) + "\n"
    with contextlib.suppress(OSError):
        write_atomic(state, text.encode("utf-8"), mode=0o600)

"""Master key administration: create one on purpose, replace one (re-key)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from secconf.core.errors import InputError, StoreError
from secconf.core.paths import shown_path as show
from secconf.environment.loader import Environment
from secconf.store.backends.file import key_lock_path, lock_path, shown_path, uses_file_store
from secconf.store.file import FileStore
from secconf.store.masterkey import MasterKey, create_key_file, find_master_key, parse_key
from secconf.store.registry import StoreContext


@dataclass(frozen=True)
class KeyFileReport:
    """The outcome of `store init`: the key's source and whether it was just created."""

    source: str
    created: bool
    key_check: str


def _file_store_env(environment: Environment) -> None:
    if not uses_file_store(environment):
        raise InputError(
            f"environment {environment.name} keeps its keys in Vault, which has no master key",
            hint="master keys belong to the file store",
        )


def init_master_key(context: StoreContext) -> KeyFileReport:
    """Create the environment's master key file unless a key is already available."""
    environment = context.environment
    _file_store_env(environment)
    key_file = _key_file(context, environment)
    existing = find_master_key(environment.name, key_file)
    if existing is not None:
        return KeyFileReport(existing.source, False, existing.key_check())
    key, created = create_key_file(key_file, context.root)
    return KeyFileReport(show(context.root, key_file), created, key.key_check())


def _key_file(context: StoreContext, environment: Environment) -> Path:
    return context.placement.path(environment.name, "key file")


def _file_store(context: StoreContext, environment: Environment, key: MasterKey) -> FileStore:
    """The store with a fixed key, for `rekey`, which already holds the key file's lock."""
    from secconf.store.generations import state_file

    relative = shown_path(environment)
    return FileStore(
        context.placement.path(environment.name, "store"),
        environment.name,
        lambda _: key,
        shown=relative,
        lock_path=lock_path(context.root, relative),
        root=context.root,
        key_lock_path=None,
        state_path=state_file(context.root),
    )


def rekey(context: StoreContext, environments: Sequence[Environment]) -> list[tuple[str, int]]:
    """Re-encrypt every file store that shares this environment's master key file
    under a new key, then put the new key in place; returns (environment, entries).

    Crash-safe: the new key is first written beside the old one (`KEYFILE.new`); each
    store is replaced atomically; the key file is replaced last. Running it again after
    an interruption finishes the job with the same new key.

    Race-free: it holds the key file's lock throughout, which every write of a store
    reading this key file takes first; so a store created meanwhile (by `keys ensure`)
    is created either before (and re-keyed here) or after (with the new key).
    """
    from secconf.store import locking
    from secconf.store.file import LOCK_TIMEOUT_SECONDS
    from secconf.store.masterkey import private_directory

    environment = context.environment
    _file_store_env(environment)
    key_file = _key_file(context, environment)
    lock = key_lock_path(context.root, key_file)
    private_directory(lock.parent)
    with locking.hold(lock, LOCK_TIMEOUT_SECONDS):
        return _rekey(context, environments, key_file)


def _rekey(
    context: StoreContext, environments: Sequence[Environment], key_file: Path
) -> list[tuple[str, int]]:
    environment = context.environment
    old = find_master_key(environment.name, key_file)
    if old is None:
        raise StoreError(f"no master key for environment {environment.name}: nothing to re-key")
    if old.source.startswith("$"):
        raise StoreError(
            f"the master key comes from {old.source}; re-keying writes the new key to a file",
            hint=f"unset {old.source[1:]} and put the current key in "
            f"{show(context.root, key_file)} first, then update the variable from the new file",
        )
    pending = key_file.with_name(key_file.name + ".new")
    new = _pending_key(pending)
    rekeyed = []
    for other in _sharing(context, environments, key_file):
        store = _file_store(context, other, old)
        if not store.exists():
            continue
        if _written_with(store, new):
            rekeyed.append((other.name, len(_file_store(context, other, new).read())))
            continue  # done by an interrupted run
        rekeyed.append((other.name, store.rekey(new)))
    os.replace(pending, key_file)
    return rekeyed


def _pending_key(pending: Path) -> MasterKey:
    with contextlib.suppress(FileNotFoundError):
        return parse_key(pending.read_text(encoding="ascii"), str(pending))
    return create_key_file(pending)[0]


def _sharing(
    context: StoreContext, environments: Sequence[Environment], key_file: Path
) -> list[Environment]:
    """Environments whose file store reads this key file (no env-var key overrides it)."""
    out = []
    for env in environments:
        if not uses_file_store(env):
            continue
        if _key_file(context, env) != key_file:
            continue
        key = find_master_key(env.name, key_file)
        if key is not None and not key.source.startswith("$"):
            out.append(env)
    return out


def _written_with(store: FileStore, key: MasterKey) -> bool:
    from secconf.core.yamlio import parse_document

    data = parse_document(store.path.read_text(encoding="utf-8"), store.location).data
    return data.get("key_check") == key.key_check()

"""Master key administration: create one on purpose, replace one (re-key)."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from secconf.core.errors import InputError, StoreError
from secconf.environment.loader import Environment
from secconf.operations.project import Project
from secconf.store.file import FileStore
from secconf.store.masterkey import MasterKey, create_key_file, find_master_key, parse_key


@dataclass(frozen=True)
class KeyFileReport:
    """The outcome of `store init`: the key's source and whether it was just created."""

    source: str
    created: bool
    key_check: str


def _file_store_env(environment: Environment) -> None:
    if environment.store.backend != "file":
        raise InputError(
            f"environment {environment.name} keeps its keys in Vault, which has no master key",
            hint="master keys belong to the file store",
        )


def init_master_key(project: Project, environment: Environment) -> KeyFileReport:
    """Create the environment's master key file unless a key is already available."""
    _file_store_env(environment)
    key_file = project.path(environment.store.file.key_file, environment)
    existing = find_master_key(environment.name, key_file)
    if existing is not None:
        return KeyFileReport(existing.source, False, existing.key_check())
    key, created = create_key_file(key_file)
    return KeyFileReport(_shown(project, key_file), created, key.key_check())


def _shown(project: Project, path: Path) -> str:
    try:
        return str(path.relative_to(project.root))
    except ValueError:
        return str(path)


def _file_store(project: Project, environment: Environment, key: MasterKey) -> FileStore:
    from secconf.store import lock_path

    relative = environment.store.file.path.format(env=environment.name)
    return FileStore(
        project.root / relative,
        environment.name,
        lambda _: key,
        shown=relative,
        lock_path=lock_path(project, relative),
    )


def rekey(project: Project, environment: Environment) -> list[tuple[str, int]]:
    """Re-encrypt every file store that shares this environment's master key file
    under a new key, then put the new key in place; returns (environment, entries).

    Crash-safe: the new key is first written beside the old one (`KEYFILE.new`); each
    store is replaced atomically; the key file is replaced last. Running it again after
    an interruption finishes the job with the same new key.
    """
    _file_store_env(environment)
    key_file = project.path(environment.store.file.key_file, environment)
    old = find_master_key(environment.name, key_file)
    if old is None:
        raise StoreError(f"no master key for environment {environment.name}: nothing to re-key")
    if old.source.startswith("$"):
        raise StoreError(
            f"the master key comes from {old.source}; re-keying writes the new key to a file",
            hint=f"unset {old.source[1:]} and put the current key in "
            f"{_shown(project, key_file)} first, then update the variable from the new file",
        )
    pending = key_file.with_name(key_file.name + ".new")
    new = _pending_key(pending)
    rekeyed = []
    for other in _sharing(project, key_file):
        store = _file_store(project, other, old)
        if not store.exists():
            continue
        if _written_with(store, new):
            rekeyed.append((other.name, len(_file_store(project, other, new).read())))
            continue  # done by an interrupted run
        rekeyed.append((other.name, store.rekey(new)))
    os.replace(pending, key_file)
    return rekeyed


def _pending_key(pending: Path) -> MasterKey:
    with contextlib.suppress(FileNotFoundError):
        return parse_key(pending.read_text(encoding="ascii"), str(pending))
    return create_key_file(pending)[0]


def _sharing(project: Project, key_file: Path) -> list[Environment]:
    """Environments whose file store reads this key file (no env-var key overrides it)."""
    out = []
    for name in project.environments.names(include_abstract=True):
        env = project.environments.get(name)
        if env.store.backend != "file":
            continue
        if project.path(env.store.file.key_file, env).resolve() != key_file.resolve():
            continue
        key = find_master_key(env.name, key_file)
        if key is not None and not key.source.startswith("$"):
            out.append(env)
    return out


def _written_with(store: FileStore, key: MasterKey) -> bool:
    from secconf.core.yamlio import parse_document

    data = parse_document(store.path.read_text(encoding="utf-8"), store.location).data
    return data.get("key_check") == key.key_check()

"""The `file` backend (the default): an encrypted file per environment, meant to be
committed (see secconf.store.file), sealed by one of the ciphers of
secconf.store.ciphers (today master-key, see .masterkey)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from secconf.core.paths import fill
from secconf.environment.loader import Environment
from secconf.environment.settings import PathRole, SettingsModel, settings_as
from secconf.store.base import SecretStore
from secconf.store.registry import StoreBackend, StoreContext

NAME = "file"


class FileStoreSettings(SettingsModel):
    """Where the encrypted file store of an environment lives, and its master key file."""

    path_roles: ClassVar[Mapping[str, PathRole]] = {"path": "store", "key_file": "key file"}

    path: str = "secrets/{env}.enc.yaml"
    key_file: str = ".secconf/master.key"


def file_settings(environment: Environment) -> FileStoreSettings:
    """The environment's `store.file` settings."""
    return settings_as(environment.store.backends[NAME], FileStoreSettings)


def uses_file_store(environment: Environment) -> bool:
    """True when the environment keeps its keys in a file store."""
    return environment.store.backend == NAME


def shown_path(environment: Environment) -> str:
    """The store file as the environment file names it (for messages)."""
    return fill(file_settings(environment).path, env=environment.name)


def shown_key_file(environment: Environment) -> str:
    """The master key file as the environment file names it (for messages)."""
    return fill(file_settings(environment).key_file, env=environment.name)


def lock_path(root: Path, relative: str) -> Path:
    """Where a file store's lock lives: in the git-ignored .secconf/, not beside the store."""
    name = relative.replace("/", "__")
    if len(name) > 200:  # a file name has at most 255 bytes
        name = f"{name[:100]}-{hashlib.sha256(relative.encode()).hexdigest()[:16]}"
    return root / ".secconf" / "locks" / (name + ".lock")


def key_lock_path(root: Path, key_file: Path) -> Path:
    """The lock of a master key file: `store rekey` holds it throughout, and every write of
    a file store that reads this key file takes it first (then the store's own lock)."""
    digest = hashlib.sha256(str(key_file.resolve()).encode("utf-8", "surrogatepass"))
    return root / ".secconf" / "locks" / f"key-{digest.hexdigest()[:16]}.lock"


def open_file_store(context: StoreContext) -> SecretStore:
    """The environment's file store, at its checked path."""
    from secconf.store import ciphers
    from secconf.store.file import FileStore
    from secconf.store.generations import state_file

    environment = context.environment
    relative = shown_path(environment)
    key_file = context.placement.path(environment.name, "key file")
    # `encryption` names the cipher once the settings carry it; until then, and wherever
    # an environment names none, the store is master-key.
    cipher = ciphers.get(getattr(file_settings(environment), "encryption", "master-key"))
    return FileStore(
        context.placement.path(environment.name, "store"),  # checked, resolved
        environment.name,
        cipher.keyring(context),
        shown=relative,
        lock_path=lock_path(context.root, relative),
        root=context.root,
        key_lock_path=key_lock_path(context.root, key_file),
        state_path=state_file(context.root),
        notify=context.notify,
    )


def _may_hold_values(context: StoreContext) -> bool:
    return context.placement.path(context.environment.name, "store").exists()


BACKEND = StoreBackend(
    name=NAME,
    settings=FileStoreSettings,
    open=open_file_store,
    may_hold_values=_may_hold_values,
    default=True,
)

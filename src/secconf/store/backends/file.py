"""The `file` backend (the default): an encrypted file per environment, meant to be
committed (see secconf.store.file), sealed by one of the ciphers of
secconf.store.ciphers (today master-key, see .masterkey)."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar

from secconf.core.paths import fill
from secconf.core.record import After
from secconf.environment.loader import Environment
from secconf.environment.settings import PathRole, SettingsModel, settings_as
from secconf.store.base import SecretStore
from secconf.store.registry import StoreBackend, StoreContext

NAME = "file"


def _known_cipher(value: str) -> str:
    from secconf.store import ciphers

    if value not in ciphers.names():
        raise ValueError(f"unknown cipher {value!r}: use one of {', '.join(ciphers.names())}")
    return value


class FileStoreSettings(SettingsModel):
    """Where the encrypted file store of an environment lives, which cipher protects it
    (`encryption:`, a module of secconf.store.ciphers), and its master key file. Each
    cipher's own settings (`recipients:` of age...) are fields of the same mapping: the
    model the environment files are read with adds them (`_with_cipher_fields`)."""

    path_roles: ClassVar[Mapping[str, PathRole]] = {"path": "store", "key_file": "key file"}

    path: str = "secrets/{env}.enc.yaml"
    encryption: Annotated[str, After(_known_cipher)] = "master-key"
    key_file: str = ".secconf/master.key"

    def check(self) -> None:
        """Only the chosen cipher's settings may be set."""
        from secconf.store import ciphers

        for name in ciphers.names():
            model = ciphers.get(name).settings
            if model is None or name == self.encryption:
                continue
            # Set to other than its default (`extends` passes every field on, defaults too).
            stray = sorted(
                f
                for f, info in model.record_fields().items()
                if f in self.fields_set and getattr(self, f) != info.default_value()
            )
            if stray:
                raise ValueError(f"{stray[0]} is a setting of `encryption: {name}`")


def _with_cipher_fields() -> type[FileStoreSettings]:
    """FileStoreSettings with the settings fields every cipher declares."""
    from secconf.store import ciphers

    annotations: dict[str, Any] = {}
    declared: dict[str, Any] = {}
    for name in ciphers.names():
        model = ciphers.get(name).settings
        for field, info in (model.record_fields() if model else {}).items():
            annotations[field] = info.annotation
            declared[field] = info
    if not annotations:
        return FileStoreSettings
    namespace = {"__annotations__": annotations, "__module__": __name__, **declared}
    return type("FileStoreSettings", (FileStoreSettings,), namespace)


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
    import hashlib  # here, not at import: OpenSSL's loading costs every start-up

    name = relative.replace("/", "__")
    if len(name) > 200:  # a file name has at most 255 bytes
        name = f"{name[:100]}-{hashlib.sha256(relative.encode()).hexdigest()[:16]}"
    return root / ".secconf" / "locks" / (name + ".lock")


def key_lock_path(root: Path, key_file: Path) -> Path:
    """The lock of a master key file: `store rekey` holds it throughout, and every write of
    a file store that reads this key file takes it first (then the store's own lock)."""
    return root / ".secconf" / "locks" / _key_lock_name(str(key_file))


@functools.lru_cache(maxsize=64)
def _key_lock_name(key_file: str) -> str:
    """Once per key file and process: a thousand stores share one key file."""
    import hashlib

    resolved = os.path.realpath(key_file)  # as Path.resolve() does
    digest = hashlib.sha256(resolved.encode("utf-8", "surrogatepass"))
    return f"key-{digest.hexdigest()[:16]}.lock"


def open_file_store(context: StoreContext) -> SecretStore:
    """The environment's file store, at its checked path."""
    from secconf.store import ciphers
    from secconf.store.file import FileStore
    from secconf.store.generations import state_file

    environment = context.environment
    relative = shown_path(environment)
    key_file = context.placement.path(environment.name, "key file")
    cipher = ciphers.get(file_settings(environment).encryption)
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
    settings=_with_cipher_fields(),
    open=open_file_store,
    may_hold_values=_may_hold_values,
    default=True,
    forkable=True,  # a file read with descriptors of its own
)

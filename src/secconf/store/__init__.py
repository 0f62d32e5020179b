"""Secret stores: where generated keys are kept (`file`, the default, or `vault`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NamedTuple

from secconf.core.errors import StoreError
from secconf.environment.loader import Environment
from secconf.environment.resolve import StoredValue
from secconf.operations.project import Project
from secconf.store.base import Entry, SecretStore, Version
from secconf.store.masterkey import MasterKey, create_key_file, env_var_for, find_master_key

Notify = Callable[[str], None]

# A random key kept in each environment's store. From it come the key of the
# fingerprints secconf prints and the key of the checksum annotation on delivered
# objects: both change nothing when shown, and reveal nothing about any value. Its name
# is not a valid variable name, so it can never clash with one.
ENVIRONMENT_KEY = "secconf.environment-key"


def _quiet(message: str) -> None:
    """The default notice sink: say nothing."""


def master_key_provider(
    project: Project,
    environment: Environment,
    *,
    notify: Notify = _quiet,
    environ: Mapping[str, str] | None = None,
) -> Callable[[bool], MasterKey]:
    """A function that finds the environment's master key, creating it only when allowed.

    A key is created on the first write of a non-production environment, with a notice;
    production never creates one as a side effect (`secconf store init` does, on purpose).
    """
    key_file = project.path(environment.store.file.key_file, environment)
    shown = environment.store.file.key_file.format(env=environment.name)
    found: list[MasterKey] = []

    def provide(may_create: bool) -> MasterKey:
        if found:
            return found[0]
        key = find_master_key(environment.name, key_file, environ)
        if key is None and may_create and not environment.production:
            key, created = create_key_file(key_file)
        else:
            created = False
        if created:
            notify(
                f"created the master key {shown} (mode 0600, git-ignored) for the "
                f"{environment.name} store; share it with your team and CI as described in "
                "the README, never through git"
            )
        if key is None:
            raise StoreError(
                f"no master key for environment {environment.name}",
                hint=f"set {env_var_for(environment.name)} or SECCONF_MASTER_KEY, or put the key "
                f"in {shown}"
                + (
                    "; production never creates one silently: create it on purpose with "
                    f"`secconf store init --env {environment.name}`"
                    if environment.production
                    else ""
                ),
            )
        found.append(key)
        return key

    return provide


def open_store(
    project: Project,
    environment: Environment,
    *,
    notify: Notify = _quiet,
    environ: Mapping[str, str] | None = None,
    skip_tls_verify: bool = False,
) -> SecretStore:
    """The secret store of an environment, as its store settings say."""
    settings = environment.store
    if settings.backend == "vault":
        from secconf.core.vaultclient import vault_connection
        from secconf.store.vault import VaultStore

        connection = vault_connection(
            settings.vault.address, StoreError, environ=environ, skip_verify=skip_tls_verify
        )
        return VaultStore(
            connection, settings.vault.mount, settings.vault.path.format(env=environment.name)
        )
    from secconf.store.file import FileStore

    relative = settings.file.path.format(env=environment.name)
    keys = master_key_provider(project, environment, notify=notify, environ=environ)
    return FileStore(
        project.root / relative,
        environment.name,
        keys,
        shown=relative,
        lock_path=lock_path(project, relative),
    )


def lock_path(project: Project, relative: str) -> Path:
    """Where a file store's lock lives: in the git-ignored .secconf/, not beside the store."""
    return project.root / ".secconf" / "locks" / (relative.replace("/", "__") + ".lock")


def stored_values(entries: Mapping[str, Entry], store: SecretStore) -> dict[str, StoredValue]:
    """The current version of every stored value, as resolution takes them."""
    return {
        name: StoredValue(
            entry.current.value,
            entry.current.version,
            entry.current.created_at,
            store.backend,
        )
        for name, entry in entries.items()
    }


class EnvironmentKeys(NamedTuple):
    """The keys derived from an environment's random key. Never shown."""

    fingerprint: bytes
    checksum: bytes

    def __repr__(self) -> str:
        return "EnvironmentKeys(********)"


def environment_keys(entries: Mapping[str, Entry]) -> EnvironmentKeys | None:
    """The environment's derived keys, when its store holds its random key."""
    import hashlib
    import hmac

    entry = entries.get(ENVIRONMENT_KEY)
    if entry is None:
        return None
    material = bytes.fromhex(entry.current.value.reveal())

    def derive(purpose: bytes) -> bytes:
        return hmac.new(material, purpose, hashlib.sha256).digest()

    return EnvironmentKeys(derive(b"secconf fingerprint/1"), derive(b"secconf checksum/1"))


def ensure_environment_key(store: SecretStore) -> EnvironmentKeys:
    """The environment's keys, its random key created in the store on first use."""
    import secrets

    entries, _ = store.create(
        ENVIRONMENT_KEY, [ENVIRONMENT_KEY], lambda: {ENVIRONMENT_KEY: secrets.token_hex(32)}
    )
    keys = environment_keys(entries)
    assert keys is not None
    return keys


__all__ = [
    "ENVIRONMENT_KEY",
    "Entry",
    "EnvironmentKeys",
    "MasterKey",
    "SecretStore",
    "Version",
    "ensure_environment_key",
    "environment_keys",
    "lock_path",
    "master_key_provider",
    "open_store",
    "stored_values",
]

"""Secret stores: where generated keys are kept (`file`, the default, or `vault`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import NamedTuple

from secconf.core.errors import StoreError
from secconf.core.paths import fill
from secconf.environment.loader import Environment
from secconf.environment.resolve import StoredValue
from secconf.operations.project import Project
from secconf.store.base import Entry, SecretStore, StoredValuesDiffer, Version
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
    The key is read afresh on every call, never cached: a writer reads it under its
    locks, so a `store rekey` that ran meanwhile is never undone with the old key.
    """
    key_file = project.placement.path(environment.name, "key file")  # checked, resolved
    shown = fill(environment.store.file.key_file, env=environment.name)

    def provide(may_create: bool) -> MasterKey:
        key = find_master_key(environment.name, key_file, environ)
        if key is None and may_create and not environment.production:
            key, created = create_key_file(key_file, project.root)
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
            connection, settings.vault.mount, fill(settings.vault.path, env=environment.name)
        )
    from secconf.store.file import FileStore
    from secconf.store.generations import state_file

    relative = fill(settings.file.path, env=environment.name)
    keys = master_key_provider(project, environment, notify=notify, environ=environ)
    key_file = project.path(settings.file.key_file, environment)
    return FileStore(
        project.placement.path(environment.name, "store"),  # checked, resolved
        environment.name,
        keys,
        shown=relative,
        lock_path=lock_path(project, relative),
        root=project.root,
        key_lock_path=key_lock_path(project, key_file),
        key_file=key_file,
        state_path=state_file(project.root),
        notify=notify,
    )


def lock_path(project: Project, relative: str) -> Path:
    """Where a file store's lock lives: in the git-ignored .secconf/, not beside the store."""
    name = relative.replace("/", "__")
    if len(name) > 200:  # a file name has at most 255 bytes
        import hashlib

        name = f"{name[:100]}-{hashlib.sha256(relative.encode()).hexdigest()[:16]}"
    return project.root / ".secconf" / "locks" / (name + ".lock")


def key_lock_path(project: Project, key_file: Path) -> Path:
    """The lock of a master key file: `store rekey` holds it throughout, and every write of
    a file store that reads this key file takes it first (then the store's own lock)."""
    import hashlib

    digest = hashlib.sha256(str(key_file.resolve()).encode("utf-8", "surrogatepass"))
    return project.root / ".secconf" / "locks" / f"key-{digest.hexdigest()[:16]}.lock"


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


def put_values(
    store: SecretStore, groups: Mapping[str, Mapping[str, str]], *, replace: bool
) -> tuple[dict[str, str], Callable[[], None] | None]:
    """Store these values of whole groups: created when absent, kept when equal, replaced
    (a rotation, the old version kept) only with `replace`, else StoredValuesDiffer.
    Returns each name's status (created, kept, updated) and a function that puts the
    store back as it was (None when the backend cannot).

    A file store decides and writes everything in one atomic write under its lock; in
    Vault each group is its own secret, written with check-and-set.
    """
    from secconf.store.file import FileStore

    if isinstance(store, FileStore):
        done, before = store.put(groups, replace=replace)
        return done, partial(store.restore, before)
    entries = store.read()
    differing = [
        group
        for group, values in groups.items()
        if any(n in entries and entries[n].current.value.reveal() != v for n, v in values.items())
    ]
    if differing and not replace:
        raise StoredValuesDiffer(differing)
    statuses: dict[str, str] = {}
    for group, values in groups.items():
        names = list(values)
        stored, created = store.create(group, names, partial(dict, values))
        if created:
            statuses.update(dict.fromkeys(names, "created"))
        elif all(stored[n].current.value.reveal() == values[n] for n in names):
            statuses.update(dict.fromkeys(names, "kept"))
        else:
            store.rotate(group, names, partial(dict, values))
            statuses.update(dict.fromkeys(names, "updated"))
    return statuses, None


def new_environment_key() -> dict[str, str]:
    """A fresh random key for an environment, as its store keeps it."""
    import secrets

    return {ENVIRONMENT_KEY: secrets.token_hex(32)}


def ensure_environment_key(store: SecretStore) -> EnvironmentKeys:
    """The environment's keys, its random key created in the store on first use."""
    entries, _ = store.create(ENVIRONMENT_KEY, [ENVIRONMENT_KEY], new_environment_key)
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
    "key_lock_path",
    "lock_path",
    "master_key_provider",
    "new_environment_key",
    "open_store",
    "put_values",
    "stored_values",
]

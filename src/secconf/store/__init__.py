"""Secret stores: where generated keys are kept, in one of the backends of
`secconf.store.backends` (`file`, the default, or `vault`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import NamedTuple

from secconf.environment.resolve import StoredValue
from secconf.store.base import Entry, SecretStore, StoredValuesDiffer, Version
from secconf.store.masterkey import MasterKey
from secconf.store.registry import StoreContext, may_hold_values, open_store

Notify = Callable[[str], None]

# A random key kept in each environment's store. From it come the key of the
# fingerprints secconf prints and the key of the checksum annotation on delivered
# objects: both change nothing when shown, and reveal nothing about any value. Its name
# is not a valid variable name, so it can never clash with one.
ENVIRONMENT_KEY = "secconf.environment-key"


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
    "StoreContext",
    "Version",
    "ensure_environment_key",
    "environment_keys",
    "may_hold_values",
    "new_environment_key",
    "open_store",
    "put_values",
    "stored_values",
]

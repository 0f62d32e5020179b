"""The `master-key` cipher (the default): one symmetric key per key file protects stores.

The store's data key is the master key itself (`secconf.store.masterkey`: from
`SECCONF_MASTER_KEY_<ENV>`, `SECCONF_MASTER_KEY` or the key file); the format derives
the value and integrity keys from it. The header is `key_check`, 8 hex digits derived
from the key, so that a wrong key is told apart from a damaged file. Files of this
cipher name no `encryption:` (they are what every store was before ciphers had names),
so they read, and are written, byte for byte as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from secconf.core.errors import StoreError
from secconf.store.ciphers import Cipher, Sealing
from secconf.store.format import DataKey
from secconf.store.masterkey import (
    MasterKey,
    create_key_file,
    env_var_for,
    find_master_key,
    parse_key,
)

if TYPE_CHECKING:
    from secconf.store.registry import StoreContext

KeyProvider = Callable[[bool], MasterKey]  # argument: may a missing key be created?

COMMENT = (
    "# secconf encrypted store: the generated keys of one environment.\n"
    "# Safe to commit (the master key is not in it). Change it only with\n"
    "# `secconf keys` and `secconf store`: any hand edit fails its integrity check.\n"
)
_KEY_CHECK = r"[0-9a-f]{8}"


class MasterKeyring:
    """The master-key cipher for one store: its key provider and the key file it reads."""

    def __init__(
        self, keys: KeyProvider, *, environment: str, key_file: Path | None = None
    ) -> None:
        self._keys = keys
        self.environment = environment
        self.key_file = key_file  # to recognise a store re-keyed under `KEYFILE.new`

    @property
    def cipher(self) -> Cipher:
        """The master-key cipher."""
        return CIPHER

    def require(self, creating: bool) -> None:
        """Find the master key (creating it for a new store when allowed)."""
        self._keys(creating)

    def open(self, header: Mapping[str, Any], location: str) -> DataKey:
        """The master key, when it is the one the store was written with."""
        key = self._keys(False)
        written_with = header["key_check"]
        if key.key_check() != written_with:
            self._check_rekey_pending(written_with, location)
            raise StoreError(
                f"cannot decrypt {location}: wrong master key? (it was written with "
                f"key {written_with}, the key from {key.source} is {key.key_check()})",
                hint="use the master key this store was written with (README: sharing the "
                "master key); if a `secconf store rekey` was interrupted, run it again",
            )
        return DataKey(key.material)

    def new(self) -> Sealing:
        """The first write of a store: the only time a master key may be created."""
        return _sealing(self._keys(True))

    def rewrap(self, header: Mapping[str, Any], key: DataKey) -> Sealing:
        """The header of the master key as it is now (a new data key after a re-key)."""
        return _sealing(self._keys(False))

    def _check_rekey_pending(self, written_with: str, location: str) -> None:
        """Say so when the store was written with the key waiting in `KEYFILE.new`: a
        `store rekey` was interrupted (or is still running)."""
        if self.key_file is None:
            return
        pending = self.key_file.with_name(self.key_file.name + ".new")
        try:
            new = parse_key(pending.read_text(encoding="ascii"), str(pending))
        except (OSError, UnicodeDecodeError, StoreError):
            return
        if new.key_check() == written_with:
            raise StoreError(
                f"{location} is encrypted with the new master key in {pending.name}: "
                "a `secconf store rekey` was interrupted (or is still running) before it put "
                f"that key in place of {self.key_file.name}",
                hint=f"run `secconf store rekey --env {self.environment}` again to finish it",
            )


def _sealing(key: MasterKey) -> Sealing:
    return Sealing({"key_check": key.key_check()}, DataKey(key.material))


def _check(header: Mapping[str, Any]) -> str | None:
    key_check = header.get("key_check")
    if not isinstance(key_check, str) or not re.fullmatch(_KEY_CHECK, key_check):
        return "its key check is not 8 hex digits"
    return None


def provider(
    environment: str,
    key_file: Path,
    *,
    shown: str,
    production: bool,
    root: Path,
    notify: Callable[[str], None],
    environ: Mapping[str, str] | None = None,
) -> KeyProvider:
    """A function that finds the environment's master key, creating it only when allowed.

    A key is created on the first write of a non-production environment, with a notice;
    production never creates one as a side effect (`secconf store init` does, on purpose).
    The key is read afresh on every call, never cached: a writer reads it under its
    locks, so a `store rekey` that ran meanwhile is never undone with the old key.
    """

    def provide(may_create: bool) -> MasterKey:
        key = find_master_key(environment, key_file, environ)
        created = False
        if key is None and may_create and not production:
            key, created = create_key_file(key_file, root)
        if created:
            notify(
                f"created the master key {shown} (mode 0600, git-ignored) for the "
                f"{environment} store; share it with your team and CI as described in "
                "the README, never through git"
            )
        if key is None:
            raise StoreError(
                f"no master key for environment {environment}",
                hint=f"set {env_var_for(environment)} or SECCONF_MASTER_KEY, or put the key "
                f"in {shown}"
                + (
                    "; production never creates one silently: create it on purpose with "
                    f"`secconf store init --env {environment}`"
                    if production
                    else ""
                ),
            )
        return key

    return provide


def _keyring(context: StoreContext) -> MasterKeyring:
    from secconf.store.backends.file import shown_key_file

    environment = context.environment
    key_file = context.placement.path(environment.name, "key file")  # checked, resolved
    keys = provider(
        environment.name,
        key_file,
        shown=shown_key_file(environment),
        production=environment.production,
        root=context.root,
        notify=context.notify,
        environ=context.environ,
    )
    return MasterKeyring(keys, environment=environment.name, key_file=key_file)


CIPHER = Cipher(
    name="master-key",
    summary="one symmetric master key per key file (SECCONF_MASTER_KEY or .secconf/master.key)",
    fields=("key_check",),
    check=_check,
    keyring=_keyring,
    comment=COMMENT,
)

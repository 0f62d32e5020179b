"""The distributed store: generated keys in Vault KV v2, one secret per generation group.

`MOUNT/PATH/GROUP` holds the group's variables (both VAPID keys in one secret, so a
pair is never half-written). Creation uses check-and-set with `cas=0`: when two
machines race, one write wins and the other reads the winner's value. KV v2 versions
are the stored versions; a rotation writes with `cas` set to the version it replaces.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from secconf.core.errors import StoreError
from secconf.core.secret import Secret
from secconf.core.vaultclient import (
    KvVersion,
    VaultConnection,
    call,
    is_cas_mismatch,
    listed_keys,
    make_client,
    patch_custom_metadata,
    read_kv,
)
from secconf.store.base import Entry, Maker, Version


class VaultStore:
    """A KV v2 store for one environment."""

    backend = "vault"
    generation: int | None = None  # KV v2 versions each group: no whole-store generation

    def __init__(self, connection: VaultConnection, mount: str, path: str) -> None:
        self.connection = connection
        self.mount = mount
        self.path = path.strip("/")
        self.location = f"vault {mount}/{self.path}"
        self._client: Any = None

    @property
    def client(self) -> Any:
        """The hvac client, made on first use."""
        if self._client is None:
            self._client = make_client(self.connection)
        return self._client

    def _call(self, what: str, action: Any) -> Any:
        return call(action, what=what, connection=self.connection, error=StoreError)

    def _kv(self) -> Any:
        return self.client.secrets.kv.v2

    def _read_group(self, group: str, version: int | None = None) -> KvVersion | None:
        """The group's secret (that version), or None when none is stored (deleted)."""
        path = f"{self.path}/{group}"
        # Checked inside the call, so a malformed answer is reported as one.
        secret: KvVersion | None = self._call(
            f"reading {self.mount}/{path}",
            lambda: read_kv(self.client, self.mount, path, version=version),
        )
        return None if secret is None or secret.deleted else secret

    def replay(self) -> None:
        """Never: each group's KV version is checked by check-and-set instead."""
        return None

    def exists(self) -> bool:
        """True when at least one group is stored."""
        return bool(self._groups())

    def _groups(self) -> list[str]:
        import hvac.exceptions as hx

        def listing() -> Any:
            try:
                return listed_keys(self._kv().list_secrets(path=self.path, mount_point=self.mount))
            except hx.InvalidPath:
                return []

        keys: list[str] = self._call(f"listing {self.mount}/{self.path}", listing)
        return [k for k in keys if not k.endswith("/")]

    def read(self) -> dict[str, Entry]:
        """Every stored variable (current versions) of every group."""
        entries: dict[str, Entry] = {}
        for group in self._groups():
            data = self._read_group(group)
            if data is not None:
                entries.update(_entries(data))
        return entries

    def create(
        self, group: str, names: Sequence[str], make: Maker
    ) -> tuple[dict[str, Entry], bool]:
        """Write the group with cas=0; if another writer won, return its values."""
        existing = self._read_group(group)
        if existing is not None:
            return _checked(existing, names, group), False
        values = make()
        path = f"{self.path}/{group}"

        def write() -> Any:
            try:
                return self._kv().create_or_update_secret(
                    path=path, secret=values, cas=0, mount_point=self.mount
                )
            except Exception as exc:
                if is_cas_mismatch(exc):
                    return None  # another writer created it first
                raise

        written = self._call(f"creating {self.mount}/{path}", write)
        if written is None:
            winner = self._read_group(group)
            if winner is None:
                raise StoreError(f"{self.mount}/{path} was created and removed meanwhile")
            return _checked(winner, names, group), False
        self._mark_managed(path)
        created = self._read_group(group)
        assert created is not None
        return _checked(created, names, group), True

    def _mark_managed(self, path: str) -> None:
        self._call(
            f"updating the metadata of {self.mount}/{path}",
            lambda: patch_custom_metadata(
                self.client,
                self.mount,
                path,
                {"managed-by": "secconf", "purpose": "generated keys"},
            ),
        )

    def rotate(self, group: str, names: Sequence[str], make: Maker) -> dict[str, Entry]:
        """A new KV version with fresh values, written only over the version just read."""
        current = self._read_group(group)
        if current is None:
            raise StoreError(
                f"{', '.join(names)} is not stored yet: nothing to rotate",
                hint="create it with `secconf keys ensure`",
            )
        return self._replace(group, names, make(), current.version)

    def rollback(self, group: str, names: Sequence[str]) -> dict[str, Entry]:
        """Write the previous KV version's values as a new version."""
        current = self._read_group(group)
        version = current.version if current else 0
        previous = self._read_group(group, version - 1) if version > 1 else None
        if current is None or previous is None:
            raise StoreError(
                f"{', '.join(names)} has no previous version to roll back to",
                hint="`secconf keys status` shows the stored versions",
            )
        return self._replace(group, names, dict(previous.values), version)

    def _replace(
        self, group: str, names: Sequence[str], values: dict[str, str], cas: int
    ) -> dict[str, Entry]:
        path = f"{self.path}/{group}"

        def write() -> Any:
            try:
                return self._kv().create_or_update_secret(
                    path=path, secret=values, cas=cas, mount_point=self.mount
                )
            except Exception as exc:
                if is_cas_mismatch(exc):
                    raise StoreError(
                        f"{self.mount}/{path} changed while secconf was writing it",
                        hint="someone else rotated it; check `secconf keys status` and retry",
                    ) from None
                raise

        self._call(f"writing {self.mount}/{path}", write)
        written = self._read_group(group)
        assert written is not None
        return _checked(written, names, group)


def _entries(data: KvVersion) -> dict[str, Entry]:
    created = data.created_time.split(".")[0].rstrip("Z") + "Z"
    return {
        name: Entry(name, Version(Secret(str(value)), data.version, created))
        for name, value in data.values.items()
    }


def _checked(data: KvVersion, names: Sequence[str], group: str) -> dict[str, Entry]:
    entries = _entries(data)
    missing = [n for n in names if n not in entries]
    if missing:
        raise StoreError(
            f"the stored group {group} lacks {', '.join(missing)}",
            hint="rotate the group with `secconf keys rotate` to store all its members",
        )
    return {n: entries[n] for n in names}

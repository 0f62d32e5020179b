"""A real Vault (or OpenBao) seen through the same attributes as the loopback server."""

from __future__ import annotations

import pytest


class RealVault:
    """Address and token of a real server; fault injection is not available on it."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.sealed = False

    def __getattr__(self, name: str) -> object:
        # fail_next, seal, count...: only the loopback server can do these.
        pytest.skip(f"needs the loopback Vault server ({name}); running against a real Vault")

    def kv_read(self, mount: str, path: str, namespace: str | None = None) -> dict | None:
        """Read the latest data of a KV v2 secret with hvac."""
        import hvac
        import hvac.exceptions

        client = hvac.Client(url=self.url, token=self.token, namespace=namespace)
        try:
            return client.secrets.kv.v2.read_secret_version(
                path=path, mount_point=mount, raise_on_deleted_version=True
            )["data"]["data"]
        except hvac.exceptions.InvalidPath:
            return None

    # The `vault` fixture calls this on any backend; nothing is recorded on a real server.
    # (Without it, hasattr() in the fixture would reach __getattr__ and skip every test.)
    def reset_requests(self) -> None:
        """Nothing to forget: a real server's requests are not recorded."""

    def _client(self, namespace: str | None = None):  # type: ignore[no-untyped-def]
        import hvac

        return hvac.Client(url=self.url, token=self.token, namespace=namespace)

    def kv_write(self, mount: str, path: str, data: dict, namespace: str | None = None) -> int:
        """A hand edit through the API (`vault kv put`): a new version; its number."""
        response = self._client(namespace).secrets.kv.v2.create_or_update_secret(
            path=path, secret=dict(data), mount_point=mount
        )
        return int(response["data"]["version"])

    def kv_versions(self, mount: str, path: str, namespace: str | None = None) -> int:
        """The key's current_version (0 when the key does not exist)."""
        import hvac.exceptions

        try:
            meta = self._client(namespace).secrets.kv.v2.read_secret_metadata(
                path=path, mount_point=mount
            )
        except hvac.exceptions.InvalidPath:
            return 0
        return int(meta["data"]["current_version"])

    def kv_custom_metadata(
        self, mount: str, path: str, namespace: str | None = None
    ) -> dict[str, str] | None:
        """The key's custom_metadata (None if unset or missing)."""
        import hvac.exceptions

        try:
            meta = self._client(namespace).secrets.kv.v2.read_secret_metadata(
                path=path, mount_point=mount
            )
        except hvac.exceptions.InvalidPath:
            return None
        return meta["data"].get("custom_metadata") or None

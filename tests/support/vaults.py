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

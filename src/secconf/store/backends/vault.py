"""The `vault` backend: generated keys in Vault KV v2, one secret per generation group
(see secconf.store.vault)."""

from __future__ import annotations

from secconf.core.errors import StoreError
from secconf.core.paths import fill
from secconf.environment.settings import SettingsModel, settings_as
from secconf.store.base import SecretStore
from secconf.store.registry import StoreBackend, StoreContext

NAME = "vault"


class VaultStoreSettings(SettingsModel):
    """Where generated keys live when the store is Vault KV v2."""

    mount: str = "secret"
    path: str = "secconf/{env}"
    address: str | None = None


def open_vault_store(context: StoreContext) -> SecretStore:
    """The environment's KV v2 store; the token and address come from the environment."""
    from secconf.core.vaultclient import vault_connection
    from secconf.store.vault import VaultStore

    environment = context.environment
    settings = settings_as(environment.store.backends[NAME], VaultStoreSettings)
    connection = vault_connection(
        settings.address, StoreError, environ=context.environ, skip_verify=context.skip_tls_verify
    )
    return VaultStore(connection, settings.mount, fill(settings.path, env=environment.name))


BACKEND = StoreBackend(
    name=NAME,
    settings=VaultStoreSettings,
    open=open_vault_store,
    may_hold_values=lambda context: True,  # only Vault knows: ask it
)

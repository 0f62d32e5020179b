"""Where the Vault token may go: the address the user chose, or a safe one from the repo."""

from __future__ import annotations

import pytest

from secconf.core.errors import DeployError
from secconf.core.vaultclient import vault_connection


def test_vault_addr_wins_over_the_repository() -> None:
    c = vault_connection(
        "https://repo.example:8200",
        DeployError,
        environ={"VAULT_ADDR": "https://mine:8200", "VAULT_TOKEN": "t"},
    )
    assert c.address == "https://mine:8200" and not c.from_repo


@pytest.mark.parametrize("address", ["http://vault.acme.io:8200", "http://10.0.0.5:8200"])
def test_the_token_never_goes_in_clear_to_an_address_the_repository_names(address: str) -> None:
    with pytest.raises(DeployError, match="refusing to send the Vault token over plain http"):
        vault_connection(address, DeployError, environ={"VAULT_TOKEN": "t"})


@pytest.mark.parametrize(
    "address", ["https://vault.acme.io:8200", "http://127.0.0.1:8200", "http://localhost:8200"]
)
def test_https_or_loopback_from_the_repository(address: str) -> None:
    c = vault_connection(address, DeployError, environ={"VAULT_TOKEN": "t"})
    assert c.from_repo and c.address == address


def test_plain_http_is_the_users_choice_through_vault_addr() -> None:
    c = vault_connection(
        None, DeployError, environ={"VAULT_ADDR": "http://vault.lan:8200", "VAULT_TOKEN": "t"}
    )
    assert c.address == "http://vault.lan:8200"


def test_the_token_is_not_in_the_repr() -> None:
    c = vault_connection("https://v:8200", DeployError, environ={"VAULT_TOKEN": "hvs.secret-token"})
    assert "hvs.secret-token" not in repr(c)

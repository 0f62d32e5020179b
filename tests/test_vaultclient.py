"""Where the Vault token may go: the address the user chose, or a safe one from the repo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


# --------------------------------------------------------------------------- reads


def read_through(client: Any, mount: str, path: str, **kwargs: Any) -> Any:
    """One KV v2 read as secconf makes it, errors as secconf's."""
    from secconf.core.vaultclient import call, read_kv, vault_connection

    connection = vault_connection(None, DeployError)
    return call(
        lambda: read_kv(client, mount, path, **kwargs),
        what=f"reading {mount}/{path}",
        connection=connection,
        error=DeployError,
    )


@pytest.mark.parametrize("netrc", [False, True])
def test_a_read_is_sent_as_requests_would_prepare_it(
    netrc: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reads after the first are prepared from one prepared request: every one of them
    carries exactly the headers requests itself would send (~/.netrc included)."""
    import requests
    from tests.support.canned import CannedServer

    from secconf.core.vaultclient import make_client, vault_connection

    body = b'{"data": {"data": {"K": "v"}, "metadata": {"version": 3}}}'
    with CannedServer(body) as server:
        if netrc:
            host = server.url.split("//")[1].split(":")[0]
            (tmp_path / ".netrc").write_text(f"machine {host} login me password pw\n")
            (tmp_path / ".netrc").chmod(0o600)
            monkeypatch.setenv("NETRC", str(tmp_path / ".netrc"))
        monkeypatch.setenv("VAULT_ADDR", server.url)
        monkeypatch.setenv("VAULT_TOKEN", "hvs.read-path-token")
        client = make_client(vault_connection(None, DeployError))
        for _ in range(3):
            assert read_through(client, "secret", "a b/app").version == 3
        headers = {"X-Vault-Token": "hvs.read-path-token", "X-Vault-Request": "true"}
        url = f"{server.url}/v1/secret/data/a%20b/app"
        requests.Session.request(client.session, "GET", url, headers=headers)
    first, *others, prepared_by_requests = server.seen
    assert first["x-vault-token"] == "hvs.read-path-token"
    assert ("authorization" in first) is netrc
    assert all(seen == prepared_by_requests for seen in (first, *others))


def test_reads_keep_their_version_and_namespace_on_one_session(vault, unique: str) -> None:  # type: ignore[no-untyped-def]
    """One session, several header sets and query strings: each read gets its own."""
    import hvac
    from tests.support.vault_server import VaultServer

    from secconf.core.vaultclient import make_client, vault_connection

    if not isinstance(vault, VaultServer):
        pytest.skip("needs the loopback server's namespaces")
    client = make_client(vault_connection(None, DeployError))
    kv = client.secrets.kv.v2
    for value in ("one", "two"):
        kv.create_or_update_secret(path=f"{unique}/app", secret={"K": value}, mount_point="secret")
    team = hvac.Client(url=vault.url, token=vault.token, namespace="team-a", session=client.session)
    team.secrets.kv.v2.create_or_update_secret(
        path=f"{unique}/app", secret={"K": "team"}, mount_point="secret"
    )
    for _ in range(2):
        assert read_through(client, "secret", f"{unique}/app").values == {"K": "two"}
        assert read_through(client, "secret", f"{unique}/app", version=1).values == {"K": "one"}
        assert read_through(team, "secret", f"{unique}/app").values == {"K": "team"}
        assert read_through(client, "secret", f"{unique}/none") is None
    reads = [r for r in vault.requests if r.method == "GET" and unique in r.path]
    assert [r.query.get("version") for r in reads[:4]] == [None, "1", None, None]
    assert [r.namespace for r in reads[:4]] == [None, None, "team-a", None]


def test_once_the_session_holds_a_cookie_every_read_carries_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A load balancer's cookie goes back with each read, as requests sends it."""
    from tests.support.canned import CannedServer

    from secconf.core.vaultclient import make_client, vault_connection

    with CannedServer(b'{"data": {"data": {}, "metadata": {"version": 1}}}') as server:
        monkeypatch.setenv("VAULT_ADDR", server.url)
        monkeypatch.setenv("VAULT_TOKEN", "hvs.cookie-test-token")
        client = make_client(vault_connection(None, DeployError))
        read_through(client, "secret", "app")
        client.session.cookies.set("lb", "node-2")
        read_through(client, "secret", "app")
        client.session.cookies.clear()
        read_through(client, "secret", "app")
    assert ["cookie" in seen for seen in server.seen] == [False, True, False]
    assert server.seen[1]["cookie"] == "lb=node-2"

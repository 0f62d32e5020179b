"""Tests of the loopback Vault server, driven through the real hvac client.

Each test pins down behaviour the rest of the suite relies on: if the fake
drifted from Vault, these would fail before secconf's own tests misled us.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import hvac
import hvac.exceptions
import pytest
import requests
from tests.support.vault_server import RequestRecord, VaultServer, vault_env

ClientFactory = Callable[..., hvac.Client]


@pytest.fixture
def vault() -> Iterator[VaultServer]:
    """A fresh server per test."""
    with VaultServer(token="root-token") as server:
        yield server


@pytest.fixture
def make_client(vault: VaultServer) -> Iterator[ClientFactory]:
    """Build hvac clients against ``vault``; their sessions close at teardown."""
    clients: list[hvac.Client] = []

    def build(token: str | None = None, namespace: str | None = None) -> hvac.Client:
        client = hvac.Client(url=vault.url, token=token or vault.token, namespace=namespace)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.adapter.close()  # an open pooled socket would be a ResourceWarning


@pytest.fixture
def client(make_client: ClientFactory) -> hvac.Client:
    """An hvac client holding the root token."""
    return make_client()


def _read(client: hvac.Client, path: str, **kwargs: Any) -> dict[str, Any]:
    """Read a KV v2 secret, stating raise_on_deleted_version (hvac warns otherwise)."""
    kwargs.setdefault("raise_on_deleted_version", True)
    response: dict[str, Any] = client.secrets.kv.v2.read_secret_version(path, **kwargs)
    return response


def _write(client: hvac.Client, path: str, secret: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Write a KV v2 secret."""
    response: dict[str, Any] = client.secrets.kv.v2.create_or_update_secret(
        path, secret=secret, **kwargs
    )
    return response


# -- KV v2 data --------------------------------------------------------------


def test_write_then_read_round_trips_with_versions(client: hvac.Client) -> None:
    first = _write(client, "app/db", {"user": "a", "port": 5432})
    second = _write(client, "app/db", {"user": "b"})

    assert first["data"]["version"] == 1
    assert second["data"]["version"] == 2
    assert second["data"]["deletion_time"] == ""
    assert second["data"]["destroyed"] is False
    latest = _read(client, "app/db")
    assert latest["data"]["data"] == {"user": "b"}
    assert latest["data"]["metadata"]["version"] == 2
    assert latest["data"]["metadata"]["created_time"].endswith("Z")
    assert _read(client, "app/db", version=1)["data"]["data"] == {"user": "a", "port": 5432}


def test_responses_carry_vaults_envelope(client: hvac.Client) -> None:
    _write(client, "app/db", {"k": "v"})

    response = _read(client, "app/db")

    assert list(response) == [
        "request_id",
        "lease_id",
        "renewable",
        "lease_duration",
        "data",
        "wrap_info",
        "warnings",
        "auth",
        "mount_type",
    ]
    assert response["lease_id"] == "" and response["lease_duration"] == 0
    assert response["mount_type"] == "kv"
    assert sorted(response["data"]["metadata"]) == [
        "created_time",
        "custom_metadata",
        "deletion_time",
        "destroyed",
        "version",
    ]


def test_cas_zero_creates_only_once(client: hvac.Client) -> None:
    _write(client, "app/new", {"v": 1}, cas=0)

    with pytest.raises(hvac.exceptions.InvalidRequest) as caught:
        _write(client, "app/new", {"v": 2}, cas=0)

    assert caught.value.errors == ["check-and-set parameter did not match the current version"]
    assert _read(client, "app/new")["data"]["data"] == {"v": 1}


def test_stale_cas_is_rejected_and_current_cas_accepted(client: hvac.Client) -> None:
    _write(client, "app/x", {"v": 1})
    _write(client, "app/x", {"v": 2})

    with pytest.raises(hvac.exceptions.InvalidRequest):
        _write(client, "app/x", {"v": 3}, cas=1)
    assert _write(client, "app/x", {"v": 3}, cas=2)["data"]["version"] == 3


def test_cas_required_rejects_a_write_without_cas(client: hvac.Client) -> None:
    _write(client, "app/x", {"v": 1})
    client.secrets.kv.v2.update_metadata("app/x", cas_required=True)

    with pytest.raises(hvac.exceptions.InvalidRequest) as caught:
        _write(client, "app/x", {"v": 2})

    assert caught.value.errors == ["check-and-set parameter required for this call"]


def test_missing_secret_raises_invalid_path_with_empty_errors(client: hvac.Client) -> None:
    with pytest.raises(hvac.exceptions.InvalidPath) as caught:
        _read(client, "app/absent")

    assert caught.value.json == {"errors": []}


def test_soft_deleted_latest_reads_as_404_with_metadata(
    client: hvac.Client, vault: VaultServer
) -> None:
    _write(client, "app/x", {"v": 1})
    deleted = client.secrets.kv.v2.delete_latest_version_of_secret("app/x")

    assert deleted.status_code == 204 and deleted.content == b""
    with pytest.raises(hvac.exceptions.InvalidPath):
        _read(client, "app/x")
    body = _read(client, "app/x", raise_on_deleted_version=False)
    assert body["data"]["data"] is None
    assert body["data"]["metadata"]["deletion_time"] != ""
    assert vault.kv_read("secret", "app/x") is None
    client.secrets.kv.v2.undelete_secret_versions("app/x", versions=[1])
    assert _read(client, "app/x")["data"]["data"] == {"v": 1}


def test_destroyed_version_stays_gone(client: hvac.Client) -> None:
    _write(client, "app/x", {"v": 1})
    _write(client, "app/x", {"v": 2})
    client.secrets.kv.v2.destroy_secret_versions("app/x", versions=[1])

    # hvac only hands back deleted (not destroyed) versions, as with real Vault.
    with pytest.raises(hvac.exceptions.InvalidPath) as caught:
        _read(client, "app/x", version=1, raise_on_deleted_version=False)
    assert caught.value.json["data"]["metadata"]["destroyed"] is True
    client.secrets.kv.v2.undelete_secret_versions("app/x", versions=[1])
    with pytest.raises(hvac.exceptions.InvalidPath):
        _read(client, "app/x", version=1)


def test_only_ten_versions_are_kept_by_default(client: hvac.Client) -> None:
    for value in range(11):
        _write(client, "app/x", {"v": value})

    metadata = client.secrets.kv.v2.read_secret_metadata("app/x")["data"]
    assert metadata["current_version"] == 11
    assert metadata["oldest_version"] == 2
    assert sorted(metadata["versions"], key=int) == [str(n) for n in range(2, 12)]
    with pytest.raises(hvac.exceptions.InvalidPath):
        _read(client, "app/x", version=1)


def test_delete_metadata_removes_every_version(client: hvac.Client, vault: VaultServer) -> None:
    _write(client, "app/x", {"v": 1})
    client.secrets.kv.v2.delete_metadata_and_all_versions("app/x")

    assert vault.kv_versions("secret", "app/x") == 0
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.secrets.kv.v2.read_secret_metadata("app/x")


# -- metadata and listing ----------------------------------------------------


def test_custom_metadata_round_trips(client: hvac.Client, vault: VaultServer) -> None:
    _write(client, "app/x", {"v": 1})
    client.secrets.kv.v2.update_metadata("app/x", custom_metadata={"owner": "team-a", "tier": "1"})

    metadata = client.secrets.kv.v2.read_secret_metadata("app/x")["data"]
    assert metadata["custom_metadata"] == {"owner": "team-a", "tier": "1"}
    assert metadata["max_versions"] == 0 and metadata["cas_required"] is False
    assert metadata["delete_version_after"] == "0s"
    assert _read(client, "app/x")["data"]["metadata"]["custom_metadata"] == {
        "owner": "team-a",
        "tier": "1",
    }
    # POST replaces the whole map.
    client.secrets.kv.v2.update_metadata("app/x", custom_metadata={"owner": "team-b"})
    assert vault.kv_custom_metadata("secret", "app/x") == {"owner": "team-b"}


def test_metadata_patch_merges_and_null_removes(client: hvac.Client, vault: VaultServer) -> None:
    _write(client, "app/x", {"v": 1})
    client.secrets.kv.v2.update_metadata("app/x", custom_metadata={"owner": "a", "tier": "1"})
    url = f"{vault.url}/v1/secret/metadata/app/x"
    headers = {"X-Vault-Token": vault.token, "Content-Type": "application/merge-patch+json"}

    with requests.Session() as session:
        patched = session.patch(
            url, headers=headers, json={"custom_metadata": {"tier": None, "env": "prod"}}
        )
        wrong_type = session.patch(
            url, headers={"X-Vault-Token": vault.token}, json={"max_versions": 3}
        )

    assert patched.status_code == 204
    assert vault.kv_custom_metadata("secret", "app/x") == {"owner": "a", "env": "prod"}
    assert wrong_type.status_code == 415


def test_list_returns_immediate_children(client: hvac.Client, vault: VaultServer) -> None:
    for path in ("app/a", "app/b", "app/sub/c", "other/d"):
        _write(client, path, {"v": 1})

    assert client.secrets.kv.v2.list_secrets("app")["data"]["keys"] == ["a", "b", "sub/"]
    assert client.secrets.kv.v2.list_secrets("")["data"]["keys"] == ["app/", "other/"]
    with requests.get(
        f"{vault.url}/v1/secret/metadata/app/sub",
        params={"list": "true"},
        headers={"X-Vault-Token": vault.token},
    ) as response:
        assert response.json()["data"]["keys"] == ["c"]
    with pytest.raises(hvac.exceptions.InvalidPath) as caught:
        client.secrets.kv.v2.list_secrets("nothing-here")
    assert caught.value.json == {"errors": []}


# -- tokens, mounts, seal ----------------------------------------------------


def test_limited_token_is_forbidden_outside_its_paths(
    client: hvac.Client, vault: VaultServer, make_client: ClientFactory
) -> None:
    _write(client, "app/x", {"v": 1})
    _write(client, "other/y", {"v": 1})
    vault.add_token("t-read", allow=["secret/data/app/*"], read_only=True)
    reader = make_client(token="t-read")

    assert _read(reader, "app/x")["data"]["data"] == {"v": 1}
    assert reader.is_authenticated() is True
    with pytest.raises(hvac.exceptions.Forbidden):
        _write(reader, "app/x", {"v": 2})
    with pytest.raises(hvac.exceptions.Forbidden) as caught:
        _read(reader, "other/y")
    assert "permission denied" in caught.value.errors[0]
    with pytest.raises(hvac.exceptions.Forbidden):
        reader.secrets.kv.v2.list_secrets("app")


def test_unknown_or_missing_token_is_permission_denied(
    vault: VaultServer, make_client: ClientFactory
) -> None:
    stranger = make_client(token="no-such-token")

    with pytest.raises(hvac.exceptions.Forbidden) as caught:
        _read(stranger, "app/x")
    assert caught.value.errors == ["permission denied"]
    assert stranger.is_authenticated() is False
    with requests.get(f"{vault.url}/v1/secret/data/app/x") as response:
        assert (response.status_code, response.json()) == (403, {"errors": ["permission denied"]})


def test_lookup_self_describes_the_token(client: hvac.Client, vault: VaultServer) -> None:
    data = client.auth.token.lookup_self()["data"]

    assert data["id"] == vault.token
    assert data["policies"] == ["root"]
    assert data["ttl"] == 0 and data["expire_time"] is None


def test_unknown_mount_has_no_handler_until_enabled(
    client: hvac.Client, vault: VaultServer
) -> None:
    with pytest.raises(hvac.exceptions.InvalidPath) as caught:
        _write(client, "x", {"v": 1}, mount_point="team")
    assert "no handler for route" in caught.value.errors[0]

    vault.enable_kv2("team")
    _write(client, "x", {"v": 1}, mount_point="team")
    assert vault.kv_read("team", "x") == {"v": 1}
    assert vault.kv_read("secret", "x") is None


def test_sealed_vault_is_down_and_health_says_sealed(
    client: hvac.Client, vault: VaultServer
) -> None:
    _write(client, "app/x", {"v": 1})
    vault.seal()

    with pytest.raises(hvac.exceptions.VaultDown) as caught:
        _read(client, "app/x")
    assert caught.value.errors == ["Vault is sealed"]
    health = client.sys.read_health_status(method="GET")
    assert health.status_code == 503 and health.json()["sealed"] is True
    assert client.sys.is_sealed() is True

    vault.unseal()
    assert client.sys.read_health_status(method="GET")["sealed"] is False
    assert _read(client, "app/x")["data"]["data"] == {"v": 1}


# -- injected faults ---------------------------------------------------------


def test_fail_next_503_twice_then_success(client: hvac.Client, vault: VaultServer) -> None:
    _write(client, "app/x", {"v": 1})
    vault.fail_next(2, 503)

    for _ in range(2):
        with pytest.raises(hvac.exceptions.VaultDown):
            _read(client, "app/x")
    assert _read(client, "app/x")["data"]["data"] == {"v": 1}


@pytest.mark.parametrize(
    ("status", "exception"),
    [
        (429, hvac.exceptions.RateLimitExceeded),
        (500, hvac.exceptions.InternalServerError),
        (502, hvac.exceptions.BadGateway),
        (403, hvac.exceptions.Forbidden),
        (412, hvac.exceptions.UnexpectedError),
    ],
)
def test_fail_next_maps_to_hvac_exceptions(
    client: hvac.Client, vault: VaultServer, status: int, exception: type[Exception]
) -> None:
    _write(client, "app/x", {"v": 1})
    vault.fail_next(1, status)

    with pytest.raises(exception):
        _read(client, "app/x")
    assert vault.requests[-1].status == status
    assert _read(client, "app/x")["data"]["data"] == {"v": 1}


def test_fail_next_honours_path_prefix(client: hvac.Client, vault: VaultServer) -> None:
    _write(client, "app/x", {"v": 1})
    _write(client, "other/y", {"v": 1})
    vault.fail_next(1, 500, path_prefix="secret/data/app/")

    assert _read(client, "other/y")["data"]["data"] == {"v": 1}
    with pytest.raises(hvac.exceptions.InternalServerError):
        _read(client, "app/x")


def test_drop_next_is_a_connection_error_then_recovers(
    client: hvac.Client, vault: VaultServer
) -> None:
    _write(client, "app/x", {"v": 1})
    vault.drop_next(1)

    with pytest.raises(requests.exceptions.ConnectionError):
        _read(client, "app/x")
    assert vault.requests[-1].status == 0
    assert _read(client, "app/x")["data"]["data"] == {"v": 1}


def test_delay_next_holds_the_answer(client: hvac.Client, vault: VaultServer) -> None:
    _write(client, "app/x", {"v": 1})
    vault.delay_next(1, 0.3, path_prefix="/v1/secret/data/app/x")

    started = time.perf_counter()
    _read(client, "app/x")
    assert time.perf_counter() - started >= 0.3


# -- namespaces, counting, env ----------------------------------------------


def test_namespaces_are_isolated(make_client: ClientFactory, vault: VaultServer) -> None:
    team_a = make_client(namespace="team-a")
    team_b = make_client(namespace="team-b/")
    root = make_client()

    _write(team_a, "app/x", {"owner": "a"})

    with pytest.raises(hvac.exceptions.InvalidPath):
        _read(root, "app/x")
    with pytest.raises(hvac.exceptions.InvalidPath):
        _read(team_b, "app/x")
    assert _read(team_a, "app/x")["data"]["data"] == {"owner": "a"}
    assert vault.kv_read("secret", "app/x", namespace="team-a") == {"owner": "a"}
    assert vault.kv_read("secret", "app/x") is None
    assert {record.namespace for record in vault.requests} == {"team-a", "team-b", None}


def test_request_counting(client: hvac.Client, vault: VaultServer) -> None:
    _write(client, "app/x", {"v": 1})
    _read(client, "app/x")
    _read(client, "app/x")
    client.secrets.kv.v2.update_metadata("app/x", custom_metadata={"k": "v"})
    client.sys.read_health_status(method="GET")

    assert vault.count() == 5
    assert vault.count(method="GET") == 3
    assert vault.count(method="get", path_prefix="secret/data/") == 2
    assert vault.count(path_prefix="/v1/secret/metadata/app/x") == 1
    assert vault.count(writes_only=True) == 2
    assert vault.requests[0] == RequestRecord(
        method="POST",
        path="/v1/secret/data/app/x",
        query={},
        body={"options": {}, "data": {"v": 1}},
        status=200,
        namespace=None,
    )
    vault.reset_requests()
    assert vault.count() == 0 and vault.requests == []


def test_backdoor_write_bumps_the_version(client: hvac.Client, vault: VaultServer) -> None:
    _write(client, "app/x", {"v": 1})

    assert vault.kv_write("secret", "app/x", {"v": "hand edit"}) == 2
    assert vault.kv_versions("secret", "app/x") == 2
    with pytest.raises(hvac.exceptions.InvalidRequest):
        _write(client, "app/x", {"v": 3}, cas=1)
    assert _read(client, "app/x")["data"]["data"] == {"v": "hand edit"}
    assert vault.count(writes_only=True) == 2  # backdoor writes are not requests


def test_vault_env_points_at_the_server(vault: VaultServer) -> None:
    assert vault_env(vault) == {"VAULT_ADDR": vault.url, "VAULT_TOKEN": "root-token"}
    assert vault.url.startswith("http://127.0.0.1:")


def test_keep_alive_reads_use_one_connection_and_one_write(client: hvac.Client) -> None:
    """Keep-alive works (200 reads over one client), and responses leave in one write
    with Nagle off, without which each keep-alive request waits ~40 ms for a delayed
    ACK. The time is printed, not asserted."""
    from tests.support import vault_server

    handler = vault_server._Handler
    assert handler.disable_nagle_algorithm is True and handler.wbufsize >= 1 << 16
    assert handler.protocol_version == "HTTP/1.1"
    _write(client, "app/x", {"v": 1})
    adapter = client.adapter.session.get_adapter("http://")
    started = time.perf_counter()
    for _ in range(200):
        assert _read(client, "app/x")["data"]["data"] == {"v": 1}
    elapsed = time.perf_counter() - started
    pools = adapter.poolmanager.pools
    # RecentlyUsedContainer refuses iteration; keys() is its thread-safe copy
    assert [pools[key].num_connections for key in pools.keys()] == [1]  # noqa: SIM118
    print(f"\n200 hvac reads over one keep-alive client: {elapsed:.3f} s")

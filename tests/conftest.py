"""Fixtures every test gets: no test touches a real home, key, store or Vault token."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Point HOME at a temp dir and drop every SECCONF_/VAULT_/KUBECONFIG variable."""
    import os

    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for name in list(os.environ):
        if name.startswith(("SECCONF_", "VAULT_")) or name in ("KUBECONFIG", "NO_COLOR"):
            if not name.startswith("SECCONF_TEST_"):
                monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(autouse=True)
def fresh_redaction() -> None:
    """Each test starts with no registered secret, as a fresh secconf process does."""
    from secconf.core import redact

    redact.reset()


@pytest.fixture(scope="session")
def vault_backend():  # type: ignore[no-untyped-def]
    """A Vault for the session: the loopback server, or a real one when
    SECCONF_TEST_VAULT_ADDR and SECCONF_TEST_VAULT_TOKEN are set (then tests that
    inject faults skip)."""
    import os

    from tests.support.vault_server import VaultServer
    from tests.support.vaults import RealVault

    addr, token = (
        os.environ.get("SECCONF_TEST_VAULT_ADDR"),
        os.environ.get("SECCONF_TEST_VAULT_TOKEN"),
    )
    if addr and token:
        yield RealVault(addr, token)
        return
    with VaultServer(token="root-token") as server:
        yield server


@pytest.fixture
def vault(vault_backend, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The session's Vault with VAULT_ADDR/VAULT_TOKEN set, and a clean slate of faults."""
    monkeypatch.setenv("VAULT_ADDR", vault_backend.url)
    monkeypatch.setenv("VAULT_TOKEN", vault_backend.token)
    if hasattr(vault_backend, "reset_requests"):
        vault_backend.reset_requests()
        if vault_backend.sealed:
            vault_backend.unseal()
    return vault_backend


@pytest.fixture
def unique() -> str:
    """A fresh name, so tests sharing one Vault or cluster never see each other's data."""
    import uuid

    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def kube_backend(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A Kubernetes API for the session: the loopback server, or a real cluster when
    SECCONF_TEST_KUBECONFIG names a kubeconfig (then tests that inject faults skip).

    Either has a `kubeconfig` path; tests create their own namespaces (`add_namespace`).
    """
    import os

    from tests.support.k8s_server import KubeServer
    from tests.support.kubes import RealCluster

    kubeconfig = os.environ.get("SECCONF_TEST_KUBECONFIG")
    if kubeconfig:
        cluster = RealCluster(kubeconfig)
        yield cluster
        cluster.close()
        return
    with KubeServer(namespaces=["default"]) as server:
        server.kubeconfig = server.write_kubeconfig(  # type: ignore[attr-defined]
            tmp_path_factory.mktemp("kube") / "config"
        )
        yield server
        assert not server.server_errors, server.server_errors


@pytest.fixture
def kube(kube_backend, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The session's Kubernetes API with KUBECONFIG pointing at it and a fresh request log."""
    monkeypatch.setenv("KUBECONFIG", str(kube_backend.kubeconfig))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    kube_backend.reset_requests()
    return kube_backend

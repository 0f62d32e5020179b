"""Servers that misbehave: a total deadline on every request, no token on a redirect to
another host, and a one-line error (exit 2) for any answer that is not the API.

Each server here is a CannedServer (tests/support/canned.py) or the loopback Vault with a
redirect injected; the config repo's keys live in the file store, so the only requests
are the ones under test.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from tests.support.canned import CannedServer
from tests.support.deploy import Deployment, make_deployment
from tests.support.repo import Result

TOKEN = "hvs.deadline-test-token-9f2c"


@pytest.fixture
def deployment(unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Deployment:
    """One environment, dev, with its keys stored (so plan only talks to the target)."""
    d = make_deployment(tmp_path, monkeypatch, unique)
    assert d.run("keys", "ensure", "--env", "dev").code == 0
    return d


def one_error(result: Result) -> str:
    """The one line of the error (hints aside); there is no traceback."""
    assert "Traceback" not in result.both
    lines = [ln for ln in result.err.splitlines() if ln.strip() and "hint:" not in ln]
    assert len(lines) == 1, result.err
    return lines[0]


def kubeconfig(path: Path, server: str) -> Path:
    """A kubeconfig with one cluster at `server` and a token user."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": "kube-token-not-shown"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
    }
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def point_at(target: str, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if target == "vault":
        monkeypatch.setenv("VAULT_ADDR", url)
        monkeypatch.setenv("VAULT_TOKEN", TOKEN)
    else:
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig(tmp_path / "kubeconfig", url)))
        monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)


# --------------------------------------------------------------------------- deadline


@pytest.mark.parametrize("target", ["vault", "kubernetes"])
def test_a_server_that_trickles_its_answer_stops_plan_at_the_timeout(
    target: str, deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One byte every 2 s resets any per-read timeout; the total deadline still holds."""
    with CannedServer(b'{"data": {}}', trickle=2.0, give_up=20.0) as slow:
        point_at(target, slow.url, tmp_path, monkeypatch)
        started = time.monotonic()
        result = deployment.run("plan", "--env", "dev", "--target", target, "--timeout", "3")
        elapsed = time.monotonic() - started
    assert result.code == 2, result.both
    assert elapsed < 8, f"plan took {elapsed:.1f} s with --timeout 3"
    line = one_error(result)
    assert "no answer from" in line and "within 3 s" in line, line


def test_secconf_timeout_bounds_every_request_too(
    deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with CannedServer(b'{"data": {}}', trickle=0.5, give_up=20.0) as slow:
        point_at("vault", slow.url, tmp_path, monkeypatch)
        monkeypatch.setenv("SECCONF_TIMEOUT", "1.5")
        started = time.monotonic()
        result = deployment.run("plan", "--env", "dev", "--target", "vault")
        elapsed = time.monotonic() - started
    assert result.code == 2 and elapsed < 6, (elapsed, result.err)
    assert "within 1.5 s" in one_error(result)


# --------------------------------------------------------------------------- redirects


def test_the_vault_token_never_follows_a_redirect_to_another_host(
    vault, deployment: Deployment
) -> None:  # type: ignore[no-untyped-def]
    from tests.support.vault_server import VaultServer

    if not isinstance(vault, VaultServer):
        pytest.skip("needs the loopback server to redirect")
    # 127.0.0.2 is this machine too, but another host to any HTTP client.
    with CannedServer(b'{"data": {}}', host="127.0.0.2") as elsewhere:
        vault.redirect_next(1, elsewhere.url)
        result = deployment.run("plan", "--env", "dev", "--target", "vault")
    assert all("x-vault-token" not in headers for headers in elsewhere.seen)
    assert result.code == 2, result.both
    line = one_error(result)
    assert "redirected" in line and "127.0.0.2" in line, line
    assert vault.token not in result.both


def test_a_redirect_to_the_same_host_keeps_working(vault, deployment: Deployment) -> None:  # type: ignore[no-untyped-def]
    from tests.support.vault_server import VaultServer

    if not isinstance(vault, VaultServer):
        pytest.skip("needs the loopback server to redirect")
    vault.redirect_next(1, vault.url)
    result = deployment.run("plan", "--env", "dev", "--target", "vault")
    assert result.code == 0, result.both


# --------------------------------------------------------------------------- bad answers

VAULT_ANSWERS = {
    "html": (200, b"<html>a proxy's login page</html>", "text/html"),
    "empty": (200, b"", "application/json"),
    "a list": (200, b"[1, 2]", "application/json"),
    "data is text": (200, b'{"data": "x"}', "application/json"),
    "version is text": (
        200,
        b'{"data": {"data": {}, "metadata": {"version": "two"}}}',
        "application/json",
    ),
    "values are a list": (200, b'{"data": {"data": [1], "metadata": {}}}', "application/json"),
    "an error that is a list": (500, b"[1]", "application/json"),
}


@pytest.mark.parametrize("answer", sorted(VAULT_ANSWERS))
def test_a_vault_answer_that_is_not_kv_v2_is_a_one_line_error(
    answer: str, deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, body, media = VAULT_ANSWERS[answer]
    with CannedServer(body, status=status, content_type=media) as server:
        point_at("vault", server.url, tmp_path, monkeypatch)
        result = deployment.run("plan", "--env", "dev", "--target", "vault")
    assert result.code == 2, result.both
    assert f"Vault at {server.url}" in one_error(result)


@pytest.mark.parametrize("answer", ["html", "a list", "data is text", "version is text"])
def test_a_vault_store_answer_that_is_not_kv_v2_is_a_one_line_error(
    answer: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.repo import make_repo, run

    root = make_repo(
        tmp_path / "repo",
        {"dev": "values: {JWT_SECRET_KEY: {generate: true}}\nstore: {backend: vault}\n"},
    )
    status, body, media = VAULT_ANSWERS[answer]
    with CannedServer(body, status=status, content_type=media) as server:
        point_at("vault", server.url, tmp_path, monkeypatch)
        result = run(root, "keys", "ensure", "--env", "dev")
    assert result.code == 2, result.both
    assert f"Vault at {server.url}" in result.err and "Traceback" not in result.both


KUBE_ANSWERS = {
    "html": (200, b"<html>hi</html>", "text/html"),
    "a list": (200, b"[1]", "application/json"),
    "data is text": (
        200,
        b'{"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "x"}, "data": "x"}',
        "application/json",
    ),
    "another object": (200, b'{"kind": "Secret", "metadata": {"name": "y"}}', "application/json"),
}


@pytest.mark.parametrize("answer", sorted(KUBE_ANSWERS))
def test_a_kubernetes_answer_that_is_not_an_object_is_a_one_line_error(
    answer: str, deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, body, media = KUBE_ANSWERS[answer]
    with CannedServer(body, status=status, content_type=media) as server:
        point_at("kubernetes", server.url, tmp_path, monkeypatch)
        result = deployment.run("plan", "--env", "dev", "--target", "kubernetes")
    assert result.code == 2, result.both
    assert "not a Kubernetes object" in one_error(result)


# --------------------------------------------------------------------------- bad settings


@pytest.mark.parametrize(
    "address", ["vault.example:8200", "https://", "http://[::1", "https://v:99999", "ftp://v"]
)
def test_a_bad_vault_addr_is_a_one_line_error(
    address: str, deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_ADDR", address)
    monkeypatch.setenv("VAULT_TOKEN", TOKEN)
    result = deployment.run("plan", "--env", "dev", "--target", "vault")
    assert result.code == 2, result.both
    assert "is not an http(s) URL with a host" in one_error(result)


def test_a_missing_vault_cacert_is_a_one_line_error(
    deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULT_ADDR", "https://127.0.0.1:8200")
    monkeypatch.setenv("VAULT_TOKEN", TOKEN)
    monkeypatch.setenv("VAULT_CACERT", str(tmp_path / "no-such-ca.pem"))
    result = deployment.run("plan", "--env", "dev", "--target", "vault")
    assert result.code == 2, result.both
    assert "VAULT_CACERT" in one_error(result) and "does not exist" in result.err


@pytest.mark.parametrize(
    "text",
    ["clusters: [\n", "- a\n- b\n", "clusters: 5\n", "\udcff", "token: !hvs.kube-cred-x {}\n"],
)
def test_a_kubeconfig_that_is_not_one_is_a_one_line_error(
    text: str, deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "kubeconfig"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    monkeypatch.setenv("KUBECONFIG", str(path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    result = deployment.run("plan", "--env", "dev", "--target", "kubernetes")
    assert result.code == 2, result.both
    assert "kubeconfig" in one_error(result)
    assert "hvs.kube-cred-x" not in result.both

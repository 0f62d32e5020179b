"""The Vault store: generate-once with check-and-set, rotation, faults, no leaks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.support.repo import ensure_concurrently, make_repo, run


def vault_repo(tmp_path: Path, prefix: str) -> Path:
    return make_repo(
        tmp_path / "repo",
        {
            "dev": f"""
                values:
                  JWT_SECRET_KEY: {{generate: true}}
                  VAPID_PRIVATE_KEY: {{generate: true}}
                store:
                  backend: vault
                  vault: {{mount: secret, path: {prefix}/dev}}
            """
        },
    )


def test_ensure_creates_once_and_keeps(vault, unique: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = vault_repo(tmp_path, unique)
    first = run(root, "keys", "ensure", "--env", "dev", "--format", "json")
    assert first.code == 0, first.both
    keys = json.loads(first.out)["keys"]
    assert {k["status"] for k in keys} == {"created"} and {k["backend"] for k in keys} == {"vault"}
    second = json.loads(run(root, "keys", "ensure", "--env", "dev", "--format", "json").out)["keys"]
    assert {k["status"] for k in second} == {"kept"}
    assert [k["fingerprint"] for k in second] == [k["fingerprint"] for k in keys]
    pair = vault.kv_read("secret", f"{unique}/dev/VAPID")
    assert set(pair) == {"VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY"}  # the pair is one secret
    assert run(root, "validate", "--env", "dev").code == 0  # validation reads the stored keys


def test_rotate_and_rollback(vault, unique: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = vault_repo(tmp_path, unique)
    assert run(root, "keys", "ensure", "--env", "dev").code == 0
    old = vault.kv_read("secret", f"{unique}/dev/JWT_SECRET_KEY")
    assert run(root, "keys", "rotate", "JWT_SECRET_KEY", "--env", "dev", "--yes").code == 0
    new = vault.kv_read("secret", f"{unique}/dev/JWT_SECRET_KEY")
    assert new != old
    assert run(root, "keys", "rollback", "JWT_SECRET_KEY", "--env", "dev", "--yes").code == 0
    assert vault.kv_read("secret", f"{unique}/dev/JWT_SECRET_KEY") == old
    status = json.loads(run(root, "keys", "status", "--env", "dev", "--format", "json").out)["keys"]
    assert [k["version"] for k in status if k["variable"] == "JWT_SECRET_KEY"] == [3]


def test_sixteen_machines_racing_create_one_value(vault, unique: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = vault_repo(tmp_path, unique)
    reports = ensure_concurrently(root, "dev")
    assert len({tuple(k["fingerprint"] for k in r) for r in reports}) == 1
    created = sum(
        1
        for r in reports
        if any(k["variable"] == "JWT_SECRET_KEY" and k["status"] == "created" for k in r)
    )
    assert created == 1
    status = json.loads(run(root, "keys", "status", "--env", "dev", "--format", "json").out)["keys"]
    assert {k["version"] for k in status} == {1}  # no second write ever landed


def test_sealed_vault(vault, unique: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = vault_repo(tmp_path, unique)
    vault.seal()
    result = run(root, "keys", "ensure", "--env", "dev")
    vault.unseal()
    assert result.code == 2
    assert "is sealed" in result.err and "unseal" in result.err
    assert "Traceback" not in result.err


def test_forbidden_token(
    vault, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    root = vault_repo(tmp_path, unique)
    vault.add_token("t-other", allow=["secret/data/elsewhere/*"])
    monkeypatch.setenv("VAULT_TOKEN", "t-other")
    result = run(root, "keys", "ensure", "--env", "dev")
    assert result.code == 2
    assert "403 permission denied" in result.err and "policy" in result.err


def test_unreachable_vault(unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    monkeypatch.setenv("VAULT_ADDR", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("VAULT_TOKEN", "x")
    monkeypatch.setattr("secconf.core.retry.RetryPolicy.deadline_seconds", 0.5)
    root = vault_repo(tmp_path, unique)
    result = run(root, "keys", "ensure", "--env", "dev")
    assert result.code == 2 and f"cannot reach Vault at http://127.0.0.1:{port}" in result.err


def test_transient_faults_are_retried(vault, unique: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = vault_repo(tmp_path, unique)
    # a 503 while a standby takes over (not sealed), then a rate limit
    vault.fail_next(2, 503, errors=["local node not active but active cluster node not found"])
    vault.fail_next(1, 429)
    result = run(root, "keys", "ensure", "--env", "dev")
    assert result.code == 0, result.err


def test_no_token_anywhere(unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_ADDR", "http://127.0.0.1:1")
    root = vault_repo(tmp_path, unique)
    result = run(root, "keys", "ensure", "--env", "dev")
    assert result.code == 2 and "no Vault token" in result.err


def test_token_file_is_used(
    vault, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("VAULT_TOKEN")
    (Path(os.environ["HOME"]) / ".vault-token").write_text(vault.token + "\n")
    root = vault_repo(tmp_path, unique)
    assert run(root, "keys", "ensure", "--env", "dev").code == 0


def test_no_value_in_any_output(vault, unique: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = vault_repo(tmp_path, unique)
    outputs = [run(root, "keys", "ensure", "--env", "dev").both]
    outputs.append(run(root, "keys", "rotate", "VAPID_PUBLIC_KEY", "--env", "dev", "--yes").both)
    outputs.append(run(root, "keys", "status", "--env", "dev", "--format", "json").both)
    vault.seal()
    outputs.append(run(root, "keys", "status", "--env", "dev").both)
    vault.unseal()
    text = "\n".join(outputs)
    for group in ("JWT_SECRET_KEY", "VAPID"):
        for value in (vault.kv_read("secret", f"{unique}/dev/{group}") or {}).values():
            assert value not in text and value.rstrip("=")[:16] not in text
    assert vault.token not in text

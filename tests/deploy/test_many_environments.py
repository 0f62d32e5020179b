"""Many environments at once: one failing environment never stops the others, the
summary says which failed and why, the exit code says something failed, and running
again once the cause is gone converges."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from tests.support.deploy import (
    DELIVERED,
    MOUNT,
    Deployment,
    assert_no_leak,
    deploy_target,
    kube_secret_values,
    make_deployment,
    plan_outcomes,
    vault_secret_values,
)
from tests.support.vault_server import VaultServer

from secconf.core.errors import DeployError
from secconf.operations.deploy import apply_plans

NAMES = ("ok1", "ok2", "bad")
HAND_VALUE = "written-by-someone-else-3b8e"


def vault_apply(d: Deployment, *args: str) -> Any:
    return d.run("apply", "--all", "--target", "vault", "--yes", *args)


def kube_apply(d: Deployment, *args: str) -> Any:
    return d.run("apply", "--all", "--target", "kubernetes", "--yes", *args)


def assert_only_bad_failed(result: Any) -> None:
    assert result.code == 2, result.both
    assert "ok1: applied" in result.out and "ok2: applied" in result.out
    assert "bad: failed: " in result.err
    assert "2 applied, 0 unchanged, 1 failed (bad)" in result.err


def assert_converged(result: Any) -> None:
    assert result.code == 0, result.both
    assert "bad: applied" in result.out
    assert "1 applied, 2 unchanged, 0 failed" in result.err


# --------------------------------------------------------------------------- Vault


def test_many_environments_apply_concurrently_then_write_nothing(
    vault, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    names = tuple(f"env{i:02d}" for i in range(12))
    d = make_deployment(tmp_path, monkeypatch, unique, names=names)
    first = vault_apply(d, "--parallel", "6")
    assert first.code == 0, first.both
    assert "12 applied, 0 unchanged, 0 failed" in first.err
    for name in names:
        assert f"{name}: planning done" in first.err  # plain progress lines off a terminal
        live = vault.kv_read(MOUNT, d.vault_path(name))
        assert live is not None and len(live) == DELIVERED
    if isinstance(vault, VaultServer):
        assert vault.count("GET") == 12  # one read per environment
        vault.reset_requests()
    second = vault_apply(d, "--parallel", "6")
    assert second.code == 0 and "0 applied, 12 unchanged, 0 failed" in second.err
    assert all(vault.kv_versions(MOUNT, d.vault_path(n)) == 1 for n in names)
    if isinstance(vault, VaultServer):
        assert vault.count(writes_only=True) == 0 and vault.count() == 12


def test_an_environment_that_does_not_render_is_never_read_and_the_others_are(
    vault, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """Environments render in order while the pool reads the ones already rendered: one
    whose value is missing fails before anything is read for it, the others deliver."""
    from tests.support.deploy import injected_var

    names = tuple(f"env{i:02d}" for i in range(8))
    d = make_deployment(tmp_path, monkeypatch, unique, names=names)
    monkeypatch.delenv(injected_var("env03"))
    if isinstance(vault, VaultServer):
        vault.reset_requests()
    result = vault_apply(d, "--parallel", "4")
    assert result.code == 2, result.both
    assert "7 applied, 0 unchanged, 1 failed (env03)" in result.err
    applied = re.findall(r"^(env\d\d): applied", result.out, flags=re.MULTILINE)
    assert applied == [n for n in names if n != "env03"]  # reported in order
    assert vault.kv_read(MOUNT, d.vault_path("env03")) is None
    if isinstance(vault, VaultServer):
        assert vault.count("GET", f"secret/data/{d.vault_path('env03')}") == 0
        assert vault.count("GET") == 7


def test_vault_forbidden_path_fails_that_environment_only(
    vault, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    d = make_deployment(tmp_path, monkeypatch, unique, names=NAMES)
    token = vault.add_token(
        f"limited-{unique}",
        allow=[f"secret/data/{unique}/ok*", f"secret/metadata/{unique}/ok*"],
    )
    monkeypatch.setenv("VAULT_TOKEN", token)
    result = vault_apply(d)
    assert_only_bad_failed(result)
    bad = d.vault_path("bad")
    assert (
        f"bad: failed: Vault at {vault.url} denied reading secret/{bad} (403 permission denied)"
        in result.err
    )
    assert "hint: check VAULT_TOKEN and that its policy allows this path" in result.err
    assert "bad: planning failed" in result.err
    assert vault.count("GET", f"secret/data/{bad}") == 1  # a 403 is not retried
    assert "transient failure" not in result.err
    assert vault.kv_read(MOUNT, d.vault_path("ok1")) is not None

    monkeypatch.setenv("VAULT_TOKEN", vault.token)  # the policy is fixed
    assert_converged(vault_apply(d))
    assert d.run("check", "--all", "--target", "vault").code == 0
    assert_no_leak([result], vault_secret_values(vault, d))


def test_sealed_vault_fails_every_environment_without_retrying(
    vault, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    d = make_deployment(tmp_path, monkeypatch, unique, names=NAMES)
    vault.seal()
    try:
        result = vault_apply(d)
    finally:
        vault.unseal()
    assert result.code == 2, result.both
    assert result.err.count(f"Vault at {vault.url} is sealed") == 3
    assert "hint: unseal it (vault operator unseal) and run again" in result.err
    assert "0 applied, 0 unchanged, 3 failed" in result.err
    assert "transient failure" not in result.err
    assert vault.count() == 3  # one request per environment: sealed is not retried
    again = vault_apply(d)
    assert again.code == 0 and "3 applied" in again.err, again.both


def test_vault_missing_mount_fails_that_environment_with_what_to_check(
    vault, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    mount = f"nomount-{unique}"
    d = make_deployment(tmp_path, monkeypatch, unique, names=NAMES, mounts={"bad": mount})
    result = vault_apply(d)
    assert_only_bad_failed(result)
    assert f"has no such path for reading {mount}/{d.vault_path('bad')} (404)" in result.err
    assert "check the mount (a KV version 2 engine) and path" in result.err
    assert "transient failure" not in result.err

    d.rewrite("bad", (d.root / "environments" / "bad.yaml").read_text().replace(mount, MOUNT))
    assert_converged(vault_apply(d))


def test_check_against_a_missing_mount_is_an_error_not_drift(
    vault, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """A mount that does not exist (a typo in the environment file) is a 404 that says
    what to check; `check` must not report it as drift (exit 1) nor `plan` as 17 adds."""
    mount = f"nomount-{unique}"
    d = make_deployment(tmp_path, monkeypatch, unique, names=("dev",), mounts={"dev": mount})
    assert d.run("keys", "ensure", "--env", "dev").code == 0
    result = d.run("check", "--env", "dev", "--target", "vault")
    assert result.code == 2, result.both
    assert "check the mount" in result.err


def test_edit_racing_one_environment_stops_only_that_one(
    vault, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    d = make_deployment(tmp_path, monkeypatch, unique, names=NAMES)
    target = deploy_target("vault")
    planned = plan_outcomes(d.root, NAMES, target, generate=True)
    # someone writes after secconf read it
    vault.kv_write(MOUNT, d.vault_path("bad"), {"JWT_SECRET_KEY": HAND_VALUE})
    outcomes = {o.environment: o for o in apply_plans(planned, target, parallel=4)}
    assert_only_bad_failed_in(outcomes)
    error = outcomes["bad"].error
    assert f"{MOUNT}/{d.vault_path('bad')} changed after it was read" in error.message
    assert "nothing was overwritten" in error.message and HAND_VALUE not in str(error)
    assert vault.kv_read(MOUNT, d.vault_path("bad")) == {"JWT_SECRET_KEY": HAND_VALUE}
    assert_converged(vault_apply(d))


def assert_only_bad_failed_in(outcomes: dict[str, Any]) -> None:
    """The operations' outcomes: ok1 and ok2 applied, bad stopped by its error."""
    assert outcomes["ok1"].result.status == "applied" and outcomes["ok1"].error is None
    assert outcomes["ok2"].result.status == "applied" and outcomes["ok2"].error is None
    assert outcomes["bad"].result is None and isinstance(outcomes["bad"].error, DeployError)


# --------------------------------------------------------------------------- Kubernetes


def test_kubernetes_missing_namespace_fails_that_environment_only(
    kube, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    missing = f"{unique}-later"
    kube.add_namespace(unique)
    d = make_deployment(
        tmp_path, monkeypatch, unique, names=NAMES, namespace=unique, namespaces={"bad": missing}
    )
    result = kube_apply(d)
    assert_only_bad_failed(result)
    assert f"bad: failed: namespace {missing} does not exist" in result.err
    assert (
        "hint: create it, or fix targets.kubernetes.namespace in the environment file" in result.err
    )
    assert "transient failure" not in result.err

    kube.add_namespace(missing)
    assert_converged(kube_apply(d))
    assert d.run("check", "--all", "--target", "kubernetes").code == 0
    assert_no_leak([result], kube_secret_values(kube, d))


def test_kubernetes_forbidden_verb_fails_that_environment_only(
    kube, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    restricted = f"{unique}-restricted"
    kube.add_namespace(unique)
    kube.add_namespace(restricted)
    d = make_deployment(
        tmp_path, monkeypatch, unique, names=NAMES, namespace=unique, namespaces={"bad": restricted}
    )
    kube.forbid("create", "secrets", restricted)
    try:
        result = kube_apply(d)
        assert kube.count("POST", f"/api/v1/namespaces/{restricted}/secrets") == 1  # not retried
    finally:
        kube.allow("create", "secrets", restricted)
    assert_only_bad_failed(result)
    assert re.search(
        rf"bad: failed: forbidden while creating Secret {restricted}/{d.secret_name('bad')}: "
        rf'secrets is forbidden: User ".+" cannot create resource "secrets"',
        result.err,
    ), result.err
    assert (
        f"get, create and update on secrets and configmaps in namespace {restricted}" in result.err
    )
    assert "transient failure" not in result.err

    assert_converged(kube_apply(d))
    assert d.run("check", "--all", "--target", "kubernetes").code == 0


def test_kubernetes_edit_racing_one_environment_stops_only_that_one(
    kube, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    import base64

    kube.add_namespace(unique)
    d = make_deployment(tmp_path, monkeypatch, unique, names=NAMES, namespace=unique)
    assert kube_apply(d).code == 0
    monkeypatch.setenv("DEPLOYTEST_OK1_TURNSTILE_SECRET", "rotated-ok1-secret-0001")
    monkeypatch.setenv("DEPLOYTEST_OK2_TURNSTILE_SECRET", "rotated-ok2-secret-0001")
    monkeypatch.setenv("DEPLOYTEST_BAD_TURNSTILE_SECRET", "rotated-bad-secret-0001")
    target = deploy_target("kubernetes")
    planned = plan_outcomes(d.root, NAMES, target)
    theirs = base64.b64encode(HAND_VALUE.encode()).decode()
    obj = kube.get_object("Secret", unique, d.secret_name("bad"))  # someone edits a managed
    obj["data"]["JWT_SECRET_KEY"] = theirs  # key after secconf read it
    kube.put_object(obj)
    outcomes = {o.environment: o for o in apply_plans(planned, target, parallel=4)}
    assert_only_bad_failed_in(outcomes)
    error = outcomes["bad"].error
    assert f"Secret {unique}/{d.secret_name('bad')} changed after it was read" in error.message
    live = kube.get_object("Secret", unique, d.secret_name("bad"))
    assert live["data"]["JWT_SECRET_KEY"] == theirs
    assert_converged(kube_apply(d))


def test_check_that_could_not_check_an_environment_does_not_say_no_drift(
    vault, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """Exit 2 says an environment could not be checked; the summary must not claim the
    opposite ("no drift") to whoever reads the log."""
    d = make_deployment(tmp_path, monkeypatch, unique, names=("ok1", "bad"))
    assert vault_apply(d).code == 0
    monkeypatch.delenv("DEPLOYTEST_BAD_TURNSTILE_SECRET")
    result = d.run("check", "--all", "--target", "vault")
    assert result.code == 2, result.both
    assert "bad: failed: " in result.err
    assert "no drift" not in result.err

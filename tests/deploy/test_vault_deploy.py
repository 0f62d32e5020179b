"""Delivering to Vault KV v2: plan, apply and check against the session's Vault.

The loopback server counts requests and injects faults; against a real Vault
(SECCONF_TEST_VAULT_ADDR/SECCONF_TEST_VAULT_TOKEN) the same tests run, the request
counts are replaced by version numbers, and the fault-injection tests skip.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.support.deploy import (
    DELIVERED,
    MOUNT,
    SENSITIVE,
    Deployment,
    apply_outcomes,
    assert_no_leak,
    deploy_target,
    environment_yaml,
    injected_var,
    library_plan,
    make_deployment,
    plan_outcomes,
    tls_vault,
    vault_secret_values,
)
from tests.support.vault_server import VaultServer

from secconf.core.errors import DeployError

HAND_VALUE = "hand-edited-value-not-from-secconf-7f3a"


def loopback(vault: Any) -> bool:
    """True when requests can be counted and faults injected."""
    return isinstance(vault, VaultServer)


def data_of(d: Deployment, env: str = "dev") -> str:
    return f"{MOUNT}/data/{d.vault_path(env)}"


def metadata_of(d: Deployment, env: str = "dev") -> str:
    return f"{MOUNT}/metadata/{d.vault_path(env)}"


def hvac_client(vault: Any) -> Any:
    """A client acting as someone else (the `vault` CLI, another team)."""
    import hvac

    return hvac.Client(url=vault.url, token=vault.token)


def apply(d: Deployment, *args: str) -> Any:
    return d.run("apply", "--target", "vault", "--yes", *args)


@pytest.fixture
def deployment(vault, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Deployment:  # type: ignore[no-untyped-def]
    """Two environments, dev and stg, delivered under secret/<unique>/ENV/app."""
    return make_deployment(tmp_path, monkeypatch, unique, names=("dev", "stg"))


# --------------------------------------------------------------------------- idempotence


def test_apply_then_plan_is_in_sync_and_a_second_apply_writes_nothing(
    vault, deployment: Deployment
) -> None:  # type: ignore[no-untyped-def]
    d = deployment
    first = apply(d, "--all")
    assert first.code == 0, first.both
    assert "dev: applied (2 writes)" in first.out and "stg: applied (2 writes)" in first.out
    assert "2 applied, 0 unchanged, 0 failed" in first.err
    schema_hash = _schema_hash(d)
    for env in d.names:
        live = vault.kv_read(MOUNT, d.vault_path(env))
        assert live is not None and len(live) == DELIVERED
        assert live["TURNSTILE_SECRET_KEY"] == d.injected[injected_var(env)]
        assert live["TURNSTILE_SITE_KEY"] == "0x4AAAAAAAB1x2y3z4"  # a literal stays text
        assert len(live["JWT_SECRET_KEY"]) >= 32  # generated on apply (non-production)
        assert vault.kv_versions(MOUNT, d.vault_path(env)) == 1
        custom = vault.kv_custom_metadata(MOUNT, d.vault_path(env))
        store = yaml.safe_load((d.root / "secrets" / f"{env}.enc.yaml").read_text())
        assert custom == {
            "managed-by": "secconf",
            "schema-hash": schema_hash,
            "secconf-store-generation": str(store["generation"]),  # finds a replayed store
        }
        if loopback(vault):
            # at most one read, then the needed writes: the data (CAS) and the marks
            assert vault.count("GET", data_of(d, env)) == 1
            assert vault.count("POST", data_of(d, env)) == 1
            assert vault.count("PATCH", metadata_of(d, env)) == 1
            assert vault.count(path_prefix=data_of(d, env)) == 2
            assert vault.count(path_prefix=metadata_of(d, env)) == 1
    if loopback(vault):
        writes = [r for r in vault.requests if r.method == "POST"]
        assert [r.body["options"]["cas"] for r in writes] == [0, 0]  # create-only
        vault.reset_requests()

    plan = d.run("plan", "--all", "--target", "vault", "--format", "json")
    assert plan.code == 0, plan.both
    rows = json.loads(plan.out)["environments"]
    assert sorted(r["environment"] for r in rows) == ["dev", "stg"]
    for row in rows:
        assert row["plan"]["in_sync"] is True
        assert [c["action"] for c in row["plan"]["changes"]] == ["unchanged"] * DELIVERED
        assert row["plan"]["unmanaged"] == [] and row["plan"]["notes"] == []
    text = d.run("plan", "--all", "--target", "vault")
    assert text.code == 0 and text.out.count("in sync: nothing to do") == 2
    assert f"= {DELIVERED} unchanged" in text.out
    if loopback(vault):
        assert vault.count(writes_only=True) == 0
        vault.reset_requests()

    second = apply(d, "--all")
    assert second.code == 0, second.both
    assert "dev: unchanged" in second.out and "stg: unchanged" in second.out
    assert "0 applied, 2 unchanged, 0 failed" in second.err
    for env in d.names:
        assert vault.kv_versions(MOUNT, d.vault_path(env)) == 1
        if loopback(vault):
            assert vault.count("GET", data_of(d, env)) == 1
    if loopback(vault):
        assert vault.count(writes_only=True) == 0
        assert len(vault.requests) == 2  # one read per environment, nothing else


def _schema_hash(d: Deployment) -> str:
    from secconf.operations.project import Project

    return Project.open(d.root).schema.digest()


# --------------------------------------------------------------------------- drift


def test_hand_edit_is_found_by_check_and_repaired_by_apply(vault, deployment: Deployment) -> None:  # type: ignore[no-untyped-def]
    d, path = deployment, deployment.vault_path("dev")
    assert apply(d, "--env", "dev").code == 0
    intended = vault.kv_read(MOUNT, path)
    clean = d.run("check", "--env", "dev", "--target", "vault")
    assert clean.code == 0 and "no drift" in clean.err, clean.both

    vault.kv_write(
        MOUNT,
        path,
        {**intended, "JWT_SECRET_KEY": HAND_VALUE, "ADMIN_CONTACT_EMAIL": "someone@acme-shop.io"},
    )
    drift = d.run("check", "--env", "dev", "--target", "vault")
    assert drift.code == 1, drift.both
    assert re.search(r"~ change\s+JWT_SECRET_KEY\s+\(\w{8} -> \w{8}\)", drift.out)
    assert re.search(r"~ change\s+ADMIN_CONTACT_EMAIL", drift.out)
    assert "drift in dev" in drift.err

    if loopback(vault):
        vault.reset_requests()
    repair = apply(d, "--env", "dev")
    assert repair.code == 0 and "dev: applied (1 write)" in repair.out, repair.both
    assert vault.kv_read(MOUNT, path) == intended
    assert vault.kv_versions(MOUNT, path) == 3
    if loopback(vault):
        assert vault.count(writes_only=True) == 1  # the data; the marks were still right
        assert vault.requests[-1].body["options"]["cas"] == 2  # the version it read
    assert d.run("check", "--env", "dev", "--target", "vault").code == 0
    assert_no_leak([drift, repair], [HAND_VALUE, *vault_secret_values(vault, d)])


def test_deleted_key_and_deleted_secret_are_drift_that_apply_repairs(
    vault, deployment: Deployment
) -> None:  # type: ignore[no-untyped-def]
    d, path = deployment, deployment.vault_path("dev")
    assert apply(d, "--env", "dev").code == 0
    intended = vault.kv_read(MOUNT, path)

    vault.kv_write(MOUNT, path, {k: v for k, v in intended.items() if k != "VAPID_PRIVATE_KEY"})
    drift = d.run("check", "--env", "dev", "--target", "vault")
    assert drift.code == 1 and re.search(r"\+ add\s+VAPID_PRIVATE_KEY", drift.out), drift.both
    assert apply(d, "--env", "dev").code == 0
    assert vault.kv_read(MOUNT, path) == intended

    # `vault kv delete`: the latest version is soft-deleted; CAS must name that version
    hvac_client(vault).secrets.kv.v2.delete_latest_version_of_secret(path=path, mount_point=MOUNT)
    assert vault.kv_read(MOUNT, path) is None
    gone = d.run("check", "--env", "dev", "--target", "vault")
    assert gone.code == 1 and gone.out.count("+ add") == DELIVERED, gone.both
    back = apply(d, "--env", "dev")
    assert back.code == 0, back.both
    assert vault.kv_read(MOUNT, path) == intended
    assert vault.kv_versions(MOUNT, path) == 4
    assert d.run("check", "--env", "dev", "--target", "vault").code == 0


# --------------------------------------------------------------------------- concurrency


@pytest.mark.parametrize("existing", [False, True], ids=["new-secret", "drifted-secret"])
def test_edit_between_plan_and_apply_is_caught_by_cas_and_not_overwritten(
    vault, deployment: Deployment, existing: bool
) -> None:  # type: ignore[no-untyped-def]
    d, path = deployment, deployment.vault_path("dev")
    theirs: dict[str, str] = {"JWT_SECRET_KEY": HAND_VALUE}
    if existing:
        assert apply(d, "--env", "dev").code == 0
        intended = vault.kv_read(MOUNT, path)
        vault.kv_write(MOUNT, path, {**intended, "ADMIN_CONTACT_EMAIL": "drift@acme-shop.io"})
        theirs = {**intended, "JWT_SECRET_KEY": HAND_VALUE}

    target, plan = library_plan(d.root, "dev", "vault")
    assert plan.pending
    version = vault.kv_write(MOUNT, path, theirs)  # someone else, after secconf's read

    with pytest.raises(DeployError) as caught:
        target.apply(plan)
    error = caught.value
    assert "changed after it was read" in error.message
    assert "nothing was overwritten" in error.message
    assert error.hint and "plan" in error.hint
    assert HAND_VALUE not in str(error)
    assert vault.kv_read(MOUNT, path) == theirs
    assert vault.kv_versions(MOUNT, path) == version

    again = apply(d, "--env", "dev")  # a new plan sees their version; apply converges
    assert again.code == 0, again.both
    assert vault.kv_read(MOUNT, path)["JWT_SECRET_KEY"] != HAND_VALUE
    assert d.run("check", "--env", "dev", "--target", "vault").code == 0


# --------------------------------------------------------------------------- faults

TRANSIENT = [429, 500, 502, 503, "drop"]


def inject(vault: Any, fault: int | str, prefix: str) -> None:
    """One transient fault on the next request under `prefix`."""
    if fault == "drop":
        vault.drop_next(1, prefix)
    elif fault == 503:  # a standby without an active node: unavailable, not sealed
        vault.fail_next(
            1, 503, prefix, errors=["local node not active but active cluster node not found"]
        )
    else:
        vault.fail_next(1, int(fault), prefix)


@pytest.mark.parametrize("fault", TRANSIENT)
def test_transient_fault_on_read_and_metadata_write_is_retried(
    vault, deployment: Deployment, fault: int | str
) -> None:  # type: ignore[no-untyped-def]
    d = deployment
    inject(vault, fault, data_of(d))  # the plan's read
    inject(vault, fault, metadata_of(d))  # the marks' write
    retries: list[int] = []
    target = deploy_target("vault", on_retry=lambda _exc, attempt, _delay: retries.append(attempt))
    (outcome,) = apply_outcomes(d.root, ["dev"], target)
    assert outcome.error is None, outcome.error
    assert outcome.result.status == "applied" and outcome.result.writes == 2
    assert retries == [1, 1]
    assert vault.count("GET", data_of(d)) == 2
    assert vault.count("POST", data_of(d)) == 1
    assert vault.count("PATCH", metadata_of(d)) == 2
    assert len(vault.kv_read(MOUNT, d.vault_path("dev"))) == DELIVERED
    assert vault.kv_custom_metadata(MOUNT, d.vault_path("dev"))["managed-by"] == "secconf"


def test_retry_log_carries_no_value(vault, deployment: Deployment) -> None:  # type: ignore[no-untyped-def]
    """The CLI tells of each retry (status, attempt, delay) and of nothing else."""
    d = deployment
    inject(vault, 500, data_of(d))
    result = apply(d, "--env", "dev")
    assert result.code == 0, result.both
    assert "dev: applied (2 writes)" in result.out
    assert result.err.count("transient failure") == 1 and "retry 1" in result.err
    assert_no_leak([result], vault_secret_values(vault, d))


@pytest.mark.parametrize("fault", TRANSIENT)
def test_transient_fault_on_the_cas_write_is_retried(
    vault, deployment: Deployment, fault: int | str
) -> None:  # type: ignore[no-untyped-def]
    d = deployment
    target, plan = library_plan(d.root, "dev", "vault")
    inject(vault, fault, data_of(d))
    result = target.apply(plan)
    assert result.status == "applied"
    assert vault.count("POST", data_of(d)) == 2
    assert vault.kv_versions(MOUNT, d.vault_path("dev")) == 1
    assert len(vault.kv_read(MOUNT, d.vault_path("dev"))) == DELIVERED


def test_transient_faults_beyond_the_attempts_fail_the_environment(
    vault, deployment: Deployment
) -> None:  # type: ignore[no-untyped-def]
    from secconf.core.retry import RetryPolicy

    d, attempts = deployment, RetryPolicy().attempts
    vault.fail_next(attempts, 500, data_of(d))  # every attempt fails; none left queued
    target = deploy_target("vault")
    (outcome,) = apply_outcomes(d.root, ["dev"], target)
    assert isinstance(outcome.error, DeployError) and outcome.result is None
    assert "InternalServerError" in outcome.error.message
    assert vault.count("GET", data_of(d)) == attempts  # bounded
    assert vault.count(writes_only=True) == 0
    (again,) = apply_outcomes(d.root, ["dev"], target)  # once the fault is gone, it converges
    assert again.error is None and again.result.status == "applied"


# --------------------------------------------------------------------------- unknown keys


def test_unknown_live_keys_are_reported_and_kept_and_prune_removes_them(
    vault, deployment: Deployment
) -> None:  # type: ignore[no-untyped-def]
    d, path = deployment, deployment.vault_path("dev")
    assert apply(d, "--env", "dev").code == 0
    intended = vault.kv_read(MOUNT, path)
    vault.kv_write(MOUNT, path, {**intended, "LEGACY_FLAG": "on", "JWT_SECRET_KEY": HAND_VALUE})

    plan = d.run("plan", "--env", "dev", "--target", "vault")
    assert plan.code == 0
    assert "! LEGACY_FLAG: not in the schema; left alone (--prune removes it)" in plan.out
    assert "- remove" not in plan.out
    assert apply(d, "--env", "dev").code == 0
    live = vault.kv_read(MOUNT, path)
    assert live == {**intended, "LEGACY_FLAG": "on"}  # repaired, and the unknown key kept
    assert d.run("check", "--env", "dev", "--target", "vault").code == 0

    pruned_plan = d.run("plan", "--env", "dev", "--target", "vault", "--prune")
    assert re.search(r"- remove\s+LEGACY_FLAG\s+\(was \w{8}\)", pruned_plan.out), pruned_plan.out
    assert d.run("check", "--env", "dev", "--target", "vault", "--prune").code == 1
    pruned = apply(d, "--env", "dev", "--prune")
    assert pruned.code == 0, pruned.both
    assert vault.kv_read(MOUNT, path) == intended
    assert d.run("check", "--env", "dev", "--target", "vault", "--prune").code == 0


def test_unknown_keys_left_alone_keep_their_json_type(vault, deployment: Deployment) -> None:  # type: ignore[no-untyped-def]
    """KV v2 stores JSON: another tool's key may be a number, a boolean or an object.
    Rewriting the secret to repair a managed key must carry it over as it was."""
    d, path = deployment, deployment.vault_path("dev")
    assert apply(d, "--env", "dev").code == 0
    intended = vault.kv_read(MOUNT, path)
    theirs = {"LEGACY_LIMITS": {"burst": 5, "strict": True}, "LEGACY_PORT": 8443, "LEGACY_ON": True}
    vault.kv_write(MOUNT, path, {**intended, **theirs, "JWT_SECRET_KEY": HAND_VALUE})
    result = apply(d, "--env", "dev")
    assert result.code == 0, result.both
    assert vault.kv_read(MOUNT, path) == {**intended, **theirs}


def test_custom_metadata_marks_are_set_and_other_keys_are_kept(
    vault, deployment: Deployment
) -> None:  # type: ignore[no-untyped-def]
    d, path = deployment, deployment.vault_path("dev")
    client = hvac_client(vault)
    # someone else's metadata exists before secconf's first write
    client.secrets.kv.v2.update_metadata(
        path=path, mount_point=MOUNT, custom_metadata={"owner": "team-payments"}
    )
    assert apply(d, "--env", "dev").code == 0
    generation = yaml.safe_load((d.root / "secrets" / "dev.enc.yaml").read_text())["generation"]
    marks = {
        "managed-by": "secconf",
        "schema-hash": _schema_hash(d),
        "secconf-store-generation": str(generation),
    }
    assert vault.kv_custom_metadata(MOUNT, path) == {"owner": "team-payments", **marks}

    # another team replaces the custom metadata whole, dropping secconf's marks
    client.secrets.kv.v2.update_metadata(
        path=path, mount_point=MOUNT, custom_metadata={"owner": "team-search", "tier": "1"}
    )
    check = d.run("check", "--env", "dev", "--target", "vault")
    assert check.code == 1 and "mark the secret as managed by secconf" in check.out, check.both
    if loopback(vault):
        vault.reset_requests()
    result = apply(d, "--env", "dev")
    assert result.code == 0 and "dev: applied (1 write)" in result.out, result.both
    assert vault.kv_custom_metadata(MOUNT, path) == {"owner": "team-search", "tier": "1", **marks}
    assert vault.kv_versions(MOUNT, path) == 1  # the data was not rewritten
    if loopback(vault):
        assert vault.count(writes_only=True) == 1
        assert vault.count("PATCH", metadata_of(d)) == 1


# --------------------------------------------------------------------------- nothing written


def test_plan_writes_nothing(vault, deployment: Deployment) -> None:  # type: ignore[no-untyped-def]
    d = deployment
    assert d.run("keys", "ensure", "--all").code == 0  # plan never generates
    fresh = d.run("plan", "--all", "--target", "vault")
    assert fresh.code == 0, fresh.both
    assert fresh.out.count("+ add") == 2 * DELIVERED
    assert "mark the secret as managed by secconf" in fresh.out
    for env in d.names:
        assert vault.kv_versions(MOUNT, d.vault_path(env)) == 0
    if loopback(vault):
        assert vault.count(writes_only=True) == 0
        assert vault.count() == 2


def test_apply_without_yes_off_a_terminal_refuses_and_writes_nothing(
    vault, deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    d = deployment
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal
    first = d.run("apply", "--all", "--target", "vault")
    assert first.code == 2 and "not on a terminal" in first.err
    assert "secconf keys ensure" in first.err  # it generates nothing without a yes
    assert d.run("keys", "ensure", "--all").code == 0
    result = d.run("apply", "--all", "--target", "vault")
    assert result.code == 2, result.both
    assert "not on a terminal" in result.err and "--yes" in result.err
    assert "+ add" in result.out  # it showed what it would have done
    for env in d.names:
        assert vault.kv_versions(MOUNT, d.vault_path(env)) == 0
        assert vault.kv_custom_metadata(MOUNT, d.vault_path(env)) is None
    if loopback(vault):
        assert vault.count(writes_only=True) == 0


# --------------------------------------------------------------------------- no leaks


def test_no_secret_value_in_any_output(
    vault, deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    d, path = deployment, deployment.vault_path("dev")
    runs = []
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    runs.append(d.run("apply", "--all", "--target", "vault"))  # refused, shows the plan
    runs.append(apply(d, "--all"))
    for fmt in ("text", "json"):
        runs.append(d.run("plan", "--all", "--target", "vault", "--format", fmt))
        runs.append(d.run("check", "--all", "--target", "vault", "--format", fmt))
    intended = vault.kv_read(MOUNT, path)
    vault.kv_write(MOUNT, path, {**intended, "JWT_SECRET_KEY": HAND_VALUE, "EXTRA": HAND_VALUE})
    for fmt in ("text", "json"):
        runs.append(d.run("plan", "--all", "--target", "vault", "--format", fmt, "--prune"))
        runs.append(d.run("check", "--all", "--target", "vault", "--format", fmt))
    runs.append(apply(d, "--all", "--format", "json"))
    runs.append(d.run("--debug", "apply", "--all", "--target", "vault", "--yes"))
    # failing runs: a token refused, then a missing from_env value
    monkeypatch.setenv("VAULT_TOKEN", "not-a-valid-token")
    runs.append(apply(d, "--all"))
    monkeypatch.setenv("VAULT_TOKEN", vault.token)
    monkeypatch.delenv(injected_var("stg"))
    runs.append(apply(d, "--all"))
    runs.append(d.run("check", "--all", "--target", "vault"))
    assert {r.code for r in runs} >= {0, 1, 2}
    assert_no_leak(runs, [HAND_VALUE, *vault_secret_values(vault, d)])
    assert all(k in vault.kv_read(MOUNT, path) for k in SENSITIVE)
    assert vault.token not in "".join(r.both for r in runs)


# --------------------------------------------------------------------------- connection


def test_vault_addr_from_the_environment_wins_over_the_file(
    vault, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    d = make_deployment(tmp_path, monkeypatch, unique)
    dead = _dead_address()
    text = environment_yaml(unique, "dev", "default").replace(
        "secret_path:", f"address: {dead}, secret_path:"
    )
    d.rewrite("dev", text)
    wins = apply(d, "--env", "dev")  # VAULT_ADDR is the session's Vault
    assert wins.code == 0, wins.both
    assert vault.kv_versions(MOUNT, d.vault_path("dev")) == 1
    plan = d.run("plan", "--env", "dev", "--target", "vault")
    assert f"-> vault {vault.url} secret/{d.vault_path('dev')}" in plan.out

    # without VAULT_ADDR the file's address is used (here: nothing listens there)
    monkeypatch.delenv("VAULT_ADDR")
    (fallback,) = plan_outcomes(d.root, ["dev"], deploy_target("vault"))
    assert fallback.error is not None and f"cannot reach Vault at {dead}" in fallback.error.message

    # and the file's address is only a fallback: VAULT_ADDR, even when wrong, wins
    d.rewrite("dev", text.replace(dead, vault.url))
    monkeypatch.setenv("VAULT_ADDR", dead)
    (wrong,) = plan_outcomes(d.root, ["dev"], deploy_target("vault"))
    assert wrong.error is not None and f"cannot reach Vault at {dead}" in wrong.error.message
    assert "VAULT_ADDR" in (wrong.error.hint or "")  # the hint says what to check


def _dead_address() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    return f"http://127.0.0.1:{port}"


def test_tls_is_verified_unless_skipped_with_a_warning(
    unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = make_deployment(tmp_path, monkeypatch, unique)
    with tls_vault(tmp_path) as (server, ca_file):
        address = server.url.replace("http://", "https://")
        monkeypatch.setenv("VAULT_ADDR", address)
        monkeypatch.setenv("VAULT_TOKEN", server.token)

        refused = apply(d, "--env", "dev")
        assert refused.code == 2, refused.both
        assert f"TLS verification of {address} failed" in refused.err
        assert "VAULT_CACERT" in refused.err
        assert server.kv_versions(MOUNT, d.vault_path("dev")) == 0

        monkeypatch.setenv("VAULT_CACERT", str(ca_file))  # verified, against the right CA
        trusted = apply(d, "--env", "dev")
        assert trusted.code == 0, trusted.both
        assert "NOT verified" not in trusted.err
        assert server.kv_versions(MOUNT, d.vault_path("dev")) == 1


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_tls_skip_verify_is_explicit_and_warned(
    unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = make_deployment(tmp_path, monkeypatch, unique)
    with tls_vault(tmp_path) as (server, _):
        monkeypatch.setenv("VAULT_ADDR", server.url.replace("http://", "https://"))
        monkeypatch.setenv("VAULT_TOKEN", server.token)
        skipped = d.run("apply", "--env", "dev", "--target", "vault", "--yes", "--tls-skip-verify")
        assert skipped.code == 0, skipped.both
        assert "warning: TLS certificates of Vault are NOT verified" in skipped.err
        assert server.kv_versions(MOUNT, d.vault_path("dev")) == 1


def test_certificate_failure_is_not_retried(
    unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A certificate that does not verify will not verify on a second try."""
    d = make_deployment(tmp_path, monkeypatch, unique)
    with tls_vault(tmp_path) as (server, _):
        monkeypatch.setenv("VAULT_ADDR", server.url.replace("http://", "https://"))
        monkeypatch.setenv("VAULT_TOKEN", server.token)
        refused = apply(d, "--env", "dev")
    assert refused.code == 2
    assert "transient failure" not in refused.err, refused.err


def test_a_write_whose_answer_was_lost_is_not_called_a_conflict(
    vault, deployment: Deployment
) -> None:  # type: ignore[no-untyped-def]
    """The write lands, the reply is lost, the retry meets its own version: that is
    success, not someone else's edit."""
    d = deployment
    if not loopback(vault):
        pytest.skip("needs the loopback server to lose a reply")
    assert apply(d, "--env", "dev").code == 0
    path = d.vault_path("dev")
    vault.kv_write(MOUNT, path, {**vault.kv_read(MOUNT, path), "JWT_SECRET_KEY": HAND_VALUE})
    vault.lose_reply_next(1, data_of(d))
    result = apply(d, "--env", "dev")
    assert result.code == 0, result.both
    assert "changed after it was read" not in result.err
    assert d.run("check", "--env", "dev", "--target", "vault").code == 0


def test_plan_stores_nothing_and_apply_stores_exactly_what_it_delivers(
    vault, deployment: Deployment
) -> None:  # type: ignore[no-untyped-def]
    """Keys apply generates are stored right before it applies, never by plan or check."""
    from secconf.operations.project import Project

    d = deployment
    for command in ("plan", "check"):
        d.run(command, "--all", "--target", "vault")
        assert (
            not (d.root / "secrets").exists() and not (d.root / ".secconf" / "master.key").exists()
        )
    assert apply(d, "--all").code == 0
    project = Project.open(d.root)
    for env in d.names:
        entries = project.open_store(project.environments.get(env)).read()
        live = vault.kv_read(MOUNT, d.vault_path(env))
        same = entries["JWT_SECRET_KEY"].current.value.reveal() == live["JWT_SECRET_KEY"]
        assert same and entries["JWT_SECRET_KEY"].current.version == 1


# --------------------------------------------------------------------------- templates


def test_apply_delivers_the_payload_the_repository_template_renders(
    vault, deployment: Deployment
) -> None:  # type: ignore[no-untyped-def]
    """The repository's vault template is rendered and checked as `render` does: a
    template that writes the object its own way delivers the same object; one that
    leaves a key out is refused before anything is read or written."""
    d = deployment
    templates = d.root / "templates"
    templates.mkdir(exist_ok=True)
    (templates / "vault.json.j2").write_text(
        "{\n{% for k, v in data.items() %}  {{ k | to_json }}: {{ v | to_json }}"
        "{{ ',' if not loop.last }}\n{% endfor %}}\n"
    )
    assert apply(d, "--env", "dev").code == 0
    live = vault.kv_read(MOUNT, d.vault_path("dev"))
    assert live is not None and len(live) == DELIVERED
    assert d.run("check", "--target", "vault", "--env", "dev").code == 0

    (templates / "vault.json.j2").write_text('{"JWT_SECRET_KEY": {{ "not-the-key" | to_json }}}')
    if loopback(vault):
        vault.reset_requests()
    result = d.run("check", "--target", "vault", "--env", "dev")
    assert result.code == 2, result.both
    assert "templates/vault.json.j2" in result.err
    if loopback(vault):
        assert vault.count() == 0


def test_the_hvac_client_is_injected_and_made_once_per_thread_and_vault(
    vault, deployment: Deployment
) -> None:  # type: ignore[no-untyped-def]
    """The target takes its client factory: one client (one session, kept-alive
    connections) serves every environment a thread plans and applies."""
    from tests.support.deploy import FAST_RETRIES

    from secconf.core.vaultclient import VaultConnection, make_client
    from secconf.deploy.base import DeployOptions
    from secconf.deploy.vault import VaultDeploy
    from secconf.operations.deploy import apply_plans

    made: list[VaultConnection] = []

    def factory(connection: VaultConnection) -> Any:
        made.append(connection)
        return make_client(connection)

    target = VaultDeploy(DeployOptions(policy=FAST_RETRIES), client_factory=factory)
    d = deployment
    planned = plan_outcomes(d.root, d.names, target, generate=True, parallel=1)
    outcomes = apply_plans(planned, target, parallel=1)
    assert [o.result.status for o in outcomes] == ["applied", "applied"]
    assert [c.address for c in made] == [vault.url]
    assert "token" not in repr(made[0]) and vault.token not in repr(made[0])

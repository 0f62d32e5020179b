"""Delivering to Kubernetes: the Secret and ConfigMap, planned, applied and checked.

The loopback API server counts requests and injects faults; against a real cluster
(SECCONF_TEST_KUBECONFIG) the same tests run, request counts are replaced by
resourceVersions, and the fault-injection tests skip.
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.support.deploy import (
    DELIVERED,
    SENSITIVE,
    Deployment,
    apply_outcomes,
    assert_no_leak,
    decoded,
    deploy_target,
    environment_yaml,
    injected_var,
    kube_secret_values,
    library_plan,
    make_deployment,
    plan_outcomes,
)
from tests.support.k8s_server import KubeServer

from secconf.core.errors import DeployError

HAND_VALUE = "hand-edited-value-not-from-secconf-9c1d"


def loopback(kube: Any) -> bool:
    """True when requests can be counted and faults injected."""
    return isinstance(kube, KubeServer)


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


@pytest.fixture
def deployment(kube, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Deployment:  # type: ignore[no-untyped-def]
    """Two environments, dev and stg, delivered into the test's own namespace."""
    kube.add_namespace(unique)
    return make_deployment(tmp_path, monkeypatch, unique, names=("dev", "stg"), namespace=unique)


def objects_path(d: Deployment, plural: str) -> str:
    return f"/api/v1/namespaces/{d.namespace}/{plural}"


def secret_path(d: Deployment, env: str = "dev") -> str:
    return f"{objects_path(d, 'secrets')}/{d.secret_name(env)}"


def configmap_path(d: Deployment, env: str = "dev") -> str:
    return f"{objects_path(d, 'configmaps')}/{d.configmap_name(env)}"


def secret(kube: Any, d: Deployment, env: str = "dev") -> dict[str, Any] | None:
    return kube.get_object("Secret", d.namespace, d.secret_name(env))


def configmap(kube: Any, d: Deployment, env: str = "dev") -> dict[str, Any] | None:
    return kube.get_object("ConfigMap", d.namespace, d.configmap_name(env))


def edit(
    kube: Any, obj: dict[str, Any] | None, change: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    """A hand edit (`kubectl edit`) of a live object."""
    assert obj is not None
    change(obj)
    result: dict[str, Any] = kube.put_object(obj)
    return result


def apply(d: Deployment, *args: str) -> Any:
    return d.run("apply", "--target", "kubernetes", "--yes", *args)


def check(d: Deployment, *args: str) -> Any:
    return d.run("check", "--target", "kubernetes", *args)


def version(obj: dict[str, Any] | None) -> str:
    assert obj is not None
    return str(obj["metadata"]["resourceVersion"])


# --------------------------------------------------------------------------- idempotence


def test_apply_then_plan_is_in_sync_and_a_second_apply_writes_nothing(
    kube, deployment: Deployment
) -> None:  # type: ignore[no-untyped-def]
    d = deployment
    first = apply(d, "--all")
    assert first.code == 0, first.both
    assert "dev: applied (2 writes)" in first.out and "stg: applied (2 writes)" in first.out
    versions = {}
    for env in d.names:
        live_secret, live_config = secret(kube, d, env), configmap(kube, d, env)
        assert live_secret is not None and live_config is not None
        assert live_secret.get("type") == "Opaque"
        values = decoded(live_secret)
        assert sorted(values) == sorted(SENSITIVE)
        assert values["TURNSTILE_SECRET_KEY"] == d.injected[injected_var(env)]
        assert len(values["JWT_SECRET_KEY"]) >= 32
        assert len(live_config["data"]) == DELIVERED - len(SENSITIVE)
        assert live_config["data"]["TURNSTILE_SITE_KEY"] == "0x4AAAAAAAB1x2y3z4"
        for obj in (live_secret, live_config):
            assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "secconf"
            assert re.fullmatch(r"[0-9a-f]{64}", obj["metadata"]["annotations"]["secconf/checksum"])
        versions[env] = (version(live_secret), version(live_config))
        if loopback(kube):
            # one read per object, then one create per object
            assert kube.count("GET", secret_path(d, env)) == 1
            assert kube.count("GET", configmap_path(d, env)) == 1
    if loopback(kube):
        assert kube.count("POST", objects_path(d, "secrets")) == 2
        assert kube.count("POST", objects_path(d, "configmaps")) == 2
        assert kube.count(writes_only=True) == 4
        kube.reset_requests()

    plan = d.run("plan", "--all", "--target", "kubernetes", "--format", "json")
    assert plan.code == 0, plan.both
    for row in json.loads(plan.out)["environments"]:
        assert row["plan"]["in_sync"] is True
        assert [c["action"] for c in row["plan"]["changes"]] == ["unchanged"] * DELIVERED
    if loopback(kube):
        assert kube.count(writes_only=True) == 0
        kube.reset_requests()

    second = apply(d, "--all")
    assert second.code == 0, second.both
    assert "0 applied, 2 unchanged, 0 failed" in second.err
    for env in d.names:
        assert (version(secret(kube, d, env)), version(configmap(kube, d, env))) == versions[env]
    if loopback(kube):
        assert kube.count(writes_only=True) == 0
        assert len(kube.requests) == 4  # one read per object, nothing else


# --------------------------------------------------------------------------- drift


def test_hand_edit_is_found_by_check_and_repaired_by_apply(kube, deployment: Deployment) -> None:  # type: ignore[no-untyped-def]
    d = deployment
    assert apply(d, "--env", "dev").code == 0
    intended_secret, intended_config = decoded(secret(kube, d)), decoded(configmap(kube, d))
    assert check(d, "--env", "dev").code == 0

    edit(kube, secret(kube, d), lambda o: o["data"].update(JWT_SECRET_KEY=b64(HAND_VALUE)))
    drift = check(d, "--env", "dev")
    assert drift.code == 1, drift.both
    assert re.search(r"~ change\s+Secret/JWT_SECRET_KEY\s+\(\w{8} -> \w{8}\)", drift.out)
    assert "drift in dev" in drift.err
    untouched = version(configmap(kube, d))

    if loopback(kube):
        kube.reset_requests()
    repair = apply(d, "--env", "dev")
    assert repair.code == 0 and "dev: applied (1 write)" in repair.out, repair.both
    assert decoded(secret(kube, d)) == intended_secret
    assert version(configmap(kube, d)) == untouched
    if loopback(kube):
        assert kube.count(writes_only=True) == 1
        assert kube.count("PUT", secret_path(d)) == 1  # a conditional update, not a create
    assert check(d, "--env", "dev").code == 0
    assert_no_leak([drift, repair], [HAND_VALUE, *kube_secret_values(kube, d)])

    # a deleted key in the ConfigMap, then the whole Secret deleted
    edit(kube, configmap(kube, d), lambda o: o["data"].pop("ADMIN_CONTACT_EMAIL"))
    gone_key = check(d, "--env", "dev")
    assert gone_key.code == 1 and re.search(r"\+ add\s+ConfigMap/ADMIN_CONTACT_EMAIL", gone_key.out)
    assert apply(d, "--env", "dev").code == 0
    assert decoded(configmap(kube, d)) == intended_config
    assert kube.delete_object("Secret", d.namespace, d.secret_name("dev"))
    gone = check(d, "--env", "dev")
    assert gone.code == 1 and f"create Secret {d.secret_name('dev')}" in gone.out, gone.both
    assert apply(d, "--env", "dev").code == 0
    assert decoded(secret(kube, d)) == intended_secret
    assert check(d, "--env", "dev").code == 0


# --------------------------------------------------------------------------- concurrency


def test_managed_key_edited_between_plan_and_apply_is_not_overwritten(
    kube, deployment: Deployment
) -> None:  # type: ignore[no-untyped-def]
    d = deployment
    assert apply(d, "--env", "dev").code == 0
    edit(
        kube, secret(kube, d), lambda o: o["data"].update(JWT_SECRET_KEY=b64("drifted-value-0001"))
    )
    target, plan = library_plan(d.root, "dev", "kubernetes")
    assert [c.key for c in plan.pending] == ["JWT_SECRET_KEY"]

    theirs = edit(
        kube, secret(kube, d), lambda o: o["data"].update(VAPID_PRIVATE_KEY=b64(HAND_VALUE))
    )
    with pytest.raises(DeployError) as caught:
        target.apply(plan)
    error = caught.value
    assert "changed after it was read" in error.message
    assert "nothing was overwritten" in error.message
    assert error.hint and "plan" in error.hint
    assert HAND_VALUE not in str(error)
    live = secret(kube, d)
    assert version(live) == version(theirs)
    assert decoded(live)["VAPID_PRIVATE_KEY"] == HAND_VALUE
    assert decoded(live)["JWT_SECRET_KEY"] == "drifted-value-0001"
    if loopback(kube):
        assert [r.status for r in kube.requests if r.method == "PUT"] == [409]


def test_object_created_between_plan_and_apply_is_not_overwritten(
    kube, deployment: Deployment
) -> None:  # type: ignore[no-untyped-def]
    d = deployment
    target, plan = library_plan(d.root, "dev", "kubernetes")
    assert f"create Secret {d.secret_name('dev')}" in plan.notes
    kube.put_object(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": d.secret_name("dev"), "namespace": d.namespace},
            "data": {"JWT_SECRET_KEY": b64(HAND_VALUE)},
        }
    )
    with pytest.raises(DeployError) as caught:
        target.apply(plan)
    assert d.secret_name("dev") in caught.value.message
    assert HAND_VALUE not in str(caught.value)
    assert decoded(secret(kube, d)) == {"JWT_SECRET_KEY": HAND_VALUE}
    again = apply(d, "--env", "dev")  # a new plan sees it; apply converges
    assert again.code == 0, again.both
    assert sorted(decoded(secret(kube, d))) == sorted(SENSITIVE)


def test_unmanaged_edit_between_plan_and_apply_is_retried_and_kept(
    kube, deployment: Deployment
) -> None:  # type: ignore[no-untyped-def]
    d = deployment
    assert apply(d, "--env", "dev").code == 0
    intended = decoded(secret(kube, d))
    edit(kube, secret(kube, d), lambda o: o["data"].update(JWT_SECRET_KEY=b64(HAND_VALUE)))
    target, plan = library_plan(d.root, "dev", "kubernetes")
    assert [c.key for c in plan.pending] == ["JWT_SECRET_KEY"]
    if loopback(kube):
        kube.reset_requests()

    def theirs(obj: dict[str, Any]) -> None:  # another controller's label, and its own key
        obj["metadata"].setdefault("labels", {})["team"] = "search"
        obj["metadata"].setdefault("annotations", {})["reloader/last-seen"] = "42"
        obj["data"]["SIDECAR_TOKEN"] = b64("sidecar-token-value-0042")

    edit(kube, secret(kube, d), theirs)
    result = target.apply(plan)
    assert result.status == "applied"
    live = secret(kube, d)
    assert live is not None
    assert decoded(live) == {**intended, "SIDECAR_TOKEN": "sidecar-token-value-0042"}
    assert live["metadata"]["labels"]["team"] == "search"
    assert live["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "secconf"
    assert live["metadata"]["annotations"]["reloader/last-seen"] == "42"
    if loopback(kube):
        assert [r.status for r in kube.requests if r.method == "PUT"] == [409, 200]
    assert check(d, "--env", "dev").code == 0


# --------------------------------------------------------------------------- faults

TRANSIENT = [429, 500, 502, 503, 504, "drop"]


def inject(kube: Any, fault: int | str, prefix: str) -> None:
    if fault == "drop":
        kube.drop_next(1, prefix)
    else:
        kube.fail_next(1, int(fault), prefix)


@pytest.mark.parametrize("fault", TRANSIENT)
def test_transient_fault_on_read_is_retried(kube, deployment: Deployment, fault: int | str) -> None:  # type: ignore[no-untyped-def]
    d = deployment
    inject(kube, fault, secret_path(d))
    inject(kube, fault, configmap_path(d))
    retries: list[int] = []
    target = deploy_target(
        "kubernetes", on_retry=lambda _exc, attempt, _delay: retries.append(attempt)
    )
    (outcome,) = apply_outcomes(d.root, ["dev"], target)
    assert outcome.error is None, outcome.error
    assert retries == [1, 1]
    assert kube.count("GET", secret_path(d)) == 2 and kube.count("GET", configmap_path(d)) == 2
    assert kube.count(writes_only=True) == 2
    assert sorted(decoded(secret(kube, d))) == sorted(SENSITIVE)


@pytest.mark.parametrize("fault", TRANSIENT)
def test_transient_fault_on_write_is_retried(
    kube, deployment: Deployment, fault: int | str
) -> None:  # type: ignore[no-untyped-def]
    d = deployment
    target, plan = library_plan(d.root, "dev", "kubernetes")  # creates
    inject(kube, fault, objects_path(d, "secrets"))
    assert target.apply(plan).status == "applied"
    assert kube.count("POST", objects_path(d, "secrets")) == 2
    edit(kube, secret(kube, d), lambda o: o["data"].update(JWT_SECRET_KEY=b64(HAND_VALUE)))
    target, plan = library_plan(d.root, "dev", "kubernetes")  # updates
    inject(kube, fault, secret_path(d))
    assert target.apply(plan).status == "applied"
    assert kube.count("PUT", secret_path(d)) == 2
    assert decoded(secret(kube, d))["JWT_SECRET_KEY"] != HAND_VALUE


def test_retry_log_carries_no_value(kube, deployment: Deployment) -> None:  # type: ignore[no-untyped-def]
    d = deployment
    kube.fail_next(1, 500, secret_path(d), message="Internal error occurred: etcdserver: timeout")
    kube.fail_next(1, 429, objects_path(d, "secrets"), retry_after=0)
    result = apply(d, "--env", "dev")
    assert result.code == 0, result.both
    assert "transient failure (500)" in result.err and "transient failure (429)" in result.err
    assert_no_leak([result], kube_secret_values(kube, d))


# --------------------------------------------------------------------------- unknown keys


def test_unknown_live_keys_are_reported_and_kept_and_prune_removes_them(
    kube, deployment: Deployment
) -> None:  # type: ignore[no-untyped-def]
    d = deployment
    assert apply(d, "--env", "dev").code == 0
    intended_secret, intended_config = decoded(secret(kube, d)), decoded(configmap(kube, d))
    edit(kube, secret(kube, d), lambda o: o["data"].update(LEGACY_TOKEN=b64("legacy-token-0001")))
    edit(
        kube,
        configmap(kube, d),
        lambda o: o["data"].update(LEGACY_FLAG="on", ADMIN_CONTACT_EMAIL="x@acme-shop.io"),
    )

    plan = d.run("plan", "--env", "dev", "--target", "kubernetes")
    assert plan.code == 0, plan.both
    assert "! Secret/LEGACY_TOKEN: not in the schema; left alone" in plan.out
    assert "! ConfigMap/LEGACY_FLAG: not in the schema; left alone" in plan.out
    assert "- remove" not in plan.out
    assert apply(d, "--env", "dev").code == 0  # repairs ADMIN_CONTACT_EMAIL, keeps the rest
    assert decoded(secret(kube, d)) == {**intended_secret, "LEGACY_TOKEN": "legacy-token-0001"}
    assert decoded(configmap(kube, d)) == {**intended_config, "LEGACY_FLAG": "on"}
    assert check(d, "--env", "dev").code == 0

    pruned_plan = d.run("plan", "--env", "dev", "--target", "kubernetes", "--prune")
    assert re.search(r"- remove\s+Secret/LEGACY_TOKEN", pruned_plan.out), pruned_plan.out
    assert re.search(r"- remove\s+ConfigMap/LEGACY_FLAG", pruned_plan.out)
    assert apply(d, "--env", "dev", "--prune").code == 0
    assert decoded(secret(kube, d)) == intended_secret
    assert decoded(configmap(kube, d)) == intended_config
    assert check(d, "--env", "dev", "--prune").code == 0


# --------------------------------------------------------------------------- immutable


def test_immutable_secret_with_changed_data_is_reported_not_deleted(
    kube, deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    d = deployment
    assert apply(d, "--env", "dev").code == 0
    frozen = edit(kube, secret(kube, d), lambda o: o.update(immutable=True))
    before = decoded(frozen)
    monkeypatch.setenv(injected_var("dev"), "a-rotated-turnstile-secret-0001")
    if loopback(kube):
        kube.reset_requests()

    result = apply(d, "--env", "dev")
    assert result.code == 2, result.both
    assert f"Secret {d.namespace}/{d.secret_name('dev')} is immutable" in result.err
    assert "does not delete it" in result.err
    live = secret(kube, d)
    assert live is not None and live["metadata"]["uid"] == frozen["metadata"]["uid"]
    assert decoded(live) == before and live.get("immutable") is True
    if loopback(kube):
        assert kube.count("DELETE") == 0 and kube.count(writes_only=True) == 0
    assert_no_leak([result], ["a-rotated-turnstile-secret-0001", *before.values()])


# --------------------------------------------------------------------------- nothing written


def test_plan_writes_nothing(kube, deployment: Deployment) -> None:  # type: ignore[no-untyped-def]
    d = deployment
    assert d.run("keys", "ensure", "--all").code == 0  # plan never generates
    fresh = d.run("plan", "--all", "--target", "kubernetes")
    assert fresh.code == 0, fresh.both
    assert fresh.out.count("+ add") == 2 * DELIVERED
    assert f"create Secret {d.secret_name('dev')}" in fresh.out
    for env in d.names:
        assert secret(kube, d, env) is None and configmap(kube, d, env) is None
    if loopback(kube):
        assert kube.count(writes_only=True) == 0 and kube.count() == 4


def test_apply_without_yes_off_a_terminal_refuses_and_writes_nothing(
    kube, deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    d = deployment
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal
    result = d.run("apply", "--all", "--target", "kubernetes")
    assert result.code == 2, result.both
    assert "not on a terminal" in result.err and "--yes" in result.err
    for env in d.names:
        assert secret(kube, d, env) is None and configmap(kube, d, env) is None
    if loopback(kube):
        assert kube.count(writes_only=True) == 0


# --------------------------------------------------------------------------- no leaks


def test_no_secret_value_in_any_output(
    kube, deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    d = deployment
    runs = []
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    runs.append(d.run("apply", "--all", "--target", "kubernetes"))  # refused, shows the plan
    runs.append(apply(d, "--all"))
    for fmt in ("text", "json"):
        runs.append(d.run("plan", "--all", "--target", "kubernetes", "--format", fmt))
        runs.append(check(d, "--all", "--format", fmt))
    edit(
        kube,
        secret(kube, d),
        lambda o: o["data"].update(JWT_SECRET_KEY=b64(HAND_VALUE), EXTRA=b64(HAND_VALUE)),
    )
    for fmt in ("text", "json"):
        runs.append(d.run("plan", "--all", "--target", "kubernetes", "--format", fmt, "--prune"))
        runs.append(check(d, "--all", "--format", fmt))
    frozen = edit(kube, secret(kube, d, "stg"), lambda o: o.update(immutable=True))
    monkeypatch.setenv(injected_var("stg"), "a-rotated-turnstile-secret-0002")
    runs.append(apply(d, "--all", "--format", "json"))  # dev repaired, stg immutable: fails
    runs.append(d.run("--debug", "apply", "--all", "--target", "kubernetes", "--yes"))
    # a namespace that does not exist, and a from_env value that is not set
    d.rewrite("stg", environment_yaml(d.prefix, "stg", d.namespace + "-missing"))
    monkeypatch.delenv(injected_var("dev"))
    runs.append(apply(d, "--all"))
    runs.append(check(d, "--all"))
    assert {r.code for r in runs} >= {0, 1, 2}
    values = [HAND_VALUE, "a-rotated-turnstile-secret-0002", *kube_secret_values(kube, d)]
    assert_no_leak(runs, values + list(decoded(frozen).values()))


# --------------------------------------------------------------------------- kubeconfig


def test_kubeconfig_and_context_are_read_when_secconf_runs(
    kube, deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """KUBECONFIG is whatever it is when secconf runs (not when a library was imported);
    its current context is used unless --context or the environment file names another."""
    import kubernetes.config  # noqa: F401  (imported earlier, as any program embedding secconf may)
    import yaml

    d = deployment
    config = yaml.safe_load(Path(kube.kubeconfig).read_text())
    for context in config["contexts"]:
        if context["name"] == config["current-context"]:
            context["name"] = "reachable"
    config["clusters"].append({"name": "nowhere", "cluster": {"server": "http://127.0.0.1:9"}})
    user = config["users"][0]["name"]
    config["contexts"].append({"name": "nowhere", "context": {"cluster": "nowhere", "user": user}})
    config["current-context"] = "nowhere"
    path = tmp_path / "second-kubeconfig"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("KUBECONFIG", str(path))

    (current,) = plan_outcomes(d.root, ["dev"], deploy_target("kubernetes"), generate=True)
    assert current.error is not None
    assert "cannot reach the Kubernetes API" in current.error.message
    chosen = apply(d, "--env", "dev", "--context", "reachable")
    assert chosen.code == 0, chosen.both
    assert secret(kube, d) is not None
    unknown = apply(d, "--env", "dev", "--context", "no-such-context")
    assert unknown.code == 2 and "cannot load the Kubernetes configuration" in unknown.err

    text = (d.root / "environments" / "dev.yaml").read_text()
    d.rewrite("dev", text.replace("kubernetes: {", "kubernetes: {context: reachable, "))
    assert check(d, "--env", "dev").code == 0  # the environment file's context


def test_binary_keys_secconf_leaves_alone_keep_their_bytes(kube, deployment: Deployment) -> None:  # type: ignore[no-untyped-def]
    """A key the schema does not know may hold any bytes (a keystore); an apply that
    changes managed keys writes it back byte for byte."""
    d = deployment
    assert apply(d, "--env", "dev").code == 0
    raw = b"\xff\xfe\x00\x810\x82 binary keystore"
    edit(
        kube,
        secret(kube, d),
        lambda o: o["data"].update({"keystore.p12": base64.b64encode(raw).decode()}),
    )
    edit(kube, secret(kube, d), lambda o: o["data"].update(JWT_SECRET_KEY=b64(HAND_VALUE)))
    assert apply(d, "--env", "dev").code == 0
    live = secret(kube, d)
    assert base64.b64decode(live["data"]["keystore.p12"]) == raw
    assert check(d, "--env", "dev").code == 0


# --------------------------------------------------------------------------- templates


def template_with(root: Path, labels: str = "", annotations: str = "", metadata: str = "") -> None:
    """The repository's own kubernetes template: the bundled one plus lines under the
    labels and annotations of both objects (and under their metadata)."""
    from secconf.render.templating import BUNDLED_TEMPLATES

    text = (BUNDLED_TEMPLATES / "kubernetes.yaml.j2").read_text()
    text = text.replace(
        "    {{ labels | yaml_items(4) }}\n", "    {{ labels | yaml_items(4) }}\n" + labels
    )
    text = text.replace(
        "    {{ annotations | yaml_items(4) }}\n",
        "    {{ annotations | yaml_items(4) }}\n" + annotations + metadata,
    )
    (root / "templates").mkdir(exist_ok=True)
    (root / "templates" / "kubernetes.yaml.j2").write_text(text)


def test_labels_and_annotations_the_template_adds_are_delivered_and_their_removal_is_drift(
    kube, deployment: Deployment
) -> None:  # type: ignore[no-untyped-def]
    d = deployment
    template_with(
        d.root,
        labels="    team: payments\n",
        annotations='    owner: "platform@acme-shop.io"\n',
    )
    rendered = d.run("render", "--env", "dev", "--target", "kubernetes", "--out", "-")
    assert rendered.code == 0 and "team: payments" in rendered.out, rendered.both

    assert apply(d, "--env", "dev").code == 0
    for obj in (secret(kube, d), configmap(kube, d)):
        assert obj is not None
        assert obj["metadata"]["labels"]["team"] == "payments"
        assert obj["metadata"]["annotations"]["owner"] == "platform@acme-shop.io"
        assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "secconf"
    assert check(d, "--env", "dev").code == 0

    edit(kube, secret(kube, d), lambda o: o["metadata"]["labels"].pop("team"))
    edit(kube, configmap(kube, d), lambda o: o["metadata"]["annotations"].pop("owner"))
    drift = check(d, "--env", "dev")
    assert drift.code == 1, drift.both
    assert f"update the labels/annotations of Secret {d.secret_name('dev')}" in drift.out
    assert f"update the labels/annotations of ConfigMap {d.configmap_name('dev')}" in drift.out
    assert "drift in dev" in drift.err

    assert apply(d, "--env", "dev").code == 0
    assert secret(kube, d)["metadata"]["labels"]["team"] == "payments"  # type: ignore[index]
    assert configmap(kube, d)["metadata"]["annotations"]["owner"] == "platform@acme-shop.io"  # type: ignore[index]
    assert check(d, "--env", "dev").code == 0


def test_a_template_whose_output_render_refuses_stops_plan(kube, deployment: Deployment) -> None:  # type: ignore[no-untyped-def]
    """plan checks the template's output as render does: no value is delivered that
    render would not write."""
    d = deployment
    template_with(d.root, labels="    app.kubernetes.io/managed-by: someone-else\n")
    result = apply(d, "--env", "dev")
    assert result.code == 2, result.both
    assert "templates/kubernetes.yaml.j2" in result.err
    assert "duplicate" in result.err or "lack the labels" in result.err
    if loopback(kube):
        assert kube.count() == 0  # refused before anything was read


def test_metadata_apply_would_not_deliver_is_refused_not_dropped(
    kube, deployment: Deployment
) -> None:  # type: ignore[no-untyped-def]
    d = deployment
    template_with(d.root, metadata="  finalizers: [acme.io/keep]\n")
    assert d.run("render", "--env", "dev", "--target", "kubernetes", "--out", "-").code == 0
    result = apply(d, "--env", "dev")
    assert result.code == 2, result.both
    assert "templates/kubernetes.yaml.j2" in result.err and "finalizers" in result.err
    assert secret(kube, d) is None


def test_the_api_client_is_injected_with_the_context_to_use(
    kube, deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """The target takes an ApiClient factory (no kubeconfig needed); it is asked for
    the context of --context, else of the environment file, else the current one."""
    from tests.support.deploy import FAST_RETRIES

    from secconf.deploy.base import DeployOptions
    from secconf.deploy.kubernetes import KubernetesDeploy

    monkeypatch.delenv("KUBECONFIG")
    asked: list[str | None] = []

    def factory(context: str | None) -> Any:
        asked.append(context)
        return kube.api_client()

    d = deployment
    target = KubernetesDeploy(DeployOptions(policy=FAST_RETRIES), api_client=factory)
    (outcome,) = apply_outcomes(d.root, ["dev"], target)
    assert outcome.error is None and outcome.result.status == "applied", outcome.error
    assert sorted(decoded(secret(kube, d))) == sorted(SENSITIVE)
    chosen = KubernetesDeploy(DeployOptions(context="chosen"), api_client=factory)
    (planned,) = plan_outcomes(d.root, ["dev"], chosen)
    assert planned.plan is not None and planned.plan.in_sync
    assert asked == [None, "chosen"]

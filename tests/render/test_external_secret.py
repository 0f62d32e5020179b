"""`--target external-secret`: the ExternalSecret (and ConfigMap) of each environment.

Oracles: the `openAPIV3Schema` of the External Secrets Operator's published CRD (with
jsonschema; unknown fields refused, as the API server prunes them), the loopback Vault
that `apply --target vault` writes to, and the kubernetes target's own ConfigMap.
"""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.support.deploy import MOUNT, SENSITIVE, Deployment, leak_forms, make_deployment
from tests.support.oracles import kubernetes_validate, load_manifests
from tests.support.repo import make_repo, run

REPO = Path(__file__).resolve().parents[2]
CRD = REPO.parent / "shared" / "crds" / "external-secrets.io_externalsecrets.yaml"
CI_VALUES = {
    "STAGING_TURNSTILE_SECRET_KEY": "1x0000000000000000000000000000000AA",
    "PROD_TURNSTILE_SITE_KEY": "0x4AAAAAAAreadme-site-key",
    "PROD_TURNSTILE_SECRET_KEY": "0x4AAAAAAAreadme-secret-key",
}
needs_crd = pytest.mark.skipif(
    not CRD.is_file(), reason=f"the ExternalSecret CRD is absent ({CRD} not found)"
)


def _closed(schema: Any) -> Any:
    """The schema with unknown fields refused wherever it lists the known ones."""
    if isinstance(schema, dict):
        out = {k: _closed(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out and not out.get(
            "x-kubernetes-preserve-unknown-fields"
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_closed(v) for v in schema]
    return schema


def _validator() -> Any:
    import jsonschema

    crd = yaml.safe_load(CRD.read_text(encoding="utf-8"))
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema = _closed(version["schema"]["openAPIV3Schema"])
    return jsonschema.Draft7Validator(schema)


def _errors(document: dict[str, Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in _validator().iter_errors(document)]


def _render_bundled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = make_repo(tmp_path / "repo")
    for name, value in CI_VALUES.items():
        monkeypatch.setenv(name, value)
    assert run(root, "keys", "ensure", "--all").code == 0
    result = run(root, "render", "--all", "--target", "external-secret")
    assert result.code == 0, result.err
    return root


@pytest.fixture
def deployment(vault, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Deployment:  # type: ignore[no-untyped-def]
    return make_deployment(tmp_path, monkeypatch, unique, names=("dev", "stg"))


@needs_crd
def test_every_bundled_manifest_validates_against_the_crd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _render_bundled(tmp_path, monkeypatch)
    for env in ("staging", "production", "development"):
        external, configmap = load_manifests(root / "out" / f"{env}.external-secret.yaml")
        assert external["apiVersion"] == "external-secrets.io/v1"
        assert _errors(external) == [], env
        kubernetes_validate(configmap)
    production = load_manifests(root / "out" / "production.external-secret.yaml")[0]
    assert production["spec"]["secretStoreRef"] == {"name": "vault", "kind": "ClusterSecretStore"}


@needs_crd
def test_the_crd_check_refuses_what_the_operator_would_refuse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Control: the validator is not vacuous."""
    root = _render_bundled(tmp_path, monkeypatch)
    external = load_manifests(root / "out" / "staging.external-secret.yaml")[0]
    for path, bad in ((("spec",), {"secretStoreRef": 3}), (("spec",), {"refreshIntervl": "1h"})):
        broken = copy.deepcopy(external)
        broken[path[0]].update(bad)
        assert _errors(broken)
    missing = copy.deepcopy(external)
    del missing["spec"]["data"][0]["remoteRef"]["key"]
    assert _errors(missing)


@needs_crd
def test_remote_refs_are_exactly_the_sensitive_keys_apply_wrote_to_vault(
    vault, deployment: Deployment
) -> None:  # type: ignore[no-untyped-def]
    d = deployment
    applied = d.run("apply", "--all", "--target", "vault", "--yes")
    assert applied.code == 0, applied.both
    result = d.run("render", "--all", "--target", "external-secret")
    assert result.code == 0, result.err
    kube = d.run("render", "--all", "--target", "kubernetes")
    assert kube.code == 0, kube.err
    for env in d.names:
        live = vault.kv_read(MOUNT, d.vault_path(env))
        assert live
        external, configmap = load_manifests(d.root / "out" / f"{env}.external-secret.yaml")
        assert _errors(external) == []
        pairs = [(e["remoteRef"]["key"], e["remoteRef"]["property"]) for e in external["spec"]["data"]]
        assert pairs == [(d.vault_path(env), name) for name in SENSITIVE]
        assert [e["secretKey"] for e in external["spec"]["data"]] == list(SENSITIVE)
        # With the ConfigMap, exactly the keys Vault holds; the ConfigMap's values are Vault's.
        assert sorted([p for _, p in pairs] + list(configmap["data"])) == sorted(live)
        assert configmap["data"] == {k: str(live[k]) for k in configmap["data"]}
        # The kubernetes target's ConfigMap and Secret name, checksum included.
        _, k8s_configmap = load_manifests(d.root / "out" / f"{env}.k8s.yaml")
        assert configmap == k8s_configmap
        assert external["spec"]["target"]["name"] == d.secret_name(env)
        checksum = k8s_configmap["metadata"]["annotations"]["secconf/checksum"]
        template = external["spec"]["target"]["template"]["metadata"]
        assert template["annotations"]["secconf/checksum"] == checksum
        # No sensitive value in any form, in the file or in what the command printed.
        text = (d.root / "out" / f"{env}.external-secret.yaml").read_text(encoding="utf-8")
        for name in SENSITIVE:
            for form in leak_forms(str(live[name])):
                assert form not in text and form not in result.both, name
            assert base64.b64encode(str(live[name]).encode()).decode() not in text


def test_checksum_changes_with_a_secret_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_repo(tmp_path / "repo")
    sums = []
    for value in ("first-turnstile-secret-1", "second-turnstile-secret-2"):
        monkeypatch.setenv("STAGING_TURNSTILE_SECRET_KEY", value)
        assert run(root, "render", "--env", "staging", "--target", "external-secret").code == 0
        external = load_manifests(root / "out" / "staging.external-secret.yaml")[0]
        sums.append(external["spec"]["target"]["template"]["metadata"]["annotations"])
        assert value not in (root / "out" / "staging.external-secret.yaml").read_text()
    assert sums[0] != sums[1]


def test_settings_store_ref_namespace_refresh_and_all_in_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_repo(tmp_path / "repo", {"dev": """
        values: {JWT_SECRET_KEY: {generate: true}, VAPID_PRIVATE_KEY: {generate: true},
                 VAPID_PUBLIC_KEY: {generate: true}, TURNSTILE_SECRET_KEY: s3cr3t-tt-value}
        targets:
          kubernetes: {namespace: apps, app_name: shop, all_in_secret: true}
          vault: {mount: kv, secret_path: "teams/{env}/shop"}
          external-secret:
            path: gitops/{env}/secrets.yaml
            store_ref: {name: team-vault, kind: ClusterSecretStore}
            refresh_interval: 15m
            namespace: shop-dev
        """})
    result = run(root, "render", "--env", "dev", "--target", "external-secret")
    assert result.code == 0, result.err
    assert "ClusterSecretStore team-vault must read Vault KV v2 at mount kv" in result.err
    path = root / "gitops" / "dev" / "secrets.yaml"
    assert path.stat().st_mode & 0o777 == 0o644  # no secret in it: fit to commit
    (external,) = load_manifests(path)  # all_in_secret: no ConfigMap
    spec = external["spec"]
    assert external["metadata"]["namespace"] == "shop-dev"
    assert (spec["refreshInterval"], spec["secretStoreRef"]) == (
        "15m", {"name": "team-vault", "kind": "ClusterSecretStore"})
    assert spec["target"]["name"] == "shop-secrets"
    assert {e["remoteRef"]["key"] for e in spec["data"]} == {"teams/dev/shop"}
    assert len(spec["data"]) >= 14  # every delivered variable comes from Vault
    assert "s3cr3t-tt-value" not in path.read_text()
    if CRD.is_file():
        assert _errors(external) == []


@pytest.mark.parametrize(
    ("setting", "expected"),
    [("store_ref: {kind: Vault}", "store_ref.kind"), ("refresh: 1h", "refresh")],
)
def test_bad_settings_are_located_errors(tmp_path: Path, setting: str, expected: str) -> None:
    root = make_repo(tmp_path / "repo", {"dev": f"""
        values: {{}}
        targets:
          external-secret: {{{setting}}}
        """})
    result = run(root, "render", "--env", "dev", "--target", "external-secret")
    assert result.code == 2
    assert "environments/dev.yaml" in result.err and expected in result.err
    assert "Traceback" not in result.both


def test_audit_lists_the_external_secret_destination(tmp_path: Path) -> None:
    import json

    root = make_repo(tmp_path / "repo")
    result = run(root, "audit", "--env", "staging", "--format", "json", "--offline")
    if result.code == 2:  # audit may need the store: then read it with the key
        result = run(root, "audit", "--env", "staging", "--format", "json")
    report = json.loads(result.out)
    (environment,) = report["environments"]
    jwt = next(v for v in environment["variables"] if v["name"] == "JWT_SECRET_KEY")
    assert {
        "target": "external-secret",
        "namespace": "app-staging",
        "secret": "app-secrets",
        "store": "SecretStore/vault",
        "remote": "secret/staging/app",
        "key": "JWT_SECRET_KEY",
    } in jwt["destinations"]
    table = run(root, "audit", "--env", "staging")
    assert "external-secret app-staging/app-secrets:JWT_SECRET_KEY <- vault secret/staging/app" in table.out

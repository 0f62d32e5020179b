"""The External Secrets target: an `ExternalSecret` that makes the External Secrets
Operator build the environment's Secret from the Vault KV v2 secret that `apply --target
vault` writes, and the ConfigMap of the other variables, as the kubernetes target renders
it. No sensitive value is in the output, in any encoding: the operator reads them from
Vault; only the checksum annotation changes with them, so a Deployment rolls on change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from secconf.core.record import Record
from secconf.environment.loader import Environment
from secconf.environment.settings import PathRole, SettingsModel, settings_as
from secconf.render.base import Artifact, RenderInput, target_path
from secconf.render.registry import Destination, RenderTarget
from secconf.render.targets.kubernetes import (
    check_manifests,
    kubernetes_objects,
    kubernetes_settings,
    object_names,
)
from secconf.render.targets.vault import secret_path, vault_settings

NAME = "external-secret"
API_VERSION = "external-secrets.io/v1"
_TEMPLATE = "external-secret.yaml.j2"


class StoreRef(Record):
    """The SecretStore (or ClusterSecretStore) through which the operator reads Vault."""

    name: str = "vault"
    kind: Literal["SecretStore", "ClusterSecretStore"] = "SecretStore"


class ExternalSecretSettings(SettingsModel):
    """The ExternalSecret an environment is delivered as. The Secret it makes has the
    name the kubernetes target gives it; `namespace` defaults to that target's too."""

    path_roles: ClassVar[Mapping[str, PathRole]] = {"path": "output"}

    path: str = "out/{env}.external-secret.yaml"
    store_ref: StoreRef = StoreRef()
    refresh_interval: str = "1h"
    namespace: str | None = None


def _settings(environment: Environment) -> ExternalSecretSettings:
    return settings_as(environment.targets[NAME], ExternalSecretSettings)


def _namespace(environment: Environment) -> str:
    return _settings(environment).namespace or kubernetes_settings(environment).namespace


def external_secret_objects(data: RenderInput) -> list[dict[str, Any]]:
    """The ExternalSecret and (unless everything goes into the Secret) the ConfigMap."""
    environment = data.config.environment
    settings = _settings(environment)
    namespace = _namespace(environment)
    secret, *rest = kubernetes_objects(data)
    for item in (secret, *rest):
        item["metadata"]["namespace"] = namespace
    meta = secret["metadata"]
    key = secret_path(environment)
    external = {
        "apiVersion": API_VERSION,
        "kind": "ExternalSecret",
        "metadata": meta,
        "spec": {
            "refreshInterval": settings.refresh_interval,
            "secretStoreRef": {"name": settings.store_ref.name, "kind": settings.store_ref.kind},
            "target": {
                "name": meta["name"],
                "creationPolicy": "Owner",
                "template": {
                    "type": "Opaque",
                    "metadata": {
                        "labels": dict(meta["labels"]),
                        "annotations": dict(meta["annotations"]),
                    },
                },
            },
            # Names only: the values stay in Vault (the Secret's data, never read here).
            "data": [
                {"secretKey": name, "remoteRef": {"key": key, "property": name}}
                for name in secret["data"]
            ],
        },
    }
    return [external, *rest]


def render_external_secret(data: RenderInput) -> Artifact:
    """Multi-document YAML for `kubectl apply -f` or a GitOps repository, parsed back."""
    config = data.config
    objects = external_secret_objects(data)
    external = objects[0]
    configmap = objects[1] if len(objects) > 1 else None
    context = {
        "environment": {"name": config.environment.name},
        "metadata": external["metadata"],
        "spec": external["spec"],
        "configmap": configmap,
    }
    text = data.render(_TEMPLATE, context)
    check_manifests(
        text,
        objects,
        template=_TEMPLATE,
        allowed=_ALLOWED,
        what="ExternalSecret manifests",
        hint="write values through the yaml_value filter, and keep every field",
    )
    path = target_path(_settings(config.environment).path, config)
    store = _settings(config.environment).store_ref
    mount = vault_settings(config.environment).mount
    note = (
        f"the {store.kind} {store.name} must read Vault KV v2 at mount {mount} "
        f"(`secconf apply --env {config.environment.name} --target vault` writes it)"
    )
    return Artifact(NAME, config.environment.name, text.encode("utf-8"), path, note, mode=0o644)


_ALLOWED = {
    "ExternalSecret": {"apiVersion", "kind", "metadata", "spec"},
    "ConfigMap": {"apiVersion", "kind", "metadata", "data", "immutable"},
}


def _destination(environment: Environment, name: str) -> Destination:
    namespace, secret = _namespace(environment), object_names(environment)[0]
    store = _settings(environment).store_ref
    vault = f"{vault_settings(environment).mount}/{secret_path(environment)}"
    fields = {
        "target": NAME,
        "namespace": namespace,
        "secret": secret,
        "store": f"{store.kind}/{store.name}",
        "remote": vault,
        "key": name,
    }
    return Destination(fields, f"external-secret {namespace}/{secret}:{name} <- vault {vault}")


TARGET = RenderTarget(
    name=NAME,
    summary="an ExternalSecret reading the Vault KV v2 secret, and the ConfigMap "
    "(no sensitive value in it)",
    settings=ExternalSecretSettings,
    render=render_external_secret,
    destination=_destination,
    order=35,
    holds_secrets=False,
)

"""The Kubernetes target: a Secret (sensitive variables) and a ConfigMap (the others)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, ClassVar

from secconf.core.errors import RenderError
from secconf.core.paths import fill
from secconf.core.record import Field
from secconf.environment.loader import Environment
from secconf.environment.settings import PathRole, SettingsModel, settings_as
from secconf.render.base import Artifact, RenderInput, checksum, delivered_values, target_path
from secconf.render.registry import Destination, RenderTarget

NAME = "kubernetes"

CHECKSUM_ANNOTATION = "secconf/checksum"
MANAGED_BY = {"app.kubernetes.io/managed-by": "secconf"}
_TEMPLATE = "kubernetes.yaml.j2"


class KubernetesSettings(SettingsModel):
    """The Secret and ConfigMap an environment is delivered as."""

    path_roles: ClassVar[Mapping[str, PathRole]] = {"path": "output"}
    placeholders: ClassVar[Mapping[str, Mapping[str, str]]] = {
        "secret_name": {"app": "app_name"},
        "configmap_name": {"app": "app_name"},
    }

    path: str = "out/{env}.k8s.yaml"
    namespace: str = "default"
    app_name: str = "app"
    secret_name: str = "{app}-secrets"  # noqa: S105 (a name, not a password)
    configmap_name: str = "{app}-config"
    all_in_secret: bool = False
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    context: str | None = None


def kubernetes_settings(environment: Environment) -> KubernetesSettings:
    """The environment's `targets.kubernetes` settings."""
    return settings_as(environment.targets[NAME], KubernetesSettings)


def object_names(environment: Environment) -> tuple[str, str]:
    """The names of the environment's Secret and ConfigMap."""
    settings = kubernetes_settings(environment)
    names = {"app": settings.app_name, "env": environment.name}
    return fill(settings.secret_name, **names), fill(settings.configmap_name, **names)


def kubernetes_objects(data: RenderInput) -> list[dict[str, Any]]:
    """The Secret and (unless everything goes into the Secret) the ConfigMap, as data."""
    config = data.config
    settings = kubernetes_settings(config.environment)
    delivered = delivered_values(config)
    labels = {**settings.labels, **MANAGED_BY, "app.kubernetes.io/name": settings.app_name}
    annotations = {
        **settings.annotations,
        CHECKSUM_ANNOTATION: checksum(delivered, data.checksum_key),
    }
    secret_name, configmap_name = object_names(config.environment)

    def metadata(name: str) -> dict[str, Any]:
        return {
            "name": name,
            "namespace": settings.namespace,
            "labels": dict(labels),
            "annotations": dict(annotations),
        }

    in_secret = {v.name: t for v, t in delivered if v.sensitive or settings.all_in_secret}
    in_configmap = {v.name: t for v, t in delivered if v.name not in in_secret}
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(secret_name),
        "type": "Opaque",
        "data": {
            k: base64.b64encode(v.encode("utf-8")).decode("ascii") for k, v in in_secret.items()
        },
    }
    if settings.all_in_secret:
        return [secret]
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(configmap_name),
        "data": in_configmap,
    }
    return [secret, configmap]


def render_kubernetes(data: RenderInput) -> Artifact:
    """Multi-document YAML for `kubectl apply -f`, parsed back and checked."""
    config = data.config
    objects = kubernetes_objects(data)
    secret = objects[0]
    configmap = objects[1] if len(objects) > 1 else None
    context = {
        "environment": {"name": config.environment.name},
        "namespace": secret["metadata"]["namespace"],
        "labels": secret["metadata"]["labels"],
        "annotations": secret["metadata"]["annotations"],
        "secret": {"name": secret["metadata"]["name"], "data": secret["data"]},
        "configmap": (
            {"name": configmap["metadata"]["name"], "data": configmap["data"]}
            if configmap
            else None
        ),
    }
    text = data.render(_TEMPLATE, context)
    check_manifests(text, objects)
    path = target_path(kubernetes_settings(config.environment).path, config)
    return Artifact(NAME, config.environment.name, text.encode("utf-8"), path)


_ALLOWED_FIELDS = {
    "Secret": {"apiVersion", "kind", "metadata", "type", "data", "immutable"},
    "ConfigMap": {"apiVersion", "kind", "metadata", "data", "immutable"},
}


def check_manifests(
    text: str,
    intended: list[dict[str, Any]],
    *,
    template: str = _TEMPLATE,
    allowed: Mapping[str, set[str]] = _ALLOWED_FIELDS,
    what: str = "manifests",
    hint: str = "values must go through the yaml_value/yaml_items filters",
) -> None:
    """The output of `template` holds exactly the `intended` objects: same documents,
    kinds, names, and every field secconf sets (`data`, `type`, `spec`, ...); a template
    may add labels, annotations and the other fields `allowed` names per kind."""
    from secconf.core.errors import InputError
    from secconf.core.yamlio import parse_documents

    def fail(problem: str) -> RenderError:
        return RenderError(
            f"the rendered {what} {problem}", file=f"templates/{template}", hint=hint
        )

    try:
        # The strict reader: a duplicated key (which kubectl refuses) is an error here too.
        documents = [d for d in parse_documents(text, f"templates/{template}") if d is not None]
    except InputError as exc:
        raise fail(f"are not valid YAML for kubectl ({exc.message})") from None
    if len(documents) != len(intended):
        raise fail(f"have {len(documents)} documents instead of {len(intended)}")
    for got, want in zip(documents, intended, strict=True):
        kind = want["kind"]
        if not isinstance(got, dict) or got.get("kind") != kind:
            raise fail(f"do not have a {kind} where expected")
        extra = set(got) - allowed[kind]
        if extra:
            raise fail(f"have {len(extra)} unexpected top-level field(s) in the {kind}")
        meta, want_meta = got.get("metadata") or {}, want["metadata"]
        if (meta.get("name"), meta.get("namespace")) != (want_meta["name"], want_meta["namespace"]):
            raise fail(f"name the {kind} differently from the environment's settings")
        for field in ("labels", "annotations"):
            have = meta.get(field) or {}
            if any(have.get(k) != v for k, v in want_meta[field].items()):
                raise fail(f"lack the {field} secconf sets on the {kind}")
        for field, value in want.items():
            if field in ("kind", "metadata"):
                continue
            if got.get(field, {} if isinstance(value, dict) else None) != value:
                raise fail(f"do not carry exactly the intended {field} in the {kind}")


def _destination(environment: Environment, name: str) -> Destination:
    settings = kubernetes_settings(environment)
    secret = object_names(environment)[0]
    fields = {"target": NAME, "namespace": settings.namespace, "secret": secret, "key": name}
    return Destination(fields, f"k8s {settings.namespace}/{secret}:{name}")


TARGET = RenderTarget(
    name=NAME,
    summary="a Kubernetes Secret (sensitive variables) and ConfigMap (the others)",
    settings=KubernetesSettings,
    render=render_kubernetes,
    destination=_destination,
    deploy="secconf.deploy.kubernetes:KubernetesDeploy",
    order=20,
)

"""`secconf krm`: a KRM function (the KRM Functions Specification, as kpt and kustomize
run exec functions). It reads a `ResourceList`, renders the environment its
`functionConfig` names with the kubernetes or external-secret target, exactly as
`secconf render` would, and gives the `ResourceList` back with those objects appended.

A failure is not an exception for the caller: it comes back as a `results` entry of
severity `error` (the message of the secconf error, which never holds a value) and
`ok=False`, so the runner shows it and stops the build.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from secconf.core.errors import InputError, SecconfError

API_VERSION = "secconf.dev/v1alpha1"
KIND = "SecconfSecrets"
TARGETS = ("kubernetes", "external-secret")
LIST_API_VERSIONS = ("config.kubernetes.io/v1", "config.kubernetes.io/v1alpha1")
_PATH = "config.kubernetes.io/path"
_INDEX = "config.kubernetes.io/index"
_INTERNAL_PATH = "internal.config.kubernetes.io/path"
_INTERNAL_INDEX = "internal.config.kubernetes.io/index"


@dataclass(frozen=True)
class KrmOutcome:
    """The ResourceList to write to stdout, and whether the function succeeded."""

    resource_list: dict[str, Any]
    ok: bool


@dataclass(frozen=True)
class FunctionConfig:
    """`spec` of a SecconfSecrets functionConfig."""

    environment: str
    target: str
    root: Path


def run_function(
    text: str,
    *,
    cwd: Path,
    notify: Callable[[str], None],
    environ: Mapping[str, str] | None = None,
) -> KrmOutcome:
    """The function: `text` is the ResourceList read from stdin (YAML or JSON)."""
    items: list[Any] = []
    try:
        resource_list = _resource_list(text)
        items = list(resource_list.get("items") or [])
        config = _function_config(resource_list.get("functionConfig"), cwd)
        rendered = render_objects(config, notify=notify, environ=environ)
    except SecconfError as exc:
        return KrmOutcome(_list(items, [_error(exc)]), ok=False)
    except OSError as exc:  # a full disk, a permission denied: what the system says
        where = f"{exc.filename}: " if exc.filename else ""
        failure = {"message": f"{where}{exc.strerror or type(exc).__name__}", "severity": "error"}
        return KrmOutcome(_list(items, [failure]), ok=False)
    return KrmOutcome(_list([*items, *rendered], []), ok=True)


def render_objects(
    config: FunctionConfig,
    *,
    notify: Callable[[str], None],
    environ: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The objects `secconf render --env ENV --target TARGET` writes, annotated with the
    file they would be written to (what kpt and kustomize keep track of)."""
    from secconf.core.yamlio import parse_documents
    from secconf.operations.project import Project
    from secconf.operations.render import render

    project = Project.open(config.root)
    (written,) = render(
        project, [config.environment], all_=False, target=config.target, notify=notify,
        out=Path("-"), environ=environ,
    )
    artifact = written.artifact
    documents = parse_documents(artifact.content.decode("utf-8"), artifact.path)
    objects = [d for d in documents if isinstance(d, dict)]
    for index, obj in enumerate(objects):
        annotations = obj.setdefault("metadata", {}).setdefault("annotations", {})
        for key in (_PATH, _INTERNAL_PATH):
            annotations[key] = artifact.path
        for key in (_INDEX, _INTERNAL_INDEX):
            annotations[key] = str(index)
    return objects


def _resource_list(text: str) -> dict[str, Any]:
    from secconf.core.yamlio import parse_documents

    documents = [d for d in parse_documents(text, "the ResourceList on stdin") if d is not None]
    if len(documents) != 1 or not isinstance(documents[0], dict):
        raise InputError(
            "stdin does not hold one ResourceList",
            hint="run secconf krm from a KRM function runner (kpt fn eval, kustomize)",
        )
    resource_list = documents[0]
    if resource_list.get("kind") != "ResourceList" or (
        resource_list.get("apiVersion") not in LIST_API_VERSIONS
    ):
        raise InputError(
            "stdin is not a ResourceList (config.kubernetes.io/v1)",
            hint="run secconf krm from a KRM function runner (kpt fn eval, kustomize)",
        )
    if not isinstance(resource_list.get("items") or [], list):
        raise InputError("the ResourceList's items are not a list")
    return resource_list


def _function_config(data: Any, cwd: Path) -> FunctionConfig:
    hint = (
        f"give a functionConfig of apiVersion {API_VERSION}, kind {KIND}, with "
        "spec: {environment: NAME, target: kubernetes|external-secret, root: PATH}"
    )
    if not isinstance(data, dict) or (data.get("apiVersion"), data.get("kind")) != (
        API_VERSION,
        KIND,
    ):
        raise InputError(f"the functionConfig is not a {API_VERSION} {KIND}", hint=hint)
    spec = data.get("spec")
    if not isinstance(spec, dict):
        raise InputError("the functionConfig has no spec", hint=hint)
    unknown = sorted(str(k) for k in spec if k not in ("environment", "target", "root"))
    if unknown:
        raise InputError(f"the functionConfig's spec has unknown fields: {', '.join(unknown)}",
                         hint=hint)
    environment, target = spec.get("environment"), spec.get("target", "kubernetes")
    root = spec.get("root", ".")
    if not isinstance(environment, str) or not environment:
        raise InputError("the functionConfig's spec.environment is not set", hint=hint)
    if target not in TARGETS:
        raise InputError(f"spec.target must be one of {', '.join(TARGETS)}", hint=hint)
    if not isinstance(root, str):
        raise InputError("the functionConfig's spec.root is not a path", hint=hint)
    return FunctionConfig(environment, target, cwd / root)


def _error(exc: SecconfError) -> dict[str, Any]:
    message = f"{exc.location()}{exc.message}"
    if exc.hint:
        message += f" (hint: {exc.hint})"
    return {"message": message, "severity": "error"}


def _list(items: list[Any], results: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList",
                           "items": items}
    if results:
        out["results"] = results
    return out

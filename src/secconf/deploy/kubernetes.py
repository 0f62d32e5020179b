"""Delivering to Kubernetes: the Secret and ConfigMap of the render target, updated with
optimistic concurrency (the resourceVersion that was read).

A PUT carries the resourceVersion the plan read. On 409 Conflict the object is read
again: if only what secconf does not manage changed (another label, an unmanaged key,
a controller's annotation), the same writes are retried on the new version, a bounded
number of times; if a managed key changed, the plan no longer holds and the
environment stops, overwriting nothing. An immutable object is reported, never deleted.

What is delivered are the objects `render --target kubernetes` wrote from the
repository's template, as it wrote them: a label or annotation the template adds is
live after apply, and its removal by hand is drift.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from secconf.core import net, redact
from secconf.core.errors import DeployError, SecconfError
from secconf.core.redact import quoted_message
from secconf.core.retry import with_retries
from secconf.deploy.base import (
    ApplyResult,
    Delivery,
    DeployOptions,
    KeyChange,
    Plan,
    PlanState,
    diff_keys,
    replay_warning,
)

CONFLICT_RETRIES = 3
TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
REQUEST_TIMEOUT = (5.0, 30.0)
_TEMPLATE = "templates/kubernetes.yaml.j2"
# What apply delivers of an object's metadata; the API server adds the rest.
_DELIVERED_METADATA = frozenset({"name", "namespace", "labels", "annotations"})

# Makes the kubernetes ApiClient for a context (None: the kubeconfig's current one).
ApiClientFactory = Callable[[str | None], Any]


@runtime_checkable
class KubernetesTargetSettings(Protocol):
    """What delivery reads of an environment's `targets.kubernetes` settings."""

    @property
    def namespace(self) -> str: ...

    @property
    def context(self) -> str | None: ...


@dataclass
class _Object:
    """One managed object: intended form, live form (None when absent), planned changes."""

    kind: str
    intended: dict[str, Any] = field(repr=False)  # their data are values: never shown
    live: dict[str, Any] | None = field(repr=False)
    changes: list[KeyChange]
    unmanaged: list[str]
    meta_changed: bool


@dataclass
class KubernetesPlanState(PlanState):
    """The objects as planned, and what a conflict needs to plan one of them again."""

    api: Any = field(repr=False)  # the client's CoreV1Api (the client has no type hints)
    objects: list[_Object]
    key: bytes = field(repr=False)  # the fingerprint key
    managed: set[str]


def _decode(kind: str, data: dict[str, str] | None) -> dict[str, str]:
    if not data:
        return {}
    if kind == "ConfigMap":
        return dict(data)
    out = {}
    for key, value in data.items():
        try:
            out[key] = base64.b64decode(value).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            out[key] = "\0undecodable:" + value  # never equal to an intended value
    return out


class KubernetesDeploy:
    """The `kubernetes` deploy target, through the official client."""

    name = "kubernetes"
    # Planned in one process (no `forked`): the official client (its configuration
    # loading, its urllib3 pools) has not been tested in a forked worker.
    forkable = False

    def __init__(
        self,
        options: DeployOptions | None = None,
        *,
        api_client: ApiClientFactory | None = None,
    ) -> None:
        self.options = options or DeployOptions()
        self.api_client = api_client or kubeconfig_api_client

    def _call(self, what: str, namespace: str, action: Any) -> Any:
        with _kubernetes_errors(what, namespace):
            return with_retries(
                action,
                transient=_is_transient,
                policy=self.options.policy,
                on_retry=self.options.on_retry,
            )

    # -- plan ----------------------------------------------------------------------

    def plan(self, delivery: Delivery, *, prune: bool) -> Plan:
        """Read the live Secret and ConfigMap and compare them with those render wrote."""
        from kubernetes import client

        config = delivery.config
        settings = _settings(delivery)
        intended = rendered_objects(delivery.content)
        api = client.CoreV1Api(self.api_client(self.options.context or settings.context))
        managed = set(config.schema.variables)
        objects = [
            self._plan_object(api, obj, managed, delivery.fingerprint_key, prune=prune)
            for obj in intended
        ]
        plan = Plan(
            config.environment.name,
            self.name,
            f"namespace {settings.namespace}",
            [c for o in objects for c in o.changes],
            [f"{o.kind}/{k}" for o in objects for k in o.unmanaged],
            prune,
        )
        plan.store_replay = replay_warning(delivery.store)
        for o in objects:
            if o.live is None:
                plan.notes.append(f"create {o.kind} {o.intended['metadata']['name']}")
            elif o.meta_changed:
                plan.notes.append(
                    f"update the labels/annotations of {o.kind} {o.intended['metadata']['name']}"
                )
        plan.state = KubernetesPlanState(api, objects, delivery.fingerprint_key, managed)
        return plan

    def _read(self, api: Any, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        from kubernetes.client.exceptions import ApiException

        reader = api.read_namespaced_secret if kind == "Secret" else api.read_namespaced_config_map

        def read() -> Any:
            try:
                live = _ask(reader, name, namespace, _request_timeout=REQUEST_TIMEOUT)
            except ApiException as exc:
                if exc.status == 404:
                    return None
                raise
            return _checked_live(api.api_client.sanitize_for_serialization(live), name)

        result: dict[str, Any] | None = self._call(
            f"reading {kind} {namespace}/{name}", namespace, read
        )
        return result

    def _plan_object(
        self, api: Any, intended: dict[str, Any], managed: set[str], key: bytes, *, prune: bool
    ) -> _Object:
        kind = intended["kind"]
        meta = intended["metadata"]
        live = self._read(api, kind, meta["namespace"], meta["name"])
        desired = _decode(kind, intended.get("data"))
        current = _decode(kind, (live or {}).get("data"))
        changes, unmanaged = diff_keys(current, desired, managed, key, prune=prune, where=kind)
        live_meta = (live or {}).get("metadata") or {}
        meta_changed = live is not None and (
            any(
                (live_meta.get(part) or {}).get(k) != v
                for part in ("labels", "annotations")
                for k, v in meta[part].items()
            )
            or ("immutable" in intended and live.get("immutable") != intended["immutable"])
        )
        return _Object(kind, intended, live, changes, unmanaged, meta_changed)

    # -- apply ---------------------------------------------------------------------

    def apply(self, plan: Plan) -> ApplyResult:
        """Create or replace each object that the plan changes; nothing when in sync."""
        if plan.in_sync:
            return ApplyResult(plan.environment, "unchanged")
        state = plan.state
        if not isinstance(state, KubernetesPlanState):
            raise TypeError("not a plan of the kubernetes target")
        writes = 0
        for obj in state.objects:
            pending = [c for c in obj.changes if c.action != "unchanged"]
            if obj.live is not None and not pending and not obj.meta_changed:
                continue
            writes += self._write(state.api, obj, state, plan.prune)
        return ApplyResult(plan.environment, "applied", writes)

    def _write(self, api: Any, obj: _Object, state: KubernetesPlanState, prune: bool) -> int:
        meta = obj.intended["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        for _ in range(CONFLICT_RETRIES + 1):
            if obj.live is None:
                self._call(
                    f"creating {obj.kind} {namespace}/{name}",
                    namespace,
                    partial(self._create, api, obj),
                )
                return 1
            if obj.live.get("immutable"):
                raise DeployError(
                    f"{obj.kind} {namespace}/{name} is immutable, so its data cannot change",
                    hint="secconf does not delete it for you: delete it by hand (pods using it "
                    "must restart) or deliver under another name",
                )
            body = self._replacement(obj)
            try:
                self._call(
                    f"updating {obj.kind} {namespace}/{name}",
                    namespace,
                    partial(self._replace, api, obj.kind, namespace, name, body),
                )
                return 1
            except _Conflict:
                fresh = self._plan_object(api, obj.intended, state.managed, state.key, prune=prune)
                if _signature(fresh.changes) != _signature(obj.changes):
                    raise DeployError(
                        f"{obj.kind} {namespace}/{name} changed after it was read; "
                        "nothing was overwritten",
                        hint="run `secconf plan` again to see the new state, then apply",
                    ) from None
                obj = fresh
        raise DeployError(
            f"{obj.kind} {namespace}/{name} kept changing while secconf wrote it "
            f"({CONFLICT_RETRIES} conflicts)",
            hint="something else is writing it; find out what, then apply again",
        )

    def _replacement(self, obj: _Object) -> dict[str, Any]:
        assert obj.live is not None
        body = dict(obj.live)
        meta = dict(body.get("metadata") or {})
        for part in ("labels", "annotations"):
            meta[part] = {**(meta.get(part) or {}), **obj.intended["metadata"][part]}
        body["metadata"] = meta  # keeps resourceVersion: the update is conditional on it
        # Keys secconf leaves alone keep their encoded bytes exactly (they may be binary);
        # the intended data is already encoded for the object's kind.
        live_data = body.get("data") or {}
        data = {k: v for k, v in live_data.items() if k in obj.unmanaged}
        data.update(obj.intended.get("data") or {})
        body["data"] = data
        if obj.kind == "Secret":
            body["type"] = body.get("type") or "Opaque"
        if "immutable" in obj.intended:
            body["immutable"] = obj.intended["immutable"]
        return body

    def _create(self, api: Any, obj: _Object) -> Any:
        namespace = obj.intended["metadata"]["namespace"]
        creator = (
            api.create_namespaced_secret
            if obj.kind == "Secret"
            else api.create_namespaced_config_map
        )
        return _ask(
            creator,
            namespace,
            obj.intended,
            field_manager="secconf",
            _request_timeout=REQUEST_TIMEOUT,
        )

    def _replace(self, api: Any, kind: str, namespace: str, name: str, body: dict[str, Any]) -> Any:
        from kubernetes.client.exceptions import ApiException

        replacer = (
            api.replace_namespaced_secret if kind == "Secret" else api.replace_namespaced_config_map
        )
        try:
            return _ask(
                replacer,
                name,
                namespace,
                body,
                field_manager="secconf",
                _request_timeout=REQUEST_TIMEOUT,
            )
        except ApiException as exc:
            if exc.status == 409:
                raise _Conflict from None
            raise


def kubeconfig_api_client(context: str | None) -> Any:
    """The client's ApiClient for `context`, from the kubeconfig (or the pod's service
    account), its credentials registered for redaction, its pool bounded."""
    from kubernetes import client

    configuration = client.Configuration()
    _load_configuration(configuration, context)
    _register_client_credentials(configuration)
    configuration.retries = 0  # secconf retries transient faults itself, with a deadline
    api_client = client.ApiClient(configuration)
    net.bound_pool_manager(api_client.rest_client.pool_manager)
    return api_client


def _settings(delivery: Delivery) -> KubernetesTargetSettings:
    settings = delivery.settings
    if not isinstance(settings, KubernetesTargetSettings):
        raise TypeError(f"not kubernetes target settings: {type(settings).__name__}")
    return settings


def rendered_objects(content: bytes) -> list[dict[str, Any]]:
    """The Secret and ConfigMap render wrote, as apply delivers them: every label and
    annotation the template gives them. Render checked their names, data and secconf's
    own metadata; metadata apply would not deliver is refused here, not dropped."""
    from secconf.core.yamlio import parse_documents

    documents = [d for d in parse_documents(content.decode("utf-8"), _TEMPLATE) if d is not None]
    return [_delivered(document) for document in documents]


def _delivered(document: Any) -> dict[str, Any]:
    def fail(what: str) -> DeployError:
        return DeployError(
            f"the rendered manifests {what}, which apply cannot deliver",
            file=_TEMPLATE,
            hint="apply delivers name, namespace, labels, annotations, data, type and immutable",
        )

    if not isinstance(document, dict) or document.get("kind") not in ("Secret", "ConfigMap"):
        raise fail("hold a document that is not a Secret or ConfigMap")
    kind = document["kind"]
    meta = document.get("metadata") or {}
    extra = sorted(set(meta) - _DELIVERED_METADATA)
    if extra:
        raise fail(f"give the {kind} metadata {', '.join(map(str, extra))}")
    metadata: dict[str, Any] = {"name": meta.get("name"), "namespace": meta.get("namespace")}
    for part in ("labels", "annotations"):
        given = meta.get(part) or {}
        if not isinstance(given, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in given.items()
        ):
            raise fail(f"give the {kind} {part} that are not text (quote them)")
        metadata[part] = dict(given)
    obj = {"apiVersion": "v1", "kind": kind, "metadata": metadata}
    obj["data"] = dict(document.get("data") or {})
    if kind == "Secret":
        obj["type"] = document.get("type") or "Opaque"
    if "immutable" in document:
        if not isinstance(document["immutable"], bool):
            raise fail(f"make the {kind}'s immutable something other than true or false")
        obj["immutable"] = document["immutable"]
    return obj


class _Conflict(Exception):
    """A 409 on a conditional update: the object changed since it was read."""


class _Malformed(Exception):
    """The API answered with something that is not the object asked for."""


def _ask(method: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a client method; an answer its models cannot read (not JSON, a list, a field
    of the wrong type) becomes _Malformed. The models' own errors quote the answer, which
    may hold Secret data, so they are never shown."""
    try:
        return method(*args, **kwargs)
    except (ValueError, TypeError, AttributeError, KeyError):
        raise _Malformed from None


def _checked_live(live: Any, name: str) -> dict[str, Any]:
    """A live object as read: a mapping whose metadata names the object asked for."""
    if not isinstance(live, dict):
        raise _Malformed
    metadata = live.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("name") != name:
        raise _Malformed
    return live


def _signature(changes: list[KeyChange]) -> list[tuple[str, str, str | None, str | None]]:
    return sorted((c.key, c.action, c.old, c.new) for c in changes)


def _load_configuration(configuration: Any, context: str | None) -> None:
    """Fill `configuration` from the kubeconfig (or the pod's service account); a file
    that is not a kubeconfig is a one-line error that quotes none of it (it holds
    credentials)."""
    import yaml
    from kubernetes import config
    from kubernetes.config.config_exception import ConfigException

    path = _kubeconfig_path()
    try:
        if os.environ.get("KUBERNETES_SERVICE_HOST") and not _kubeconfig_exists():
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        else:
            _register_kubeconfig_credentials(path)
            # Read KUBECONFIG now: the client reads it once, when first imported.
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=path,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise DeployError(
            f"the kubeconfig {path} is not valid YAML{line}",
            hint="fix the file, or point KUBECONFIG at another one",
        ) from None
    except (ConfigException, OSError) as exc:
        raise DeployError(
            f"cannot load the Kubernetes configuration: {quoted_message(str(exc))}",
            hint="set KUBECONFIG, pass --context, or run inside a cluster",
        ) from None
    except Exception as exc:  # the client reading a file of the wrong shape
        raise DeployError(
            f"the kubeconfig {path} is not a valid kubeconfig ({type(exc).__name__})",
            hint="it needs clusters, users and contexts as `kubectl config view` shows them",
        ) from None


def _kubeconfig_path() -> str:
    """KUBECONFIG (a list separated by the OS path separator), else ~/.kube/config."""
    return os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")


# Keys under a kubeconfig's `users` whose values are credentials (tokens, passwords,
# client keys, auth-provider secrets); any other key of a user is a name or a path.
_CREDENTIAL_KEY = re.compile(r"token|password|secret|key-data|^key$|^value$", re.IGNORECASE)


def _register_kubeconfig_credentials(paths: str) -> None:
    """Register every credential of the kubeconfig files before the client reads them,
    so that no error about them (or anything echoing them) can print one. Defensive: a
    file that cannot be read or parsed is left for the client to report."""
    from secconf.core.yamlio import parse_documents, read_text

    for path in paths.split(os.pathsep):
        try:
            documents = parse_documents(read_text(Path(path).expanduser()), path)
        except SecconfError:
            continue
        for document in documents:
            if isinstance(document, dict):
                _register_credentials_in(document.get("users"), None)


def _register_credentials_in(node: Any, key: str | None) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            _register_credentials_in(v, str(k))
    elif isinstance(node, list):
        for item in node:
            _register_credentials_in(item, key)
    elif (
        isinstance(node, str)
        and key is not None
        and _CREDENTIAL_KEY.search(key)
        and not key.endswith(("-file", "File"))  # a path: the client reads the file
    ):
        redact.register_credential(node)
        if key.endswith("-data"):  # base64 of a PEM key: its text too
            with suppress(binascii.Error, UnicodeDecodeError, ValueError):
                redact.register_credential(base64.b64decode(node).decode("utf-8"))


def _register_client_credentials(configuration: Any) -> None:
    """Register what the loaded client will send: its bearer token (from a kubeconfig,
    an exec plugin or the in-cluster service account), password and client key."""
    for value in (getattr(configuration, "api_key", None) or {}).values():
        if isinstance(value, str):
            redact.register_credential(value)
            redact.register_credential(value.removeprefix("Bearer ").strip())
    password = getattr(configuration, "password", None)
    if isinstance(password, str):
        redact.register_credential(password)
    key_file = getattr(configuration, "key_file", None)
    if isinstance(key_file, str):
        with suppress(OSError, UnicodeDecodeError):
            redact.register_credential(Path(key_file).read_text(encoding="utf-8"))


def _kubeconfig_exists() -> bool:
    if os.environ.get("KUBECONFIG"):
        return True
    return os.path.exists(_kubeconfig_path())


def _is_transient(exc: BaseException) -> bool:
    import urllib3.exceptions
    from kubernetes.client.exceptions import ApiException

    if isinstance(exc, ApiException):
        return exc.status in TRANSIENT_STATUS
    return isinstance(
        exc,
        urllib3.exceptions.ProtocolError
        | urllib3.exceptions.NewConnectionError
        | urllib3.exceptions.MaxRetryError
        | urllib3.exceptions.TimeoutError
        | ConnectionError,
    )


@contextmanager
def _kubernetes_errors(what: str, namespace: str) -> Iterator[None]:
    """Turn client errors into DeployError with what to check; never echo a request body."""
    import urllib3.exceptions
    from kubernetes.client.exceptions import ApiException

    try:
        yield
    except net.DeadlineExceeded as exc:
        raise DeployError(
            f"no answer from the Kubernetes API within {exc.seconds:g} s while {what}",
            hint="check the kubeconfig's server and the cluster's health; "
            "--timeout SECONDS allows longer",
        ) from None
    except _Malformed:
        raise DeployError(
            f"the Kubernetes API gave an answer that is not a Kubernetes object while {what}",
            hint="check that the kubeconfig's server is the cluster's API server",
        ) from None
    except ApiException as exc:
        raise _api_error(exc, what, namespace) from None
    except (urllib3.exceptions.HTTPError, ConnectionError):
        raise DeployError(
            f"cannot reach the Kubernetes API while {what}",
            hint="check the kubeconfig's server address and your network",
        ) from None


def _api_error(exc: Any, what: str, namespace: str) -> DeployError:
    import json

    status = exc.status
    message = ""
    with suppress(ValueError, AttributeError):
        # The server's words may echo the request (an admission webhook) or its headers:
        # only their first line, before any echoed object, redacted.
        message = quoted_message(str(json.loads(exc.body or "{}").get("message", "")), 300)
    if status == 403:
        return DeployError(
            f"forbidden while {what}: {message or 'permission denied'}",
            hint=f"the Kubernetes user needs get, create and update on secrets and "
            f"configmaps in namespace {namespace} (RBAC)",
        )
    if status == 401:
        return DeployError(
            f"the Kubernetes API refused the credentials while {what}",
            hint="log in again or check the kubeconfig user",
        )
    if status == 404 and "namespaces" in message:
        return DeployError(
            f"namespace {namespace} does not exist ({what})",
            hint="create it, or fix targets.kubernetes.namespace in the environment file",
        )
    if status == 422:
        return DeployError(f"the Kubernetes API rejected the object while {what}: {message}")
    return DeployError(f"the Kubernetes API answered {status} while {what}: {message}")

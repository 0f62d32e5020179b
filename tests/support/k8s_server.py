"""A loopback Kubernetes API server for tests: core/v1 Secrets, ConfigMaps and Namespaces.

It speaks the real wire protocol (JSON over HTTP/1.1, bearer-token auth, `Status` errors)
so that the official `kubernetes` client can be pointed at it through a kubeconfig, and it
reproduces the API server behaviour secconf depends on:

* `resourceVersion` is one global, increasing counter (like an etcd revision); a write whose
  body carries a stale `metadata.resourceVersion` fails with 409 Conflict, one without any is
  unconditional; a write that changes nothing keeps the old resourceVersion (no-op updates).
* POST of an existing name -> 409 AlreadyExists; PUT/PATCH of a missing object -> 404
  (PUT never creates Secrets/ConfigMaps); POST into a missing namespace -> 404 namespaces.
* Validation (422 Invalid) follows k8s.io/kubernetes/pkg/apis/core/validation with the real
  messages: DNS-1123 subdomain names, config keys, label/annotation syntax, the 1 MiB size
  limit, `immutable: true`, immutable `type`, required keys of typed Secrets.
  Decoding errors (bad base64 in `data`/`binaryData`, wrong JSON types) are 400 BadRequest,
  as on a real server ("Secret in version "v1" cannot be handled as a Secret: ...").
* Secret `stringData` is write-only: merged into `data` (base64) on every write, never returned.
* PATCH: merge (RFC 7386), strategic merge (maps behave like merge patch), JSON patch (RFC
  6902) and server-side apply (see `_Cluster._apply` for what is simplified).
* `dryRun=All` runs everything but never persists.

Simplified on purpose (none of it matters for Secrets/ConfigMaps clients):
`managedFields` are tracked internally but not returned; no watch; no finalizers or graceful
deletion (finalizers are stored, DELETE removes at once); no deletecollection; list items,
as on a real server, carry no kind/apiVersion; label/field selectors support the usual
operators; `limit`/`continue` paging never expires.

Test hooks (faults, forbidden verbs, request records, backdoor reads/writes) live on
`KubeServer`; everything else is private.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import hmac
import json
import os
import re
import secrets
import socket
import socketserver
import sys
import threading
import traceback
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

JSON = dict[str, Any]
FieldPath = tuple[str, ...]
ManagerKey = tuple[str, str]  # (manager name, "Apply" | "Update")
Managers = dict[ManagerKey, set[FieldPath]]

MAX_OBJECT_DATA_BYTES: Final = 1024 * 1024  # core.MaxSecretSize, also used for ConfigMaps
MAX_ANNOTATIONS_BYTES: Final = 256 * 1024  # TotalAnnotationSizeLimitB
WRITE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SERVER_VERSION: Final = {
    "major": "1",
    "minor": "37",
    "gitVersion": "v1.37.0",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.25.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}

_DNS1123_SUBDOMAIN_FMT: Final = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_DNS1123_SUBDOMAIN_MSG: Final = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character"
)
_CONFIG_KEY_FMT: Final = r"[-._a-zA-Z0-9]+"
_CONFIG_KEY_MSG: Final = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
)
_QUALIFIED_NAME_FMT: Final = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QUALIFIED_NAME_MSG: Final = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_LABEL_VALUE_FMT: Final = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
_LABEL_VALUE_MSG: Final = (
    "a valid label must be an empty string or consist of alphanumeric characters, "
    "'-', '_' or '.', and must start and end with an alphanumeric character"
)
_IMMUTABLE_MSG: Final = "field is immutable when `immutable` is set"
_NAMESPACE_MISMATCH: Final = (
    "the namespace of the provided object does not match the namespace sent on the request"
)
_GENERATE_ALPHABET: Final = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery rand.String

# Secret types whose data must hold given keys (ValidateSecret).
_REQUIRED_SECRET_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
}
_DOCKER_JSON_KEYS: Final = {
    "kubernetes.io/dockercfg": ".dockercfg",
    "kubernetes.io/dockerconfigjson": ".dockerconfigjson",
}

_REASONS: Final[dict[int, str]] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}
_DEFAULT_MESSAGES: Final[dict[int, str]] = {
    401: "Unauthorized",
    429: "Too many requests, please try again later.",
    500: "Internal error occurred: injected failure",
    503: "the server is currently unable to handle the request",
    504: "the server was unable to return a response in the time allotted, "
    "but may still be processing the request",
}

# Metadata fields a client may send, in the order a real server returns them.
_META_ORDER: Final = (
    "name",
    "generateName",
    "namespace",
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
)
# Server-populated metadata a client echoes back; silently ignored like a real server does.
_META_IGNORED: Final = frozenset(
    {
        "creationTimestamp",
        "managedFields",
        "generation",
        "selfLink",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    }
)
_YAML_MEDIA_TYPES: Final = frozenset(
    {"application/yaml", "application/apply-patch+yaml", "text/yaml"}
)
_MERGE_PATCH: Final = "application/merge-patch+json"
_STRATEGIC_PATCH: Final = "application/strategic-merge-patch+json"
_JSON_PATCH: Final = "application/json-patch+json"
_APPLY_PATCH: Final = "application/apply-patch+yaml"


# --------------------------------------------------------------------------- errors


def _reason_for(code: int) -> str:
    """The Status reason the API server uses for an HTTP code ("" when it has none)."""
    return _REASONS.get(code, "InternalError" if code >= 500 else "")


def _status_body(code: int, reason: str, message: str, details: JSON | None) -> JSON:
    """A metav1.Status failure, fields in the order a real server sends them."""
    body: JSON = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure"}
    if message:
        body["message"] = message
    if reason:
        body["reason"] = reason
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


class ApiError(Exception):
    """A request failure, answered with a `Status` object."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        reason: str | None = None,
        details: JSON | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = _reason_for(code) if reason is None else reason
        self.details = details
        self.headers = dict(headers or {})

    def status(self) -> JSON:
        """The Status JSON for this error."""
        return _status_body(self.code, self.reason, self.message, self.details)


def _go_quote(value: Any) -> str:
    """Render a value the way Go's `%q`/`%v` does in field errors."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_FIELD_ERROR_TYPES: Final[dict[str, tuple[str, str]]] = {
    "Invalid": ("FieldValueInvalid", "Invalid value"),
    "Required": ("FieldValueRequired", "Required value"),
    "Forbidden": ("FieldValueForbidden", "Forbidden"),
    "TooLong": ("FieldValueTooLong", "Too long"),
    "NotSupported": ("FieldValueNotSupported", "Unsupported value"),
}


@dataclass(frozen=True)
class FieldError:
    """One field.Error of k8s.io/apimachinery/pkg/util/validation/field."""

    type: str  # a key of _FIELD_ERROR_TYPES
    field: str
    value: Any = None
    detail: str = ""

    def body(self) -> str:
        """The error without its field path (a Status cause message)."""
        label = _FIELD_ERROR_TYPES[self.type][1]
        text = (
            f"{label}: {_go_quote(self.value)}"
            if self.type in ("Invalid", "NotSupported")
            else label
        )
        return f"{text}: {self.detail}" if self.detail else text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"

    def cause(self) -> JSON:
        """The Status cause for this error."""
        return {
            "reason": _FIELD_ERROR_TYPES[self.type][0],
            "message": self.body(),
            "field": self.field,
        }


def not_found(resource: str, name: str) -> ApiError:
    """`secrets "x" not found`."""
    return ApiError(404, f'{resource} "{name}" not found', details={"name": name, "kind": resource})


def path_not_found() -> ApiError:
    """An URL no route serves."""
    return ApiError(404, "the server could not find the requested resource", details={})


def already_exists(resource: str, name: str) -> ApiError:
    """`secrets "x" already exists` (409 AlreadyExists)."""
    return ApiError(
        409,
        f'{resource} "{name}" already exists',
        reason="AlreadyExists",
        details={"name": name, "kind": resource},
    )


def conflict(resource: str, name: str, why: str) -> ApiError:
    """`Operation cannot be fulfilled on secrets "x": <why>` (409 Conflict)."""
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {resource} "{name}": {why}',
        details={"name": name, "kind": resource},
    )


def stale_conflict(resource: str, name: str) -> ApiError:
    """The optimistic-concurrency failure of a write with an old resourceVersion."""
    return conflict(
        resource,
        name,
        "the object has been modified; "
        "please apply your changes to the latest version and try again",
    )


def invalid(kind: str, name: str, errors: list[FieldError], group: str = "") -> ApiError:
    """`Secret "x" is invalid: <errors>` (422 Invalid) with one cause per error."""
    qualified = f"{kind}.{group}" if group else kind
    texts = list(dict.fromkeys(str(err) for err in errors))  # utilerrors.Aggregate dedupes
    summary = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    details: JSON = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = kind
    details["causes"] = [err.cause() for err in errors]
    return ApiError(422, f'{qualified} "{name}" is invalid: {summary}', details=details)


def options_invalid(options_kind: str, errors: list[FieldError]) -> ApiError:
    """Invalid query options, e.g. `PatchOptions.meta.k8s.io "" is invalid: ...`."""
    return invalid(options_kind, "", errors, group="meta.k8s.io")


def bad_request(message: str) -> ApiError:
    """400 BadRequest (decoding errors, URL/body mismatches)."""
    return ApiError(400, message)


def forbidden(
    user: str, verb: str, resource: str, namespace: str | None, name: str | None
) -> ApiError:
    """The RBAC denial message, exactly as the authorizer words it."""
    subject = f'{resource} "{name}"' if name else resource
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    details: JSON = {"name": name, "kind": resource} if name else {"kind": resource}
    message = (
        f'{subject} is forbidden: User "{user}" cannot {verb} resource "{resource}" '
        f'in API group "" {scope}'
    )
    return ApiError(403, message, details=details)


def apply_conflict(conflicts: list[tuple[ManagerKey, FieldPath]]) -> ApiError:
    """The server-side apply conflict error (fieldmanager.NewConflictError)."""
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {_print_manager(mgr)}",
            "field": _path_text(path),
        }
        for mgr, path in conflicts
    ]
    if len(conflicts) == 1:
        mgr, path = conflicts[0]
        message = (
            f"Apply failed with 1 conflict: conflict with {_print_manager(mgr)}: {_path_text(path)}"
        )
    else:
        lines: list[str] = []
        for mgr in sorted({m for m, _ in conflicts}):
            lines.append(f"conflicts with {_print_manager(mgr)}:")
            lines.extend(f"- {_path_text(p)}" for m, p in conflicts if m == mgr)
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return ApiError(409, message, details={"causes": causes})


def _print_manager(manager: ManagerKey) -> str:
    """How apply conflicts name a manager: Update managers carry their API version."""
    name, operation = manager
    return f'"{name}" using v1' if operation == "Update" else f'"{name}"'


def _path_text(path: FieldPath) -> str:
    """structured-merge-diff path notation: `.data.password`, `.metadata.labels.app`."""
    return "".join(f".{part}" for part in path)


# --------------------------------------------------------------------------- validation


def _regex_error(message: str, fmt: str, *examples: str) -> str:
    """validation.RegexError, double spaces included."""
    if not examples:
        return f"{message} (regex used for validation is '{fmt}')"
    sample = " or ".join(f"'{example}', " for example in examples)
    return f"{message} (e.g. {sample}regex used for validation is '{fmt}')"


def _dns1123_subdomain_errors(value: str) -> list[str]:
    """validation.IsDNS1123Subdomain."""
    errors = []
    if len(value) > 253:
        errors.append("must be no more than 253 characters")
    if not re.fullmatch(_DNS1123_SUBDOMAIN_FMT, value):
        errors.append(_regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errors


def _config_key_errors(key: str) -> list[str]:
    """validation.IsConfigMapKey (Secret and ConfigMap data keys)."""
    errors = []
    if len(key) > 253:
        errors.append("must be no more than 253 characters")
    if not re.fullmatch(_CONFIG_KEY_FMT, key):
        errors.append(
            _regex_error(_CONFIG_KEY_MSG, _CONFIG_KEY_FMT, "key.name", "KEY_NAME", "key-name")
        )
    if key == ".":
        errors.append("must not be '.'")
    elif key == "..":
        errors.append("must not be '..'")
    elif key.startswith(".."):
        errors.append("must not start with '..'")
    return errors


def _qualified_name_errors(value: str) -> list[str]:
    """validation.IsQualifiedName (label and annotation keys)."""
    name_error = _regex_error(
        _QUALIFIED_NAME_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc"
    )
    parts = value.split("/")
    if len(parts) > 2:
        return [
            f"a qualified name {name_error} with an optional DNS subdomain prefix and '/' "
            "(e.g. 'example.com/MyName')"
        ]
    errors: list[str] = []
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errors.append("prefix part must be non-empty")
        else:
            errors.extend(f"prefix part {msg}" for msg in _dns1123_subdomain_errors(prefix))
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > 63:
        errors.append("name part must be no more than 63 characters")
    if not re.fullmatch(_QUALIFIED_NAME_FMT, name):
        errors.append(f"name part {name_error}")
    return errors


def _label_value_errors(value: str) -> list[str]:
    """validation.IsValidLabelValue."""
    errors = []
    if len(value) > 63:
        errors.append("must be no more than 63 characters")
    if not re.fullmatch(_LABEL_VALUE_FMT, value):
        errors.append(
            _regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345")
        )
    return errors


def _validate_meta(meta: JSON) -> list[FieldError]:
    """ValidateObjectMeta: name, labels, annotations."""
    errors: list[FieldError] = []
    name = meta.get("name", "")
    if not name:
        errors.append(
            FieldError("Required", "metadata.name", detail="name or generateName is required")
        )
    else:
        errors += [
            FieldError("Invalid", "metadata.name", name, msg)
            for msg in _dns1123_subdomain_errors(name)
        ]
    labels: dict[str, str] = meta.get("labels", {})
    for key in sorted(labels):
        errors += [
            FieldError("Invalid", "metadata.labels", key, msg)
            for msg in _qualified_name_errors(key)
        ]
        value = labels[key]
        errors += [
            FieldError("Invalid", "metadata.labels", value, msg)
            for msg in _label_value_errors(value)
        ]
    annotations: dict[str, str] = meta.get("annotations", {})
    for key in sorted(annotations):
        errors += [
            FieldError("Invalid", "metadata.annotations", key, msg)
            for msg in _qualified_name_errors(key.lower())
        ]
    if sum(len(k) + len(v) for k, v in annotations.items()) > MAX_ANNOTATIONS_BYTES:
        errors.append(
            FieldError(
                "TooLong",
                "metadata.annotations",
                detail=f"must have at most {MAX_ANNOTATIONS_BYTES} bytes",
            )
        )
    return errors


def _validate_secret(obj: JSON) -> list[FieldError]:
    """ValidateSecret: keys, total size, keys required by the Secret type."""
    errors: list[FieldError] = []
    data: dict[str, str] = obj.get("data", {})
    total = 0
    for key in sorted(data):
        errors += [
            FieldError("Invalid", f"data[{key}]", key, msg) for msg in _config_key_errors(key)
        ]
        total += len(base64.b64decode(data[key]))
    if total > MAX_OBJECT_DATA_BYTES:
        errors.append(
            FieldError("TooLong", "data", detail=f"must have at most {MAX_OBJECT_DATA_BYTES} bytes")
        )
    secret_type = obj.get("type", "Opaque")
    for key in _REQUIRED_SECRET_KEYS.get(secret_type, ()):
        if key not in data:
            errors.append(FieldError("Required", f"data[{key}]"))
    docker_key = _DOCKER_JSON_KEYS.get(secret_type)
    if docker_key and docker_key in data:
        try:
            json.loads(base64.b64decode(data[docker_key]))
        except ValueError as exc:
            errors.append(
                FieldError("Invalid", f"data[{docker_key}]", "<secret contents redacted>", str(exc))
            )
    if (
        secret_type == "kubernetes.io/basic-auth"
        and "username" not in data
        and "password" not in data
    ):
        errors += [
            FieldError("Required", "data[username]"),
            FieldError("Required", "data[password]"),
        ]
    if secret_type == "kubernetes.io/service-account-token":
        annotations = obj["metadata"].get("annotations", {})
        if "kubernetes.io/service-account.name" not in annotations:
            errors.append(
                FieldError("Required", "metadata.annotations[kubernetes.io/service-account.name]")
            )
    return errors


def _validate_configmap(obj: JSON) -> list[FieldError]:
    """ValidateConfigMap: keys of data and binaryData, no key in both, total size."""
    errors: list[FieldError] = []
    data: dict[str, str] = obj.get("data", {})
    binary: dict[str, str] = obj.get("binaryData", {})
    total = 0
    for key in sorted(data):
        errors += [
            FieldError("Invalid", f"data[{key}]", key, msg) for msg in _config_key_errors(key)
        ]
        if key in binary:
            errors.append(
                FieldError("Invalid", f"data[{key}]", key, "duplicate of key present in binaryData")
            )
        total += len(key) + len(data[key].encode())
    for key in sorted(binary):
        errors += [
            FieldError("Invalid", f"binaryData[{key}]", key, msg) for msg in _config_key_errors(key)
        ]
        total += len(key) + len(base64.b64decode(binary[key]))
    if total > MAX_OBJECT_DATA_BYTES:
        # The real validator passes path "" to blame the whole object.
        errors.append(
            FieldError("TooLong", "", detail=f"must have at most {MAX_OBJECT_DATA_BYTES} bytes")
        )
    return errors


# --------------------------------------------------------------------------- kinds and decoding


@dataclass(frozen=True)
class _Kind:
    """What differs between the namespaced kinds served."""

    kind: str
    plural: str
    content_maps: tuple[str, ...]  # maps whose keys are config keys
    top_fields: frozenset[str]

    @property
    def list_kind(self) -> str:
        """SecretList / ConfigMapList."""
        return f"{self.kind}List"

    def validate(self, obj: JSON) -> list[FieldError]:
        """All create-time validation errors of `obj`."""
        errors = _validate_meta(obj["metadata"])
        return errors + (
            _validate_secret(obj) if self.kind == "Secret" else _validate_configmap(obj)
        )

    def validate_update(self, old: JSON, new: JSON) -> list[FieldError]:
        """Update-time errors: immutability first, then everything create checks."""
        errors: list[FieldError] = []
        if old.get("immutable") is True:
            if new.get("immutable") is not True:
                errors.append(FieldError("Forbidden", "immutable", detail=_IMMUTABLE_MSG))
            for name in self.content_maps:
                if old.get(name, {}) != new.get(name, {}):
                    errors.append(FieldError("Forbidden", name, detail=_IMMUTABLE_MSG))
        if self.kind == "Secret" and old.get("type") != new.get("type"):
            errors.append(FieldError("Invalid", "type", new.get("type"), "field is immutable"))
        return errors + self.validate(new)


SECRET: Final = _Kind(
    "Secret",
    "secrets",
    ("data",),
    frozenset({"apiVersion", "kind", "metadata", "data", "stringData", "type", "immutable"}),
)
CONFIGMAP: Final = _Kind(
    "ConfigMap",
    "configmaps",
    ("data", "binaryData"),
    frozenset({"apiVersion", "kind", "metadata", "data", "binaryData", "immutable"}),
)
_KINDS_BY_PLURAL: Final = {SECRET.plural: SECRET, CONFIGMAP.plural: CONFIGMAP}


def _kind_named(kind: str) -> _Kind:
    """Look a kind up by "Secret"/"ConfigMap" or its plural, case-insensitively."""
    wanted = kind.lower()
    for spec in (SECRET, CONFIGMAP):
        if wanted in (spec.kind.lower(), spec.plural):
            return spec
    raise ValueError(f"unsupported kind {kind!r}: use 'Secret' or 'ConfigMap'")


class _Base64Error(ValueError):
    """Go's base64.CorruptInputError: `illegal base64 data at input byte N`."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"illegal base64 data at input byte {offset}")


_B64_CHARS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def _canonical_base64(text: str) -> str:
    """Decode like Go's StdEncoding (padding required, CR/LF skipped) and re-encode.

    The server stores bytes and re-encodes them, so non-canonical input comes back canonical.
    The reported offset is an approximation of Go's for the common mistakes.
    """
    cleaned = text.replace("\r", "").replace("\n", "")
    try:
        raw = base64.b64decode(cleaned, validate=True)
    except binascii.Error:
        raise _Base64Error(_bad_base64_offset(cleaned)) from None
    return base64.b64encode(raw).decode("ascii")


def _bad_base64_offset(text: str) -> int:
    """Where Go's decoder gives up: the first foreign byte, else the truncated last quantum."""
    body = text.rstrip("=")
    for index, char in enumerate(body):
        if char not in _B64_CHARS:
            return index
    return len(text) - len(text) % 4 if len(text) % 4 else len(body)


def _cannot_handle(spec: _Kind, why: str) -> ApiError:
    """A decoding failure, worded like the real serializer."""
    return bad_request(f'{spec.kind} in version "v1" cannot be handled as a {spec.kind}: {why}')


def _string_map(spec: _Kind, value: Any, where: str) -> dict[str, str]:
    """Decode a map[string]string (null values decode to "", as in Go)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _unmarshal_error(spec, value, f"struct field {where} of type map[string]string")
    result: dict[str, str] = {}
    for key, item in value.items():
        if item is None:
            item = ""
        if not isinstance(item, str):
            raise _unmarshal_error(spec, item, f"struct field {where} of type string")
        result[key] = item
    return result


def _unmarshal_error(spec: _Kind, value: Any, target: str) -> ApiError:
    """Go's `json: cannot unmarshal <type> into Go <target>` decoding failure."""
    return _cannot_handle(spec, f"json: cannot unmarshal {_json_type(value)} into Go {target}")


def _json_type(value: Any) -> str:
    """Go's name for a JSON value's type in unmarshal errors."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _decode(spec: _Kind, body: Any, field_validation: str) -> tuple[JSON, list[str]]:
    """Turn a request body into the stored form, plus unknown-field warnings.

    Unknown fields are dropped (Warn, the default, reports them in a `Warning` header;
    Strict fails with 400), `stringData` is merged into `data`, base64 is made canonical.
    """
    if not isinstance(body, dict):
        raise _cannot_handle(
            spec, f"json: cannot unmarshal {_json_type(body)} into Go value of type v1.{spec.kind}"
        )
    api_version = body.get("apiVersion") or "v1"
    if api_version != "v1":
        raise bad_request(
            f"the API version in the data ({api_version}) "
            "does not match the expected API version (v1)"
        )
    kind = body.get("kind") or spec.kind
    if kind != spec.kind:
        raise bad_request(
            f"the kind in the data ({kind}) does not match the expected kind ({spec.kind})"
        )
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise _unmarshal_error(
            spec, metadata, f"struct field {spec.kind}.metadata of type v1.ObjectMeta"
        )
    unknown = [f for f in body if f not in spec.top_fields]
    unknown += [
        f"metadata.{f}" for f in metadata if f not in _META_ORDER and f not in _META_IGNORED
    ]
    warnings = [f'unknown field "{name}"' for name in unknown]
    if warnings and field_validation == "Strict":
        raise bad_request("strict decoding error: " + ", ".join(warnings))
    obj: JSON = {"kind": spec.kind, "apiVersion": "v1", "metadata": _decode_meta(spec, metadata)}
    if spec.kind == "Secret":
        _decode_secret_fields(spec, body, obj)
    else:
        _decode_configmap_fields(spec, body, obj)
    immutable = body.get("immutable")
    if immutable is not None and not isinstance(immutable, bool):
        raise _unmarshal_error(spec, immutable, f"struct field {spec.kind}.immutable of type bool")
    if immutable is not None:
        obj["immutable"] = immutable
    return obj, ([] if field_validation == "Ignore" else warnings)


def _decode_meta(spec: _Kind, metadata: JSON) -> JSON:
    """Keep the client-settable metadata; labels/annotations as string maps."""
    meta: JSON = {}
    for key in ("name", "generateName", "namespace", "uid", "resourceVersion"):
        value = metadata.get(key)
        if value in (None, ""):
            continue
        if not isinstance(value, str):
            raise _unmarshal_error(
                spec, value, f"struct field ObjectMeta.metadata.{key} of type string"
            )
        meta[key] = value
    for key in ("labels", "annotations"):
        values = _string_map(spec, metadata.get(key), f"ObjectMeta.metadata.{key}")
        if values:
            meta[key] = values
    for key in ("ownerReferences", "finalizers"):
        if metadata.get(key):
            meta[key] = copy.deepcopy(metadata[key])
    return meta


def _decode_secret_fields(spec: _Kind, body: JSON, obj: JSON) -> None:
    """data (base64, made canonical), stringData merged over it, type."""
    data: dict[str, str] = {}
    for key, value in _string_map(spec, body.get("data"), "Secret.data").items():
        try:
            data[key] = _canonical_base64(value)
        except _Base64Error as exc:
            raise _cannot_handle(spec, str(exc)) from None
    for key, value in _string_map(spec, body.get("stringData"), "Secret.stringData").items():
        data[key] = base64.b64encode(value.encode()).decode(
            "ascii"
        )  # stringData wins, as documented
    if data:
        obj["data"] = data
    secret_type = body.get("type")
    if secret_type is not None and not isinstance(secret_type, str):
        raise _unmarshal_error(spec, secret_type, "struct field Secret.type of type v1.SecretType")
    if secret_type:
        obj["type"] = secret_type


def _decode_configmap_fields(spec: _Kind, body: JSON, obj: JSON) -> None:
    """data (strings) and binaryData (base64, made canonical)."""
    data = _string_map(spec, body.get("data"), "ConfigMap.data")
    if data:
        obj["data"] = data
    binary: dict[str, str] = {}
    for key, value in _string_map(spec, body.get("binaryData"), "ConfigMap.binaryData").items():
        try:
            binary[key] = _canonical_base64(value)
        except _Base64Error as exc:
            raise _cannot_handle(spec, str(exc)) from None
    if binary:
        obj["binaryData"] = binary


def _canonical(spec: _Kind, obj: JSON) -> JSON:
    """The object exactly as the API returns it: Go field order, sorted maps, no empty maps."""
    meta = obj.get("metadata", {})
    out_meta: JSON = {}
    for key in _META_ORDER:
        value = meta.get(key)
        if value in (None, "", {}, []):
            continue
        out_meta[key] = (
            dict(sorted(value.items())) if isinstance(value, dict) else copy.deepcopy(value)
        )
    out: JSON = {"kind": spec.kind, "apiVersion": "v1", "metadata": out_meta}
    if obj.get("immutable") is not None:
        out["immutable"] = obj["immutable"]
    for name in spec.content_maps:
        if obj.get(name):
            out[name] = dict(sorted(obj[name].items()))
    if spec.kind == "Secret":
        out["type"] = obj.get("type") or "Opaque"  # defaulted by the server
    return out


# --------------------------------------------------------------------------- patches


class _Delete:
    """Marker: a strategic-merge `$patch: delete` removed the map it sat in."""


_DELETED: Final = _Delete()


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge recursively, null deletes, the rest replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Strategic merge patch, enough for Secrets/ConfigMaps: maps merge like RFC 7386.

    `$patch: replace|delete` on a map is honoured; other directives ($retainKeys,
    $setElementOrder, $deleteFromPrimitiveList) are dropped and lists are replaced whole,
    which is what the real server does for the lists of these kinds except ownerReferences.
    """
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    clean = {k: v for k, v in patch.items() if not k.startswith("$")}
    if directive == "delete":
        return _DELETED
    result: JSON = {} if directive == "replace" or not isinstance(target, dict) else dict(target)
    for key, value in clean.items():
        merged = None if value is None else strategic_merge_patch(result.get(key), value)
        if merged is None or merged is _DELETED:
            result.pop(key, None)
        else:
            result[key] = merged
    return result


class _PatchFailure(Exception):
    """A JSON patch operation that cannot be applied to the document."""


def _pointer(path: Any) -> list[str]:
    """RFC 6901 JSON pointer tokens."""
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise _PatchFailure(f"invalid JSON pointer {path!r}")
    if not path:
        return []
    return [token.replace("~1", "/").replace("~0", "~") for token in path[1:].split("/")]


def _resolve(doc: Any, tokens: list[str], path: str) -> Any:
    """The value at `tokens`, or _PatchFailure."""
    node = doc
    for token in tokens:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise _PatchFailure(f"doc is missing path: {path!r}")
    return node


def _pointer_add(doc: Any, path: str, value: Any) -> Any:
    """RFC 6902 add; returns the (possibly new) document."""
    tokens = _pointer(path)
    if not tokens:
        return value
    parent = _resolve(doc, tokens[:-1], path)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list) and last == "-":
        parent.append(value)
    elif isinstance(parent, list) and last.isdigit() and int(last) <= len(parent):
        parent.insert(int(last), value)
    else:
        raise _PatchFailure(f"unable to add value at {path!r}")
    return doc


def _pointer_remove(doc: Any, path: str) -> Any:
    """RFC 6902 remove; returns the removed value."""
    tokens = _pointer(path)
    if not tokens:
        raise _PatchFailure("cannot remove the whole document")
    parent = _resolve(doc, tokens[:-1], path)
    _resolve(parent, tokens[-1:], path)
    last = tokens[-1]
    return parent.pop(last) if isinstance(parent, dict) else parent.pop(int(last))


def json_patch(doc: Any, operations: Any) -> Any:
    """RFC 6902 JSON patch (add, remove, replace, move, copy, test)."""
    if not isinstance(operations, list):
        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    result = copy.deepcopy(doc)
    for op in operations:
        if not isinstance(op, dict) or not isinstance(op.get("op"), str):
            raise bad_request("invalid JSON patch operation")
        kind, path = op["op"], op.get("path", "")
        if kind == "add":
            result = _pointer_add(result, path, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _pointer_remove(result, path)
        elif kind == "replace":
            if not _pointer(path):
                result = copy.deepcopy(op.get("value"))
                continue
            _pointer_remove(result, path)
            result = _pointer_add(result, path, copy.deepcopy(op.get("value")))
        elif kind in ("move", "copy"):
            source = op.get("from", "")
            value = copy.deepcopy(_resolve(result, _pointer(source), source))
            if kind == "move":
                _pointer_remove(result, source)
            result = _pointer_add(result, path, value)
        elif kind == "test":
            if _resolve(result, _pointer(path), path) != op.get("value"):
                raise _PatchFailure(f"testing value {path} failed")
        else:
            raise bad_request(f"Unexpected kind: {kind}")
    return result


def _deep_merge(base: JSON, overlay: JSON) -> JSON:
    """Apply's merge of a configuration into the live object: maps merge, the rest replaces."""
    result = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _deep_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


# --------------------------------------------------------------------------- field ownership


def _field_values(obj: JSON) -> dict[FieldPath, Any]:
    """The fields ownership is tracked for, with their values.

    Granularity is one key of data/binaryData/labels/annotations, plus `type` and
    `immutable`; that is all a Secret or ConfigMap has that several managers may share.
    """
    values: dict[FieldPath, Any] = {}
    meta = obj.get("metadata", {})
    for group in ("labels", "annotations"):
        for key, value in meta.get(group, {}).items():
            values[("metadata", group, key)] = value
    for group in ("data", "binaryData"):
        for key, value in obj.get(group, {}).items():
            values[(group, key)] = value
    for name in ("type", "immutable"):
        if name in obj:
            values[(name,)] = obj[name]
    return values


def _remove_field(obj: JSON, path: FieldPath) -> None:
    """Delete one tracked field, dropping the map it leaves empty."""
    parents = [obj]
    for part in path[:-1]:
        parents.append(parents[-1].get(part, {}))
    parents[-1].pop(path[-1], None)
    for depth in range(len(path) - 1, 0, -1):
        if parents[depth] == {}:
            parents[depth - 1].pop(path[depth - 1], None)


def _after_update(managers: Managers, old: JSON, new: JSON, me: ManagerKey) -> Managers:
    """Ownership after a non-apply write by `me` (structured-merge-diff Updater.Update).

    Fields `me` added or changed become its own and leave every other manager; removed
    fields leave everybody.
    """
    old_values, new_values = _field_values(old), _field_values(new)
    changed = {f for f, v in new_values.items() if old_values.get(f, _DELETED) != v}
    removed = set(old_values) - set(new_values)
    result = {m: fields - changed - removed for m, fields in managers.items() if m != me}
    result[me] = (managers.get(me, set()) - removed) | changed
    return {m: fields for m, fields in result.items() if fields}


# --------------------------------------------------------------------------- selectors


def _split_top_level(text: str) -> list[str]:
    """Split a selector on commas outside parentheses."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


_SET_REQUIREMENT: Final = re.compile(
    r"^(?P<key>[^\s!=(),]+)\s+(?P<op>in|notin)\s+\((?P<values>[^()]*)\)$"
)
_EQ_REQUIREMENT: Final = re.compile(
    r"^(?P<key>[^\s!=(),]+)\s*(?P<op>==|=|!=)\s*(?P<value>[^\s!=(),]*)$"
)
_EXISTS_REQUIREMENT: Final = re.compile(r"^(?P<neg>!?)\s*(?P<key>[^\s!=(),]+)$")


def label_selector_matches(selector: str, labels: Mapping[str, str]) -> bool:
    """Evaluate a label selector (=, ==, !=, in, notin, exists, !exists); 400 when malformed."""
    for requirement in _split_top_level(selector):
        if match := _SET_REQUIREMENT.match(requirement):
            values = {v.strip() for v in match["values"].split(",") if v.strip()}
            present = labels.get(match["key"]) in values
            if present != (match["op"] == "in"):
                return False
        elif match := _EQ_REQUIREMENT.match(requirement):
            equal = labels.get(match["key"]) == match["value"]
            if equal != (match["op"] != "!="):
                return False
        elif match := _EXISTS_REQUIREMENT.match(requirement):
            if (match["key"] in labels) == bool(match["neg"]):
                return False
        else:
            raise bad_request(f"unable to parse requirement: {requirement!r}")
    return True


def field_selector_matches(spec: _Kind, selector: str, obj: JSON) -> bool:
    """Evaluate a field selector on metadata.name, metadata.namespace (and Secret type)."""
    fields = {
        "metadata.name": obj["metadata"]["name"],
        "metadata.namespace": obj["metadata"]["namespace"],
    }
    if spec.kind == "Secret":
        fields["type"] = obj.get("type", "Opaque")
    for requirement in _split_top_level(selector):
        match = _EQ_REQUIREMENT.match(requirement)
        if not match:
            raise bad_request(f"invalid field selector: {requirement!r}")
        if match["key"] not in fields:
            raise bad_request(f"field label not supported: {match['key']}")
        if (fields[match["key"]] == match["value"]) != (match["op"] != "!="):
            return False
    return True


# --------------------------------------------------------------------------- requests and records


@dataclass(frozen=True)
class RequestRecord:
    """One request the server received.

    `body` is the parsed JSON/YAML body (a list for JSON patches), None when empty or
    unparsable; `status` is 0 for a request dropped by `drop_next`.
    """

    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int
    content_type: str | None = None


@dataclass
class _Request:
    """What the cluster logic needs from an HTTP request."""

    method: str
    path: str
    query: dict[str, str]
    raw_body: bytes
    content_type: str
    user_agent: str
    authorization: str

    @property
    def media_type(self) -> str:
        """The content type without parameters, lower-cased."""
        return self.content_type.split(";")[0].strip().lower()

    def body(self) -> Any:
        """The parsed body; 400 when it is empty or malformed."""
        if not self.raw_body.strip():
            raise bad_request("the body of the request was empty")
        try:
            return _parse_body(self.raw_body, self.media_type)
        except (ValueError, yaml.YAMLError) as exc:
            raise bad_request(f"the body of the request could not be decoded: {exc}") from None

    @property
    def dry_run(self) -> bool:
        """True for `dryRun=All`."""
        return self.query.get("dryRun") == "All"

    @property
    def field_validation(self) -> str:
        """Ignore | Warn (the default) | Strict."""
        return self.query.get("fieldValidation") or "Warn"

    def update_manager(self) -> str:
        """The field manager of a non-apply write: ?fieldManager=, else the User-Agent prefix."""
        if manager := self.query.get("fieldManager"):
            return manager
        return (self.user_agent.split("/")[0] or "unknown")[:128]


def _parse_body(raw: bytes, media_type: str) -> Any:
    """Parse a body as YAML for YAML media types, else as JSON."""
    if media_type in _YAML_MEDIA_TYPES:
        return yaml.safe_load(raw.decode("utf-8"))
    return json.loads(raw)


@dataclass
class _Response:
    """A JSON answer."""

    code: int
    body: JSON
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Fault:
    """An injected failure for the next `remaining` matching requests."""

    action: str  # "fail" | "delay" | "drop"
    remaining: int
    path_prefix: str | None
    status: int = 0
    seconds: float = 0.0
    message: str | None = None
    retry_after: int | None = None

    def matches(self, path: str) -> bool:
        """Whether this fault applies to a request for `path`."""
        return self.remaining > 0 and (
            self.path_prefix is None or path.startswith(self.path_prefix)
        )


@dataclass
class _Stored:
    """One stored object and its field managers."""

    obj: JSON
    managers: Managers


def _now() -> str:
    """An RFC 3339 timestamp with second precision, like metav1.Time."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- cluster state


class _Cluster:
    """All API state and behaviour; every public method takes the lock."""

    def __init__(self, token: str, user: str) -> None:
        self.token = token
        self.user = user
        self.address = ""
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self.revision = 0
        self.namespaces: dict[str, JSON] = {}
        self.objects: dict[tuple[str, str, str], _Stored] = {}
        self.forbidden: list[tuple[str, str, str | None]] = []
        self.faults: list[_Fault] = []
        self.records: list[RequestRecord] = []
        self.errors: list[str] = []
        self.connections = 0

    # ---- bookkeeping

    def next_revision(self) -> str:
        """Bump and return the global resourceVersion."""
        self.revision += 1
        return str(self.revision)

    def add_namespace(self, name: str) -> None:
        """Create an Active namespace (idempotent)."""
        with self.lock:
            if name in self.namespaces:
                return
            self.namespaces[name] = {
                "kind": "Namespace",
                "apiVersion": "v1",
                "metadata": {
                    "name": name,
                    "uid": str(uuid.uuid4()),
                    "resourceVersion": self.next_revision(),
                    "creationTimestamp": _now(),
                    "labels": {"kubernetes.io/metadata.name": name},
                },
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            }

    def take_faults(self, path: str) -> dict[str, _Fault]:
        """Consume the first matching fault of each action for one request."""
        triggered: dict[str, _Fault] = {}
        with self.lock:
            for fault in self.faults:
                if fault.action not in triggered and fault.matches(path):
                    fault.remaining -= 1
                    triggered[fault.action] = fault
            self.faults = [f for f in self.faults if f.remaining > 0]
        return triggered

    def record(self, record: RequestRecord) -> None:
        """Remember a request (before its answer is sent, so tests never race it)."""
        with self.lock:
            self.records.append(record)

    # ---- entry point

    def handle(self, request: _Request) -> _Response:
        """Answer one API request; failures become Status responses."""
        try:
            self._authenticate(request)
            return self._route(request)
        except ApiError as err:
            return _Response(err.code, err.status(), err.headers)

    def _authenticate(self, request: _Request) -> None:
        """Bearer-token authentication, scheme case-insensitive like the real authenticator."""
        scheme, _, credential = request.authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(credential.strip(), self.token):
            raise ApiError(401, "Unauthorized")

    def _authorize(self, verb: str, resource: str, namespace: str | None, name: str | None) -> None:
        """403 when a forbid() rule matches."""
        with self.lock:
            for rule_verb, rule_resource, rule_namespace in self.forbidden:
                if (
                    rule_verb in (verb, "*")
                    and rule_resource in (resource, "*")
                    and rule_namespace in (None, namespace)
                ):
                    raise forbidden(self.user, verb, resource, namespace, name)

    def _route(self, request: _Request) -> _Response:
        """Dispatch on the URL path and method."""
        parts = [unquote(p) for p in request.path.strip("/").split("/") if p]
        method = request.method
        if parts in (["version"], ["api"], ["api", "v1"]):
            _require(method, "GET")
            return _Response(200, self._discovery(parts))
        if len(parts) < 3 or parts[:2] != ["api", "v1"]:
            raise path_not_found()
        rest = parts[2:]
        if rest[0] == "namespaces":
            return self._route_namespaces(request, rest[1:])
        spec = _KINDS_BY_PLURAL.get(rest[0])
        if spec is None or len(rest) != 1:
            raise path_not_found()
        _require(method, "GET")
        self._authorize("list", spec.plural, None, None)
        return self._list(spec, None, request)

    def _route_namespaces(self, request: _Request, rest: list[str]) -> _Response:
        """/api/v1/namespaces[/{ns}[/{resource}[/{name}]]]."""
        method = request.method
        if not rest:
            _require(method, "GET")
            self._authorize("list", "namespaces", None, None)
            with self.lock:
                items = [_without_type(ns) for _, ns in sorted(self.namespaces.items())]
                return _Response(200, _list_body("NamespaceList", str(self.revision), items))
        namespace = rest[0]
        if len(rest) == 1:
            _require(method, "GET")
            self._authorize("get", "namespaces", namespace, namespace)
            with self.lock:
                if namespace not in self.namespaces:
                    raise not_found("namespaces", namespace)
                return _Response(200, copy.deepcopy(self.namespaces[namespace]))
        spec = _KINDS_BY_PLURAL.get(rest[1])
        if spec is None or len(rest) > 3:
            raise path_not_found()
        if len(rest) == 2:
            return self._route_collection(request, spec, namespace)
        return self._route_object(request, spec, namespace, rest[2])

    def _route_collection(self, request: _Request, spec: _Kind, namespace: str) -> _Response:
        """GET (list) or POST (create) on a namespaced collection."""
        if request.method == "GET":
            verb = "watch" if _truthy(request.query.get("watch")) else "list"
            self._authorize(verb, spec.plural, namespace, None)
            return self._list(spec, namespace, request)
        _require(request.method, "POST")
        self._authorize("create", spec.plural, namespace, None)
        return self._create(spec, namespace, request)

    def _route_object(self, request: _Request, spec: _Kind, namespace: str, name: str) -> _Response:
        """GET, PUT, PATCH or DELETE on one object."""
        verbs = {"GET": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
        verb = verbs.get(request.method)
        if verb is None:
            raise _method_not_allowed()
        self._authorize(verb, spec.plural, namespace, name)
        if verb == "get":
            return self._get(spec, namespace, name)
        if verb == "update":
            return self._replace(spec, namespace, name, request)
        if verb == "patch":
            return self._patch(spec, namespace, name, request)
        return self._delete(spec, namespace, name, request)

    def _discovery(self, parts: list[str]) -> JSON:
        """/version, /api and /api/v1."""
        if parts == ["version"]:
            return dict(SERVER_VERSION)
        if parts == ["api"]:
            return {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": self.address}
                ],
            }
        verbs = ["create", "delete", "get", "list", "patch", "update"]
        return {
            "kind": "APIResourceList",
            "groupVersion": "v1",
            "resources": [
                {
                    "name": "configmaps",
                    "singularName": "configmap",
                    "namespaced": True,
                    "kind": "ConfigMap",
                    "verbs": verbs,
                    "shortNames": ["cm"],
                },
                {
                    "name": "namespaces",
                    "singularName": "namespace",
                    "namespaced": False,
                    "kind": "Namespace",
                    "verbs": ["get", "list"],
                    "shortNames": ["ns"],
                },
                {
                    "name": "secrets",
                    "singularName": "secret",
                    "namespaced": True,
                    "kind": "Secret",
                    "verbs": verbs,
                },
            ],
        }

    # ---- reads

    def _get(self, spec: _Kind, namespace: str, name: str) -> _Response:
        """GET one object."""
        with self.lock:
            stored = self.objects.get((spec.plural, namespace, name))
            if stored is None:
                raise not_found(spec.plural, name)
            return _Response(200, copy.deepcopy(stored.obj))

    def _list(self, spec: _Kind, namespace: str | None, request: _Request) -> _Response:
        """List with label/field selectors and limit/continue paging."""
        if _truthy(request.query.get("watch")):
            raise bad_request("watch is not supported by this test server")
        labels = request.query.get("labelSelector", "")
        fields = request.query.get("fieldSelector", "")
        start = _decode_continue(request.query.get("continue", ""))
        limit = _parse_limit(request.query.get("limit", ""))
        with self.lock:
            keys = sorted(
                k for k in self.objects if k[0] == spec.plural and namespace in (None, k[1])
            )
            matching = [
                self.objects[k].obj
                for k in keys
                if (k[1], k[2]) > start
                and label_selector_matches(
                    labels, self.objects[k].obj["metadata"].get("labels", {})
                )
                and field_selector_matches(spec, fields, self.objects[k].obj)
            ]
            revision = str(self.revision)
        page = matching[:limit] if limit else matching
        body = _list_body(spec.list_kind, revision, [_without_type(obj) for obj in page])
        if limit and len(matching) > limit:
            last = page[-1]["metadata"]
            body["metadata"]["continue"] = _encode_continue(last["namespace"], last["name"])
            body["metadata"]["remainingItemCount"] = len(matching) - limit
        return _Response(200, body)

    # ---- writes

    def _create(self, spec: _Kind, namespace: str, request: _Request) -> _Response:
        """POST: 201 with the stored object."""
        _check_dry_run(request, "CreateOptions")
        obj, warnings = _decode(spec, request.body(), request.field_validation)
        meta = obj["metadata"]
        if meta.get("namespace", namespace) != namespace:
            raise bad_request(_NAMESPACE_MISMATCH)
        with self.lock:
            if namespace not in self.namespaces:
                raise not_found("namespaces", namespace)
            name = meta.get("name") or self._generate_name(
                spec, namespace, meta.get("generateName", "")
            )
            managers = _after_update(
                {}, {}, _canonical(spec, obj), (request.update_manager(), "Update")
            )
            created = self._write(spec, namespace, name, obj, managers, None, dry=request.dry_run)
        return _Response(201, created, _warning_headers(warnings))

    def _generate_name(self, spec: _Kind, namespace: str, prefix: str) -> str:
        """metadata.generateName: prefix + 5 random characters ("" keeps name Required)."""
        if not prefix:
            return ""
        while True:
            name = prefix[:58] + "".join(secrets.choice(_GENERATE_ALPHABET) for _ in range(5))
            if (spec.plural, namespace, name) not in self.objects:
                return name

    def _replace(self, spec: _Kind, namespace: str, name: str, request: _Request) -> _Response:
        """PUT: never creates; stale resourceVersion -> 409, none -> unconditional."""
        _check_dry_run(request, "UpdateOptions")
        obj, warnings = _decode(spec, request.body(), request.field_validation)
        _check_identity(obj, namespace, name)
        with self.lock:
            stored = self._existing(spec, namespace, name)
            manager = (request.update_manager(), "Update")
            managers = _after_update(stored.managers, stored.obj, _canonical(spec, obj), manager)
            updated = self._write(spec, namespace, name, obj, managers, stored, dry=request.dry_run)
        return _Response(200, updated, _warning_headers(warnings))

    def _patch(self, spec: _Kind, namespace: str, name: str, request: _Request) -> _Response:
        """PATCH in any of the four patch types."""
        media = request.media_type
        _check_patch_options(request, media)
        if media == _APPLY_PATCH:
            return self._apply(spec, namespace, name, request)
        if media not in (_MERGE_PATCH, _STRATEGIC_PATCH, _JSON_PATCH):
            raise ApiError(
                415,
                f"the body of the request was in an unknown format - accepted media types include: "
                f"{_JSON_PATCH}, {_MERGE_PATCH}, {_APPLY_PATCH}, {_STRATEGIC_PATCH}",
            )
        patch = request.body()
        if media != _JSON_PATCH and not isinstance(patch, dict):
            raise bad_request(
                f"json: cannot unmarshal {_json_type(patch)} "
                "into Go value of type map[string]interface {}"
            )
        with self.lock:
            stored = self._existing(spec, namespace, name)
            patched = self._patched(stored.obj, patch, media)
            obj, warnings = _decode(spec, patched, request.field_validation)
            _check_identity(obj, namespace, name)
            manager = (request.update_manager(), "Update")
            managers = _after_update(stored.managers, stored.obj, _canonical(spec, obj), manager)
            updated = self._write(spec, namespace, name, obj, managers, stored, dry=request.dry_run)
        return _Response(200, updated, _warning_headers(warnings))

    @staticmethod
    def _patched(current: JSON, patch: Any, media: str) -> Any:
        """Apply a merge, strategic or JSON patch to the stored object."""
        if media == _MERGE_PATCH:
            return merge_patch(current, patch)
        if media == _STRATEGIC_PATCH:
            return strategic_merge_patch(current, patch)
        try:
            return json_patch(current, patch)
        except _PatchFailure as exc:
            raise ApiError(422, str(exc)) from None

    def _apply(self, spec: _Kind, namespace: str, name: str, request: _Request) -> _Response:
        """Server-side apply (application/apply-patch+yaml), simplified.

        Kept from the real algorithm (structured-merge-diff): ownership per field; the
        applier's field set becomes exactly the fields of its configuration; fields it
        applied before and no longer applies are removed unless another manager also
        owns them; changing a field owned by another manager is a 409 conflict unless
        `force=true`, which takes the field over; applying a value equal to the live one
        shares ownership; the same name used for Apply and for Update counts as two
        managers; creating via apply also needs the `create` permission.
        Simplified: ownership is tracked per key of data/binaryData/labels/annotations and
        for type/immutable only (ownerReferences, finalizers are merged but not owned);
        `stringData` keys are treated as the matching `data` keys (the real server's
        handling of the write-only stringData under apply is notoriously odd);
        managedFields are not returned.
        """
        config_raw = request.body()
        if (
            not isinstance(config_raw, dict)
            or not config_raw.get("apiVersion")
            or not config_raw.get("kind")
        ):
            raise bad_request(
                "error decoding YAML: Object 'Kind' is missing in the apply configuration"
            )
        config, warnings = _decode(spec, config_raw, request.field_validation)
        config["metadata"].setdefault("name", name)
        _check_identity(config, namespace, name)
        me = (request.query.get("fieldManager", ""), "Apply")
        applied = set(_field_values(config))
        with self.lock:
            stored = self.objects.get((spec.plural, namespace, name))
            if stored is None:
                self._authorize("create", spec.plural, namespace, name)
                if namespace not in self.namespaces:
                    raise not_found("namespaces", namespace)
                created = self._write(
                    spec, namespace, name, config, {me: applied}, None, dry=request.dry_run
                )
                return _Response(201, created, _warning_headers(warnings))
            merged = _deep_merge(stored.obj, config)
            managers = _after_apply(
                stored, merged, me, applied, force=_truthy(request.query.get("force"))
            )
            updated = self._write(
                spec, namespace, name, merged, managers, stored, dry=request.dry_run
            )
        return _Response(200, updated, _warning_headers(warnings))

    def _delete(self, spec: _Kind, namespace: str, name: str, request: _Request) -> _Response:
        """DELETE: 200 with a Success Status; DeleteOptions preconditions and dryRun honoured."""
        options = request.body() if request.raw_body.strip() else {}
        if not isinstance(options, dict):
            raise bad_request("the body of a DELETE must be DeleteOptions")
        dry_values = options.get("dryRun") or []
        _check_dry_run(request, "DeleteOptions", extra=dry_values)
        preconditions = options.get("preconditions") or {}
        with self.lock:
            stored = self._existing(spec, namespace, name)
            meta = stored.obj["metadata"]
            _check_preconditions(
                spec, name, preconditions.get("uid"), preconditions.get("resourceVersion"), meta
            )
            if not (request.dry_run or "All" in dry_values):
                del self.objects[(spec.plural, namespace, name)]
                self.next_revision()
        details = {"name": name, "kind": spec.plural, "uid": meta["uid"]}
        return _Response(
            200,
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": details,
            },
        )

    def _existing(self, spec: _Kind, namespace: str, name: str) -> _Stored:
        """The stored object, or 404 (callers hold the lock)."""
        stored = self.objects.get((spec.plural, namespace, name))
        if stored is None:
            raise not_found(spec.plural, name)
        return stored

    def _write(
        self,
        spec: _Kind,
        namespace: str,
        name: str,
        obj: JSON,
        managers: Managers,
        old: _Stored | None,
        *,
        dry: bool,
    ) -> JSON:
        """Validate and store a create (old is None) or an update; returns the API form.

        Order follows the real server: preconditions (409), validation (422), existence
        on create (409 AlreadyExists); an update that changes nothing keeps its
        resourceVersion; dry runs stop just before storing.
        """
        meta = obj["metadata"]
        meta["name"], meta["namespace"] = name, namespace
        if old is None:
            errors = spec.validate(_canonical(spec, obj))
            if errors:
                raise invalid(spec.kind, name, errors)
            if (spec.plural, namespace, name) in self.objects:
                raise already_exists(spec.plural, name)
            meta["uid"], meta["creationTimestamp"] = str(uuid.uuid4()), _now()
            meta.pop("resourceVersion", None)
        else:
            old_meta = old.obj["metadata"]
            _check_preconditions(spec, name, meta.get("uid"), meta.get("resourceVersion"), old_meta)
            meta["uid"], meta["creationTimestamp"] = old_meta["uid"], old_meta["creationTimestamp"]
            meta["resourceVersion"] = old_meta["resourceVersion"]
            errors = spec.validate_update(old.obj, _canonical(spec, obj))
            if errors:
                raise invalid(spec.kind, name, errors)
            if _canonical(spec, obj) == old.obj and managers == old.managers:
                return copy.deepcopy(old.obj)
        if dry:
            return _canonical(spec, obj)
        meta["resourceVersion"] = self.next_revision()
        stored = _canonical(spec, obj)
        self.objects[(spec.plural, namespace, name)] = _Stored(stored, managers)
        return copy.deepcopy(stored)

    # ---- backdoor

    def put(self, obj: JSON, manager: str) -> JSON:
        """Create or unconditionally replace, as a hand edit by `manager` would."""
        spec = _kind_named(str(obj.get("kind", "")))
        decoded, _ = _decode(spec, obj, "Strict")
        meta = decoded["metadata"]
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        meta.pop("resourceVersion", None)
        meta.pop("uid", None)
        with self.lock:
            if namespace not in self.namespaces:
                raise ValueError(f'namespaces "{namespace}" not found: add_namespace() it first')
            stored = self.objects.get((spec.plural, namespace, name))
            old_obj, old_managers = (stored.obj, stored.managers) if stored else ({}, {})
            managers = _after_update(
                old_managers, old_obj, _canonical(spec, decoded), (manager, "Update")
            )
            try:
                return self._write(spec, namespace, name, decoded, managers, stored, dry=False)
            except ApiError as err:
                raise ValueError(err.message) from None


def _after_apply(
    stored: _Stored, merged: JSON, me: ManagerKey, applied: set[FieldPath], *, force: bool
) -> Managers:
    """Ownership after an apply by `me`, pruning what only `me` used to apply (mutates merged)."""
    live_values, merged_values = _field_values(stored.obj), _field_values(merged)
    changed = {f for f, v in merged_values.items() if live_values.get(f, _DELETED) != v}
    managers = {m: set(fields) for m, fields in stored.managers.items()}
    conflicts = [(m, f) for m in sorted(managers) if m != me for f in sorted(managers[m] & changed)]
    if conflicts and not force:
        raise apply_conflict(conflicts)
    for m, f in conflicts:
        managers[m].discard(f)
    previously = managers.get(me, set())
    managers[me] = set(applied)
    owned_by_others = set().union(*(fields for m, fields in managers.items() if m != me))
    for path in sorted(previously - applied - owned_by_others):
        _remove_field(merged, path)
    if ("type",) not in _field_values(merged) and merged.get("kind") == "Secret":
        merged["type"] = "Opaque"  # re-defaulted after pruning, as the real server would
    return {m: fields for m, fields in managers.items() if fields}


def _check_preconditions(
    spec: _Kind, name: str, uid: Any, resource_version: Any, current: JSON
) -> None:
    """uid / resourceVersion preconditions of an update or delete (409 Conflict)."""
    if uid and uid != current["uid"]:
        raise conflict(
            spec.plural,
            name,
            f"Precondition failed: UID in precondition: {uid}, "
            f"UID in object meta: {current['uid']}",
        )
    if resource_version and resource_version != current["resourceVersion"]:
        raise stale_conflict(spec.plural, name)


def _check_identity(obj: JSON, namespace: str, name: str) -> None:
    """The body must name the object of the URL (400 otherwise)."""
    meta = obj["metadata"]
    if meta.get("name", "") != name:
        raise bad_request(
            f"the name of the object ({meta.get('name', '')}) "
            f"does not match the name on the URL ({name})"
        )
    if meta.get("namespace", namespace) != namespace:
        raise bad_request(_NAMESPACE_MISMATCH)


def _check_dry_run(request: _Request, options_kind: str, extra: Iterable[str] = ()) -> None:
    """dryRun accepts only "All" (422 on the options kind otherwise)."""
    values = ([request.query["dryRun"]] if "dryRun" in request.query else []) + list(extra)
    for index, value in enumerate(values):
        if value != "All":
            error = FieldError("NotSupported", f"dryRun[{index}]", value, 'supported values: "All"')
            raise options_invalid(options_kind, [error])


def _check_patch_options(request: _Request, media: str) -> None:
    """ValidatePatchOptions: fieldManager required for apply, force only for apply."""
    _check_dry_run(request, "PatchOptions")
    errors: list[FieldError] = []
    if media != _APPLY_PATCH and "force" in request.query:
        errors.append(
            FieldError("Forbidden", "force", detail="may not be specified for non-apply patch")
        )
    if media == _APPLY_PATCH and not request.query.get("fieldManager"):
        errors.append(FieldError("Required", "fieldManager", detail="is required for apply patch"))
    if len(request.query.get("fieldManager", "")) > 128:
        errors.append(
            FieldError("TooLong", "fieldManager", detail="may not be more than 128 bytes")
        )
    if errors:
        raise options_invalid("PatchOptions", errors)


def _require(method: str, allowed: str) -> None:
    """405 for a method the route does not serve."""
    if method != allowed:
        raise _method_not_allowed()


def _method_not_allowed() -> ApiError:
    """405 MethodNotAllowed, as the real server words it."""
    return ApiError(
        405, "the server does not allow this method on the requested resource", details={}
    )


def _truthy(value: str | None) -> bool:
    """Query booleans: "true"/"1"."""
    return (value or "").lower() in ("true", "1")


def _without_type(obj: JSON) -> JSON:
    """A list item: real list responses carry no kind/apiVersion per item."""
    return {k: copy.deepcopy(v) for k, v in obj.items() if k not in ("kind", "apiVersion")}


def _list_body(list_kind: str, revision: str, items: list[JSON]) -> JSON:
    """SecretList / ConfigMapList / NamespaceList."""
    return {
        "kind": list_kind,
        "apiVersion": "v1",
        "metadata": {"resourceVersion": revision},
        "items": items,
    }


def _encode_continue(namespace: str, name: str) -> str:
    """An opaque continue token: the last key returned."""
    return base64.urlsafe_b64encode(json.dumps([namespace, name]).encode()).decode()


def _decode_continue(token: str) -> tuple[str, str]:
    """The key after which a continued list starts (("", "") without a token)."""
    if not token:
        return ("", "")
    try:
        namespace, name = json.loads(base64.urlsafe_b64decode(token.encode()))
        return (str(namespace), str(name))
    except (ValueError, TypeError):
        raise bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion"
        ) from None


def _parse_limit(text: str) -> int:
    """?limit= (0 = no limit)."""
    if not text:
        return 0
    if not text.isdigit():
        raise bad_request(f"invalid limit {text!r}")
    return int(text)


def _warning_headers(warnings: list[str]) -> dict[str, str]:
    """RFC 7234 warning header the real server sends for dropped unknown fields."""
    if not warnings:
        return {}
    return {"Warning": ", ".join(f"299 - {json.dumps(w)}" for w in warnings)}


# --------------------------------------------------------------------------- HTTP


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive handler; each response leaves in one write."""

    protocol_version = "HTTP/1.1"
    # Without these, every keep-alive response is split in two segments and the second
    # waits for the client's delayed ACK (~40 ms per request).
    disable_nagle_algorithm = True
    wbufsize = 1 << 16
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr log."""

    def do_GET(self) -> None:
        """GET."""
        self._serve()

    def do_POST(self) -> None:
        """POST."""
        self._serve()

    def do_PUT(self) -> None:
        """PUT."""
        self._serve()

    def do_PATCH(self) -> None:
        """PATCH."""
        self._serve()

    def do_DELETE(self) -> None:
        """DELETE."""
        self._serve()

    def _serve(self) -> None:
        """Read the request, run faults, answer it, record it."""
        cluster = self.server.cluster
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        raw = self._read_body()  # always drain the body: the connection is reused
        content_type = self.headers.get("Content-Type")
        request = _Request(
            self.command,
            url.path,
            query,
            raw,
            content_type or "",
            self.headers.get("User-Agent", ""),
            self.headers.get("Authorization", ""),
        )
        faults = cluster.take_faults(url.path)
        if "delay" in faults:
            cluster.stopping.wait(faults["delay"].seconds)
        if "drop" in faults:
            cluster.record(
                RequestRecord(
                    self.command,
                    url.path,
                    query,
                    _record_body(raw, request.media_type),
                    0,
                    content_type,
                )
            )
            self.close_connection = True
            return
        response = _injected(faults["fail"]) if "fail" in faults else self._answer(request)
        cluster.record(
            RequestRecord(
                self.command,
                url.path,
                query,
                _record_body(raw, request.media_type),
                response.code,
                content_type,
            )
        )
        self._send(response)

    def _answer(self, request: _Request) -> _Response:
        """Run the cluster logic; a crash is a 500 and is kept for the test to see."""
        try:
            return self.server.cluster.handle(request)
        except Exception as exc:
            with self.server.cluster.lock:
                self.server.cluster.errors.append(traceback.format_exc())
            return _Response(500, ApiError(500, f"Internal error occurred: {exc!r}").status())

    def _read_body(self) -> bytes:
        """The request body, by Content-Length or chunked transfer coding."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, response: _Response) -> None:
        """Headers and body go to the buffered wfile and leave in one flush."""
        payload = json.dumps(response.body, separators=(",", ":")).encode()
        self.send_response(response.code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


def _record_body(raw: bytes, media_type: str) -> Any:
    """The parsed body for RequestRecord (None when empty or unparsable)."""
    if not raw.strip():
        return None
    try:
        return _parse_body(raw, media_type)
    except (ValueError, yaml.YAMLError):
        return None


def _injected(fault: _Fault) -> _Response:
    """The Status answer of a fail_next() fault."""
    code = fault.status
    message = fault.message or _DEFAULT_MESSAGES.get(code, f"injected failure ({code})")
    details: JSON | None = None
    headers: dict[str, str] = {}
    if fault.retry_after is not None:
        details = {"retryAfterSeconds": fault.retry_after}
        headers["Retry-After"] = str(fault.retry_after)
    return _Response(code, _status_body(code, _reason_for(code), message, details), headers)


class _HTTPServer(ThreadingHTTPServer):
    """Tracks open connections so shutdown can end idle keep-alive handlers."""

    daemon_threads = False  # joined by server_close(), so no handler outlives the server
    block_on_close = True

    def __init__(self, cluster: _Cluster) -> None:
        self.cluster = cluster
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's socket.getfqdn() reverse lookup (slow in some sandboxes)."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Remember the connection before its handler thread starts."""
        with self._open_lock:
            self._open.add(request)
        with self.cluster.lock:
            self.cluster.connections += 1
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """Forget the connection as its handler ends."""
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut every open connection down so idle keep-alive handlers return."""
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            with contextlib.suppress(OSError):  # already gone
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Peers hanging up are normal; anything else is kept for the test to see."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            return
        with self.cluster.lock:
            self.cluster.errors.append(traceback.format_exc())


# --------------------------------------------------------------------------- public facade


class KubeServer:
    """A loopback core/v1 API server with test hooks; use it as a context manager.

    >>> with KubeServer(namespaces=["default"]) as kube:
    ...     api = CoreV1Api(kube.api_client())
    """

    def __init__(
        self,
        namespaces: Iterable[str] = ("default",),
        *,
        token: str | None = None,
        user: str = "system:serviceaccount:default:secconf-test",
    ) -> None:
        self._cluster = _Cluster(token or secrets.token_urlsafe(24), user)
        for namespace in namespaces:
            self._cluster.add_namespace(namespace)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._clients: list[ApiClient] = []

    # ---- lifecycle

    def start(self) -> KubeServer:
        """Bind 127.0.0.1 on a free port and serve from a daemon thread."""
        if self._httpd is not None:
            return self
        self._cluster.stopping.clear()
        self._httpd = _HTTPServer(self._cluster)
        self._cluster.address = f"{self._httpd.server_name}:{self._httpd.server_port}"
        # A short poll interval keeps stop() (which waits for one poll) from costing 0.5 s per test.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="k8s-loopback",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close api_client()s, end open connections, join every thread."""
        for client in self._clients:
            client.close()  # type: ignore[no-untyped-call]
        self._clients.clear()
        if self._httpd is None:
            return
        self._cluster.stopping.set()  # wakes delayed requests
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()
        self._httpd, self._thread = None, None

    def __enter__(self) -> KubeServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---- connection details

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`."""
        if not self._cluster.address:
            raise RuntimeError("KubeServer is not started")
        return f"http://{self._cluster.address}"

    @property
    def token(self) -> str:
        """The bearer token every request must carry."""
        return self._cluster.token

    @property
    def user(self) -> str:
        """The user name forbidden messages quote."""
        return self._cluster.user

    def write_kubeconfig(
        self, path: str | os.PathLike[str], context: str = "loopback", namespace: str = "default"
    ) -> Path:
        """Write a kubeconfig (one cluster, token user and context, made current); mode 0600."""
        target = Path(path)
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "users": [{"name": context, "user": {"token": self.token}}],
            "contexts": [
                {
                    "name": context,
                    "context": {"cluster": context, "user": context, "namespace": namespace},
                }
            ],
            "current-context": context,
            "preferences": {},
        }
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        target.chmod(0o600)  # it holds a credential
        return target

    def api_client(self) -> ApiClient:
        """A kubernetes ApiClient for this server; closed by stop() if the caller does not."""
        from kubernetes import client

        configuration = client.Configuration(host=self.url)
        configuration.api_key = {"BearerToken": f"Bearer {self.token}"}
        api = client.ApiClient(configuration)
        self._clients.append(api)
        return api

    # ---- cluster set-up

    def add_namespace(self, name: str) -> None:
        """Create a namespace (idempotent)."""
        self._cluster.add_namespace(name)

    def forbid(self, verb: str, resource: str, namespace: str | None = None) -> None:
        """Deny `verb` ("get", "list", "create", "update", "patch", "delete", "*") on a resource.

        `resource` is "secrets", "configmaps", "namespaces" or "*"; namespace None = all.
        """
        with self._cluster.lock:
            self._cluster.forbidden.append((verb, resource, namespace))

    def allow(self, verb: str, resource: str, namespace: str | None = None) -> None:
        """Undo a forbid() with the same arguments."""
        with self._cluster.lock:
            self._cluster.forbidden = [
                r for r in self._cluster.forbidden if r != (verb, resource, namespace)
            ]

    # ---- request records

    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of every request received since start or reset_requests()."""
        with self._cluster.lock:
            return list(self._cluster.records)

    def reset_requests(self) -> None:
        """Forget the recorded requests."""
        with self._cluster.lock:
            self._cluster.records.clear()

    def count(
        self, method: str | None = None, path_prefix: str | None = None, writes_only: bool = False
    ) -> int:
        """How many recorded requests match (writes = POST/PUT/PATCH/DELETE)."""
        return sum(
            1
            for r in self.requests
            if (method is None or r.method == method.upper())
            and (path_prefix is None or r.path.startswith(path_prefix))
            and (not writes_only or r.method in WRITE_METHODS)
        )

    @property
    def connection_count(self) -> int:
        """TCP connections accepted so far (keep-alive keeps this low)."""
        with self._cluster.lock:
            return self._cluster.connections

    @property
    def server_errors(self) -> list[str]:
        """Tracebacks of server bugs (answered as 500); should stay empty."""
        with self._cluster.lock:
            return list(self._cluster.errors)

    # ---- faults

    def fail_next(
        self,
        n: int,
        status: int,
        path_prefix: str | None = None,
        *,
        message: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Answer the next n matching requests with a Status of that code, untouched state.

        `retry_after` adds the Retry-After header and details.retryAfterSeconds that a real
        429/503 carries.
        """
        self._add_fault(
            _Fault("fail", n, path_prefix, status=status, message=message, retry_after=retry_after)
        )

    def delay_next(self, n: int, seconds: float, path_prefix: str | None = None) -> None:
        """Hold the next n matching requests for `seconds` before handling them normally."""
        self._add_fault(_Fault("delay", n, path_prefix, seconds=seconds))

    def drop_next(self, n: int, path_prefix: str | None = None) -> None:
        """Close the connection of the next n matching requests without answering."""
        self._add_fault(_Fault("drop", n, path_prefix))

    def _add_fault(self, fault: _Fault) -> None:
        """Queue a fault."""
        if fault.remaining < 1:
            raise ValueError("n must be at least 1")
        with self._cluster.lock:
            self._cluster.faults.append(fault)

    # ---- backdoor

    def get_object(self, kind: str, namespace: str, name: str) -> JSON | None:
        """The stored object as the API returns it, or None ("Secret" / "ConfigMap")."""
        spec = _kind_named(kind)
        with self._cluster.lock:
            stored = self._cluster.objects.get((spec.plural, namespace, name))
            return copy.deepcopy(stored.obj) if stored else None

    def put_object(self, obj: Mapping[str, Any], *, manager: str = "kubectl-edit") -> JSON:
        """Create or replace an object as someone else's hand edit would; returns it.

        Needs kind and metadata.namespace/name; stringData is merged; resourceVersion and
        uid in `obj` are ignored (unconditional). Bumps resourceVersion like a real write
        (unless nothing changes) and takes field ownership for `manager`. Invalid objects
        raise ValueError with the API's message.
        """
        return self._cluster.put(copy.deepcopy(dict(obj)), manager)

    def delete_object(self, kind: str, namespace: str, name: str) -> bool:
        """Delete behind the client's back; False when there was nothing to delete."""
        spec = _kind_named(kind)
        with self._cluster.lock:
            if self._cluster.objects.pop((spec.plural, namespace, name), None) is None:
                return False
            self._cluster.next_revision()
            return True

    def field_managers(self, kind: str, namespace: str, name: str) -> dict[ManagerKey, list[str]]:
        """Who owns which field: {(manager, "Apply"|"Update"): [".data.key", ...]}."""
        spec = _kind_named(kind)
        with self._cluster.lock:
            stored = self._cluster.objects.get((spec.plural, namespace, name))
            if stored is None:
                return {}
            return {
                m: sorted(_path_text(p) for p in fields) for m, fields in stored.managers.items()
            }

"""Tests of the loopback Kubernetes API server, driven through the official client.

Each test pins down API-server behaviour the rest of the suite relies on: if the
fake drifted from a real kube-apiserver, these would fail before secconf's own
tests misled us.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from tests.support.k8s_server import KubeServer

NS = "default"
SECRETS = f"/api/v1/namespaces/{NS}/secrets"
APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"


def b64(text: str) -> str:
    """Base64 of a UTF-8 string, as Secret data carries it."""
    return base64.b64encode(text.encode()).decode()


def status_of(error: ApiException) -> dict[str, Any]:
    """The Status object of a failed call."""
    assert error.body is not None
    body: dict[str, Any] = json.loads(error.body)
    return body


def meta(obj: Any) -> client.V1ObjectMeta:
    """An object's metadata (the client types it optional)."""
    metadata = obj.metadata
    assert isinstance(metadata, client.V1ObjectMeta)
    return metadata


def list_meta(result: Any) -> client.V1ListMeta:
    """A list's metadata."""
    metadata = result.metadata
    assert isinstance(metadata, client.V1ListMeta)
    return metadata


def rv(obj: Any) -> int:
    """metadata.resourceVersion (of an object or a list) as a number."""
    return int(obj.metadata.resource_version)


def names(result: Any) -> list[str]:
    """The names of a list's items, in order."""
    return [str(meta(item).name) for item in result.items]


def secret(name: str, **fields: Any) -> client.V1Secret:
    """A V1Secret named `name` in the default namespace."""
    labels = fields.pop("labels", None)
    return client.V1Secret(metadata=client.V1ObjectMeta(name=name, labels=labels), **fields)


@pytest.fixture
def kube() -> Iterator[KubeServer]:
    """A fresh server per test; it must not have crashed on any request."""
    with KubeServer(namespaces=[NS, "app-staging"]) as server:
        yield server
        assert server.server_errors == []


@pytest.fixture
def api(kube: KubeServer) -> Iterator[client.CoreV1Api]:
    """CoreV1Api over kube.api_client()."""
    with kube.api_client() as api_client:
        yield client.CoreV1Api(api_client)


@pytest.fixture
def make_api(kube: KubeServer) -> Iterator[Callable[..., client.CoreV1Api]]:
    """Build CoreV1Apis with a chosen token (None = no Authorization header)."""
    with contextlib.ExitStack() as clients:  # a pooled socket left open is a ResourceWarning

        def build(token: str | None = None) -> client.CoreV1Api:
            configuration = client.Configuration(host=kube.url)
            if token is not None:
                configuration.api_key = {"BearerToken": f"Bearer {token}"}
            return client.CoreV1Api(clients.enter_context(client.ApiClient(configuration)))

        yield build


def raw_request(kube: KubeServer, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One request with a hand-made JSON body the typed client would refuse to send."""
    connection = http.client.HTTPConnection("127.0.0.1", int(kube.url.rsplit(":", 1)[1]), timeout=5)
    try:
        payload = None if body is None else json.dumps(body)
        headers = {"Authorization": f"Bearer {kube.token}", "Content-Type": "application/json"}
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


# -- kubeconfig and round trips ------------------------------------------------


def test_kubeconfig_client_creates_and_reads_a_secret(kube: KubeServer, tmp_path: Path) -> None:
    path = kube.write_kubeconfig(
        tmp_path / "kube" / "config", context="ci", namespace="app-staging"
    )
    written = yaml.safe_load(path.read_text())
    assert written["current-context"] == "ci"
    assert written["clusters"][0]["cluster"]["server"] == kube.url
    assert written["users"][0]["user"]["token"] == kube.token
    assert written["contexts"][0]["context"]["namespace"] == "app-staging"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    configuration = client.Configuration()
    config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=str(path), client_configuration=configuration
    )
    with client.ApiClient(configuration) as api_client:
        api = client.CoreV1Api(api_client)
        namespace = api.read_namespace("app-staging").status
        assert namespace is not None and namespace.phase == "Active"
        created = api.create_namespaced_secret(
            "app-staging",
            secret("db", data={"user": b64("admin")}, string_data={"password": "s3cret"}),
        )
        read = api.read_namespaced_secret("db", "app-staging")

    # stringData is merged into data as base64 and never comes back.
    assert read.data == {"user": b64("admin"), "password": b64("s3cret")}
    assert read.string_data is None and created.string_data is None
    assert read.type == "Opaque"
    assert read.kind == "Secret" and read.api_version == "v1"
    assert meta(read).uid == meta(created).uid
    assert meta(read).creation_timestamp is not None
    assert rv(read) == rv(created)
    assert rv(read) > 0
    stored = kube.get_object("Secret", "app-staging", "db")
    assert stored is not None and "stringData" not in stored


def test_resource_versions_grow_globally_and_list_reports_the_latest(api: client.CoreV1Api) -> None:
    first = api.create_namespaced_secret(NS, secret("a"))
    second = api.create_namespaced_config_map(
        NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="b"))
    )
    listed = api.list_namespaced_secret(NS)

    assert rv(second) > rv(first)
    assert listed.kind == "SecretList"
    assert rv(listed) >= rv(second)
    assert names(listed) == ["a"]
    assert listed.items[0].kind is None  # real list items carry no kind/apiVersion


# -- conflicts and not-found ------------------------------------------------------


def test_create_of_an_existing_name_is_already_exists(api: client.CoreV1Api) -> None:
    api.create_namespaced_secret(NS, secret("dup"))
    with pytest.raises(ApiException) as caught:
        api.create_namespaced_secret(NS, secret("dup"))

    assert caught.value.status == 409
    status = status_of(caught.value)
    assert status == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'secrets "dup" already exists',
        "reason": "AlreadyExists",
        "details": {"name": "dup", "kind": "secrets"},
        "code": 409,
    }


def test_replace_with_a_stale_resource_version_conflicts(
    kube: KubeServer, api: client.CoreV1Api
) -> None:
    mine = api.create_namespaced_secret(NS, secret("app", data={"k": b64("1")}))
    edited = kube.put_object(
        {
            "kind": "Secret",
            "apiVersion": "v1",
            "metadata": {"name": "app", "namespace": NS},
            "data": {"k": b64("2")},
        }
    )
    assert int(edited["metadata"]["resourceVersion"]) > rv(mine)

    mine.data = {"k": b64("3")}
    with pytest.raises(ApiException) as caught:
        api.replace_namespaced_secret("app", NS, mine)

    status = status_of(caught.value)
    assert (caught.value.status, status["reason"], status["code"]) == (409, "Conflict", 409)
    assert status["message"] == (
        'Operation cannot be fulfilled on secrets "app": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    assert kube.get_object("Secret", NS, "app")["data"] == {"k": b64("2")}  # type: ignore[index]

    latest = api.read_namespaced_secret("app", NS)
    latest.data = {"k": b64("3")}
    assert api.replace_namespaced_secret("app", NS, latest).data == {"k": b64("3")}


def test_replace_without_resource_version_is_unconditional(
    kube: KubeServer, api: client.CoreV1Api
) -> None:
    api.create_namespaced_secret(NS, secret("app", data={"k": b64("1")}))
    kube.put_object(
        {"kind": "Secret", "metadata": {"name": "app", "namespace": NS}, "data": {"k": b64("2")}}
    )

    replaced = api.replace_namespaced_secret("app", NS, secret("app", data={"k": b64("3")}))

    assert replaced.data == {"k": b64("3")}


def test_replace_patch_and_delete_of_a_missing_object_are_not_found(api: client.CoreV1Api) -> None:
    calls: list[Callable[[], Any]] = [
        lambda: api.replace_namespaced_secret("ghost", NS, secret("ghost")),
        lambda: api.patch_namespaced_secret("ghost", NS, {"data": {}}, _content_type=MERGE),
        lambda: api.delete_namespaced_secret("ghost", NS),
        lambda: api.read_namespaced_secret("ghost", NS),
    ]
    for call in calls:
        with pytest.raises(ApiException) as caught:
            call()
        status = status_of(caught.value)
        assert (caught.value.status, status["reason"]) == (404, "NotFound")
        assert status["message"] == 'secrets "ghost" not found'
        assert status["details"] == {"name": "ghost", "kind": "secrets"}
    with pytest.raises(ApiException):
        api.read_namespaced_secret("ghost", NS)  # PUT did not create it


def test_a_no_op_replace_keeps_the_resource_version(api: client.CoreV1Api) -> None:
    created = api.create_namespaced_secret(NS, secret("same", data={"k": b64("v")}))

    again = api.replace_namespaced_secret("same", NS, api.read_namespaced_secret("same", NS))

    assert rv(again) == rv(created)


def test_immutable_secret_data_cannot_change(api: client.CoreV1Api) -> None:
    api.create_namespaced_secret(NS, secret("frozen", data={"k": b64("1")}, immutable=True))
    current = api.read_namespaced_secret("frozen", NS)
    current.data = {"k": b64("2")}

    with pytest.raises(ApiException) as caught:
        api.replace_namespaced_secret("frozen", NS, current)

    status = status_of(caught.value)
    assert (caught.value.status, status["reason"]) == (422, "Invalid")
    assert (
        status["message"]
        == 'Secret "frozen" is invalid: data: Forbidden: field is immutable when `immutable` is set'
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueForbidden",
            "message": "Forbidden: field is immutable when `immutable` is set",
            "field": "data",
        }
    ]
    with pytest.raises(ApiException) as unset:
        api.patch_namespaced_secret("frozen", NS, {"immutable": False}, _content_type=MERGE)
    assert "immutable: Forbidden" in status_of(unset.value)["message"]
    # Metadata may still change, and the object may be deleted.
    labelled = api.patch_namespaced_secret(
        "frozen", NS, {"metadata": {"labels": {"a": "b"}}}, _content_type=MERGE
    )
    assert meta(labelled).labels == {"a": "b"}
    api.delete_namespaced_secret("frozen", NS)


# -- validation ----------------------------------------------------------------------


def test_invalid_name_is_unprocessable(api: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as caught:
        api.create_namespaced_secret(NS, secret("Bad_Name"))

    status = status_of(caught.value)
    assert (caught.value.status, status["reason"]) == (422, "Invalid")
    assert status["message"].startswith(
        'Secret "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain'
    )
    assert status["details"]["name"] == "Bad_Name" and status["details"]["kind"] == "Secret"
    assert [c["field"] for c in status["details"]["causes"]] == ["metadata.name"]
    assert status["details"]["causes"][0]["reason"] == "FieldValueInvalid"


def test_invalid_keys_sizes_and_labels_are_unprocessable(api: client.CoreV1Api) -> None:
    cases: list[tuple[client.V1Secret, str]] = [
        (secret("k", data={"bad key": b64("x")}), "data[bad key]"),
        (secret("k", string_data={"..dots": "x"}), "data[..dots]"),
        (secret("k", string_data={"big": "x" * (1024 * 1024 + 1)}), "data"),
        (secret("k", labels={"app": "not ok!"}), "metadata.labels"),
        (secret("k", type="kubernetes.io/tls", data={"tls.crt": b64("c")}), "data[tls.key]"),
    ]
    for body, field in cases:
        with pytest.raises(ApiException) as caught:
            api.create_namespaced_secret(NS, body)
        status = status_of(caught.value)
        assert caught.value.status == 422, field
        assert [c["field"] for c in status["details"]["causes"]] == [field]
    assert api.list_namespaced_secret(NS).items == []


def test_bad_base64_is_a_decoding_error(kube: KubeServer) -> None:
    # A real server fails to decode before validating: 400, not 422.
    code, status = raw_request(
        kube, "POST", SECRETS, {"metadata": {"name": "x"}, "data": {"k": "admin"}}
    )

    assert (code, status["reason"]) == (400, "BadRequest")
    assert (
        status["message"]
        == 'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 4'
    )


def test_unknown_fields_are_dropped_or_rejected_when_strict(kube: KubeServer) -> None:
    body = {"metadata": {"name": "x"}, "spec": {"a": 1}}
    code, status = raw_request(kube, "POST", SECRETS + "?fieldValidation=Strict", body)
    assert (code, status["message"]) == (400, 'strict decoding error: unknown field "spec"')

    code, created = raw_request(kube, "POST", SECRETS, body)
    assert code == 201 and "spec" not in created


def test_create_in_a_missing_namespace_is_not_found(api: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as caught:
        api.create_namespaced_secret("nowhere", secret("x"))
    status = status_of(caught.value)
    assert (caught.value.status, status["message"]) == (404, 'namespaces "nowhere" not found')
    assert status["details"] == {"name": "nowhere", "kind": "namespaces"}

    with pytest.raises(ApiException) as missing:
        api.read_namespace("nowhere")
    assert missing.value.status == 404
    assert api.list_namespaced_secret("nowhere").items == []  # listing an absent namespace is empty


# -- authn / authz ---------------------------------------------------------------------


def test_forbidden_verbs_answer_403_with_the_rbac_message(
    kube: KubeServer, api: client.CoreV1Api
) -> None:
    api.create_namespaced_secret(NS, secret("x"))
    kube.forbid("update", "secrets")
    kube.forbid("list", "secrets", namespace="app-staging")

    with pytest.raises(ApiException) as caught:
        api.replace_namespaced_secret("x", NS, secret("x"))
    status = status_of(caught.value)
    assert (caught.value.status, status["reason"]) == (403, "Forbidden")
    assert status["message"] == (
        f'secrets "x" is forbidden: User "{kube.user}" cannot update resource "secrets" '
        'in API group "" in the namespace "default"'
    )
    assert status["details"] == {"name": "x", "kind": "secrets"}

    with pytest.raises(ApiException) as listing:
        api.list_namespaced_secret("app-staging")
    assert status_of(listing.value)["message"] == (
        f'secrets is forbidden: User "{kube.user}" cannot list resource "secrets" '
        'in API group "" in the namespace "app-staging"'
    )
    assert meta(api.read_namespaced_secret("x", NS)).name == "x"  # other verbs still work
    assert api.list_namespaced_secret(NS).items

    kube.allow("update", "secrets")
    api.replace_namespaced_secret("x", NS, secret("x"))


def test_missing_or_wrong_token_is_unauthorized(
    kube: KubeServer, make_api: Callable[..., client.CoreV1Api]
) -> None:
    for api in (make_api(None), make_api("wrong-token")):
        with pytest.raises(ApiException) as caught:
            api.list_namespaced_secret(NS)
        assert caught.value.status == 401
        assert status_of(caught.value) == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "Unauthorized",
            "reason": "Unauthorized",
            "code": 401,
        }
    assert make_api(kube.token).list_namespaced_secret(NS).items == []


# -- fault injection ---------------------------------------------------------------------


def test_fail_next_answers_the_status_then_recovers(
    kube: KubeServer, api: client.CoreV1Api
) -> None:
    kube.fail_next(1, 503, path_prefix=SECRETS)
    with pytest.raises(ApiException) as caught:
        api.create_namespaced_secret(NS, secret("x"))
    status = status_of(caught.value)
    assert (caught.value.status, status["reason"], status["code"]) == (
        503,
        "ServiceUnavailable",
        503,
    )
    assert kube.get_object("Secret", NS, "x") is None  # the failed write changed nothing

    api.create_namespaced_secret(NS, secret("x"))
    kube.fail_next(2, 429)
    for _ in range(2):
        with pytest.raises(ApiException) as throttled:
            api.read_namespaced_secret("x", NS)
        assert status_of(throttled.value)["reason"] == "TooManyRequests"
    assert meta(api.read_namespaced_secret("x", NS)).name == "x"
    assert [r.status for r in kube.requests] == [503, 201, 429, 429, 200]


def test_retry_after_makes_urllib3_retry_idempotent_requests(
    kube: KubeServer, api: client.CoreV1Api
) -> None:
    # urllib3's default Retry honours Retry-After on 413/429/503 for GET/PUT/DELETE only.
    kube.fail_next(1, 429, path_prefix=SECRETS, retry_after=0)
    with pytest.raises(ApiException) as throttled:
        api.create_namespaced_secret(NS, secret("x"))
    assert throttled.value.headers is not None
    assert throttled.value.headers["Retry-After"] == "0"
    assert status_of(throttled.value)["details"] == {"retryAfterSeconds": 0}

    kube.fail_next(1, 429, retry_after=0)
    assert api.list_namespaced_secret(NS).items == []
    assert [r.status for r in kube.requests] == [429, 429, 200]


def test_fail_next_only_hits_matching_paths(kube: KubeServer, api: client.CoreV1Api) -> None:
    kube.fail_next(1, 500, path_prefix="/api/v1/namespaces/app-staging/")
    api.list_namespaced_secret(NS)
    with pytest.raises(ApiException) as caught:
        api.list_namespaced_secret("app-staging")
    assert status_of(caught.value)["reason"] == "InternalError"


def test_drop_next_on_a_write_surfaces_a_urllib3_error(
    kube: KubeServer, api: client.CoreV1Api
) -> None:
    kube.drop_next(1, path_prefix=SECRETS)
    with pytest.raises(urllib3.exceptions.ProtocolError):
        api.create_namespaced_secret(NS, secret("x"))

    assert kube.requests[-1].status == 0
    assert kube.get_object("Secret", NS, "x") is None
    api.create_namespaced_secret(NS, secret("x"))  # the client recovers on a new connection


def test_drop_next_on_a_read_is_retried_by_urllib3(kube: KubeServer, api: client.CoreV1Api) -> None:
    api.create_namespaced_secret(NS, secret("x"))
    kube.reset_requests()
    kube.drop_next(1)

    assert meta(api.read_namespaced_secret("x", NS)).name == "x"
    assert [r.status for r in kube.requests] == [0, 200]  # urllib3 retries idempotent reads


def test_delay_next_holds_the_answer(kube: KubeServer, api: client.CoreV1Api) -> None:
    kube.delay_next(1, 0.3)
    started = time.perf_counter()
    api.list_namespaced_secret(NS)
    assert time.perf_counter() - started >= 0.3
    started = time.perf_counter()
    api.list_namespaced_secret(NS)
    assert time.perf_counter() - started < 0.3


# -- patches ------------------------------------------------------------------------------


def test_merge_patch_adds_and_removes_keys(kube: KubeServer, api: client.CoreV1Api) -> None:
    created = api.create_namespaced_secret(NS, secret("p", data={"a": b64("1"), "b": b64("2")}))
    patch = {
        "data": {"a": None, "c": b64("3")},
        "stringData": {"d": "4"},
        "metadata": {"labels": {"x": "y"}},
    }

    patched = api.patch_namespaced_secret("p", NS, patch, _content_type=MERGE)

    assert patched.data == {"b": b64("2"), "c": b64("3"), "d": b64("4")}
    assert meta(patched).labels == {"x": "y"}
    assert rv(patched) > rv(created)
    stale = {
        "metadata": {"resourceVersion": meta(created).resource_version},
        "data": {"e": b64("5")},
    }
    with pytest.raises(ApiException) as caught:
        api.patch_namespaced_secret("p", NS, stale, _content_type=MERGE)
    assert status_of(caught.value)["reason"] == "Conflict"
    assert kube.requests[-1].content_type == MERGE


def test_default_patch_is_strategic_merge(kube: KubeServer, api: client.CoreV1Api) -> None:
    api.create_namespaced_secret(NS, secret("p", data={"a": b64("1")}))

    patched = api.patch_namespaced_secret("p", NS, {"data": {"b": b64("2")}})

    assert patched.data == {"a": b64("1"), "b": b64("2")}
    assert kube.requests[-1].content_type == "application/strategic-merge-patch+json"


def test_json_patch_applies_operations_and_fails_tests(api: client.CoreV1Api) -> None:
    api.create_namespaced_secret(NS, secret("p", data={"a": b64("1")}))
    operations = [
        {"op": "add", "path": "/data/b", "value": b64("2")},
        {"op": "remove", "path": "/data/a"},
    ]

    patched = api.patch_namespaced_secret("p", NS, operations)

    assert patched.data == {"b": b64("2")}
    with pytest.raises(ApiException) as caught:
        api.patch_namespaced_secret("p", NS, [{"op": "test", "path": "/data/b", "value": "nope"}])
    assert caught.value.status == 422


def test_server_side_apply_creates_then_prunes_only_its_own_keys(
    kube: KubeServer, api: client.CoreV1Api
) -> None:
    def apply(data: dict[str, str], force: bool | None = None) -> client.V1Secret:
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "app"},
            "stringData": data,
        }
        result: client.V1Secret = api.patch_namespaced_secret(
            "app", NS, body, field_manager="secconf", force=force, _content_type=APPLY
        )
        return result

    apply({"a": "1", "b": "2"})
    assert kube.requests[-1].status == 201  # apply created it
    edited = kube.get_object("Secret", NS, "app")
    assert edited is not None
    edited["data"]["other"] = b64("theirs")
    kube.put_object(edited)  # a hand edit adds a key secconf never applied

    pruned = apply({"a": "1"})
    assert pruned.data == {"a": b64("1"), "other": b64("theirs")}  # b removed, theirs kept
    assert kube.field_managers("Secret", NS, "app") == {
        ("secconf", "Apply"): [".data.a"],
        ("kubectl-edit", "Update"): [".data.other"],
    }

    with pytest.raises(ApiException) as caught:
        apply({"a": "1", "other": "mine"})
    status = status_of(caught.value)
    assert (caught.value.status, status["reason"]) == (409, "Conflict")
    assert (
        status["message"]
        == 'Apply failed with 1 conflict: conflict with "kubectl-edit" using v1: .data.other'
    )
    assert status["details"]["causes"][0]["reason"] == "FieldManagerConflict"

    assert (apply({"a": "1", "other": "mine"}, force=True).data or {})["other"] == b64("mine")
    assert apply({"a": "1"}).data == {"a": b64("1")}  # forced keys became secconf's, so they prune


def test_server_side_apply_requires_a_field_manager(api: client.CoreV1Api) -> None:
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "app"}}
    with pytest.raises(ApiException) as caught:
        api.patch_namespaced_secret("app", NS, body, _content_type=APPLY)
    status = status_of(caught.value)
    assert (caught.value.status, status["reason"]) == (422, "Invalid")
    assert (
        status["message"]
        == 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'
    )


def test_no_op_apply_keeps_the_resource_version(api: client.CoreV1Api) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "app", "labels": {"o": "s"}},
        "data": {"k": b64("v")},
    }
    first = api.patch_namespaced_secret(
        "app", NS, body, field_manager="secconf", _content_type=APPLY
    )
    second = api.patch_namespaced_secret(
        "app", NS, body, field_manager="secconf", _content_type=APPLY
    )
    assert rv(second) == rv(first)


# -- dry run, delete ----------------------------------------------------------------------


def test_dry_run_never_persists(kube: KubeServer, api: client.CoreV1Api) -> None:
    preview = api.create_namespaced_secret(NS, secret("dry", data={"k": b64("1")}), dry_run="All")
    assert meta(preview).name == "dry" and preview.data == {"k": b64("1")}
    assert kube.get_object("Secret", NS, "dry") is None

    real = api.create_namespaced_secret(NS, secret("dry", data={"k": b64("1")}))
    api.replace_namespaced_secret("dry", NS, secret("dry", data={"k": b64("2")}), dry_run="All")
    api.patch_namespaced_secret(
        "dry", NS, {"data": {"k": b64("3")}}, _content_type=MERGE, dry_run="All"
    )
    api.patch_namespaced_secret(
        "dry",
        NS,
        {"apiVersion": "v1", "kind": "Secret", "data": {"x": b64("4")}},
        field_manager="m",
        _content_type=APPLY,
        dry_run="All",
    )
    api.delete_namespaced_secret("dry", NS, dry_run="All")

    stored = kube.get_object("Secret", NS, "dry")
    assert stored is not None
    assert stored["data"] == {"k": b64("1")}
    assert stored["metadata"]["resourceVersion"] == meta(real).resource_version
    assert kube.requests[-1].query == {"dryRun": "All"}


def test_delete_answers_success_status_and_checks_preconditions(api: client.CoreV1Api) -> None:
    created = api.create_namespaced_secret(NS, secret("gone"))
    api.patch_namespaced_secret("gone", NS, {"data": {"k": b64("v")}}, _content_type=MERGE)
    stale = client.V1DeleteOptions(
        preconditions=client.V1Preconditions(resource_version=meta(created).resource_version)
    )
    with pytest.raises(ApiException) as caught:
        api.delete_namespaced_secret("gone", NS, body=stale)
    assert status_of(caught.value)["reason"] == "Conflict"

    answer: Any = api.delete_namespaced_secret("gone", NS)

    assert answer["status"] == "Success"
    assert answer["details"] == {"name": "gone", "kind": "secrets", "uid": meta(created).uid}
    with pytest.raises(ApiException):
        api.read_namespaced_secret("gone", NS)


# -- configmaps -------------------------------------------------------------------------------


def test_configmaps_have_the_same_semantics(kube: KubeServer, api: client.CoreV1Api) -> None:
    body = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="settings", labels={"team": "a"}),
        data={"LOG_LEVEL": "info"},
        binary_data={"blob": b64("\x00\x01")},
    )
    created = api.create_namespaced_config_map(NS, body)
    assert created.data == {"LOG_LEVEL": "info"} and created.binary_data == {
        "blob": b64("\x00\x01")
    }
    with pytest.raises(ApiException) as exists:
        api.create_namespaced_config_map(NS, body)
    assert status_of(exists.value)["message"] == 'configmaps "settings" already exists'

    kube.put_object(
        {
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": NS},
            "data": {"LOG_LEVEL": "debug"},
        }
    )
    created.data = {"LOG_LEVEL": "warn"}
    with pytest.raises(ApiException) as stale:
        api.replace_namespaced_config_map("settings", NS, created)
    assert status_of(stale.value)["reason"] == "Conflict"

    with pytest.raises(ApiException) as missing:
        api.replace_namespaced_config_map(
            "nope", NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="nope"))
        )
    assert status_of(missing.value)["message"] == 'configmaps "nope" not found'

    frozen = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="frozen"), data={"a": "1"}, immutable=True
    )
    api.create_namespaced_config_map(NS, frozen)
    with pytest.raises(ApiException) as immutable:
        api.patch_namespaced_config_map("frozen", NS, {"data": {"a": "2"}}, _content_type=MERGE)
    assert status_of(immutable.value)["message"] == (
        'ConfigMap "frozen" is invalid: data: Forbidden: field is immutable when `immutable` is set'
    )

    merged = api.patch_namespaced_config_map(
        "settings", NS, {"data": {"EXTRA": "1"}}, _content_type=MERGE
    )
    assert merged.data == {"EXTRA": "1", "LOG_LEVEL": "debug"}
    # The hand edit replaced the whole object, labels included.
    assert names(api.list_namespaced_config_map(NS, label_selector="team=a")) == []
    deleted: Any = api.delete_namespaced_config_map("settings", NS)
    assert deleted["status"] == "Success"
    assert kube.get_object("ConfigMap", NS, "settings") is None


# -- lists --------------------------------------------------------------------------------------


def test_list_selectors_paging_and_all_namespaces(api: client.CoreV1Api) -> None:
    for name, tier in [("a", "web"), ("b", "db"), ("c", "web"), ("d", "cache")]:
        api.create_namespaced_secret(NS, secret(name, labels={"tier": tier}))
    api.create_namespaced_secret("app-staging", secret("e", labels={"tier": "web"}))

    assert names(api.list_namespaced_secret(NS, label_selector="tier=web")) == ["a", "c"]
    assert names(api.list_namespaced_secret(NS, label_selector="tier in (db,cache)")) == ["b", "d"]
    assert names(api.list_namespaced_secret(NS, label_selector="tier!=web,tier")) == ["b", "d"]
    assert names(api.list_namespaced_secret(NS, label_selector="!tier")) == []
    assert names(api.list_namespaced_secret(NS, field_selector="metadata.name=c")) == ["c"]
    first = api.list_namespaced_secret(NS, limit=3)
    assert names(first) == ["a", "b", "c"] and list_meta(first).remaining_item_count == 1
    assert names(api.list_namespaced_secret(NS, limit=3, _continue=list_meta(first)._continue)) == [
        "d"
    ]
    everywhere = api.list_secret_for_all_namespaces(label_selector="tier=web")
    assert [(meta(i).namespace, meta(i).name) for i in everywhere.items] == [
        ("app-staging", "e"),
        (NS, "a"),
        (NS, "c"),
    ]


# -- records, discovery, transport ---------------------------------------------------------------


def test_requests_are_recorded_and_counted(kube: KubeServer, api: client.CoreV1Api) -> None:
    api.create_namespaced_secret(NS, secret("x", string_data={"k": "v"}))
    kube.reset_requests()
    api.read_namespaced_secret("x", NS)
    api.list_namespaced_secret(NS, label_selector="a=b")
    api.patch_namespaced_secret("x", NS, {"data": {"k": b64("w")}}, _content_type=MERGE)
    api.create_namespaced_secret("app-staging", secret("y"))
    api.delete_namespaced_secret("x", NS)

    assert kube.count() == 5
    assert kube.count(method="GET") == 2
    assert kube.count(writes_only=True) == 3
    assert kube.count(path_prefix=SECRETS) == 4
    assert kube.count(method="POST", path_prefix="/api/v1/namespaces/app-staging/") == 1
    listing = kube.requests[1]
    assert (listing.method, listing.path, listing.query, listing.body, listing.status) == (
        "GET",
        SECRETS,
        {"labelSelector": "a=b"},
        None,
        200,
    )
    assert kube.requests[2].body == {"data": {"k": b64("w")}}
    assert kube.requests[3].status == 201
    kube.reset_requests()
    assert kube.count() == 0


def test_discovery_endpoints(kube: KubeServer) -> None:
    with kube.api_client() as api_client:
        assert client.VersionApi(api_client).get_code().git_version.startswith("v1.")
        assert client.CoreApi(api_client).get_api_versions().versions == ["v1"]


def test_no_request_logging_on_stderr(
    kube: KubeServer, api: client.CoreV1Api, capfd: pytest.CaptureFixture[str]
) -> None:
    api.list_namespaced_secret(NS)
    with pytest.raises(ApiException):
        api.read_namespaced_secret("ghost", NS)
    captured = capfd.readouterr()
    assert captured.err == ""


def test_concurrent_optimistic_updates_lose_nothing(kube: KubeServer) -> None:
    with kube.api_client() as api_client:
        client.CoreV1Api(api_client).create_namespaced_config_map(
            NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="counter"), data={"n": "0"})
        )

    def bump(times: int) -> None:
        with kube.api_client() as api_client:
            api = client.CoreV1Api(api_client)
            for _ in range(times):
                while True:
                    current = api.read_namespaced_config_map("counter", NS)
                    current.data = {"n": str(int((current.data or {})["n"]) + 1)}
                    try:
                        api.replace_namespaced_config_map("counter", NS, current)
                        break
                    except ApiException as error:
                        assert error.status == 409

    threads = [threading.Thread(target=bump, args=(10,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert kube.get_object("ConfigMap", NS, "counter")["data"] == {"n": "40"}  # type: ignore[index]


def test_backdoor_put_object_validates_and_bumps(kube: KubeServer) -> None:
    first = kube.put_object(
        {"kind": "Secret", "metadata": {"name": "s", "namespace": NS}, "stringData": {"k": "v"}}
    )
    second = kube.put_object(
        {"kind": "Secret", "metadata": {"name": "s", "namespace": NS}, "data": {"k": b64("w")}}
    )

    assert first["data"] == {"k": b64("v")} and second["data"] == {"k": b64("w")}
    assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    assert second["metadata"]["uid"] == first["metadata"]["uid"]
    with pytest.raises(ValueError, match=r"metadata\.name"):
        kube.put_object({"kind": "Secret", "metadata": {"name": "Nope!", "namespace": NS}})
    assert kube.delete_object("Secret", NS, "s") is True
    assert kube.get_object("Secret", NS, "s") is None


def test_keep_alive_reads_are_fast(
    kube: KubeServer, api: client.CoreV1Api, capsys: pytest.CaptureFixture[str]
) -> None:
    api.create_namespaced_secret(NS, secret("hot", data={"k": b64("v")}))
    connections = kube.connection_count
    started = time.perf_counter()
    for _ in range(200):
        api.read_namespaced_secret("hot", NS)
    elapsed = time.perf_counter() - started

    with capsys.disabled():
        print(f"\n200 keep-alive reads over one ApiClient: {elapsed * 1000:.0f} ms")
    assert kube.connection_count == connections  # every read reused the open connection

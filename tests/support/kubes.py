"""A real Kubernetes cluster seen through the same attributes as the loopback server.

Used when SECCONF_TEST_KUBECONFIG names a kubeconfig: hand edits and reads go through
the API; namespaces the tests create are deleted at the end of the session; fault
injection (fail_next, drop_next, forbid, count...) is only possible on the loopback
server, so tests that need it skip.
"""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path
from typing import Any

import pytest

_KINDS = {"Secret": "secret", "ConfigMap": "config_map"}


class RealCluster:
    """Kubeconfig and API of a real cluster; the loopback server's backdoor, done honestly."""

    def __init__(self, kubeconfig: str | Path) -> None:
        from kubernetes import client, config

        self.kubeconfig = Path(kubeconfig)
        self._api_client = config.new_client_from_config(config_file=str(self.kubeconfig))
        self._api = client.CoreV1Api(self._api_client)
        self._namespaces: list[str] = []

    def __getattr__(self, name: str) -> object:
        # fail_next, drop_next, forbid, count...: only the loopback server can do these.
        pytest.skip(f"needs the loopback Kubernetes server ({name}); running against a cluster")

    def reset_requests(self) -> None:
        """Nothing to forget: a real cluster's requests are not recorded."""

    def add_namespace(self, name: str) -> None:
        """Create a namespace for this session (deleted by close())."""
        from kubernetes.client.exceptions import ApiException

        try:
            self._api.create_namespace({"metadata": {"name": name}})
        except ApiException as exc:
            if exc.status != 409:
                raise
        self._namespaces.append(name)

    def get_object(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """The object as the API returns it, or None."""
        from kubernetes.client.exceptions import ApiException

        reader = getattr(self._api, f"read_namespaced_{_KINDS[kind]}")
        try:
            obj = reader(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        result: dict[str, Any] = self._api_client.sanitize_for_serialization(obj)
        return result

    def put_object(self, obj: dict[str, Any], *, manager: str = "kubectl-edit") -> dict[str, Any]:
        """Create or unconditionally replace, as someone else's hand edit would."""
        body = copy.deepcopy(dict(obj))
        meta = body.setdefault("metadata", {})
        meta.pop("resourceVersion", None)
        meta.pop("managedFields", None)
        namespace, name, kind = meta["namespace"], meta["name"], body["kind"]
        suffix = _KINDS[kind]
        if self.get_object(kind, namespace, name) is None:
            created = getattr(self._api, f"create_namespaced_{suffix}")(
                namespace, body, field_manager=manager
            )
            result: dict[str, Any] = self._api_client.sanitize_for_serialization(created)
            return result
        replaced = getattr(self._api, f"replace_namespaced_{suffix}")(
            name, namespace, body, field_manager=manager
        )
        result = self._api_client.sanitize_for_serialization(replaced)
        return result

    def delete_object(self, kind: str, namespace: str, name: str) -> bool:
        """Delete behind secconf's back; False when there was nothing to delete."""
        from kubernetes.client.exceptions import ApiException

        try:
            getattr(self._api, f"delete_namespaced_{_KINDS[kind]}")(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def close(self) -> None:
        """Delete the namespaces this session created."""
        from kubernetes.client.exceptions import ApiException

        for name in self._namespaces:
            with contextlib.suppress(ApiException):
                self._api.delete_namespace(name)
        self._api_client.close()

"""Delivering to Vault KV v2: one read per environment, one check-and-set write when changed."""

from __future__ import annotations

import json
import threading
from typing import Any

from secconf.core.errors import DeployError
from secconf.core.paths import fill
from secconf.core.retry import RetryPolicy
from secconf.core.vaultclient import (
    VaultConnection,
    call,
    is_cas_mismatch,
    kv_version,
    make_client,
    patch_custom_metadata,
    vault_connection,
)
from secconf.deploy.base import ApplyResult, Plan, diff_keys, replay_warning
from secconf.operations.prepare import Prepared
from secconf.render.base import delivered_values

MANAGED_BY = "managed-by"
SCHEMA_HASH = "schema-hash"
# The generation of the environment's file store when it was last delivered: a store put
# back from before a rotation is found by it even on a fresh CI machine.
STORE_GENERATION = "secconf-store-generation"


class VaultDeploy:
    """The `vault` deploy target: the environment's KV v2 secret at its mount and path."""

    name = "vault"

    def __init__(
        self,
        *,
        skip_tls_verify: bool = False,
        policy: RetryPolicy | None = None,
        on_retry: Any = None,
        notify: Any = None,
    ) -> None:
        self.skip_tls_verify = skip_tls_verify
        self.notify = notify
        self._announced: set[str] = set()
        self.policy = policy
        self.on_retry = on_retry
        # One hvac client (one session, kept-alive connections) per thread and Vault:
        # a client per environment would open a connection (and TLS) per environment.
        self._local = threading.local()

    def _client(self, connection: VaultConnection) -> Any:
        clients: dict[VaultConnection, Any] = self._local.__dict__.setdefault("clients", {})
        if connection not in clients:
            clients[connection] = make_client(connection)
        return clients[connection]

    def _call(self, connection: VaultConnection, what: str, action: Any) -> Any:
        return call(
            action,
            what=what,
            connection=connection,
            error=DeployError,
            policy=self.policy,
            on_retry=self.on_retry,
        )

    def plan(self, prepared: Prepared, *, prune: bool) -> Plan:
        """Read the live secret (data and custom metadata in one request) and compare."""
        config = prepared.config
        settings: Any = config.environment.targets["vault"]
        connection = vault_connection(
            settings.address, DeployError, skip_verify=self.skip_tls_verify
        )
        if connection.from_repo and self.notify and connection.address not in self._announced:
            self._announced.add(connection.address)
            self.notify(
                f"sending the Vault token to {connection.address}, the address in "
                f"{config.environment.file} (VAULT_ADDR is not set)"
            )
        client = self._client(connection)
        path = fill(settings.secret_path, env=config.environment.name)
        raw, version, custom = self._read(connection, client, settings.mount, path)
        # Compare as text; keep the live JSON values to write back what is left alone.
        live = {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}
        desired = {variable.name: text for variable, text in delivered_values(config)}
        changes, unmanaged = diff_keys(
            live, desired, set(config.schema.variables), prepared.fingerprint_key, prune=prune
        )
        plan = Plan(
            config.environment.name,
            self.name,
            f"{connection.address} {settings.mount}/{path}",
            changes,
            unmanaged,
            prune,
        )
        marks = {MANAGED_BY: "secconf", SCHEMA_HASH: config.schema.digest()}
        generation = prepared.store.generation
        if generation is not None:
            marks[STORE_GENERATION] = str(generation)
        plan.store_replay = replay_warning(
            prepared.store, _count((custom or {}).get(STORE_GENERATION)), "Vault"
        )
        if any((custom or {}).get(k) != v for k, v in marks.items()):
            plan.notes.append("mark the secret as managed by secconf (custom metadata)")
        payload: dict[str, Any] = dict(desired)
        payload.update({k: raw[k] for k in unmanaged})
        plan.state = {
            "connection": connection,
            "mount": settings.mount,
            "path": path,
            "version": version,
            "payload": payload,
            "marks": marks,
        }
        return plan

    def _read(
        self, connection: VaultConnection, client: Any, mount: str, path: str
    ) -> tuple[dict[str, Any], int, dict[str, str] | None]:
        import hvac.exceptions as hx

        def read() -> Any:
            try:
                return client.secrets.kv.v2.read_secret_version(
                    path=path, mount_point=mount, raise_on_deleted_version=False
                )
            except hx.InvalidPath as exc:
                if exc.errors:  # "no handler for route": a wrong mount, not a new secret
                    raise
                return None  # no secret yet (a soft-deleted one hvac returns as data)

        # Checked inside the call, so a malformed answer is reported as one.
        secret = self._call(connection, f"reading {mount}/{path}", lambda: kv_version(read()))
        if secret is None:
            return {}, 0, None
        return secret.values, secret.version, secret.custom_metadata

    def _landed(
        self, connection: VaultConnection, client: Any, mount: str, path: str, state: Any
    ) -> bool:
        """True when the secret now holds exactly the payload, one version on."""
        values, version, _ = self._read(connection, client, mount, path)
        return bool(version == state["version"] + 1 and values == state["payload"])

    def apply(self, plan: Plan) -> ApplyResult:
        """Write the secret with cas = the version the plan read; then the metadata marks."""
        if plan.in_sync:
            return ApplyResult(plan.environment, "unchanged")
        state = plan.state
        connection = state["connection"]
        client = self._client(connection)  # this thread's: sessions are not shared
        mount, path = state["mount"], state["path"]
        writes = 0
        if plan.pending:
            attempts = 0

            def write() -> Any:
                nonlocal attempts
                attempts += 1
                try:
                    return client.secrets.kv.v2.create_or_update_secret(
                        path=path, secret=state["payload"], cas=state["version"], mount_point=mount
                    )
                except Exception as exc:
                    if not is_cas_mismatch(exc):
                        raise
                    if attempts > 1 and self._landed(connection, client, mount, path, state):
                        return None  # an earlier attempt was written; its answer was lost
                    raise DeployError(
                        f"{mount}/{path} changed after it was read (someone wrote version "
                        f"{state['version'] + 1} or later); nothing was overwritten",
                        hint="run `secconf plan` again to see the new state, then apply",
                    ) from None

            self._call(connection, f"writing {mount}/{path}", write)
            writes += 1
        if plan.notes:
            self._call(
                connection,
                f"updating the metadata of {mount}/{path}",
                lambda: patch_custom_metadata(client, mount, path, state["marks"]),
            )
            writes += 1
        return ApplyResult(plan.environment, "applied", writes)


def _count(text: str | None) -> int | None:
    """A generation number from custom metadata (text), or None if it is not one."""
    if text is None or not text.isdigit() or len(text) > 18:
        return None
    return int(text)

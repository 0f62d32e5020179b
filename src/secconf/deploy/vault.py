"""Delivering to Vault KV v2: one read per environment, one check-and-set write when changed.

What is written is the JSON object `render --target vault` wrote for the environment,
as it wrote it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from secconf.core.errors import DeployError
from secconf.core.paths import fill
from secconf.core.vaultclient import (
    VaultConnection,
    call,
    is_cas_mismatch,
    make_client,
    patch_custom_metadata,
    read_kv,
    vault_connection,
)
from secconf.deploy.base import (
    ApplyResult,
    Delivery,
    DeployOptions,
    Plan,
    PlanState,
    diff_keys,
    replay_warning,
)

if TYPE_CHECKING:
    from secconf.store.base import SecretStore

MANAGED_BY = "managed-by"
SCHEMA_HASH = "schema-hash"
# The generation of the environment's file store when it was last delivered: a store put
# back from before a rotation is found by it even on a fresh CI machine.
STORE_GENERATION = "secconf-store-generation"
_TEMPLATE = "templates/vault.json.j2"
_TRUE = ("1", "true", "yes", "on")

# Makes the hvac client of a connection; tests may hand one of their own.
ClientFactory = Callable[[VaultConnection], Any]


@runtime_checkable
class VaultTargetSettings(Protocol):
    """What delivery reads of an environment's `targets.vault` settings."""

    @property
    def address(self) -> str | None: ...

    @property
    def mount(self) -> str: ...

    @property
    def secret_path(self) -> str: ...


@dataclass
class VaultPlanState(PlanState):
    """Where the plan read the secret, the version it read, and what apply writes."""

    connection: VaultConnection
    mount: str
    path: str
    version: int  # the check-and-set version of the write
    payload: dict[str, Any] = field(repr=False)  # values: never shown
    marks: dict[str, str]  # custom metadata to set
    live_marks: dict[str, str]  # the custom metadata as read
    store: SecretStore = field(repr=False)  # its generation is marked when apply runs


class VaultDeploy:
    """The `vault` deploy target: the environment's KV v2 secret at its mount and path."""

    name = "vault"
    forkable = True  # its clients are made per thread, when first needed

    def __init__(
        self, options: DeployOptions | None = None, *, client_factory: ClientFactory = make_client
    ) -> None:
        self.options = options or DeployOptions()
        self.client_factory = client_factory
        self._announced: set[str] = set()
        self._lock = threading.Lock()
        # One hvac client (one session, kept-alive connections) per thread and Vault:
        # a client per environment would open a connection (and TLS) per environment.
        self._local = threading.local()
        self._connections: dict[str | None, VaultConnection] = {}
        self._warn_unverified()

    def _warn_unverified(self) -> None:
        from_env = os.environ.get("VAULT_SKIP_VERIFY", "").lower() in _TRUE
        if not (self.options.skip_tls_verify or from_env):
            return
        import warnings

        import urllib3

        why = "--tls-skip-verify" if self.options.skip_tls_verify else "VAULT_SKIP_VERIFY"
        self._notify(f"warning: TLS certificates of Vault are NOT verified ({why})")
        # Said once above; urllib3 would repeat it for every request.
        warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)

    def forked(self, notify: Callable[[str], None]) -> None:
        """In a forked worker: new clients (none shared with the parent), new locks (one
        held by a thread of the parent at the fork stays held), notices to `notify`, and
        retries unannounced (a worker prints nothing; an environment whose retries ran
        out is planned again by the parent, which says so)."""
        self._local = threading.local()
        self._lock = threading.Lock()
        self.options = dataclasses.replace(self.options, notify=notify, on_retry=None)

    def _notify(self, message: str) -> None:
        if self.options.notify is not None:
            self.options.notify(message)

    def _connection(self, address: str | None) -> VaultConnection:
        """The connection settings for an environment's `address`, from the process
        environment once per address (every environment of a run shares them)."""
        connection = self._connections.get(address)
        if connection is None:  # a refused address raises every time, never cached
            connection = vault_connection(
                address, DeployError, skip_verify=self.options.skip_tls_verify
            )
            self._connections[address] = connection
        return connection

    def _client(self, connection: VaultConnection) -> Any:
        clients: dict[VaultConnection, Any] = self._local.__dict__.setdefault("clients", {})
        if connection not in clients:
            clients[connection] = self.client_factory(connection)
        return clients[connection]

    def _call(self, connection: VaultConnection, what: str, action: Any) -> Any:
        return call(
            action,
            what=what,
            connection=connection,
            error=DeployError,
            policy=self.options.policy,
            on_retry=self.options.on_retry,
        )

    def plan(self, delivery: Delivery, *, prune: bool) -> Plan:
        """Read the live secret (data and custom metadata in one request) and compare it
        with the JSON object render wrote."""
        config = delivery.config
        settings = _settings(delivery)
        connection = self._connection(settings.address)
        if connection.from_repo:
            self._announce(connection, str(config.environment.file))
        client = self._client(connection)
        path = fill(settings.secret_path, env=config.environment.name)
        raw, version, custom = self._read(connection, client, settings.mount, path)
        # Compare as text; keep the live JSON values to write back what is left alone.
        live = {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}
        desired = rendered_payload(delivery.content)
        changes, unmanaged = diff_keys(
            live, desired, set(config.schema.variables), delivery.fingerprint_key, prune=prune
        )
        plan = Plan(
            config.environment.name,
            self.name,
            f"{connection.address} {settings.mount}/{path}",
            changes,
            unmanaged,
            prune,
        )
        marks = _marks(config.schema.digest(), delivery.store)
        live_marks = dict(custom or {})
        plan.store_replay = replay_warning(
            delivery.store, _count(live_marks.get(STORE_GENERATION)), "Vault"
        )
        if any(live_marks.get(k) != v for k, v in marks.items()):
            plan.notes.append("mark the secret as managed by secconf (custom metadata)")
        payload: dict[str, Any] = dict(desired)
        payload.update({k: raw[k] for k in unmanaged})
        plan.state = VaultPlanState(
            connection, settings.mount, path, version, payload, marks, live_marks, delivery.store
        )
        return plan

    def _announce(self, connection: VaultConnection, file: str) -> None:
        with self._lock:
            if connection.address in self._announced:
                return
            self._announced.add(connection.address)
        self._notify(
            f"sending the Vault token to {connection.address}, the address in "
            f"{file} (VAULT_ADDR is not set)"
        )

    def _read(
        self, connection: VaultConnection, client: Any, mount: str, path: str
    ) -> tuple[dict[str, Any], int, dict[str, str] | None]:
        """The live values, the version a CAS write names (0: none), the custom metadata."""
        secret = self._call(
            connection, f"reading {mount}/{path}", lambda: read_kv(client, mount, path)
        )
        if secret is None:
            return {}, 0, None
        return secret.values, secret.version, secret.custom_metadata

    def _landed(self, client: Any, state: VaultPlanState) -> bool:
        """True when the secret now holds exactly the payload, one version on."""
        values, version, _ = self._read(state.connection, client, state.mount, state.path)
        return bool(version == state.version + 1 and values == state.payload)

    def apply(self, plan: Plan) -> ApplyResult:
        """Write the secret with cas = the version the plan read; then the metadata marks."""
        if plan.in_sync:
            return ApplyResult(plan.environment, "unchanged")
        state = plan.state
        if not isinstance(state, VaultPlanState):
            raise TypeError("not a plan of the vault target")
        connection, mount, path = state.connection, state.mount, state.path
        client = self._client(connection)  # this thread's: sessions are not shared
        writes = 0
        if plan.pending:
            attempts = 0

            def write() -> Any:
                nonlocal attempts
                attempts += 1
                try:
                    return client.secrets.kv.v2.create_or_update_secret(
                        path=path, secret=state.payload, cas=state.version, mount_point=mount
                    )
                except Exception as exc:
                    if not is_cas_mismatch(exc):
                        raise
                    if attempts > 1 and self._landed(client, state):
                        return None  # an earlier attempt was written; its answer was lost
                    raise DeployError(
                        f"{mount}/{path} changed after it was read (someone wrote version "
                        f"{state.version + 1} or later); nothing was overwritten",
                        hint="run `secconf plan` again to see the new state, then apply",
                    ) from None

            self._call(connection, f"writing {mount}/{path}", write)
            writes += 1
        # Storing the keys generated for this plan wrote the store: mark its generation now.
        marks = _marks(state.marks[SCHEMA_HASH], state.store)
        if plan.notes or any(state.live_marks.get(k) != v for k, v in marks.items()):
            self._call(
                connection,
                f"updating the metadata of {mount}/{path}",
                lambda: patch_custom_metadata(client, mount, path, marks),
            )
            writes += 1
        return ApplyResult(plan.environment, "applied", writes)


def _settings(delivery: Delivery) -> VaultTargetSettings:
    settings = delivery.settings
    if not isinstance(settings, VaultTargetSettings):
        raise TypeError(f"not vault target settings: {type(settings).__name__}")
    return settings


def _marks(schema_digest: str, store: SecretStore) -> dict[str, str]:
    """The custom metadata that marks a secret as secconf's, and the store's generation."""
    marks = {MANAGED_BY: "secconf", SCHEMA_HASH: schema_digest}
    if store.generation is not None:
        marks[STORE_GENERATION] = str(store.generation)
    return marks


def rendered_payload(content: bytes) -> dict[str, str]:
    """The JSON object render wrote (render checked it is the intended one)."""
    try:
        payload = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        payload = None
    if not isinstance(payload, dict) or not all(isinstance(v, str) for v in payload.values()):
        raise DeployError(
            "the rendered Vault payload is not a JSON object of text values", file=_TEMPLATE
        )
    return {str(k): v for k, v in payload.items()}


def _count(text: str | None) -> int | None:
    """A generation number from custom metadata (text), or None if it is not one."""
    if text is None or not text.isdigit() or len(text) > 18:
        return None
    return int(text)

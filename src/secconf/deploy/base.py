"""Plans: what delivering an environment would change, key by key, by fingerprint only."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from secconf.core.secret import fingerprint

if TYPE_CHECKING:
    from secconf.core.retry import RetryPolicy
    from secconf.environment.resolve import Config
    from secconf.environment.settings import SettingsModel
    from secconf.store.base import SecretStore

Action = Literal["add", "change", "remove", "unchanged"]


@dataclass(frozen=True)
class KeyChange:
    """One key of one delivered object: what happens to it, and fingerprints of its values."""

    key: str
    action: Action
    old: str | None = None  # fingerprint of the live value
    new: str | None = None  # fingerprint of the intended value
    where: str = ""  # the object it belongs to, when a target has several (Secret/ConfigMap)

    def to_dict(self) -> dict[str, str | None]:
        """The JSON form."""
        return {
            "key": self.key,
            "action": self.action,
            "old": self.old,
            "new": self.new,
            "object": self.where or None,
        }


@dataclass(frozen=True)
class Delivery:
    """One environment ready to deliver to one target: exactly the bytes `render` wrote
    for it from the repository's templates (already parsed and checked by render), the
    target's settings, and the store its keys came from."""

    config: Config
    settings: SettingsModel  # `targets.NAME` of the environment: the target's own model
    content: bytes = field(repr=False)  # holds values: never shown
    store: SecretStore = field(repr=False)
    fingerprint_key: bytes = field(repr=False)


class PlanState:
    """What apply needs of a plan: each target has its own dataclass of this."""


@dataclass(frozen=True)
class DeployOptions:
    """How plan, apply and check reach the live systems; each target reads its part.

    `policy`: the retries on transient faults (None: the shipped RetryPolicy);
    `on_retry` is told of each; `notify` gets notices for the person at the terminal.
    """

    context: str | None = None  # a Kubernetes context (else the kubeconfig's, or the file's)
    skip_tls_verify: bool = False  # Vault's TLS certificate
    policy: RetryPolicy | None = None
    on_retry: Callable[[BaseException, int, float], None] | None = None
    notify: Callable[[str], None] | None = None


@dataclass
class Plan:
    """The changes one environment needs on one target; `state` carries what apply needs."""

    environment: str
    target: str
    location: str
    changes: list[KeyChange] = field(default_factory=list)
    unmanaged: list[str] = field(default_factory=list)  # live keys the schema does not know
    prune: bool = False
    notes: list[str] = field(default_factory=list)  # e.g. metadata to update, nothing secret
    # Set when the store is older than one seen before: apply refuses unless told.
    store_replay: str | None = None
    state: PlanState | None = field(default=None, repr=False)  # the values to write: never shown

    @property
    def pending(self) -> list[KeyChange]:
        """The changes that are not `unchanged`."""
        return [c for c in self.changes if c.action != "unchanged"]

    @property
    def in_sync(self) -> bool:
        """True when apply would write nothing."""
        return not self.pending and not self.notes

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "environment": self.environment,
            "target": self.target,
            "location": self.location,
            "in_sync": self.in_sync,
            "changes": [c.to_dict() for c in self.changes],
            "unmanaged": self.unmanaged,
            "notes": self.notes,
            "store_replay": self.store_replay,
        }


@dataclass(frozen=True)
class ApplyResult:
    """What apply did for one environment."""

    environment: str
    status: Literal["applied", "unchanged", "failed"]
    writes: int = 0
    detail: str = ""


def replay_warning(
    store: SecretStore, delivered: int | None = None, target: str = "the target"
) -> str | None:
    """Why the environment's file store looks put back from before a rotation, or None:
    its generation is lower than the one last delivered (`delivered`, from the target's
    metadata) or than one seen on this machine."""
    generation = store.generation
    if generation is not None and delivered is not None and generation < delivered:
        return (
            f"the store {store.location} is at generation {generation}, lower than generation "
            f"{delivered} last delivered to {target}: it may be a copy put back from before a "
            "rotation (a replayed store)"
        )
    replay = store.replay()
    if replay is not None:
        return (
            f"the store {replay.location} is at generation {replay.generation}, lower than "
            f"generation {replay.highest} seen {replay.seen_in}: it may be a copy put back "
            "from before a rotation (a replayed store)"
        )
    return None


def diff_keys(
    live: Mapping[str, str],
    desired: Mapping[str, str],
    managed: set[str],
    key: bytes,
    *,
    prune: bool,
    where: str = "",
) -> tuple[list[KeyChange], list[str]]:
    """Per-key actions from live to desired values, and the live keys left unmanaged.

    A live key that is a schema variable but no longer delivered is removed; a live key
    the schema does not know is left alone (reported) unless `prune`.
    """
    changes: list[KeyChange] = []
    for name, value in desired.items():
        new = fingerprint(value, key)
        if name not in live:
            changes.append(KeyChange(name, "add", None, new, where))
        elif live[name] != value:
            changes.append(KeyChange(name, "change", fingerprint(live[name], key), new, where))
        else:
            changes.append(KeyChange(name, "unchanged", new, new, where))
    unmanaged = []
    for name, value in live.items():
        if name in desired:
            continue
        if name in managed or prune:
            changes.append(KeyChange(name, "remove", fingerprint(value, key), None, where))
        else:
            unmanaged.append(name)
    return changes, unmanaged


class DeployTarget(Protocol):
    """A live system secconf delivers to (Vault KV v2, Kubernetes). `name` is the render
    target whose output it delivers; the render target names this class as its `deploy`
    adapter, and plan/apply/check build it with `cls(options)`."""

    name: str

    def plan(self, delivery: Delivery, *, prune: bool) -> Plan:
        """Read what is live and compare it with what render wrote for the environment."""
        ...

    def apply(self, plan: Plan) -> ApplyResult:
        """Perform exactly the writes of `plan` (none when it is in sync)."""
        ...


class ForkableTarget(DeployTarget, Protocol):
    """A target that may plan in forked worker processes (secconf.operations.deploy):
    one that says so with `forkable = True` and has `forked`. Optional: an adapter
    without them plans in one process."""

    forkable: bool

    def forked(self, notify: Callable[[str], None]) -> None:
        """In a forked worker process: forget the connections of the process it was forked
        from (a kept-alive connection must not be shared), and tell `notify` the notices."""
        ...

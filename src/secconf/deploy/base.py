"""Plans: what delivering an environment would change, key by key, by fingerprint only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from secconf.core.secret import fingerprint

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
    state: Any = field(default=None, repr=False)  # holds the values to write: never shown

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
        }


@dataclass(frozen=True)
class ApplyResult:
    """What apply did for one environment."""

    environment: str
    status: Literal["applied", "unchanged", "failed"]
    writes: int = 0
    detail: str = ""


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
    """A live system secconf delivers to (Vault KV v2, Kubernetes)."""

    name: str

    def plan(self, prepared: Any, *, prune: bool) -> Plan:
        """Read what is live and compare it with what secconf would deliver."""
        ...

    def apply(self, plan: Plan) -> ApplyResult:
        """Perform exactly the writes of `plan` (none when it is in sync)."""
        ...

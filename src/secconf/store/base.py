"""The secret store interface: where generated keys are kept so they are generated once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from secconf.core.secret import Secret

# Makes fresh values for a generation group, called only when they are needed.
Maker = Callable[[], dict[str, str]]

MAX_PREVIOUS = 10  # versions kept after rotations (Vault KV v2 keeps 10 by default too)


def utc_now() -> str:
    """The current time as an RFC 3339 UTC timestamp with second precision."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Version:
    """One version of one stored value."""

    value: Secret
    version: int
    created_at: str
    retired_at: str | None = None


@dataclass(frozen=True)
class Entry:
    """A stored variable: its current version and the versions it replaced."""

    name: str
    current: Version
    previous: tuple[Version, ...] = field(default_factory=tuple)


class SecretStore(Protocol):
    """What every backend provides. Values go in and out as `Secret`s only."""

    backend: str
    location: str  # for messages: a file path or a Vault mount/path

    def exists(self) -> bool:
        """True when the store holds anything at all."""
        ...

    def read(self) -> dict[str, Entry]:
        """Every entry, by variable name."""
        ...

    def create(
        self, group: str, names: Sequence[str], make: Maker
    ) -> tuple[dict[str, Entry], bool]:
        """Store `make()` for the group's `names` unless stored; True when this call created them.

        Generate-once: when two processes race, one creates and both return its values.
        """
        ...

    def rotate(self, group: str, names: Sequence[str], make: Maker) -> dict[str, Entry]:
        """Replace the values of `names` together, keeping the old ones as previous."""
        ...

    def rollback(self, group: str, names: Sequence[str]) -> dict[str, Entry]:
        """Bring back the values `names` had before their last rotation, as a new version."""
        ...

"""The auditors' inventory: every sensitive variable, where it comes from and where it
goes, identified by fingerprint, never by value."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from secconf.core.secret import Secret, fingerprint
from secconf.environment.resolve import Config, Resolved


class Destination(Protocol):
    """Where a target delivers a variable (declared by the target): the JSON fields and
    one line for tables."""

    @property
    def text(self) -> str:
        """One line for tables."""
        ...

    def to_dict(self) -> dict[str, str]:
        """`{"target": NAME, ...}`."""
        ...


@dataclass(frozen=True)
class SensitiveItem:
    """One sensitive variable of one environment, as the inventory lists it."""

    environment: str
    name: str
    section: str
    description: str
    is_set: bool
    provenance: dict[str, Any]
    destinations: list[dict[str, str]]
    fingerprint: str | None
    age_days: int | None
    rotate_after_days: int | None
    missing: bool = False
    destination_texts: tuple[str, ...] = ()  # one line per destination, for tables
    # Removed age recipients that could decrypt the current version (each: recipient,
    # group, removed_at), and what to do about it.
    exposed_to: tuple[dict[str, str], ...] = ()
    exposure_hint: str | None = None

    @property
    def plaintext(self) -> bool:
        """Written as a literal in an environment file (a finding in itself)."""
        return bool(self.provenance["kind"] == "literal")

    @property
    def overdue(self) -> bool:
        """Older than the rotation age the schema declares for it."""
        return (
            self.age_days is not None
            and self.rotate_after_days is not None
            and self.age_days > self.rotate_after_days
        )

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON form (documented in the README)."""
        return {
            "name": self.name,
            "section": self.section,
            "description": self.description,
            "set": self.is_set,
            "provenance": self.provenance,
            "destinations": self.destinations,
            "fingerprint": self.fingerprint,
            "age_days": self.age_days,
            "rotate_after_days": self.rotate_after_days,
            "missing": self.missing,
            "plaintext": self.plaintext,
            "overdue": self.overdue,
            "exposed_to": list(self.exposed_to),
            **({"hint": self.exposure_hint} if self.exposed_to else {}),
        }


@dataclass
class Inventory:
    """Sensitive variables per environment, and the counts an auditor asks for first."""

    environments: dict[str, list[SensitiveItem]] = field(default_factory=dict)
    # Who can decrypt each environment's store (see `secconf.operations.audit.access`).
    access: dict[str, dict[str, Any]] = field(default_factory=dict)

    def items(self) -> list[SensitiveItem]:
        """Every item, environment by environment."""
        return [item for items in self.environments.values() for item in items]

    def summary(self) -> dict[str, int]:
        """sensitive, missing (not set), plaintext and overdue counts."""
        items = self.items()
        return {
            "sensitive": len(items),
            "missing": sum(i.missing for i in items),
            "plaintext": sum(i.plaintext for i in items),
            "overdue": sum(i.overdue for i in items),
            "exposed": sum(bool(i.exposed_to) for i in items),
        }

    def to_dict(self) -> dict[str, Any]:
        """`{"environments": [{"name", "variables": [...]}], "summary": {...}}`."""
        return {
            "environments": [
                {
                    "name": name,
                    **({"access": self.access[name]} if name in self.access else {}),
                    "variables": [i.to_dict() for i in items],
                }
                for name, items in self.environments.items()
            ],
            "summary": self.summary(),
        }


def provenance_text(provenance: Mapping[str, Any], *, located: bool = True) -> str:
    """Where a value comes from, in words, from an item's `provenance` (its JSON form);
    `located`: with the file and line that set it (a plaintext literal always has them)."""
    kind = str(provenance.get("kind", ""))
    at = f" at {provenance['file']}:{provenance['line']}" if provenance.get("file") else ""
    where = at if located else ""
    if kind == "from_env":
        return f"from_env {provenance.get('env_var')}{where}"
    if kind in ("generated", "stored"):
        if provenance.get("store_read") is False:
            return f"{kind}{where} (store not read: --offline)"
        if provenance.get("version") is None:
            return f"{kind}{where} (not in the store)"
        return (
            f"{kind}{where} ({provenance.get('backend')} v{provenance.get('version')}, "
            f"created {provenance.get('created_at')})"
        )
    if kind == "literal":
        return f"plaintext literal{at}"
    return "schema default"


def _provenance(resolved: Resolved) -> dict[str, Any]:
    p = resolved.provenance
    out: dict[str, Any] = {"kind": p.kind}
    if p.at is not None and p.kind in ("literal", "from_env", "generated", "stored"):
        out["file"] = p.at.file
        out["line"] = p.at.line
    if p.kind == "from_env":
        out["env_var"] = p.env_var
    if p.kind in ("generated", "stored"):
        out.update(backend=p.backend, version=p.version, created_at=p.created_at)
    return out


def _age_days(created_at: str | None, now: datetime) -> int | None:
    if not created_at:
        return None
    try:
        created = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    return max(0, (now - created).days)


def sensitive_items(
    config: Config,
    fingerprint_key: bytes | None,
    now: datetime | None = None,
    *,
    destinations: Callable[[str], Sequence[Destination]],
    store_read: bool = True,
) -> list[SensitiveItem]:
    """The inventory rows of one resolved environment. `destinations(name)`: where each
    target delivers a variable (the targets declare it). `store_read=False` (--offline):
    values from the store are unknown, not missing."""
    moment = now or datetime.now(UTC)
    items = []
    for name, resolved in config.values.items():
        variable = resolved.variable
        if not variable.sensitive:
            continue
        value = config.value(name)
        is_set = value is not None and not (
            value.is_empty() if isinstance(value, Secret) else not value
        )
        kind = resolved.provenance.kind
        # Missing: a value is expected and none is there (not an empty documented default).
        from_store = kind in ("generated", "stored")
        missing = not is_set and (
            kind == "from_env"
            or (from_store and store_read)
            or (kind == "default" and variable.auto_generated)
        )
        provenance = _provenance(resolved)
        places = destinations(name)
        if from_store and not store_read:
            provenance["store_read"] = False
        items.append(
            SensitiveItem(
                environment=config.environment.name,
                name=name,
                section=variable.section,
                description=variable.description,
                is_set=is_set,
                provenance=provenance,
                destinations=[d.to_dict() for d in places],
                destination_texts=tuple(d.text for d in places),
                fingerprint=fingerprint(value, fingerprint_key) if is_set and value else None,
                age_days=_age_days(resolved.provenance.created_at, moment),
                rotate_after_days=variable.rotate_after_days,
                missing=missing,
            )
        )
    return items

"""Generated keys over their life: ensure (generate once), status, rotate, roll back."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial

from secconf.core.errors import InputError
from secconf.core.secret import fingerprint
from secconf.environment.loader import Environment
from secconf.environment.resolve import generated_names, resolve
from secconf.keys.generate import generate_group
from secconf.schema.models import Schema, Variable
from secconf.store.base import Entry, SecretStore


@dataclass(frozen=True)
class KeyReport:
    """What happened to (or is known of) one generated variable. Never its value."""

    environment: str
    variable: str
    status: str  # created | kept | rotated | rolled-back | stored | missing
    backend: str
    location: str
    fingerprint: str | None = None
    version: int | None = None
    created_at: str | None = None
    previous_versions: int = 0

    def to_dict(self) -> dict[str, object]:
        """The JSON form."""
        return {
            "environment": self.environment,
            "variable": self.variable,
            "status": self.status,
            "backend": self.backend,
            "location": self.location,
            "fingerprint": self.fingerprint,
            "version": self.version,
            "created_at": self.created_at,
            "previous_versions": self.previous_versions,
        }


def generated_groups(
    schema: Schema, environment: Environment
) -> list[tuple[str, list[Variable]]]:
    """The generation groups the environment asks for, each with its members in order."""
    names = generated_names(schema, environment)
    groups: dict[str, list[Variable]] = {}
    for name in names:
        variable = schema.variables[name]
        if variable.group is not None:
            groups.setdefault(variable.group, []).append(variable)
    return list(groups.items())


def _algorithm(schema: Schema, environment: Environment, members: list[Variable]) -> str | None:
    gen = members[0].generator
    if gen is None or gen.algorithm_variable is None:
        return None
    config = resolve(schema, environment, stored={}, environ=os.environ)
    value = config.value(gen.algorithm_variable)
    return value if isinstance(value, str) else None  # an algorithm name is not a secret


def _report(
    environment: Environment, store: SecretStore, entry: Entry, status: str, key: bytes | None
) -> KeyReport:
    return KeyReport(
        environment=environment.name,
        variable=entry.name,
        status=status,
        backend=store.backend,
        location=store.location,
        fingerprint=fingerprint(entry.current.value, key),
        version=entry.current.version,
        created_at=entry.current.created_at,
        previous_versions=len(entry.previous),
    )


def _fingerprint_key(entries: Mapping[str, Entry]) -> bytes | None:
    from secconf.store import environment_keys

    keys = environment_keys(entries)
    return keys.fingerprint if keys else None


def ensure_keys(schema: Schema, environment: Environment, store: SecretStore) -> list[KeyReport]:
    """Generate and store whatever `generate: true` asks for and is not stored yet,
    and the environment's random key (which keys fingerprints and checksums)."""
    from secconf.store import ensure_environment_key

    key = ensure_environment_key(store).fingerprint
    reports: list[KeyReport] = []
    for group, members in generated_groups(schema, environment):
        algorithm = _algorithm(schema, environment, members)
        names = [m.name for m in members]
        entries, created = store.create(
            group, names, partial(generate_group, members, algorithm=algorithm)
        )
        status = "created" if created else "kept"
        reports += [_report(environment, store, entries[n], status, key) for n in names]
    return reports


@dataclass(frozen=True)
class PendingKeys:
    """Values generated in memory for one group, not stored yet. Never shown."""

    group: str
    names: tuple[str, ...]
    values: dict[str, str] = field(repr=False)


def provisional_keys(
    schema: Schema, environment: Environment, entries: Mapping[str, Entry]
) -> list[PendingKeys]:
    """Fresh values, in memory only, for what `ensure_keys` would create: the
    environment's random key and every generated group not stored yet. Storing them
    is left to the caller, once everything that uses them has succeeded."""
    from secconf.store import ENVIRONMENT_KEY, new_environment_key

    out = []
    if ENVIRONMENT_KEY not in entries:
        out.append(PendingKeys(ENVIRONMENT_KEY, (ENVIRONMENT_KEY,), new_environment_key()))
    for group, members in generated_groups(schema, environment):
        names = tuple(m.name for m in members)
        if any(n in entries for n in names):
            continue  # stored (a half-stored pair is refused when it is stored)
        values = generate_group(members, algorithm=_algorithm(schema, environment, members))
        out.append(PendingKeys(group, names, values))
    return out


def key_status(schema: Schema, environment: Environment, store: SecretStore) -> list[KeyReport]:
    """Stored or missing, version, created_at and fingerprint of each generated variable."""
    groups = generated_groups(schema, environment)
    if not groups:
        return []
    entries = store.read()
    key = _fingerprint_key(entries)
    reports = []
    for _, members in groups:
        for member in members:
            entry = entries.get(member.name)
            if entry is None:
                reports.append(
                    KeyReport(
                        environment.name, member.name, "missing", store.backend, store.location
                    )
                )
            else:
                reports.append(_report(environment, store, entry, "stored", key))
    return reports


def rotation_group(
    schema: Schema, environment: Environment, variable: str
) -> tuple[str, list[Variable]]:
    """The group a rotation of `variable` replaces (both halves of a key pair)."""
    if variable not in schema.variables:
        raise InputError(f"{variable} is not a variable of the schema")
    for group, members in generated_groups(schema, environment):
        if any(m.name == variable for m in members):
            return group, members
    raise InputError(
        f"{variable} is not generated in environment {environment.name}",
        hint="only values with `{generate: true}` are kept by secconf and can be rotated",
    )


def rotation_impact(members: list[Variable]) -> str:
    """What rotating these variables breaks, from the schema's `rotation_impact`."""
    impacts = list(dict.fromkeys(m.rotation_impact for m in members if m.rotation_impact))
    return "; ".join(impacts) or "every consumer of the old value must be updated"


def rotate_key(
    schema: Schema, environment: Environment, store: SecretStore, variable: str
) -> list[KeyReport]:
    """Generate new values for the variable's group; the old ones stay as previous."""
    group, members = rotation_group(schema, environment, variable)
    algorithm = _algorithm(schema, environment, members)
    names = [m.name for m in members]
    entries = store.rotate(group, names, lambda: generate_group(members, algorithm=algorithm))
    key = _fingerprint_key(store.read())
    return [_report(environment, store, entries[n], "rotated", key) for n in names]


def rollback_key(
    schema: Schema, environment: Environment, store: SecretStore, variable: str
) -> list[KeyReport]:
    """Restore the values the variable's group had before its last rotation."""
    group, members = rotation_group(schema, environment, variable)
    names = [m.name for m in members]
    entries = store.rollback(group, names)
    key = _fingerprint_key(store.read())
    return [_report(environment, store, entries[n], "rolled-back", key) for n in names]

"""Getting an environment ready to deliver: keys generated, values resolved and valid.

Render, plan, apply and audit all start here, so they all see the same values. Keys
that are missing (outside production) are generated in memory by `prepare` and stored
by `commit` only when the delivery that needs them is about to be written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from secconf.core.errors import FindingsError, RenderError
from secconf.core.secret import Secret
from secconf.environment.loader import Environment
from secconf.environment.resolve import Config, StoredValue
from secconf.operations.project import Project
from secconf.store.base import Entry, Version, utc_now

if TYPE_CHECKING:
    from secconf.keys.lifecycle import PendingKeys
    from secconf.store import EnvironmentKeys
    from secconf.store.base import SecretStore, StoreReplay


@dataclass
class Prepared:
    """A resolved, valid environment and the keys its artifacts need.

    `pending`: keys generated in memory that the store does not hold yet; the config
    already uses them. They are stored by `commit`, only once everything that uses
    them has succeeded, so a refused or failed delivery generates nothing.
    """

    config: Config
    store: SecretStore = field(repr=False)
    keys: EnvironmentKeys = field(repr=False)
    pending: list[PendingKeys] = field(default_factory=list, repr=False)
    environ: Mapping[str, str] | None = field(default=None, repr=False)
    check: bool = True
    project: Project | None = field(default=None, repr=False)  # for `commit`

    @property
    def checksum_key(self) -> bytes:
        """The key of the checksum annotation."""
        return self.keys.checksum

    @property
    def fingerprint_key(self) -> bytes:
        """The key of the fingerprints shown for this environment."""
        return self.keys.fingerprint


def prepare(
    project: Project,
    environment: Environment,
    *,
    notify: Callable[[str], None],
    environ: Mapping[str, str] | None = None,
    check: bool = True,
    generate: bool = True,
) -> Prepared:
    """Open the store, generate in memory what is missing (never in production; never
    unless `generate`), resolve, validate. Nothing is written: see `commit`."""
    from secconf.environment.resolve import generated_names
    from secconf.keys.lifecycle import provisional_keys
    from secconf.store import ENVIRONMENT_KEY

    store = project.open_store(environment, notify=notify, environ=environ)
    entries = store.read()
    missing = [n for n in generated_names(project.schema, environment) if n not in entries]
    if ENVIRONMENT_KEY not in entries:
        missing.append("its random key")
    if missing and (environment.production or not generate):
        verb = "is" if len(missing) == 1 else "are"
        where = (
            f"{environment.name} is a production environment and"
            if environment.production
            else f"{environment.name}:"
        )
        raise RenderError(
            f"{where} {', '.join(missing)} {verb} not stored yet",
            hint=f"keys are created on purpose: run `secconf keys ensure --env "
            f"{environment.name}` first",
        )
    pending = provisional_keys(project.schema, environment, entries) if missing else []
    return _resolved(project, environment, store, entries, pending, environ, check)


def commit(prepared: Prepared) -> tuple[Prepared, bool]:
    """Store the keys `prepare` generated in memory. Returns the environment as it now
    is, and whether its values changed: True when another run stored its own keys
    first (generate-once: the stored ones win), so what was built from `prepared` must
    be built again."""
    changed = False
    for keys in prepared.pending:
        entries, created = prepared.store.create(
            keys.group, list(keys.names), partial(dict, keys.values)
        )
        if not created and any(
            entries[n].current.value.reveal() != keys.values[n] for n in keys.names
        ):
            changed = True
    if not prepared.pending:
        return prepared, False
    if not changed:
        prepared.pending = []
        return prepared, False
    assert prepared.project is not None, "made by prepare()"
    entries = prepared.store.read()
    again = _resolved(
        prepared.project,
        prepared.config.environment,
        prepared.store,
        entries,
        [],
        prepared.environ,
        prepared.check,
    )
    return again, True


def _resolved(
    project: Project,
    environment: Environment,
    store: SecretStore,
    entries: Mapping[str, Entry],
    pending: list[PendingKeys],
    environ: Mapping[str, str] | None,
    check: bool,
) -> Prepared:
    from secconf.store import environment_keys, stored_values

    every = dict(entries)
    for keys in pending:
        now = utc_now()
        for name in keys.names:
            every[name] = Entry(name, Version(Secret(keys.values[name]), 1, now))
    config = project.resolve(environment, stored=stored_values(every, store), environ=environ)
    _check(config, check)
    derived = environment_keys(every)
    assert derived is not None  # stored, or pending above
    return Prepared(config, store, derived, pending, environ, check, project)


def _check(config: Config, check: bool) -> None:
    """Refuse an environment whose values cannot be delivered as they are."""
    from secconf.validate import validate

    _require_from_env(config)
    if not check:
        return
    errors = [f for f in validate(config) if f.severity == "error"]
    if errors:
        name = config.environment.name
        raise FindingsError(
            f"{name} has {len(errors)} validation error(s); nothing was written",
            list(errors),
            hint=f"run `secconf validate --env {name}` and fix them",
        )


def _require_from_env(config: Config) -> None:
    unset = [
        (name, r.provenance.env_var)
        for name, r in config.values.items()
        if r.provenance.kind == "from_env" and r.value is None
    ]
    if unset:
        listed = ", ".join(f"{name} (${var})" for name, var in unset)
        raise RenderError(
            f"{config.environment.name}: values to read from the environment are not set: {listed}",
            hint="export them (CI injects them) before delivering",
        )


@dataclass(frozen=True)
class StoredState:
    """What an environment's store holds, read without creating anything: the stored
    values (None: nothing stored), the fingerprint key, and a replayed store found."""

    values: dict[str, StoredValue] | None = field(default=None, repr=False)
    fingerprint_key: bytes | None = field(default=None, repr=False)
    replay: StoreReplay | None = None


def read_stored(project: Project, environment: Environment) -> StoredState:
    """The stored values of an environment, without creating anything: an empty state
    when it stores nothing, or nothing yet (then no key or token is needed)."""
    from secconf.environment.resolve import stored_names
    from secconf.store import environment_keys, may_hold_values, stored_values

    if not stored_names(project.schema, environment):
        return StoredState()
    if not may_hold_values(project.store_context(environment)):
        return StoredState()  # nothing stored yet: no need to load the store
    store = project.open_store(environment)
    entries = store.read()
    keys = environment_keys(entries)
    return StoredState(
        stored_values(entries, store), keys.fingerprint if keys else None, store.replay()
    )


def resolve_for_reading(
    project: Project, environment: Environment, *, offline: bool
) -> tuple[Config, StoredState]:
    """An environment resolved with what its store holds (nothing read `offline`): what
    validate, audit and diff start from. Generates and writes nothing."""
    state = StoredState() if offline else read_stored(project, environment)
    return project.resolve(environment, stored=state.values), state

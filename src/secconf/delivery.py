"""Getting an environment ready to deliver: keys in the store, values resolved and valid.

Render, plan, apply and audit all start here, so they all see the same values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from secconf.environment.loader import Environment
from secconf.environment.resolve import Config, StoredValue
from secconf.errors import FindingsError, RenderError
from secconf.project import Project
from secconf.secret import DEFAULT_FINGERPRINT_KEY
from secconf.store.base import SecretStore


@dataclass
class Prepared:
    """A resolved, valid environment and the keys its artifacts need."""

    config: Config
    store: SecretStore
    checksum_key: bytes
    fingerprint_key: bytes


def prepare(
    project: Project,
    environment: Environment,
    *,
    notify: Callable[[str], None],
    environ: Mapping[str, str] | None = None,
    check: bool = True,
    generate: bool = True,
) -> Prepared:
    """Open the store, generate what is missing (never in production; never unless
    `generate`), resolve, validate."""
    from secconf.keys.lifecycle import ensure_keys, key_status
    from secconf.store import CHECKSUM_KEY, ensure_checksum_key, open_store, stored_values
    from secconf.validate import validate

    store = open_store(project, environment, notify=notify, environ=environ)
    missing = [r.variable for r in key_status(project, environment, store) if r.status == "missing"]
    entries = store.read()
    if (environment.production or not generate) and (missing or CHECKSUM_KEY not in entries):
        what = ", ".join(missing) or "the checksum key"
        why = "is a production environment and" if environment.production else ":"
        raise RenderError(
            f"{environment.name} {why} {what} is not stored yet",
            hint=f"keys are created on purpose: run `secconf keys ensure --env "
            f"{environment.name}` first",
        )
    if missing:
        ensure_keys(project, environment, store)
    checksum_key = ensure_checksum_key(store)
    config = project.resolve(environment, stored=stored_values(store), environ=environ)
    _require_from_env(config)
    if check:
        errors = [f for f in validate(config) if f.severity == "error"]
        if errors:
            raise FindingsError(
                f"{environment.name} has {len(errors)} validation error(s); nothing was written",
                list(errors),
                hint=f"run `secconf validate --env {environment.name}` and fix them",
            )
    return Prepared(config, store, checksum_key, store.fingerprint_key() or DEFAULT_FINGERPRINT_KEY)


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


def read_stored(
    project: Project, environment: Environment
) -> tuple[dict[str, StoredValue] | None, bytes]:
    """The stored values of an environment and its fingerprint key, without creating
    anything: (None, the default key) when it uses no store or the store is empty."""
    from secconf.environment.resolve import generated_names
    from secconf.store import open_store, stored_values

    if not generated_names(project.schema, environment):
        return None, DEFAULT_FINGERPRINT_KEY
    store = open_store(project, environment)
    if not store.exists():
        return None, DEFAULT_FINGERPRINT_KEY
    return stored_values(store), store.fingerprint_key() or DEFAULT_FINGERPRINT_KEY

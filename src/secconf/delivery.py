"""Getting an environment ready to deliver: keys in the store, values resolved and valid.

Render, plan, apply and audit all start here, so they all see the same values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from secconf.environment.loader import Environment
from secconf.environment.resolve import Config, StoredValue
from secconf.errors import FindingsError, RenderError
from secconf.project import Project
from secconf.secret import DEFAULT_FINGERPRINT_KEY

if TYPE_CHECKING:
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
    checksum: bool = False,
) -> Prepared:
    """Open the store, generate what is missing (never in production; never unless
    `generate`), resolve, validate. `checksum`: the artifact needs the checksum key."""
    from secconf.environment.resolve import generated_names
    from secconf.keys.lifecycle import ensure_keys
    from secconf.store import CHECKSUM_KEY, ensure_checksum_key, open_store, stored_values

    store = open_store(project, environment, notify=notify, environ=environ)
    entries = store.read()
    missing = [n for n in generated_names(project.schema, environment) if n not in entries]
    if checksum and CHECKSUM_KEY not in entries:
        missing.append("the checksum key")
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
    if missing:
        # Check what can be checked before anything is generated, so that a refused
        # delivery leaves the store as it was.
        _check(
            project.resolve(environment, stored=stored_values(entries, store), environ=environ),
            check,
        )
        ensure_keys(project, environment, store)
        entries = store.read()
    key = ensure_checksum_key(store) if checksum else b""
    config = project.resolve(environment, stored=stored_values(entries, store), environ=environ)
    _check(config, check)
    fingerprint_key = store.fingerprint_key() if entries else None
    return Prepared(config, store, key, fingerprint_key or DEFAULT_FINGERPRINT_KEY)


def _check(config: Config, check: bool) -> None:
    """Refuse an environment whose values cannot be delivered as they are."""
    from secconf.validate import validate

    _require_from_env(config)
    _require_utf8(config)
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


def _require_utf8(config: Config) -> None:
    # A process environment can hold bytes that are not UTF-8 (Python keeps them as
    # lone surrogates); no target can carry them.
    for name in config.values:
        text = config.text(name)
        if text is None:
            continue
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise RenderError(
                f"{name} holds bytes that are not UTF-8 text",
                hint="set it to UTF-8 text (a base64 encoding carries any bytes)",
            ) from None


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
    from secconf.environment.resolve import stored_names
    from secconf.store import open_store, stored_values

    if not stored_names(project.schema, environment):
        return None, DEFAULT_FINGERPRINT_KEY
    settings = environment.store
    if settings.backend == "file" and not project.path(settings.file.path, environment).exists():
        return None, DEFAULT_FINGERPRINT_KEY  # nothing stored yet: no need to load the store
    store = open_store(project, environment)
    if not store.exists():
        return None, DEFAULT_FINGERPRINT_KEY
    return stored_values(store.read(), store), store.fingerprint_key() or DEFAULT_FINGERPRINT_KEY

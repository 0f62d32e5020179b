"""Getting an environment ready to deliver: keys in the store, values resolved and valid.

Render, plan, apply and audit all start here, so they all see the same values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from secconf.core.errors import FindingsError, RenderError
from secconf.environment.loader import Environment
from secconf.environment.resolve import Config, StoredValue
from secconf.operations.project import Project

if TYPE_CHECKING:
    from secconf.store import EnvironmentKeys
    from secconf.store.base import SecretStore


@dataclass
class Prepared:
    """A resolved, valid environment and the keys its artifacts need."""

    config: Config
    store: SecretStore = field(repr=False)
    keys: EnvironmentKeys = field(repr=False)

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
    """Open the store, generate what is missing (never in production; never unless
    `generate`), resolve, validate."""
    result = _prepare(
        project, environment, notify=notify, environ=environ, check=check, generate=generate
    )
    assert result is not None
    return result


def preflight(
    project: Project, environment: Environment, *, environ: Mapping[str, str] | None = None
) -> None:
    """Raise what `prepare` would raise, without generating or writing anything: run it
    for every environment first, so that one refused environment stops them all before
    any of them has changed a store."""
    _prepare(project, environment, notify=_quiet, environ=environ, dry=True)


def _quiet(message: str) -> None:
    """Say nothing."""


def _prepare(
    project: Project,
    environment: Environment,
    *,
    notify: Callable[[str], None],
    environ: Mapping[str, str] | None = None,
    check: bool = True,
    generate: bool = True,
    dry: bool = False,
) -> Prepared | None:
    from secconf.environment.resolve import generated_names
    from secconf.keys.lifecycle import ensure_keys
    from secconf.store import ENVIRONMENT_KEY, environment_keys, open_store, stored_values

    store = open_store(project, environment, notify=notify, environ=environ)
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
    if missing or dry:
        # Check what can be checked before anything is generated, so that a refused
        # delivery leaves the store as it was.
        before = project.resolve(environment, stored=stored_values(entries, store), environ=environ)
        _check(before, check, pending=bool(missing))
        if dry:
            return None
        ensure_keys(project, environment, store)
        entries = store.read()
    config = project.resolve(environment, stored=stored_values(entries, store), environ=environ)
    _check(config, check)
    keys = environment_keys(entries)
    assert keys is not None  # ensured above
    return Prepared(config, store, keys)


def _check(config: Config, check: bool, *, pending: bool = False) -> None:
    """Refuse an environment whose values cannot be delivered as they are. `pending`:
    keys are about to be generated, so the rules about them are left for later."""
    from secconf.validate import validate

    _require_from_env(config)
    _require_utf8(config)
    if not check:
        return
    errors = [f for f in validate(config) if f.severity == "error"]
    if pending:
        generated = {n for n, r in config.values.items() if r.provenance.kind == "generated"}
        errors = [f for f in errors if f.variable not in generated]
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
) -> tuple[dict[str, StoredValue] | None, bytes | None]:
    """The stored values of an environment and its fingerprint key, without creating
    anything: (None, None) when it uses no store or the store is empty."""
    from secconf.environment.resolve import stored_names
    from secconf.store import environment_keys, open_store, stored_values

    if not stored_names(project.schema, environment):
        return None, None
    settings = environment.store
    if settings.backend == "file" and not project.path(settings.file.path, environment).exists():
        return None, None  # nothing stored yet: no need to load the store
    store = open_store(project, environment)
    entries = store.read()
    keys = environment_keys(entries)
    return stored_values(entries, store), keys.fingerprint if keys else None

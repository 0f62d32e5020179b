"""The store backends: every module of `secconf.store.backends` declares one.

A backend module defines `BACKEND = StoreBackend(...)`: its name (what `store.backend:`
of an environment file chooses), its settings model (`store.NAME`), how to open the
store, and whether anything is stored yet. Everything that lists backends derives from
`backends()`: the environment files' `store:` settings and their JSON Schema, and
opening a store. Adding a backend is one new module (and its tests).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from secconf.core.paths import Placement
from secconf.environment.loader import Environment
from secconf.environment.settings import SettingsModel
from secconf.store.base import SecretStore


def _quiet(message: str) -> None:
    """The default notice sink: say nothing."""


@dataclass(frozen=True)
class StoreContext:
    """What opening an environment's store needs: the config repo, its checked paths,
    and how to talk to the person running secconf."""

    root: Path
    placement: Placement
    environment: Environment
    notify: Callable[[str], None] = _quiet
    environ: Mapping[str, str] | None = None
    skip_tls_verify: bool = False


@dataclass(frozen=True)
class StoreBackend:
    """One store backend, as its module declares it."""

    name: str
    settings: type[SettingsModel]
    open: Callable[[StoreContext], SecretStore]
    # False when nothing can be stored yet, found without opening the store (so that
    # reading commands need no key or token for an environment that stores nothing).
    may_hold_values: Callable[[StoreContext], bool]
    default: bool = False  # the backend of an environment that names none
    # True when a store can be opened and read in a forked worker (secconf.operations.
    # workers): a file on disk is; a client with connections of the parent's is not.
    forkable: bool = False


@cache
def backends() -> dict[str, StoreBackend]:
    """Every store backend by name (discovered once per process)."""
    from secconf.store import backends as package

    found: dict[str, StoreBackend] = {}
    for module in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if module.name.startswith("_"):
            continue
        loaded = importlib.import_module(f"{package.__name__}.{module.name}")
        backend = getattr(loaded, "BACKEND", None)
        if not isinstance(backend, StoreBackend):
            # A module here is a backend: one that declares none is a mistake, said at once.
            raise TypeError(f"{loaded.__name__} defines no BACKEND = StoreBackend(...)")
        found[backend.name] = backend
    return found


def settings_models() -> dict[str, type[SettingsModel]]:
    """`store.NAME` settings model of every backend, for the environment layer."""
    return {name: b.settings for name, b in backends().items()}


def default_backend() -> str:
    """The backend of an environment whose file names none."""
    return next(name for name, b in backends().items() if b.default)


def open_store(context: StoreContext) -> SecretStore:
    """The secret store of an environment, as its store settings say."""
    return backends()[context.environment.store.backend].open(context)


def forkable(environment: Environment) -> bool:
    """Whether the environment's store can be read in a forked worker."""
    return backends()[environment.store.backend].forkable


def may_hold_values(context: StoreContext) -> bool:
    """False when the environment's store cannot hold anything yet (no file store file)."""
    return backends()[context.environment.store.backend].may_hold_values(context)

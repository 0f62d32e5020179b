"""The render targets: every module of `secconf.render.targets` declares one.

A target module defines `TARGET = RenderTarget(...)`: its name, its settings model (what
`targets.NAME` of an environment file may say), its renderer, what audit lists as its
destinations, and, where it has one, its deploy adapter. Everything that lists targets
derives from `targets()`: the environment files' `targets:` settings and their JSON
Schema, `render --target` and `plan --target` choices, audit's destinations, the deploy
factory. So adding a target is one new module (and its template and tests).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Literal

from secconf.environment.loader import Environment
from secconf.environment.settings import SettingsModel
from secconf.render.base import Artifact, RenderInput


@dataclass(frozen=True)
class Destination:
    """Where a target delivers one variable of one environment, for auditors: the fields
    of the stable JSON form (`target` first) and one line for tables."""

    fields: Mapping[str, str]
    text: str

    def to_dict(self) -> dict[str, str]:
        """The JSON form: `{"target": NAME, ...}`."""
        return dict(self.fields)


@dataclass(frozen=True)
class RenderTarget:
    """One render target, as its module declares it."""

    name: str
    summary: str  # one line for `--target` help
    settings: type[SettingsModel]
    render: Callable[[RenderInput], Artifact]
    # The destination of a sensitive variable, or None when the target does not carry it.
    destination: Callable[[Environment, str], Destination | None] | None = None
    # The deploy adapter, "module:Class", imported only by plan/apply/check.
    deploy: str | None = None
    # "schema": one file from the schema for all environments (.env.example), rendered
    # without a store; "environment": one artifact per environment.
    scope: Literal["environment", "schema"] = "environment"
    order: int = 50  # where the target is listed: lower first
    # Sensitive values land in the artifact (0600, never printed).
    holds_secrets: bool = field(default=True)


@cache
def targets() -> dict[str, RenderTarget]:
    """Every render target by name, in listing order (discovered once per process)."""
    from secconf.render import targets as package

    found: list[RenderTarget] = []
    for module in pkgutil.iter_modules(package.__path__):
        if module.name.startswith("_"):
            continue
        loaded = importlib.import_module(f"{package.__name__}.{module.name}")
        target = getattr(loaded, "TARGET", None)
        if not isinstance(target, RenderTarget):
            # A module here is a target: one that declares none is a mistake, said at once.
            raise TypeError(f"{loaded.__name__} defines no TARGET = RenderTarget(...)")
        found.append(target)
    found.sort(key=lambda t: (t.order, t.name))
    return {t.name: t for t in found}


def get(name: str) -> RenderTarget:
    """The target called `name` (the CLI has checked it is one)."""
    return targets()[name]


def settings_models() -> dict[str, type[SettingsModel]]:
    """`targets.NAME` settings model of every target, for the environment layer."""
    return {name: t.settings for name, t in targets().items()}


def shared_outputs() -> frozenset[str]:
    """Targets that write one file for every environment."""
    return frozenset(name for name, t in targets().items() if t.scope == "schema")


def deployable() -> list[str]:
    """Targets with a deploy adapter (`plan/apply/check --target`)."""
    return [name for name, t in targets().items() if t.deploy is not None]

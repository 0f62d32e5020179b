"""A config repo: where it is, its schema, its environments, and resolving one of them."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from secconf.core.errors import InputError
from secconf.core.paths import (
    ENVIRONMENTS_DIR,
    SCHEMA_DIR,
    TEMPLATES_DIR,
    Placement,
    fill,
    resolve_in,
)
from secconf.environment.loader import Environment, EnvironmentSet
from secconf.environment.resolve import Config, StoredValue, resolve
from secconf.environment.settings import SettingsRegistry
from secconf.schema.loader import load_schema
from secconf.schema.models import Schema

if TYPE_CHECKING:
    from secconf.store.base import SecretStore
    from secconf.store.registry import StoreContext

__all__ = ["ENVIRONMENTS_DIR", "SCHEMA_DIR", "TEMPLATES_DIR", "Project", "find_root", "settings"]


# Config repos whose leftovers beside outputs and stores are still to be swept, and the
# process that is to sweep them (Project.remove_leftovers): kept by repo, not by Project,
# since a command may work on a second Project of the same repo (`import`, an edit).
_SWEEPS: dict[Path, int] = {}


def _quiet(message: str) -> None:
    """Say nothing."""


def settings() -> SettingsRegistry:
    """The settings every registered render target and store backend declares."""
    from secconf.render import registry as render_registry
    from secconf.store import registry as store_registry

    return SettingsRegistry(
        targets=render_registry.settings_models(),
        stores=store_registry.settings_models(),
        default_store=store_registry.default_backend(),
        shared_outputs=render_registry.shared_outputs(),
    )


def find_root(start: Path) -> Path:
    """The nearest directory from `start` upward that has schema/ and environments/."""
    here = start.resolve()
    for candidate in (here, *here.parents):
        if (candidate / SCHEMA_DIR).is_dir() and (candidate / ENVIRONMENTS_DIR).is_dir():
            return candidate
    raise InputError(
        f"no secconf config repo in {here} or above (a directory with {SCHEMA_DIR}/ and "
        f"{ENVIRONMENTS_DIR}/)",
        hint="run it inside a config repo, pass --root DIR, or create one with `secconf init`",
    )


class Project:
    """One config repo, loaded lazily: nothing is read until it is asked for."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def open(cls, root: Path | None = None) -> Project:
        """The project at `root`, or found from the working directory upward."""
        if root is None:
            return cls(find_root(Path.cwd()))
        root = root.resolve()
        if not (root / SCHEMA_DIR).is_dir() or not (root / ENVIRONMENTS_DIR).is_dir():
            raise InputError(
                f"--root {root} is not a secconf config repo (it needs {SCHEMA_DIR}/ and "
                f"{ENVIRONMENTS_DIR}/)",
                hint="point --root at the config repo, or create one with `secconf init DIR`",
            )
        return cls(root)

    @cached_property
    def schema(self) -> Schema:
        """The typed schema of `schema/`."""
        return load_schema(self.root / SCHEMA_DIR, root=self.root)

    @cached_property
    def environments(self) -> EnvironmentSet:
        """The environment files of `environments/`, read with the settings every
        registered render target and store backend declares."""
        return EnvironmentSet(self.root / ENVIRONMENTS_DIR, settings=settings(), root=self.root)

    def store_context(
        self,
        environment: Environment,
        *,
        notify: Callable[[str], None] | None = None,
        environ: Mapping[str, str] | None = None,
        skip_tls_verify: bool = False,
    ) -> StoreContext:
        """What the store layer needs to open or administer this environment's store."""
        from secconf.store.registry import StoreContext

        return StoreContext(
            self.root,
            self.placement,
            environment,
            notify=notify or _quiet,
            environ=environ,
            skip_tls_verify=skip_tls_verify,
        )

    def open_store(
        self,
        environment: Environment,
        *,
        notify: Callable[[str], None] | None = None,
        environ: Mapping[str, str] | None = None,
        skip_tls_verify: bool = False,
    ) -> SecretStore:
        """The environment's secret store, as its store settings say."""
        from secconf.store.registry import open_store

        context = self.store_context(
            environment, notify=notify, environ=environ, skip_tls_verify=skip_tls_verify
        )
        return open_store(context)

    def select(self, names: Iterable[str], *, all_: bool) -> list[Environment]:
        """The environments named, or every concrete one with `all_` or no names."""
        wanted = list(dict.fromkeys(names))
        if all_ or not wanted:
            wanted = self.environments.names()
            if not wanted:
                raise InputError(
                    f"no environments in {ENVIRONMENTS_DIR}/",
                    hint="add one, e.g. environments/development.yaml",
                )
        return [self.environments.get(name) for name in wanted]

    def resolve(
        self,
        environment: Environment,
        *,
        stored: Mapping[str, StoredValue] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Config:
        """Resolve one environment against the schema."""
        return resolve(
            self.schema,
            environment,
            stored=stored,
            environ=os.environ if environ is None else environ,
        )

    def path(self, template: str, environment: Environment) -> Path:
        """A path setting with `{env}` filled in, resolved (`..`, symlinks) where a
        write to it lands."""
        return resolve_in(self.root, fill(template, env=environment.name))

    def edited(self, name: str, text: str) -> Project:
        """This project as it would be with environments/NAME.yaml holding `text`."""
        other = Project(self.root)
        other.__dict__["environments"] = self.environments.edited(name, text)
        other.__dict__["schema"] = self.schema
        return other

    def remove_leftovers(self) -> None:
        """Remove the temp files that killed runs left: in `.secconf/tmp/` now, and
        beside every output, store and key file (where earlier versions made them) once
        those paths are known and checked, the first time `placement` of a Project of
        this repo is asked for: so that a command that loads its environments in worker
        processes (`render --all`) does not load them all here first. Only this process
        sweeps (a worker forked from it never does), and a repo whose environments do
        not load gets only the first sweep; the command reports what is wrong."""
        from secconf.core.files import remove_leftovers

        remove_leftovers(self.root)
        _SWEEPS[self.root] = os.getpid()

    @property
    def placement(self) -> Placement:
        """Every environment's outputs, stores and key files, checked (secconf.core.paths)."""
        placement = self.environments.placement()
        if _SWEEPS.get(self.root) == os.getpid():  # remove_leftovers: what is beside them
            from secconf.core.files import remove_beside

            del _SWEEPS[self.root]
            remove_beside([role.location for role in placement.roles])
        return placement

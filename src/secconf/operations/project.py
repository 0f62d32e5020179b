"""A config repo: where it is, its schema, its environments, and resolving one of them."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path

from secconf.core.errors import InputError
from secconf.environment.loader import Environment, EnvironmentSet
from secconf.environment.resolve import Config, StoredValue, resolve
from secconf.schema.loader import load_schema
from secconf.schema.models import Schema

SCHEMA_DIR = "schema"
ENVIRONMENTS_DIR = "environments"
TEMPLATES_DIR = "templates"


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
        """The environment files of `environments/`."""
        return EnvironmentSet(self.root / ENVIRONMENTS_DIR, root=self.root)

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
        """A path setting with `{env}` filled in, relative to the project root."""
        return self.root / template.format(env=environment.name)

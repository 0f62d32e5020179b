"""What an environment file says: values and their sources. (The settings of targets and
stores are declared by their own modules: secconf.environment.settings.)"""

from __future__ import annotations

from typing import NamedTuple

from secconf.core.record import Field, Record
from secconf.schema.models import NAME_PATTERN

ENV_NAME_PATTERN = r"^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$"


class EnvironmentFile(Record):
    """The top level of `environments/NAME.yaml` as written (before `extends` is applied)."""

    name: str | None = Field(default=None, pattern=ENV_NAME_PATTERN)
    description: str = ""
    extends: str | None = None
    production: bool | None = None
    abstract: bool = False
    values: dict[str, object] = Field(default_factory=dict)
    store: dict[str, object] = Field(default_factory=dict)
    targets: dict[str, object] = Field(default_factory=dict)


class Location(NamedTuple):
    """Where something was written: a file and a 1-based line."""

    file: str
    line: int | None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


class LiteralValue(NamedTuple):
    """A value written in the environment file, as the text the application will read."""

    text: str
    at: Location

    def __repr__(self) -> str:
        # The schema decides what is sensitive; this record does not know: mask always.
        return f"LiteralValue(text='********', at={self.at!r})"


class FromEnv(NamedTuple):
    """`from_env: NAME`: the value is read from the process environment at run time (CI)."""

    env_var: str
    at: Location


class Generate(NamedTuple):
    """`generate: true`: secconf generates the value once and keeps it in its store."""

    at: Location


class FromStore(NamedTuple):
    """`from_store: true`: a value put into the secret store (by `secconf import`)."""

    at: Location


class UseDefault(NamedTuple):
    """`NAME: null`: explicitly back to the schema default (undoes an inherited value)."""

    at: Location


ValueSource = LiteralValue | FromEnv | Generate | FromStore | UseDefault

FROM_ENV_NAME = NAME_PATTERN

"""The typed schema: every variable an application reads, and how secconf treats it."""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Literal

from secconf.core.record import After, Field, Record

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"

VariableType = Literal["string", "boolean", "integer"]
Format = Literal[
    "email",
    "url",
    "https-url",
    "mailto-or-https-url",
    "vapid-public-key",
    "vapid-private-key",
]
GeneratorKind = Literal["jwt-secret", "random-token", "vapid"]


def _pattern_compiles(pattern: str) -> str:
    from secconf.schema.patterns import compile_pattern

    compile_pattern(pattern)  # a PatternError (ValueError) says why not
    return pattern


class Constraints(Record):
    """Checks on a value beyond its type; every field is optional."""

    choices: tuple[str, ...] | None = None
    min_length: int | None = Field(default=None, ge=0)
    max_length: int | None = Field(default=None, ge=0)
    minimum: int | None = None
    maximum: int | None = None
    pattern: Annotated[str, After(_pattern_compiles)] | None = None
    format: Format | None = None


class Generator(Record):
    """How secconf generates a value once and keeps it (`generate: true` in an environment).

    Variables that share a `group` are generated together and rotated together (the
    two halves of a VAPID key pair); `part` says which half a variable holds.
    """

    kind: GeneratorKind
    group: str | None = None
    part: Literal["private_key", "public_key"] | None = None
    algorithm_variable: str | None = None
    bytes: int | None = Field(default=None, ge=16, le=1024)
    private_format: Literal["pkcs8", "raw"] = "pkcs8"


class Variable(Record):
    """One variable the application reads from its environment."""

    name: str = Field(pattern=NAME_PATTERN)
    section: str = ""
    type: VariableType = "string"
    default: str | bool | int | None = None
    auto_generated: bool = False
    sensitive: bool = False
    description: str
    constraints: Constraints = Constraints()
    generator: Generator | None = None
    rotation_impact: str | None = None
    rotate_after_days: int | None = Field(default=None, ge=1)

    @property
    def group(self) -> str | None:
        """The generation group this variable belongs to, if it is generated."""
        if self.generator is None:
            return None
        return self.generator.group or self.name

    def default_text(self) -> str | None:
        """The default as the application would read it, or None when it has none."""
        if self.default is None:
            return None
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        return str(self.default)


class Section(Record):
    """A titled group of variables, as the application's documentation groups them."""

    name: str = Field(alias="section")
    description: str = ""
    warnings: tuple[str, ...] = ()
    variables: tuple[Variable, ...]


class Schema:
    """All sections, in order; variables are looked up by name.

    A plain class, not a record: it is assembled from sections already validated.
    """

    def __init__(self, sections: tuple[Section, ...], files: tuple[str, ...] = ()) -> None:
        self.sections = sections
        self.files = files
        # Every variable by name, in schema order.
        self.variables: dict[str, Variable] = {v.name: v for s in sections for v in s.variables}

    def groups(self) -> dict[str, tuple[Variable, ...]]:
        """Generated variables by generation group, in schema order."""
        out: dict[str, list[Variable]] = {}
        for var in self.variables.values():
            if var.group is not None:
                out.setdefault(var.group, []).append(var)
        return {name: tuple(members) for name, members in out.items()}

    @cached_property
    def _digest(self) -> str:
        import hashlib
        import json

        payload = json.dumps(
            [s.dump(mode="json") for s in self.sections], sort_keys=True
        ).encode()
        return hashlib.sha256(payload).hexdigest()[:16]

    def digest(self) -> str:
        """A short hash of the schema's content, recorded where secconf delivers."""
        return self._digest

"""Resolution: every variable of the schema gets its value and where that value came from.

Sources, in the order they win (highest first): the environment's own value (literal,
`from_env`, `generate` from the store) after `extends` layering, then the schema
default. The result is the `Config` every later stage (validate, render, deploy,
audit) works from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from secconf.core import redact
from secconf.core.errors import InputError
from secconf.core.secret import Secret
from secconf.environment.loader import Environment
from secconf.environment.models import (
    FromEnv,
    FromStore,
    Generate,
    LiteralValue,
    Location,
    UseDefault,
)
from secconf.schema.models import Schema, Variable

ProvenanceKind = Literal["default", "literal", "from_env", "generated", "stored"]


class StoredValue(NamedTuple):
    """A generated value as the secret store keeps it (masked until delivered)."""

    value: Secret
    version: int
    created_at: str
    backend: str


class Provenance(NamedTuple):
    """Where a resolved value came from."""

    kind: ProvenanceKind
    at: Location | None = None
    env_var: str | None = None
    backend: str | None = None
    version: int | None = None
    created_at: str | None = None


class Resolved(NamedTuple):
    """A variable, the text the application will read (None: unset), and its provenance."""

    variable: Variable
    value: str | Secret | None
    provenance: Provenance

    @property
    def is_set(self) -> bool:
        """True when secconf delivers a value for this variable."""
        return self.value is not None


class UnknownName(NamedTuple):
    """A name in an environment file that the schema does not define."""

    name: str
    at: Location


@dataclass
class Config:
    """One environment, resolved against the schema."""

    schema: Schema
    environment: Environment
    values: dict[str, Resolved]
    unknown: list[UnknownName] = field(default_factory=list)

    def value(self, name: str) -> str | Secret | None:
        """A variable's value as the application reads it, masked when sensitive (None:
        unset or unknown). Values are revealed only where they are delivered
        (`secconf.render.base.delivered_values`) and where the rules inspect them
        (`secconf.validate.context.Check.text`)."""
        resolved = self.values.get(name)
        return None if resolved is None else resolved.value


def generated_names(schema: Schema, environment: Environment) -> list[str]:
    """Variables the environment asks secconf to generate, whole groups included.

    `generate: true` on one half of a VAPID pair generates the pair: the halves are
    never generated apart.
    """
    groups = schema.groups()
    wanted: set[str] = set()
    for name, source in environment.values.items():
        variable = schema.variables.get(name)
        if isinstance(source, Generate) and variable is not None and variable.group:
            wanted.update(m.name for m in groups[variable.group])
    return [name for name in schema.variables if name in wanted]


def stored_names(schema: Schema, environment: Environment) -> list[str]:
    """Variables whose value comes from the secret store: generated or imported."""
    imported = {n for n, s in environment.values.items() if isinstance(s, FromStore)}
    generated = set(generated_names(schema, environment))
    return [name for name in schema.variables if name in generated or name in imported]


def resolve(
    schema: Schema,
    environment: Environment,
    *,
    environ: Mapping[str, str] | None = None,
    stored: Mapping[str, StoredValue] | None = None,
) -> Config:
    """Resolve every schema variable of `environment` to a value and its provenance."""
    env = os.environ if environ is None else environ
    store = stored or {}
    generated = set(generated_names(schema, environment))
    values: dict[str, Resolved] = {}
    for name, variable in schema.variables.items():
        source = environment.values.get(name)
        if source is None and name in generated:
            source = environment.values.get(_group_sibling(schema, variable, environment))
        values[name] = _resolve_one(variable, source, env, store, generated)
    unknown = [
        UnknownName(name, source.at)
        for name, source in environment.values.items()
        if name not in schema.variables
    ]
    return Config(schema, environment, values, unknown)


def _group_sibling(schema: Schema, variable: Variable, environment: Environment) -> str:
    for member in schema.groups().get(variable.group or "", ()):
        if isinstance(environment.values.get(member.name), Generate):
            return member.name
    return variable.name


def _resolve_one(
    variable: Variable,
    source: object,
    environ: Mapping[str, str],
    stored: Mapping[str, StoredValue],
    generated: set[str],
) -> Resolved:
    if isinstance(source, LiteralValue):
        return _made(variable, source.text, Provenance("literal", at=source.at))
    if isinstance(source, FromEnv):
        text = environ.get(source.env_var)
        if text is not None:
            _require_text(variable, source, text)
        if text is not None and redact.is_credential(text):
            raise InputError(
                f"{variable.name}: from_env {source.env_var} holds one of secconf's own "
                "credentials (a master key, the Vault token, a kubeconfig credential)",
                file=source.at.file,
                line=source.at.line,
                hint=f"give {variable.name} its own value, never a copy of a credential",
            )
        return _made(variable, text, Provenance("from_env", at=source.at, env_var=source.env_var))
    if isinstance(source, Generate | FromStore) or variable.name in generated:
        at = source.at if isinstance(source, Generate | FromStore) else None
        kind: ProvenanceKind = "stored" if isinstance(source, FromStore) else "generated"
        kept = stored.get(variable.name)
        if kept is None:
            return Resolved(variable, None, Provenance(kind, at=at))
        provenance = Provenance(
            kind,
            at=at,
            backend=kept.backend,
            version=kept.version,
            created_at=kept.created_at,
        )
        return _made(variable, kept.value.reveal(), provenance)
    at = source.at if isinstance(source, UseDefault) else None
    return _made(variable, variable.default_text(), Provenance("default", at=at))


def _require_text(variable: Variable, source: FromEnv, text: str) -> None:
    """Refuse an environment variable whose value is not UTF-8 text.

    A process environment can hold any bytes; Python keeps those that are not UTF-8 as
    lone surrogates, which no check, message or target can carry. The value is never
    shown: it may be a secret.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(
            f"{variable.name}: ${source.env_var} holds bytes that are not UTF-8 text",
            file=source.at.file,
            line=source.at.line,
            hint=f"set {source.env_var} to UTF-8 text (a base64 encoding carries any bytes)",
        ) from None


def _made(variable: Variable, text: str | None, provenance: Provenance) -> Resolved:
    if text is None:
        return Resolved(variable, None, provenance)
    return Resolved(variable, Secret(text) if variable.sensitive else text, provenance)

"""Environments: values per environment, `extends` layering, and resolution."""

from __future__ import annotations

from secconf.environment.loader import Environment, EnvironmentSet
from secconf.environment.models import (
    FromEnv,
    FromStore,
    Generate,
    LiteralValue,
    Location,
    UseDefault,
)
from secconf.environment.resolve import (
    Config,
    Provenance,
    Resolved,
    StoredValue,
    UnknownName,
    generated_names,
    resolve,
    stored_names,
)

__all__ = [
    "Config",
    "Environment",
    "EnvironmentSet",
    "FromEnv",
    "FromStore",
    "Generate",
    "LiteralValue",
    "Location",
    "Provenance",
    "Resolved",
    "StoredValue",
    "UnknownName",
    "UseDefault",
    "generated_names",
    "resolve",
    "stored_names",
]

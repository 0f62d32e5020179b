"""A JSON Schema (2020-12) for environment files, for editors that validate as you type."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secconf.environment.settings import SettingsModel, SettingsRegistry
from secconf.schema.models import Schema, Variable

DIALECT = "https://json-schema.org/draft/2020-12/schema"
# What pydantic reads as a boolean, spelled for a case-sensitive JSON Schema regex.
_BOOLEAN_WORDS = ("1", "0", "on", "off", "t", "f", "true", "false", "y", "n", "yes", "no")


def _any_case(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word)


def _literal(variable: Variable) -> dict[str, Any]:
    rules = variable.constraints
    if variable.type == "boolean":
        words = "|".join(_any_case(w) for w in _BOOLEAN_WORDS)
        return {"anyOf": [{"type": "boolean"}, {"type": "string", "pattern": f"^({words})$"}]}
    if variable.type == "integer":
        number: dict[str, Any] = {"type": "integer"}
        if rules.minimum is not None:
            number["minimum"] = rules.minimum
        if rules.maximum is not None:
            number["maximum"] = rules.maximum
        return {"anyOf": [number, {"type": "string", "pattern": r"^\s*[+-]?[0-9_]+\s*$"}]}
    text: dict[str, Any] = {"type": "string"}
    if rules.choices is not None:
        text["enum"] = list(rules.choices)
    if rules.min_length is not None:
        text["minLength"] = rules.min_length
    if rules.max_length is not None:
        text["maxLength"] = rules.max_length
    if rules.pattern is not None:
        text["pattern"] = rules.pattern
    return text


def _variable(variable: Variable) -> dict[str, Any]:
    options: list[dict[str, Any]] = [
        _literal(variable),
        {"$ref": "#/$defs/from_env"},
        {"$ref": "#/$defs/from_store"},
        {"type": "null", "description": "back to the schema default"},
    ]
    if variable.generator is not None:
        options.insert(1, {"$ref": "#/$defs/generate"})
    description = variable.description
    if variable.sensitive:
        description += " (sensitive: use generate or from_env, not a literal)"
    return {"description": description, "anyOf": options}


def _settings_object(
    models: Mapping[str, type[SettingsModel]], defs: dict[str, Any]
) -> dict[str, Any]:
    """An object with one optional property per settings model, each a $defs entry."""
    properties: dict[str, Any] = {}
    for name, model in models.items():
        definition = model.json_schema(ref_template="#/$defs/{model}")
        defs.update(definition.pop("$defs", {}))
        defs[model.__name__] = definition
        properties[name] = {"$ref": f"#/$defs/{model.__name__}"}
    return {"type": "object", "additionalProperties": False, "properties": properties}


def environment_json_schema(schema: Schema, settings: SettingsRegistry) -> dict[str, Any]:
    """The JSON Schema of `environments/*.yaml` for this schema's variables and the
    settings of every registered target and store backend."""
    defs: dict[str, Any] = {}
    targets = _settings_object(settings.targets, defs)
    store = _settings_object(settings.stores, defs)
    store["properties"]["backend"] = {"enum": sorted(settings.stores)}
    defs["from_env"] = {
        "type": "object",
        "properties": {"from_env": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}},
        "required": ["from_env"],
        "additionalProperties": False,
        "description": "Read the value from this environment variable at run time (CI).",
    }
    defs["generate"] = {
        "type": "object",
        "properties": {"generate": {"const": True}},
        "required": ["generate"],
        "additionalProperties": False,
        "description": "Generated once by secconf and kept in its secret store.",
    }
    defs["from_store"] = {
        "type": "object",
        "properties": {"from_store": {"const": True}},
        "required": ["from_store"],
        "additionalProperties": False,
        "description": "Kept in the secret store (put there by `secconf import`).",
    }
    defs["StoreSettings"] = store
    defs["Targets"] = targets
    return {
        "$schema": DIALECT,
        "title": "secconf environment file",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string"},
            "description": {"type": "string"},
            "extends": {"type": "string"},
            "production": {"type": "boolean"},
            "abstract": {"type": "boolean"},
            "values": {
                "type": "object",
                "additionalProperties": False,
                "properties": {name: _variable(v) for name, v in schema.variables.items()},
            },
            "store": {"$ref": "#/$defs/StoreSettings"},
            "targets": {"$ref": "#/$defs/Targets"},
        },
        "$defs": defs,
    }

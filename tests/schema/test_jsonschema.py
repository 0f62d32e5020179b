"""The exported JSON Schema accepts the bundled environments and refuses broken ones."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from tests.support.repo import BUNDLED, make_repo, run


@pytest.fixture(scope="module")
def validator(tmp_path_factory: pytest.TempPathFactory) -> jsonschema.Draft202012Validator:
    root = make_repo(tmp_path_factory.mktemp("repo") / "r")
    result = run(root, "schema", "export", "--format", "json-schema")
    assert result.code == 0
    schema = json.loads(result.out)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("name", ["development", "staging", "production"])
def test_bundled_environments_are_valid(
    validator: jsonschema.Draft202012Validator, name: str
) -> None:
    data = yaml.safe_load((BUNDLED / "environments" / f"{name}.yaml").read_text())
    assert list(validator.iter_errors(data)) == []


@pytest.mark.parametrize(
    "data",
    [
        {"values": {"JWT_SECRT_KEY": "x"}},  # unknown variable
        {"values": {"JWT_ALGORITHM": "RS256"}},  # not a choice
        {"values": {"TURNSTILE_ENABLED": "maybe"}},  # not a boolean
        {"values": {"TURNSTILE_SECRET_KEY": {"generate": True}}},  # no generator
        {"values": {"JWT_SECRET_KEY": {"from_env": "lower-case not allowed"}}},
        {"values": {"JWT_SECRET_KEY": {"vault": "x"}}},  # unknown reference kind
        {"targets": {"kubernetes": {"namespce": "x"}}},  # typo in a setting
        {"extendz": "staging"},
    ],
)
def test_broken_environments_are_refused(
    validator: jsonschema.Draft202012Validator, data: dict
) -> None:
    assert list(validator.iter_errors(data)) != []


def test_export_writes_a_file(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"dev": "values: {}\n"})
    out = tmp_path / "environment.schema.json"
    result = run(root, "schema", "export", "--out", str(out))
    assert result.code == 0
    assert json.loads(out.read_text())["title"] == "secconf environment file"

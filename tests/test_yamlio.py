"""secconf.core.yamlio gives JSON data only: a timestamp is the text it was written as, and
every tag that would make anything else is a located input error, never a crash later."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.support.repo import make_repo, run

from secconf.core.errors import InputError
from secconf.core.yamlio import parse_document

JSON_TYPES = (str, int, float, bool, type(None), list, dict)


def only_json(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and only_json(v) for k, v in value.items())
    if isinstance(value, list):
        return all(only_json(v) for v in value)
    return isinstance(value, JSON_TYPES)


def test_timestamps_stay_the_text_they_were_written_as() -> None:
    doc = parse_document(
        "a: 2024-01-01\nb: 2024-01-01T10:00:00Z\nc: !!timestamp 2001-12-14 21:59:43.10 -5\n"
        "d: [1, 1.5, true, null, x]\n",
        "f.yaml",
    )
    assert doc.data["a"] == "2024-01-01" and doc.data["b"] == "2024-01-01T10:00:00Z"
    assert doc.data["c"] == "2001-12-14 21:59:43.10 -5"
    assert doc.raw[("a",)] == "2024-01-01"
    assert only_json(doc.data)


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("a: !!binary aGVsbG8=\n", "!!binary"),
        ("a: !!set {x, y}\n", "!!set"),
        ("a: !!omap [x: 1]\n", "!!omap"),
        ("a: !!pairs [x: 1, x: 2]\n", "!!pairs"),
        ("a:\n  b: !!python/tuple [1]\n", "!!python/tuple"),
    ],
)
def test_tags_that_make_other_types_are_located_errors(text: str, tag: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_document(text, "f.yaml")
    assert caught.value.line == text.count("\n") and tag in caught.value.message


def test_a_lone_surrogate_escape_is_a_located_error() -> None:
    with pytest.raises(InputError) as caught:
        parse_document('a: 1\nb: "x\\ud800"\n', "f.yaml")
    assert caught.value.line == 2


@pytest.mark.parametrize(
    "value", ["!!binary aGVsbG8=", "!!set {a, b}", "!!omap [a: 1]", '"\\udc80"']
)
def test_validate_reports_a_non_json_tag_in_an_environment_file_in_one_line(
    tmp_path: Path, value: str
) -> None:
    root = make_repo(tmp_path / "repo", {"dev": f"values:\n  ADMIN_CONTACT_URL: {value}\n"})
    result = run(root, "validate", "--offline")
    assert result.code == 2, result.both
    assert "Traceback" not in result.both
    assert result.err.startswith("secconf: error: environments/dev.yaml:2: ")


def test_a_timestamp_value_is_checked_as_the_text_it_is(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"dev": "values:\n  ADMIN_CONTACT_URL: 2024-01-01\n"})
    result = run(root, "validate", "--offline")
    assert result.code == 1, result.both
    assert "'2024-01-01'" in result.out and "Traceback" not in result.both

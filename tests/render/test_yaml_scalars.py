"""Values in manifests mean the same to every YAML reader, kubectl's go-yaml included.

go-yaml (YAML 1.1 as Kubernetes reads it) takes y/n as booleans and 1e5 or 0o17 as
numbers where PyYAML reads strings; a ConfigMap's data must be strings, so such values
are quoted. PyYAML reading the output back is checked by the render itself.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.support.repo import make_repo, run, write_env

AMBIGUOUS = [
    "n",
    "Y",
    "no",
    "ON",
    "1e5",
    "0o17",
    "0x4AAAAAAA",
    "24",
    "1_000",
    ".5",
    "~",
    "null",
    "2024-01-01",
]


@pytest.mark.parametrize("value", AMBIGUOUS)
def test_ambiguous_scalars_are_quoted_in_manifests(tmp_path: Path, value: str) -> None:
    root = make_repo(tmp_path / "repo", {})
    write_env(
        root,
        "dev",
        f"values:\n  DEFAULT_USER_ROLE: '{value}'\n  JWT_SECRET_KEY: {{generate: true}}\n",
    )
    result = run(root, "render", "--env", "dev", "--target", "kubernetes", "--out", "-")
    assert result.code == 0, result.err
    line = next(
        line for line in result.out.splitlines() if line.strip().startswith("DEFAULT_USER_ROLE:")
    )
    assert re.fullmatch(r'\s*DEFAULT_USER_ROLE: "' + re.escape(value) + '"', line), line


def test_plain_words_stay_plain(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {})
    write_env(root, "dev", "values:\n  JWT_ALGORITHM: HS384\n  JWT_SECRET_KEY: {generate: true}\n")
    result = run(root, "render", "--env", "dev", "--target", "kubernetes", "--out", "-")
    assert "  JWT_ALGORITHM: HS384\n" in result.out

"""Schema `pattern` constraints cannot hang validation: RE2 matches in linear time, and a
pattern it cannot compile is refused, located, when the schema is loaded."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest
from tests.support.repo import make_repo, run

EVIL = "(a+)+$"  # Python's re takes exponential time on a run of "a" and a "!"


def shop_repo(tmp_path: Path, pattern: str, value: str) -> Path:
    root = make_repo(tmp_path / "repo", {"dev": f"values:\n  SHOP_CODE: '{value}'\n"})
    (root / "schema" / "50-shop.yaml").write_text(
        textwrap.dedent(
            f"""\
            section: Shop
            variables:
              - name: SHOP_CODE
                description: A code.
                constraints:
                  pattern: '{pattern}'
            """
        )
    )
    return root


def test_a_catastrophic_pattern_on_a_long_value_finishes_at_once(tmp_path: Path) -> None:
    """In a subprocess with a time limit: without RE2 this would run for ages."""
    import subprocess
    import sys

    root = shop_repo(tmp_path, EVIL, "a" * 100_000 + "!")
    command = [sys.executable, "-m", "secconf", "--root", str(root), "validate", "--offline"]
    started = time.monotonic()
    result = subprocess.run(
        [*command, "--format", "json"], capture_output=True, text=True, timeout=20, check=False
    )
    elapsed = time.monotonic() - started
    assert elapsed < 5, f"validate took {elapsed:.1f} s"
    assert result.returncode == 1, result.stderr
    assert '"variable": "SHOP_CODE"' in result.stdout
    assert "does not match the pattern" in result.stdout


def test_a_matching_value_passes(tmp_path: Path) -> None:
    root = shop_repo(tmp_path, "[A-Z]{3}-[0-9]+", "ABC-42")
    result = run(root, "validate", "--offline", "--format", "json")
    assert "SHOP_CODE" not in result.out, result.out


@pytest.mark.parametrize("pattern", [r"(a)\1", "(?=a)a", "(?<!a)b", "a{1001}"])
def test_a_pattern_re2_cannot_compile_is_a_located_error(tmp_path: Path, pattern: str) -> None:
    root = shop_repo(tmp_path, pattern, "a")
    result = run(root, "validate", "--offline")
    assert result.code == 2, result.both
    assert "Traceback" not in result.both
    first = result.err.splitlines()[0]
    assert "schema/50-shop.yaml:6:" in first and "RE2" in first, first

"""Shell completion (documented in the README) completes commands and environments."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.repo import make_repo


def complete(words: str, cwd: Path) -> list[str]:
    env = {
        **os.environ,
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split(" ")) - 1),
        "_SECCONF_COMPLETE": "bash_complete",
    }
    script = Path(sys.executable).parent / "secconf"
    result = subprocess.run(
        [str(script)], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    return [line.split(",", 1)[1] for line in result.stdout.splitlines()]


def test_commands_and_environment_names_complete(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    assert complete("secconf ke", root) == ["keys"]
    assert complete("secconf keys ro", root) == ["rollback", "rotate"]
    assert complete("secconf render --env p", root) == ["production"]
    assert complete("secconf validate --env ", root) == ["development", "production", "staging"]

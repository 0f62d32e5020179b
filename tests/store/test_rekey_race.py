"""`store rekey` racing `keys ensure` of an environment whose store does not exist yet
loses nothing: the new store is written either before the re-key (and re-keyed) or
after it (with the new key), never with the old key after the key file was replaced."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.repo import make_repo, run

ROOT = Path(__file__).resolve().parents[2]
GENERATED = "values:\n  JWT_SECRET_KEY: {generate: true}\n"


def test_rekey_racing_ensure_of_new_stores_leaves_every_store_readable(tmp_path: Path) -> None:
    # dev has a store; a and b share its key file and have none yet.
    root = make_repo(tmp_path / "repo", {"dev": GENERATED, "a": GENERATED, "b": GENERATED})
    assert run(root, "keys", "ensure", "--env", "dev").code == 0
    # Before the fix nearly every round lost a store (1 in 28 with separate interpreters;
    # forked children started together collide far more often): 12 rounds are plenty.
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SECCONF_")}
    result = subprocess.run(
        [sys.executable, "-m", "tests.support.races", str(root), "12", "a,b"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "LOST 0 OF 12" in result.stdout, result.stdout
    assert run(root, "keys", "status", "--all").code == 0

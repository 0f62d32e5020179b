"""secconf's start-up: pydantic's plugin scan is skipped in secconf's process only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROBE = (
    "import sys, secconf.cli as c; c._without_pydantic_plugins();"
    "import pydantic; from pydantic import BaseModel\n"
    "class M(BaseModel):\n x: int = 1\n"
    "print(M().x, 'importlib.metadata' in sys.modules, "
    "'PYDANTIC_DISABLE_PLUGINS' in __import__('os').environ)"
)


def probe(**extra: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"} | extra
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.split()


def test_models_work_without_the_metadata_scan_and_the_environment_is_untouched() -> None:
    # 1: the model validates; False: no importlib.metadata; False: nothing set for children
    assert probe() == ["1", "False", "False"]


def test_the_users_setting_keeps_pydantics_own_loader() -> None:
    assert probe(PYDANTIC_DISABLE_PLUGINS="some-plugin")[:2] == ["1", "True"]


def test_a_program_secconf_run_starts_sees_no_setting_of_secconfs(tmp_path: Path) -> None:
    from tests.support.repo import make_repo

    root = make_repo(tmp_path / "repo")
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    result = subprocess.run(
        [sys.executable, "-m", "secconf", "--root", str(root), "run", "--env", "development",
         "--", sys.executable, "-c",
         "import os; print(os.environ.get('PYDANTIC_DISABLE_PLUGINS', 'unset'))"],
        env=env, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "unset"


def test_pydantic_is_not_imported_to_skip_its_plugin_scan() -> None:
    code = "import sys, secconf.cli as c; c._without_pydantic_plugins(); print('pydantic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"]  # its release is checked when it asks for plugins


def test_a_pydantic_release_whose_hook_is_unknown_gets_its_own_loader() -> None:
    code = PROBE.replace(
        "c._without_pydantic_plugins();",
        "c._without_pydantic_plugins(); c.KNOWN_PLUGIN_LOADER = ((1, 0), (1, 1));",
    )
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["1", "True", "False"]  # its own loader: importlib.metadata

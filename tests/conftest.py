"""Fixtures every test gets: no test touches a real home, key, store or Vault token."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Point HOME at a temp dir and drop every SECCONF_/VAULT_/KUBECONFIG variable."""
    import os

    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for name in list(os.environ):
        if name.startswith(("SECCONF_", "VAULT_")) or name in ("KUBECONFIG", "NO_COLOR"):
            if not name.startswith("SECCONF_TEST_"):
                monkeypatch.delenv(name, raising=False)
    return home

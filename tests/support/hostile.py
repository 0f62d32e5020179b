"""Config repos whose values are hostile strings, delivered the ways users deliver them.

`hostile_repo` adds a schema file of plain string variables to a repo and an
environment that gives each value three ways: `S_<KEY>` (sensitive, from_env: goes into
the Secret), `P_<KEY>` (not sensitive, from_env: the ConfigMap) and, where asked,
`L_<KEY>` (not sensitive, a literal in the environment YAML).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from tests.support.repo import make_repo

PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n"
    "MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\n"
    "-----END PRIVATE KEY-----\n"
)


@dataclass
class HostileRepo:
    """A repo, its environment name, and what every hostile variable must read back as."""

    root: Path
    env: str
    expected: dict[str, str]  # variable -> exact value, for every S_/P_/L_ variable
    sensitive: set[str]

    def out(self, suffix: str) -> Path:
        """The default output path of a target (`env`, `k8s.yaml`, `vault.json`)."""
        return self.root / "out" / f"{self.env}.{suffix}"


def _yaml(data: object) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1 << 16)


def hostile_repo(
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
    values: dict[str, str],
    *,
    literal: dict[str, str] | None = None,
    env: str = "hostile",
    extra_yaml: str = "",
) -> HostileRepo:
    """A repo with `S_K`/`P_K` from_env variables for `values`, `L_K` literals for `literal`.

    The from_env variables are set in this process's environment through `monkeypatch`.
    `extra_yaml` is appended to the environment file (e.g. a `targets:` block).
    """
    literal = literal or {}
    make_repo(root, {})
    variables = []
    for key in values:
        variables.append({"name": f"S_{key}", "sensitive": True, "description": f"{key} (secret)"})
        variables.append({"name": f"P_{key}", "description": f"{key} (plain)"})
    variables += [{"name": f"L_{key}", "description": f"{key} (literal)"} for key in literal]
    schema = {"section": "Hostile values", "description": "Test values.", "variables": variables}
    (root / "schema" / "90-hostile.yaml").write_text(_yaml(schema), encoding="utf-8")
    env_values: dict[str, object] = {}
    expected: dict[str, str] = {}
    for key, value in values.items():
        for prefix in ("S", "P"):
            env_values[f"{prefix}_{key}"] = {"from_env": f"HOSTILE_{prefix}_{key}"}
            monkeypatch.setenv(f"HOSTILE_{prefix}_{key}", value)
            expected[f"{prefix}_{key}"] = value
    for key, value in literal.items():
        env_values[f"L_{key}"] = value
        expected[f"L_{key}"] = value
    text = _yaml({"description": "hostile values", "values": env_values}) + extra_yaml
    (root / "environments" / f"{env}.yaml").write_text(text, encoding="utf-8")
    sensitive = {name for name in expected if name.startswith("S_")}
    return HostileRepo(root, env, expected, sensitive)


@contextlib.contextmanager
def isolated_environ(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pytest.MonkeyPatch]:
    """What conftest's autouse `isolated_home` does, for a module-scoped fixture (which
    is set up before it): a temp HOME, no SECCONF_/VAULT_ variables, no KUBECONFIG."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
        for name in list(os.environ):
            if name.startswith(("SECCONF_", "VAULT_")) or name in ("KUBECONFIG", "NO_COLOR"):
                if not name.startswith("SECCONF_TEST_"):
                    patch.delenv(name, raising=False)
        yield patch

"""A store backend is one module: dropped into `secconf.store.backends`, environment
files can choose it (`store.backend: NAME`, settings under `store.NAME`), and keys,
render and audit use it, with no edit anywhere else."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.repo import make_repo, run

MEMORY = '''
"""A test backend: values kept in this process's memory, per environment."""

from __future__ import annotations

from secconf.core.secret import Secret
from secconf.environment.settings import SettingsModel
from secconf.store.base import Entry, Version, utc_now
from secconf.store.registry import StoreBackend, StoreContext

SHELVES: dict[str, dict[str, Entry]] = {}


class MemorySettings(SettingsModel):
    shelf: str = "{env}"


class MemoryStore:
    backend = "memory"
    generation = None

    def __init__(self, shelf: str) -> None:
        self.location = f"memory {shelf}"
        self.entries = SHELVES.setdefault(shelf, {})

    def replay(self):
        return None

    def exists(self) -> bool:
        return bool(self.entries)

    def read(self) -> dict[str, Entry]:
        return dict(self.entries)

    def create(self, group, names, make):
        if all(n in self.entries for n in names):
            return {n: self.entries[n] for n in names}, False
        values, now = make(), utc_now()
        for name in names:
            self.entries[name] = Entry(name, Version(Secret(values[name]), 1, now))
        return {n: self.entries[n] for n in names}, True

    def rotate(self, group, names, make):
        values, now = make(), utc_now()
        for name in names:
            old = self.entries[name]
            new = Version(Secret(values[name]), old.current.version + 1, now)
            self.entries[name] = Entry(name, new, (*old.previous, old.current))
        return {n: self.entries[n] for n in names}

    def rollback(self, group, names):
        raise NotImplementedError


def open_memory(context: StoreContext) -> MemoryStore:
    settings = context.environment.store.settings()
    return MemoryStore(settings.shelf.replace("{env}", context.environment.name))


BACKEND = StoreBackend(
    name="memory",
    settings=MemorySettings,
    open=open_memory,
    may_hold_values=lambda context: True,
)
'''


@pytest.fixture
def memory_backend(tmp_path: Path) -> Iterator[object]:
    """The memory module in a directory added to the backends package's search path."""
    import importlib

    import secconf.store.backends as package
    from secconf.store import registry

    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "memory.py").write_text(MEMORY, encoding="utf-8")
    package.__path__.append(str(plugins))
    registry.backends.cache_clear()
    try:
        yield importlib.import_module("secconf.store.backends.memory")
    finally:
        package.__path__.remove(str(plugins))
        registry.backends.cache_clear()


def test_the_bundled_backends_are_discovered() -> None:
    from secconf.store.registry import backends, default_backend

    assert sorted(backends()) == ["file", "vault"]
    assert default_backend() == "file"


def test_a_new_backend_module_keeps_generated_keys(tmp_path: Path, memory_backend) -> None:
    root = make_repo(tmp_path / "repo")
    dev = root / "environments" / "development.yaml"
    dev.write_text(dev.read_text() + "store:\n  backend: memory\n  memory: {shelf: dev-shelf}\n")
    first = run(root, "keys", "ensure", "--env", "development", "--format", "json")
    assert first.code == 0, first.err
    reports = json.loads(first.out)["keys"]
    assert {r["status"] for r in reports} == {"created"}
    assert {r["location"] for r in reports} == {"memory dev-shelf"}
    assert set(memory_backend.SHELVES["dev-shelf"]) >= {"JWT_SECRET_KEY", "VAPID_PRIVATE_KEY"}
    again = json.loads(run(root, "keys", "ensure", "--env", "development", "--format", "json").out)
    assert {r["status"] for r in again["keys"]} == {"kept"}
    assert not (root / "secrets").exists()  # nothing went to the file store

    assert run(root, "render", "--env", "development").code == 0
    stored = memory_backend.SHELVES["dev-shelf"]["JWT_SECRET_KEY"].current.value.reveal()
    from dotenv import dotenv_values

    assert dotenv_values(root / ".env")["JWT_SECRET_KEY"] == stored


def test_an_unknown_backend_is_a_located_error(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"dev": "values: {}\nstore:\n  backend: etcd\n"})
    result = run(root, "validate", "--offline")
    assert result.code == 2
    assert "environments/dev.yaml:3: store.backend: unknown store backend 'etcd'" in result.err
    assert "file, vault" in result.err

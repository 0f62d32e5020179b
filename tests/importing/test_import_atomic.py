"""`import` changes the environment file and the store together or not at all, and
concurrent imports lose nothing."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from tests.support.repo import make_repo, run

from secconf.operations.project import Project

LITERALS = {
    "JWT_ALGORITHM": "HS384",
    "ACCESS_TOKEN_EXPIRE_HOURS": "7",
    "REFRESH_TOKEN_EXPIRE_DAYS": "9",
    "DEFAULT_USER_ROLE": "member",
    "ENABLE_REGISTRATION": "false",
    "ADMIN_CONTACT_EMAIL": "ops@acme-shop.io",
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"development": "description: dev\nvalues: {}\n"})


def stored(root: Path) -> dict[str, tuple[str, int]]:
    """Stored values and their versions (values stay out of assertion messages: callers
    compare them to expected values with a boolean)."""
    project = Project.open(root)
    entries = project.open_store(project.environments.get("development")).read()
    return {n: (e.current.value.reveal(), e.current.version) for n, e in entries.items()}


def test_six_concurrent_imports_lose_nothing_and_replace_nothing(
    repo: Path, tmp_path: Path
) -> None:
    """Today: literals lost, and a stored secret replaced without --yes."""
    secrets = ["first-secret"] * 5 + ["second-secret"]
    sources = []
    for i, (name, value) in enumerate(LITERALS.items()):
        source = tmp_path / f"old{i}.env"
        source.write_text(f"{name}={value}\nTURNSTILE_SECRET_KEY={secrets[i]}\n")
        sources.append(source)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SECCONF_")}
    command = [sys.executable, "-m", "secconf", "--root", str(repo), "import"]
    procs = [
        subprocess.Popen(
            [*command, str(s), "--env", "development"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=environ,
        )
        for s in sources
    ]
    codes = [p.wait(timeout=120) for p in procs]
    for p in procs:
        assert p.stdout is not None and p.stderr is not None
        p.stdout.close()
        p.stderr.close()
    value, version = stored(repo)["TURNSTILE_SECRET_KEY"]
    assert version == 1  # stored once, never replaced without --yes
    won = [i for i, s in enumerate(secrets) if s == value]
    assert won, "the stored secret is one of those imported"
    assert sorted(codes) == sorted(0 if i in won else 2 for i in range(6))
    values = yaml.safe_load((repo / "environments" / "development.yaml").read_text())["values"]
    for i, (name, literal) in enumerate(LITERALS.items()):
        if codes[i] == 0:
            assert values.get(name) == literal, name  # every successful import is there
        else:
            assert name not in values, name  # a refused import changed nothing
    assert values["TURNSTILE_SECRET_KEY"] == {"from_store": True}


def _files(root: Path) -> dict[str, bytes | None]:
    paths = ["environments/development.yaml", "secrets/development.enc.yaml"]
    return {p: (root / p).read_bytes() if (root / p).exists() else None for p in paths}


def _full_disk_in_the_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk is full when the store's temp file is made (whatever its name)."""
    real = os.open

    def open_(path: str, flags: int, mode: int = 0o777, **kwargs: object) -> int:
        name = os.path.basename(path)
        if ".enc.yaml" in name and name.endswith(".tmp"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, flags, mode, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("secconf.core.files.os.open", open_)


@pytest.mark.parametrize("store_exists", [True, False])
def test_a_full_disk_at_the_store_step_changes_neither_file(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_exists: bool
) -> None:
    """Today: `{from_store: true}` in the environment file and no value in the store."""
    if store_exists:
        first = tmp_path / "first.env"
        first.write_text("JWT_ALGORITHM=HS512\nVAPID_SUBJECT=mailto:a@acme-shop.io\n")
        assert run(repo, "import", str(first), "--env", "development").code == 0
        assert run(repo, "keys", "ensure", "--env", "development").code == 0
    before = _files(repo)
    source = tmp_path / "old.env"
    source.write_text("ADMIN_CONTACT_EMAIL=ops@acme-shop.io\nTURNSTILE_SECRET_KEY=new-secret\n")
    _full_disk_in_the_store(monkeypatch)
    result = run(repo, "import", str(source), "--env", "development")
    assert result.code == 2, result.both
    assert "No space left on device" in result.err and "Traceback" not in result.err
    assert _files(repo) == before


def test_a_new_environment_file_is_not_left_when_the_store_fails(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "old.env"
    source.write_text("TURNSTILE_SECRET_KEY=new-secret\n")
    _full_disk_in_the_store(monkeypatch)
    assert run(repo, "import", str(source), "--env", "fresh").code == 2
    assert not (repo / "environments" / "fresh.yaml").exists()


def test_the_store_is_put_back_when_the_environment_file_cannot_be_renamed(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = tmp_path / "first.env"
    first.write_text("TURNSTILE_SECRET_KEY=first-secret\n")
    assert run(repo, "import", str(first), "--env", "development").code == 0
    before = _files(repo)
    source = tmp_path / "old.env"
    source.write_text("ADMIN_CONTACT_EMAIL=ops@acme-shop.io\nTURNSTILE_SECRET_KEY=second\n")
    real = os.replace

    def replace(src: str, dst: str) -> None:
        if str(dst).endswith("development.yaml"):
            raise OSError(errno.EROFS, "Read-only file system")
        real(src, dst)

    monkeypatch.setattr("secconf.core.files.os.replace", replace)
    result = run(repo, "import", str(source), "--env", "development", "--yes")
    assert result.code == 2 and "Read-only file system" in result.err
    monkeypatch.setattr("secconf.core.files.os.replace", real)
    assert _files(repo) == before
    kept = stored(repo)["TURNSTILE_SECRET_KEY"][0] == "first-secret"
    assert kept

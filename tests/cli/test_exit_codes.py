"""Errors the user can act on are exit 2 with a one-line message, never 3: a full disk, a
read-only file system, a file where a directory should be, a master key symlink that
points nowhere, an environment variable that is not UTF-8 text."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from tests.support.repo import Result, make_repo, run

DEV = "values:\n  JWT_SECRET_KEY: {generate: true}\n"


def one_line(result: Result) -> str:
    """Exit 2, one error line (and at most a hint), no traceback: the error line."""
    assert result.code == 2, result.both
    assert "Traceback" not in result.both and "internal error" not in result.both
    lines = [ln for ln in result.err.splitlines() if ln.strip()]
    assert lines and all(ln.startswith("  hint: ") for ln in lines[1:]), result.err
    return lines[-1] if not lines[0].startswith("secconf: error:") else lines[0]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = make_repo(tmp_path / "repo", {"dev": DEV})
    assert run(root, "store", "init", "--env", "dev").code == 0  # the key exists already
    return root


def test_a_full_disk_is_a_one_line_error_naming_the_file(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    line = one_line(run(repo, "keys", "ensure", "--env", "dev"))
    # The first file written is secconf's own .gitignore or the store: either is named.
    assert "No space left on device" in line and "cannot write" in line and str(repo) in line
    assert not (repo / "secrets" / "dev.enc.yaml").exists()


def test_a_read_only_file_system_is_a_one_line_error(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def read_only(src: str, dst: str) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), src, None, dst)

    monkeypatch.setattr(os, "replace", read_only)
    line = one_line(run(repo, "keys", "ensure", "--env", "dev"))
    assert "Read-only file system" in line and "cannot write" in line and str(repo) in line


def test_a_file_where_a_directory_should_be_is_a_one_line_error(repo: Path) -> None:
    assert run(repo, "keys", "ensure", "--env", "dev").code == 0
    (repo / "notes.txt").write_text("a file, not a directory\n")
    (repo / "environments" / "dev.yaml").write_text(
        DEV + "targets:\n  dotenv: {path: notes.txt/out/dev.env}\n"
    )
    line = one_line(run(repo, "render", "--env", "dev"))
    assert "notes.txt" in line and "Not a directory" in line, line


def test_a_master_key_symlink_to_nothing_is_a_one_line_error(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"dev": DEV})
    (root / ".secconf").mkdir()
    # Inside the repository (a key file outside it is refused by the placement rules).
    (root / ".secconf" / "master.key").symlink_to(root / "gone" / "master.key")
    for args in (("keys", "ensure", "--env", "dev"), ("store", "init", "--env", "dev")):
        line = one_line(run(root, *args))
        assert "symbolic link" in line and "does not exist" in line, line
    assert not (root / "gone").exists()


def test_a_from_env_value_that_is_not_utf8_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_repo(
        tmp_path / "repo", {"dev": "values:\n  ADMIN_CONTACT_EMAIL: {from_env: CONTACT}\n"}
    )
    # os.environ keeps bytes that are not UTF-8 as lone surrogates (surrogateescape).
    monkeypatch.setenv("CONTACT", "ops\udcff-canary@acme.io")
    for args in (("validate", "--offline"), ("validate",), ("render", "--env", "dev")):
        result = run(root, *args)
        line = one_line(result)
        assert "environments/dev.yaml:2" in line, line
        assert "ADMIN_CONTACT_EMAIL" in line and "$CONTACT" in line, line
        assert "canary" not in result.both

"""A transaction's temp files are durable before any is renamed: an fsync each for a
few, one syncfs(2) per file system for many (Linux 5.8+), and a failure of either
renames nothing and leaves no temp behind."""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from secconf.core import files
from secconf.core.files import Transaction, WriteError

MANY = files._SYNCFS_FROM + 4


def _fsynced_files(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The staged temps os.fsync is called on from now on (not the directories, nor the
    `.gitignore` files of secconf's private directories, written on their own)."""
    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        path = os.readlink(f"/proc/self/fd/{fd}")
        if "/.secconf/tmp/" in path and not path.endswith(files.BESIDE_SUFFIX):
            synced.append(path)
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return synced


def _syncfs_calls(monkeypatch: pytest.MonkeyPatch, result: int = 0) -> list[str]:
    """The directories libc's syncfs is called on from now on; `result` other than 0:
    it fails with EIO instead of being called."""
    real = files._syncfs()
    if real is None:
        pytest.skip("no syncfs here (Linux 5.8 or later only)")
    calls: list[str] = []

    def syncfs(fd: int) -> int:
        calls.append(os.readlink(f"/proc/self/fd/{fd}"))
        if result:
            import ctypes

            ctypes.set_errno(errno.EIO)
            return result
        return real(fd)

    wrapper: Callable[[], Callable[[int], int]] = lambda: syncfs  # noqa: E731
    monkeypatch.setattr(files, "_syncfs", wrapper)
    return calls


def _write(root: Path, count: int) -> dict[Path, bytes]:
    wanted = {root / "out" / f"f{i}.env": f"VALUE={i}\n".encode() for i in range(count)}
    transaction = Transaction(root)
    for path, data in wanted.items():
        transaction.add(path, data, mode=0o600, shown=f"out/{path.name}")
    transaction.write()
    return wanted


def _temps(root: Path) -> list[str]:
    staging = root / ".secconf" / "tmp"
    if not staging.exists():
        return []
    return sorted(p.name for p in staging.iterdir() if p.name != ".gitignore")


needs_linux = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc/self/fd (Linux)"
)


@needs_linux
def test_many_files_are_made_durable_by_one_syncfs_and_no_fsync_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _syncfs_calls(monkeypatch)
    synced = _fsynced_files(monkeypatch)
    wanted = _write(tmp_path, MANY)
    assert calls == [str(tmp_path / ".secconf" / "tmp")]  # one file system, one call
    assert synced == []
    for path, data in wanted.items():
        assert path.read_bytes() == data and (path.stat().st_mode & 0o777) == 0o600
    assert _temps(tmp_path) == []


@needs_linux
@pytest.mark.parametrize(
    ("count", "syncfs"),
    [(files._SYNCFS_FROM - 1, True), (MANY, False)],
    ids=["a few files", "many, without syncfs (macOS, Linux before 5.8)"],
)
def test_an_fsync_each_for_a_few_files_or_without_syncfs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count: int, syncfs: bool
) -> None:
    if syncfs:
        calls = _syncfs_calls(monkeypatch)
    else:
        calls = []
        monkeypatch.setattr(files, "_syncfs", lambda: None)
    synced = _fsynced_files(monkeypatch)
    wanted = _write(tmp_path, count)
    assert calls == []
    assert len(synced) == count
    assert all(path.read_bytes() == data for path, data in wanted.items())


@needs_linux
def test_a_failed_syncfs_renames_nothing_names_a_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = tmp_path / "out" / "f0.env"
    before.parent.mkdir()
    before.write_bytes(b"VALUE=before\n")
    calls = _syncfs_calls(monkeypatch, result=-1)
    with pytest.raises(WriteError) as raised:
        _write(tmp_path, MANY)
    assert len(calls) == 1
    message = str(raised.value)
    assert "Input/output error" in message and "out/f" in message
    assert before.read_bytes() == b"VALUE=before\n"
    assert sorted(p.name for p in before.parent.iterdir()) == ["f0.env"]
    assert _temps(tmp_path) == []


@needs_linux
def test_a_render_of_many_environments_reports_a_failed_syncfs_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.repo import make_repo, run

    environments = {
        f"dev{i}": "values:\n  ACCESS_TOKEN_EXPIRE_HOURS: 3\n" for i in range(files._SYNCFS_FROM)
    }
    root = make_repo(tmp_path / "repo", environments)
    calls = _syncfs_calls(monkeypatch, result=-1)
    result = run(root, "render", "--all", "--target", "vault", "--processes", "1")
    assert result.code == 2, result.err
    lines = [line for line in result.err.splitlines() if "Input/output error" in line]
    assert len(lines) == 1 and "cannot write" in lines[0] and "Traceback" not in result.err
    assert calls and not (root / "out").exists()
    assert _temps(root) == []

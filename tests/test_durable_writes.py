"""A transaction's temp files are durable before any is renamed: an fsync each for a
few, one syncfs(2) per local file system for many (Linux 5.17+), and a failure of
either renames nothing and leaves no temp behind."""

from __future__ import annotations

import ctypes
import errno
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from secconf.core import files
from secconf.core.files import Transaction, WriteError

MANY = files._SYNCFS_FROM + 4

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="syncfs and /proc/self are Linux's"
)


def _syncfs_here(monkeypatch: pytest.MonkeyPatch, *paths: Path) -> None:
    """Skip unless the kernel has a syncfs secconf trusts; then count the file systems
    of `paths` as ones it trusts, whatever they are (the temp directory of a CI runner
    may be on overlayfs, whose syncfs works but is not trusted for durability)."""
    if files._syncfs() is None:
        pytest.skip(f"no syncfs to trust here (Linux {'.'.join(map(str, files._SYNCFS_KERNEL))}+)")
    real = files._mount_types()
    trusted = {os.stat(path).st_dev: "ext4" for path in paths}
    monkeypatch.setattr(files, "_mount_types", lambda: {**real, **trusted})


def _fsynced_files(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The staged temps os.fsync is called on from now on (not the directories, nor the
    `.gitignore` files of secconf's private directories, written on their own)."""
    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        path = os.readlink(f"/proc/self/fd/{fd}")
        if path.endswith(".tmp") or ".out." in path:
            synced.append(path)
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return synced


def _syncfs_calls(monkeypatch: pytest.MonkeyPatch, fail: int = 0) -> list[str]:
    """The files whose descriptor libc's syncfs is called on from now on; `fail`: an
    errno it fails with instead of being called."""
    real = files._syncfs()
    assert real is not None
    calls: list[str] = []

    def syncfs(fd: int) -> int:
        calls.append(os.readlink(f"/proc/self/fd/{fd}"))
        if fail:
            ctypes.set_errno(fail)
            return -1
        return real(fd)

    wrapper: Callable[[], Callable[[int], int]] = lambda: syncfs  # noqa: E731
    monkeypatch.setattr(files, "_syncfs", wrapper)
    return calls


def _write(root: Path, count: int, elsewhere: Path | None = None) -> dict[Path, bytes]:
    """`count` files under root/out (every other one under `elsewhere` when given, a
    place outside the repository), written as one transaction."""
    wanted = {}
    for i in range(count):
        base = root / "out" if elsewhere is None or i % 2 == 0 else elsewhere
        wanted[base / f"f{i}.out.env"] = f"VALUE={i}\n".encode()
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


def test_many_files_are_made_durable_by_one_syncfs_and_no_fsync_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _syncfs_here(monkeypatch, tmp_path)
    created: dict[int, tuple[str, int]] = {}  # descriptor -> (path, flags) of each O_CREAT
    real_open = os.open

    def open_(path: str | Path, flags: int, *args: int, **kwargs: int) -> int:
        fd = real_open(path, flags, *args, **kwargs)
        if flags & os.O_CREAT:
            created[fd] = (os.fspath(path), flags)
        return fd

    monkeypatch.setattr(os, "open", open_)
    given: list[tuple[int, str, int]] = []  # descriptor, its file, its size at the call
    real = files._syncfs()
    assert real is not None

    def syncfs(fd: int) -> int:
        given.append((fd, os.readlink(f"/proc/self/fd/{fd}"), os.fstat(fd).st_size))
        return real(fd)

    monkeypatch.setattr(files, "_syncfs", lambda: syncfs)
    synced = _fsynced_files(monkeypatch)
    wanted = _write(tmp_path, MANY)
    # One file system, one call, on the descriptor that created the first temp there
    # (so it has been open since before any byte was written, and is told of any
    # write-back error since, whoever else syncs first), not one opened afterwards.
    assert len(given) == 1
    fd, path, size = given[0]
    assert path.startswith(str(tmp_path / ".secconf" / "tmp")) and path.endswith(".f0.out.env.tmp")
    assert created.get(fd, ("", 0))[0] == path and created[fd][1] & os.O_ACCMODE == os.O_WRONLY
    assert size == len(wanted[tmp_path / "out" / "f0.out.env"])
    assert synced == []
    for path, data in wanted.items():
        assert path.read_bytes() == data and (path.stat().st_mode & 0o777) == 0o600
    assert _temps(tmp_path) == []


def test_temps_on_two_file_systems_get_one_syncfs_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second file system (/dev/shm) to write to")
    _syncfs_here(monkeypatch, tmp_path, shm)
    elsewhere = shm / f"secconf-test-{os.getpid()}-{tmp_path.name}"
    elsewhere.mkdir()
    try:
        calls = _syncfs_calls(monkeypatch)
        wanted = _write(tmp_path, MANY, elsewhere)
        assert len(calls) == 2
        assert calls[0].startswith(str(tmp_path)) and calls[1].startswith(str(elsewhere))
        assert all(path.read_bytes() == data for path, data in wanted.items())
        assert sorted(p.name for p in elsewhere.iterdir()) == sorted(
            p.name for p in wanted if p.parent == elsewhere
        )  # the temps beside those files are gone
    finally:
        for path in elsewhere.iterdir():
            path.unlink()
        elsewhere.rmdir()


@pytest.mark.parametrize(
    "why",
    ["a few files", "no syncfs (macOS, Linux before 5.17)", "a file system not trusted"],
)
def test_an_fsync_each_for_a_few_files_without_syncfs_or_on_other_file_systems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, why: str
) -> None:
    count = files._SYNCFS_FROM - 1 if why == "a few files" else MANY
    if why.startswith("no syncfs"):
        monkeypatch.setattr(files, "_syncfs", lambda: None)
    elif files._syncfs() is not None:
        calls = _syncfs_calls(monkeypatch)
        if why.endswith("not trusted"):  # as FUSE or overlayfs: an fsync each
            monkeypatch.setattr(files, "_mount_types", lambda: {})
    synced = _fsynced_files(monkeypatch)
    wanted = _write(tmp_path, count)
    assert len(synced) == count
    if files._syncfs() is not None:
        assert calls == []
    assert all(path.read_bytes() == data for path, data in wanted.items())


@pytest.mark.parametrize("code", [errno.ENOSYS, errno.EPERM])
def test_a_syncfs_a_sandbox_refuses_falls_back_to_an_fsync_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    _syncfs_here(monkeypatch, tmp_path)
    calls = _syncfs_calls(monkeypatch, fail=code)
    synced = _fsynced_files(monkeypatch)
    wanted = _write(tmp_path, MANY)
    assert len(calls) == 1 and len(synced) == MANY
    assert all(path.read_bytes() == data for path, data in wanted.items())


def test_a_failed_syncfs_renames_nothing_names_a_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _syncfs_here(monkeypatch, tmp_path)
    before = tmp_path / "out" / "f0.out.env"
    before.parent.mkdir()
    before.write_bytes(b"VALUE=before\n")
    calls = _syncfs_calls(monkeypatch, fail=errno.EIO)
    with pytest.raises(WriteError) as raised:
        _write(tmp_path, MANY)
    assert len(calls) == 1
    assert str(raised.value).startswith("cannot write out/f0.out.env: Input/output error")
    assert before.read_bytes() == b"VALUE=before\n"
    assert sorted(p.name for p in before.parent.iterdir()) == ["f0.out.env"]
    assert _temps(tmp_path) == []


def test_a_render_of_many_environments_reports_a_failed_syncfs_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.repo import make_repo, run

    environments = {
        f"dev{i}": "values:\n  ACCESS_TOKEN_EXPIRE_HOURS: 3\n" for i in range(files._SYNCFS_FROM)
    }
    root = make_repo(tmp_path / "repo", environments)
    _syncfs_here(monkeypatch, root)
    calls = _syncfs_calls(monkeypatch, fail=errno.EIO)
    result = run(root, "render", "--all", "--target", "vault", "--processes", "1")
    assert result.code == 2, result.err
    lines = [line for line in result.err.splitlines() if "Input/output error" in line]
    assert len(lines) == 1 and "cannot write" in lines[0] and "Traceback" not in result.err
    assert calls and not (root / "out").exists()
    assert _temps(root) == []


def test_the_real_syncfs_reports_its_errno() -> None:
    syncfs = files._syncfs()
    if syncfs is None:
        pytest.skip("no syncfs here")
    assert syncfs(-1) == -1 and ctypes.get_errno() == errno.EBADF


@pytest.mark.parametrize(
    ("release", "version"),
    [
        ("6.18.44-fc-v1098", (6, 18)),
        ("5.10.0-21-amd64", (5, 10)),
        ("5.17", (5, 17)),
        ("6.1-rc1+", (6, 1)),
        ("4.4.0-19041-Microsoft", (4, 4)),
        ("v6.1", (0, 0)),
        ("5", (0, 0)),
        ("", (0, 0)),
    ],
)
def test_kernel_releases_parse_or_count_as_too_old(release: str, version: tuple[int, int]) -> None:
    assert files._kernel(release) == version


def test_mountinfo_lines_give_each_device_its_file_system_type() -> None:
    # Lines as proc(5) documents them: optional fields before " - ", then the type.
    text = (
        "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n"
        "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard\n"
        "25 24 0:23 / /dev/shm rw,relatime shared:4 master:2 - tmpfs tmpfs rw\n"
        "60 27 0:51 / /home/u/remote rw,nosuid - fuse.sshfs u@host:/ rw,user_id=0\n"
        "61 27 0:52 / /var/lib/docker/x rw - overlay overlay rw,lowerdir=/a\n"
        "garbage without a separator\n"
        "62 27 nan:1 / /x rw - ext4 /dev/x rw\n"
        "63 27 99999999999999999999:1 / /y rw - ext4 /dev/y rw\n"
    )
    types = files.parse_mountinfo(text)
    assert types == {
        os.makedev(98, 0): "ext3",
        os.makedev(254, 0): "ext4",
        os.makedev(0, 23): "tmpfs",
        os.makedev(0, 51): "fuse.sshfs",
        os.makedev(0, 52): "overlay",
    }
    assert {t for t in types.values() if t in files._SYNCFS_TYPES} == {"ext4", "tmpfs"}


def test_the_mount_table_of_this_process_is_read() -> None:
    types = files._mount_types()
    assert os.stat("/proc").st_dev in types and types[os.stat("/proc").st_dev] == "proc"


def test_a_transaction_staged_again_after_a_failure_makes_the_directories_it_removed(
    tmp_path: Path,
) -> None:
    """A failed stage removes the directories it made; staging the same transaction
    again (the obstacle gone) makes them anew rather than trusting what it saw before."""
    good = tmp_path / "out" / "new" / "a.env"
    blocked = tmp_path / "out" / "b.env"
    blocked.mkdir(parents=True)  # a directory where a file is to go
    transaction = Transaction(tmp_path)
    transaction.add(good, b"A=1\n", mode=0o600, shown="out/new/a.env")
    transaction.add(blocked, b"B=2\n", mode=0o600, shown="out/b.env")
    with pytest.raises(WriteError, match=r"cannot write out/b\.env"):
        transaction.stage()
    assert not good.parent.exists()  # made for the first file, removed with its temp
    blocked.rmdir()
    transaction.write()
    assert good.read_bytes() == b"A=1\n" and blocked.read_bytes() == b"B=2\n"
    assert _temps(tmp_path) == []

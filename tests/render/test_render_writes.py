"""How `render` writes: all files or none, nothing generated until all rendered, never
over a file secconf did not write, `--out` only to a regular file."""

from __future__ import annotations

import errno
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from tests.support.oracles import dotenv_read
from tests.support.repo import make_repo, run, write_env

DEV = """
values:
  JWT_SECRET_KEY: {generate: true}
  VAPID_PRIVATE_KEY: {generate: true}
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"dev": DEV, "stage": DEV})


def tree(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file with its bytes and inode (but secconf's lock files and the
    .gitignore of its private directories): equal means untouched."""
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_ino)
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and "locks" not in p.parts
        and not (".secconf" in p.parts and p.name == ".gitignore")
    }


# ---- existing files that secconf did not write


def test_a_hand_made_env_file_is_replaced_only_with_force(repo: Path) -> None:
    (repo / "out").mkdir()
    mine = repo / "out" / "dev.env"
    mine.write_text("MY_OWN=settings\n")
    refused = run(repo, "render", "--env", "dev")
    assert refused.code == 2
    assert refused.err.startswith(
        "secconf: error: out/dev.env exists and was not written by secconf"
    )
    assert "--force" in refused.err
    assert mine.read_text() == "MY_OWN=settings\n"
    assert not (repo / "secrets").exists()  # refused before any key was generated
    assert run(repo, "render", "--env", "dev", "--force").code == 0
    assert "JWT_SECRET_KEY" in set(dotenv_read(mine))  # names only in a failure
    # secconf wrote it now: later renders replace it without --force
    write_env(repo, "dev", DEV + "  ACCESS_TOKEN_EXPIRE_HOURS: 3\n")
    assert run(repo, "render", "--env", "dev").code == 0
    assert dotenv_read(mine)["ACCESS_TOKEN_EXPIRE_HOURS"] == "3"


def test_an_env_file_edited_by_hand_after_secconf_wrote_it_is_kept(repo: Path) -> None:
    assert run(repo, "render", "--env", "dev").code == 0
    path = repo / "out" / "dev.env"
    path.write_text(path.read_text() + "DEBUG_FLAG=1\n")
    edited = path.read_bytes()
    write_env(repo, "dev", DEV + "  ACCESS_TOKEN_EXPIRE_HOURS: 3\n")
    result = run(repo, "render", "--env", "dev")
    assert result.code == 2 and "was edited since secconf wrote it" in result.err
    assert path.read_bytes() == edited


def test_an_existing_file_with_the_very_bytes_is_not_foreign(repo: Path, tmp_path: Path) -> None:
    assert run(repo, "render", "--env", "dev", "--out", str(tmp_path / "copy.env")).code == 0
    (repo / "out").mkdir()
    (repo / "out" / "dev.env").write_bytes((tmp_path / "copy.env").read_bytes())
    assert run(repo, "render", "--env", "dev").code == 0


def test_the_manifest_is_git_ignored_and_private(repo: Path) -> None:
    assert run(repo, "render", "--all").code == 0
    manifest = repo / ".secconf" / "outputs.json"
    assert manifest.stat().st_mode & 0o777 == 0o600
    assert (repo / ".secconf" / ".gitignore").read_text().splitlines()[-1] == "*"


# ---- all files or none; nothing generated until every environment rendered


def test_one_unwritable_output_leaves_every_file_and_store_as_it_was(repo: Path) -> None:
    """Today's bug: the earlier environment was written and the run exited 3."""
    (repo / "blocker").write_text("a file, not a directory\n")
    write_env(repo, "stage", DEV + "targets:\n  dotenv: {path: blocker/stage.env}\n")
    before = tree(repo)
    result = run(repo, "render", "--all")
    assert result.code == 2, result.both
    assert result.err.startswith("secconf: error: cannot write blocker/stage.env: Not a directory")
    assert len(result.err.splitlines()) == 2  # the error and its hint
    assert tree(repo) == before  # dev's file not written, no key generated, no store
    assert not (repo / "out").exists() and not (repo / ".secconf" / "master.key").exists()
    assert not [p for p in (repo / ".secconf").rglob("*") if p.name.endswith(".tmp")]


def test_a_value_that_cannot_be_rendered_generates_no_key(repo: Path) -> None:
    """Today's bug: the VAPID keys generated for a render that then failed were kept."""
    write_env(repo, "dev", DEV + "  TURNSTILE_SITE_KEY: 'site-${x}'\n")  # valid, not writable
    result = run(repo, "render", "--env", "dev")
    assert result.code == 2 and "TURNSTILE_SITE_KEY" in result.err
    assert not (repo / "secrets").exists() and not (repo / ".secconf" / "master.key").exists()


def test_a_failing_environment_generates_nothing_for_the_others(repo: Path) -> None:
    assert run(repo, "keys", "ensure", "--env", "stage").code == 0  # stage's store exists
    store = (repo / "secrets" / "stage.enc.yaml").read_bytes()
    write_env(repo, "stage", DEV + "  REFRESH_TOKEN_EXPIRE_DAYS: 9\n")
    write_env(repo, "zeta", DEV + "  TURNSTILE_SITE_KEY: 'site-${x}'\n")  # rendered last
    result = run(repo, "render", "--all")
    assert result.code == 2 and "TURNSTILE_SITE_KEY" in result.err
    assert (repo / "secrets" / "stage.enc.yaml").read_bytes() == store
    assert sorted(p.name for p in (repo / "secrets").iterdir()) == ["stage.enc.yaml"]  # no dev
    assert not (repo / "out").exists()


def test_a_full_disk_while_staging_changes_nothing(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(repo, "render", "--all").code == 0
    write_env(repo, "dev", DEV + "  ACCESS_TOKEN_EXPIRE_HOURS: 3\n")
    write_env(repo, "stage", DEV + "  ACCESS_TOKEN_EXPIRE_HOURS: 4\n")
    before = tree(repo)
    real = os.open

    def open_(path: str, flags: int, mode: int = 0o777) -> int:
        name = os.path.basename(path)
        if "stage.env" in name and name.endswith(".tmp"):  # the temp of the second file
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, flags, mode)

    monkeypatch.setattr("secconf.core.files.os.open", open_)
    result = run(repo, "render", "--all")
    assert result.code == 2
    assert result.err.startswith("secconf: error: cannot write out/stage.env: No space left")
    assert tree(repo) == before
    assert not [p for p in (repo / ".secconf").rglob("*") if p.name.endswith(".tmp")]


def test_a_failed_rename_puts_back_every_file_already_replaced(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(repo, "render", "--all").code == 0
    before = {p: p.read_bytes() for p in (repo / "out").iterdir()}
    write_env(repo, "dev", DEV + "  ACCESS_TOKEN_EXPIRE_HOURS: 3\n")
    write_env(repo, "stage", DEV + "  ACCESS_TOKEN_EXPIRE_HOURS: 4\n")
    real = os.replace
    calls: list[str] = []

    def replace(src: str, dst: str) -> None:
        calls.append(str(dst))
        if str(dst).endswith("stage.env"):  # the second rename of the transaction
            raise OSError(errno.EROFS, "Read-only file system")
        real(src, dst)

    monkeypatch.setattr("secconf.core.files.os.replace", replace)
    result = run(repo, "render", "--all")
    assert result.code == 2 and "cannot write out/stage.env: Read-only file system" in result.err
    assert any(c.endswith("dev.env") for c in calls)  # dev's file had been replaced...
    assert {p: p.read_bytes() for p in (repo / "out").iterdir()} == before  # ...and is back


# ---- --out: a regular file (or -), nothing else


def _special_paths(tmp_path: Path) -> dict[str, Path]:
    paths = {"directory": tmp_path / "a-directory"}
    paths["directory"].mkdir()
    os.mkfifo(tmp_path / "a-fifo")
    paths["fifo"] = tmp_path / "a-fifo"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "a-socket"))
    sock.close()  # the socket file stays
    paths["socket"] = tmp_path / "a-socket"
    if os.geteuid() == 0:  # a copy of /dev/null: a broken check must not replace the real one
        os.mknod(tmp_path / "a-null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        paths["character device"] = tmp_path / "a-null"
    (tmp_path / "link-to-fifo").symlink_to(tmp_path / "a-fifo")
    paths["fifo behind a symlink"] = tmp_path / "link-to-fifo"
    return paths


@pytest.mark.parametrize("command", [["render", "--env", "dev"], ["docs"], ["schema", "export"]])
def test_out_refuses_anything_but_a_regular_file_before_doing_anything(
    repo: Path, tmp_path: Path, command: list[str]
) -> None:
    special = _special_paths(tmp_path)
    for kind, path in special.items():
        before = os.lstat(path)
        # A subprocess with a timeout: opening a FIFO or reading /dev/stdout would hang.
        result = subprocess.run(
            [sys.executable, "-m", "secconf", "--root", str(repo), *command, "--out", str(path)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 2, (kind, result.stderr)
        assert "not a regular file" in result.stderr and "Traceback" not in result.stderr
        after = os.lstat(path)
        assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode), kind
    assert not (repo / "secrets").exists() and not (repo / ".secconf").exists()


def test_out_dev_stdout_is_refused_and_does_not_hang(repo: Path) -> None:
    """`--out /dev/stdout` hung reading the pipe; `-` is the way to write to stdout."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "secconf",
            "--root",
            str(repo),
            "render",
            "--env",
            "dev",
            "--out",
            "/dev/stdout",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2 and "not a regular file" in result.stderr
    assert result.stdout == ""
    assert not (repo / "secrets").exists()


def test_out_may_name_any_regular_file_the_user_chooses(repo: Path, tmp_path: Path) -> None:
    existing = tmp_path / "existing.env"
    existing.write_text("old\n")
    link = tmp_path / "link.env"
    link.symlink_to(existing)
    assert run(repo, "render", "--env", "dev", "--out", str(link)).code == 0
    assert link.is_symlink() and "JWT_SECRET_KEY" in set(dotenv_read(existing))
    assert existing.stat().st_mode & 0o777 == 0o600
    assert not [p for p in tmp_path.iterdir() if "secconf-tmp" in p.name]


def test_an_output_directory_swapped_for_a_symlink_after_the_check_is_not_written_through(
    repo: Path, tmp_path: Path
) -> None:
    from secconf.core.errors import InputError
    from secconf.operations.project import Project
    from secconf.operations.render import render

    assert run(repo, "render", "--all").code == 0
    project = Project.open(repo)
    project.placement  # every path checked, as a render checks them first
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (repo / "out").rename(tmp_path / "old-out")
    (repo / "out").symlink_to(elsewhere)  # then, before the writes, `out/` goes elsewhere
    with pytest.raises(InputError, match="changed place since it was checked"):
        render(project, [], all_=True, target="dotenv", notify=lambda _: None)
    assert list(elsewhere.iterdir()) == []


def test_a_render_waits_for_the_manifest_lock_and_then_says_who_holds_it(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fcntl

    from secconf.operations import render as operations

    assert run(repo, "render", "--all").code == 0
    before = tree(repo)
    monkeypatch.setattr(operations, "LOCK_TIMEOUT_SECONDS", 0.2)
    lock = repo / ".secconf" / "locks" / "outputs.json.lock"
    with open(lock, "a") as held:  # another render, writing
        fcntl.flock(held, fcntl.LOCK_EX)
        write_env(repo, "dev", DEV + "  ACCESS_TOKEN_EXPIRE_HOURS: 3\n")
        result = run(repo, "render", "--all")
    assert result.code != 0 and "Traceback" not in result.err
    assert "outputs.json.lock stayed taken for 0.2 s" in result.err
    assert "another `secconf render` is writing files of this repository" in result.err
    assert {k: v for k, v in tree(repo).items() if not k.startswith("environments")} == {
        k: v for k, v in before.items() if not k.startswith("environments")
    }

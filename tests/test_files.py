"""Temp files never hold plaintext where git would pick them up; what a killed run left
is removed by the next one; directories and lock files are private whatever the umask."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tests.support.repo import make_repo, run

DEV = """
values:
  JWT_SECRET_KEY: {generate: true}
  VAPID_PRIVATE_KEY: {generate: true}
"""


def git_sees(root: Path) -> list[str]:
    """The files git would pick up: untracked and not ignored (git is the oracle)."""
    out = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line[3:] for line in out.splitlines()]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = make_repo(tmp_path / "repo", {"dev": DEV})
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".gitignore").write_text(".secconf/\nout/*.env\n")  # only what secconf documents
    return root


def _killed_in(root: Path, patch: str, *args: str) -> None:
    """Run secconf in a process that SIGKILLs itself where `patch` says (a real crash at
    a chosen moment, instead of a random one), and check it was killed."""
    code = textwrap.dedent(
        """
        import os, signal, sys
        {patch}
        from secconf.cli import main
        sys.exit(main(sys.argv[1:]))
        """
    ).format(patch=textwrap.dedent(patch))
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SECCONF_")}
    result = subprocess.run(
        [sys.executable, "-c", code, "--root", str(root), *args],
        capture_output=True,
        env=environ,
        timeout=60,
        check=False,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr


KILL_AT_RENAME = """
real = os.replace
def replace(src, dst, **kw):
    if str(dst).endswith(("dev.env", ".env")):
        os.kill(os.getpid(), signal.SIGKILL)
    return real(src, dst, **kw)
os.replace = replace
"""

KILL_AT_LINK = """
real = os.link
def link(src, dst, **kw):
    os.kill(os.getpid(), signal.SIGKILL)
os.link = link
"""


def _holding(root: Path, paths: list[str], secret: bytes) -> list[str]:
    return [p for p in paths if (root / p).is_file() and secret in (root / p).read_bytes()]


def _stored_secret(root: Path) -> bytes:
    from secconf.operations.project import Project

    project = Project.open(root)
    entries = project.open_store(project.environments.get("dev")).read()
    return entries["JWT_SECRET_KEY"].current.value.reveal().encode()


def test_render_killed_before_its_rename_leaves_no_plaintext_git_sees(repo: Path) -> None:
    """Today: `..env.<rand>.tmp` with every secret, beside the .env, not git-ignored."""
    (repo / "environments" / "dev.yaml").write_text(DEV + "targets:\n  dotenv: {path: .env}\n")
    (repo / ".gitignore").write_text(".secconf/\n.env\n")
    assert run(repo, "keys", "ensure", "--env", "dev").code == 0
    secret = _stored_secret(repo)
    _killed_in(repo, KILL_AT_RENAME, "render", "--env", "dev")
    assert not (repo / ".env").exists()
    leaked = _holding(repo, git_sees(repo), secret)  # names only: the secret stays out
    assert not leaked
    staged = [p for p in repo.rglob("*") if p.is_file() and secret in p.read_bytes()]
    assert [oct(p.stat().st_mode & 0o777) for p in staged] == [oct(0o600)]  # the one temp
    # the next writing run removes what the killed one left
    assert run(repo, "render", "--env", "dev").code == 0
    holding = [p for p in repo.rglob("*") if p.is_file() and secret in p.read_bytes()]
    assert holding == [repo / ".env"]


def test_master_key_creation_killed_leaves_no_key_git_sees(repo: Path) -> None:
    """Today: a hard link to the key under a name the .gitignore beside it misses."""
    (repo / "environments" / "dev.yaml").write_text(
        DEV + "store:\n  file: {key_file: keys/master.key}\n"
    )
    _killed_in(repo, KILL_AT_LINK, "keys", "ensure", "--env", "dev")
    assert not (repo / "keys" / "master.key").exists()
    temps = [p for p in repo.rglob("*") if p.is_file() and "master.key" in p.name]
    temps += list((repo / ".secconf" / "tmp").glob("*master.key*"))
    assert temps, "the kill came after the key was written"
    for temp in temps:
        assert str(temp.relative_to(repo)) not in git_sees(repo)
        assert temp.stat().st_mode & 0o777 == 0o600
    assert run(repo, "keys", "ensure", "--env", "dev").code == 0
    assert (repo / "keys" / "master.key").is_file()
    assert "keys/master.key" not in git_sees(repo)
    assert not list((repo / ".secconf" / "tmp").glob("*master.key*"))


def test_leftovers_of_dead_processes_are_removed_and_live_ones_kept(repo: Path) -> None:
    assert run(repo, "render", "--env", "dev").code == 0
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        staging = repo / ".secconf" / "tmp"
        staging.mkdir(exist_ok=True)
        gone = [
            staging / f"{dead.pid}.0123456789ab.dev.env.tmp",
            repo / "out" / ".dev.env.ab12cd34.tmp",  # what tempfile.mkstemp made before
            repo / "out" / f".dev.env.{dead.pid}.0a1b2c3d.secconf-tmp",
            repo / "secrets" / ".dev.enc.yaml.zz99yy88.tmp",
            repo / ".secconf" / f".master.key.{dead.pid}.0a1b2c3d",  # an old key temp
        ]
        kept = [
            staging / f"{alive.pid}.0123456789ab.dev.env.tmp",
            repo / "out" / "notes.tmp",  # not a name secconf makes
        ]
        for path in gone + kept:
            path.write_text("leftover")
        assert run(repo, "render", "--env", "dev").code == 0
        assert [p for p in gone if p.exists()] == []
        assert [p for p in kept if not p.exists()] == []
    finally:
        alive.kill()
        alive.wait()


def test_directories_and_lock_files_are_private_whatever_the_umask(
    tmp_path: Path,
) -> None:
    root = make_repo(tmp_path / "repo", {"dev": DEV})
    source = tmp_path / "old.env"
    source.write_text("TURNSTILE_SECRET_KEY=from-the-old-env\n")
    old = os.umask(0)
    try:
        assert run(root, "render", "--env", "dev").code == 0
        assert run(root, "import", str(source), "--env", "dev").code == 0
        assert run(root, "render", "--env", "dev", "--target", "kubernetes").code == 0
        assert run(None, "init", str(tmp_path / "new")).code == 0
    finally:
        os.umask(old)
    created = [".secconf", ".secconf/locks", "secrets", "out"]
    created += [d for d in (".secconf/tmp",) if (root / d).exists()]
    assert {d: oct((root / d).stat().st_mode & 0o777) for d in created} == dict.fromkeys(
        created, oct(0o700)
    )
    locks = list((root / ".secconf" / "locks").iterdir())
    assert locks and {oct(p.stat().st_mode & 0o777) for p in locks if p.suffix == ".lock"} == {
        oct(0o600)
    }
    new = tmp_path / "new"
    assert {oct(p.stat().st_mode & 0o777) for p in new.rglob("*") if p.is_dir()} == {oct(0o700)}
    assert {oct(p.stat().st_mode & 0o777) for p in new.rglob("*") if p.is_file()} == {oct(0o644)}


@pytest.mark.parametrize(
    "command",
    [("import", "OLD_ENV", "--env", "qa"), ("store", "init", "--env", "dev", "--encryption", "age")],
)
def test_commands_that_reread_the_repo_still_sweep_beside_outputs_and_stores(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    # `import` and an edit of an environment file work on a second view of the repo.
    repo = make_repo(tmp_path / "repo", {"dev": DEV, "qa": DEV})
    assert run(repo, "render", "--env", "qa").code == 0
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    gone = [
        repo / "out" / f".qa.env.{dead.pid}.0a1b2c3d.secconf-tmp",
        repo / "secrets" / f".qa.enc.yaml.{dead.pid}.0a1b2c3d.secconf-tmp",
    ]
    for path in gone:
        path.write_text("leftover")
    source = tmp_path / "old.env"
    source.write_text("TURNSTILE_SECRET_KEY=from-the-old-env\n")
    result = run(repo, *(str(source) if a == "OLD_ENV" else a for a in command))
    assert result.code == 0, result.err
    assert [p for p in gone if p.exists()] == []

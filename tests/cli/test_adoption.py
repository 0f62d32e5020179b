"""secconf init, the pre-commit hook and the CI example."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from tests.support.repo import join_ops, run

REPO = Path(__file__).resolve().parents[2]


def test_init_then_validate_ensure_and_render_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "config"
    result = run(None, "init", str(target))
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[-3:] == [
        "  secconf validate --all",
        "  secconf keys ensure --all",
        "  secconf render --env development",
    ]
    assert (target / ".gitignore").read_text().splitlines()[-4:] == [
        ".secconf/",
        "out/",
        ".env",
        "*.secconf-tmp",
    ]
    for name, value in {
        "STAGING_TURNSTILE_SECRET_KEY": "1x0000000000000000000000000000000AA",
        "PROD_TURNSTILE_SITE_KEY": "0x4AAAAAAAinit-site",
        "PROD_TURNSTILE_SECRET_KEY": "0x4AAAAAAAinit-secret",
    }.items():
        monkeypatch.setenv(name, value)
    assert run(target, "validate", "--all").code == 0
    # Production is sealed with age to the `ops` group: the user puts their key in it.
    join_ops(target)
    assert run(target, "keys", "ensure", "--all").code == 0
    rendered = run(target, "render", "--all")
    assert rendered.code == 0, rendered.err
    assert (target / ".env").exists() and (target / "out" / "production.env").exists()


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "staging.yaml").write_text("# mine\n")
    result = run(None, "init", str(tmp_path))
    assert result.code == 2 and "refusing to overwrite" in result.err
    assert (tmp_path / "environments" / "staging.yaml").read_text() == "# mine\n"
    assert not (tmp_path / "schema").exists()  # nothing written at all


def test_init_keeps_an_existing_gitignore(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("node_modules/\nout/\n")
    assert run(None, "init", str(tmp_path)).code == 0
    lines = (tmp_path / ".gitignore").read_text().splitlines()
    assert lines[:2] == ["node_modules/", "out/"]
    assert lines.count("out/") == 1 and ".secconf/" in lines and ".env" in lines


def test_github_actions_example_runs_our_commands(tmp_path: Path) -> None:
    workflow = yaml.safe_load((REPO / "examples" / "github-actions.yml").read_text())
    steps = [s.get("run", "") for job in workflow["jobs"].values() for s in job["steps"]]
    commands = [c for c in steps if c.startswith("secconf ")]
    assert any("--format github" in c for c in commands) and any(
        "--format sarif" in c for c in commands
    )
    assert any(c.startswith("secconf apply") for c in commands)
    assert workflow["jobs"]["deliver"]["if"].startswith("github.event_name == 'push'")
    # the validate job's commands work on a config repo as they are written
    from tests.support.repo import make_repo

    root = make_repo(tmp_path / "repo")
    for command in commands:
        if "validate" in command:
            argv = command.split(">")[0].split()[1:]
            assert run(root, *argv).code == 0, command


def test_pre_commit_hook_definition() -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    (hook,) = [h for h in hooks if h["id"] == "secconf-validate"]
    assert hook["entry"] == "secconf validate --all" and hook["pass_filenames"] is False


@pytest.mark.skipif(shutil.which("git") is None, reason="pre-commit needs git")
def test_pre_commit_try_repo(tmp_path: Path) -> None:
    """pre-commit installs secconf from this repository and runs the hook, as a user's
    repository would (about 15 s: it builds a virtual environment)."""
    pre_commit = Path(sys.executable).parent / "pre-commit"
    if not pre_commit.exists():
        pytest.skip("pre-commit is not installed")
    config = tmp_path / "config"
    assert run(None, "init", str(config)).code == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECCONF_")}
    env["PRE_COMMIT_HOME"] = str(tmp_path / "pre-commit-home")
    git = ["git", "-c", "user.email=ci@secconf.invalid", "-c", "user.name=ci"]
    subprocess.run([*git, "init", "-q"], cwd=config, check=True, env=env)
    subprocess.run([*git, "add", "-A"], cwd=config, check=True, env=env)
    subprocess.run([*git, "commit", "-qm", "config"], cwd=config, check=True, env=env)

    def try_repo() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(pre_commit), "try-repo", str(REPO), "secconf-validate", "--all-files"],
            cwd=config,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    ok = try_repo()
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "secconf validate" in ok.stdout and "Passed" in ok.stdout
    (config / "environments" / "staging.yaml").write_text("values:\n  JWT_ALGORITHM: RS256\n")
    subprocess.run([*git, "commit", "-qam", "break"], cwd=config, check=True, env=env)
    bad = try_repo()
    assert bad.returncode == 1 and "SC003" in bad.stdout

"""Writes stay where they belong: path settings of environment files are hostile input.

Every case is a setting a pull request could make. Each must be refused when the
environment is loaded (so `validate --offline` on CI refuses it: exit 2, one located
line), and nothing may be written by `render`, whatever the setting says.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.support.repo import make_repo, run, write_env

from secconf.core.errors import InputError
from secconf.core.paths import MAX_PATH_CHARS, fill

DEV = """
values:
  JWT_SECRET_KEY: {generate: true}
  VAPID_PRIVATE_KEY: {generate: true}
"""


# ---- fill: the one way a path or name setting gets its placeholders


def test_fill_fills_plain_placeholders_and_keeps_doubled_braces() -> None:
    assert fill("out/{env}.env", env="dev") == "out/dev.env"
    assert fill("{app}-{env}", env="dev", app="shop") == "shop-dev"
    assert fill("a{{b}}c", env="dev") == "a{b}c"


@pytest.mark.parametrize(
    "template",
    [
        "{env:>1500000000}",  # 6 GB with str.format
        "{env!r}",
        "{env.__class__}",
        "{env[0]}",
        "{}",
        "{0}",
        "{env:{env}}",
        "{nope}",
        "{env",
        "env}",
    ],
)
def test_fill_refuses_anything_but_plain_known_placeholders(template: str) -> None:
    with pytest.raises(InputError):
        fill(template, env="dev")


def test_fill_bounds_the_result_before_building_it() -> None:
    start = time.perf_counter()
    with pytest.raises(InputError, match="over the limit"):
        fill("{app}" * 100_000, env="dev", app="x" * 100_000)  # 10 GB if it were built
    assert time.perf_counter() - start < 1
    assert len(fill("x" * MAX_PATH_CHARS, env="dev")) == MAX_PATH_CHARS


def test_settings_too_long_to_fill_are_not_remembered() -> None:
    """Environment files may hold path settings of up to a MiB each: the templates kept
    for the next environment are the short ones, so a pull request of many long settings
    cannot fill memory."""
    from secconf.core import paths

    def lookups() -> int:
        info = paths._cached_plan.cache_info()
        return info.hits + info.misses

    before = lookups()
    for i in range(300):
        with pytest.raises(InputError, match="over the limit"):
            fill(f"{i}-" + "x" * MAX_PATH_CHARS + "{env}", env="dev")
    assert lookups() == before  # never looked up, so never kept
    assert fill("out/{env}.env", env="dev") == "out/dev.env"
    assert lookups() == before + 1  # a short one is


def test_a_format_spec_in_a_path_is_a_located_error_and_costs_nothing(tmp_path: Path) -> None:
    """`key_file: "{env:>1500000000}"` made validate --offline take 6 GB."""
    root = make_repo(tmp_path / "r", {"dev": DEV})
    write_env(root, "dev", DEV + 'store:\n  file:\n    key_file: "{env:>1500000000}"\n')
    code = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30));"
        "from secconf.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", code, "--root", str(root), "validate", "--offline", "--all"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert time.perf_counter() - start < 20
    assert result.returncode == 2, result.stderr
    assert "environments/dev.yaml:6: store.file.key_file:" in result.stderr
    assert "format spec" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) <= 2  # the error and its hint


# ---- every configured path keeps to its role

OTHER_ENV = "other"

REFUSED = {
    # output -> the master key: `render` overwrote it and lost every store sharing it
    "vault-onto-master-key": ("targets:\n  vault: {path: .secconf/master.key}\n", 5),
    "dotenv-absolute": ("targets:\n  dotenv: {path: OUTSIDE/x.env}\n", 5),
    "dotenv-dotdot": ("targets:\n  dotenv: {path: ../x.env}\n", 5),
    "dotenv-dotdot-inside-first": ("targets:\n  dotenv: {path: out/../../x.env}\n", 5),
    "into-git": ("targets:\n  dotenv: {path: .git/hooks/pre-commit}\n", 5),
    "onto-gitignore": ("targets:\n  kubernetes: {path: .gitignore}\n", 5),
    "onto-nested-gitignore": ("targets:\n  kubernetes: {path: out/.gitignore}\n", 5),
    "into-environments": ("targets:\n  dotenv: {path: environments/other.yaml}\n", 5),
    "into-schema": ("targets:\n  dotenv: {path: schema/10-jwt.yaml}\n", 5),
    "into-templates": ("targets:\n  dotenv: {path: templates/dotenv.j2}\n", 5),
    "into-secconf-dir": ("targets:\n  dotenv: {path: .secconf/tmp/x}\n", 5),
    "into-a-store-directory": ("targets:\n  dotenv: {path: secrets/new.env}\n", 5),
    "onto-another-store": ("targets:\n  dotenv: {path: secrets/other.enc.yaml}\n", 5),
    "onto-the-pending-key": ("targets:\n  dotenv: {path: .secconf/master.key.new}\n", 5),
    "onto-the-repo-itself": ("targets:\n  dotenv: {path: .}\n", 5),
    "onto-another-output": ("targets:\n  dotenv: {path: out/other.k8s.yaml}\n", 5),
    "store-onto-key": ("store:\n  file: {path: .secconf/master.key}\n", 5),
    "store-onto-another-store": ("store:\n  file: {path: secrets/other.enc.yaml}\n", 5),
    "store-into-environments": ("store:\n  file: {path: environments/x.enc.yaml}\n", 5),
    "store-outside": ("store:\n  file: {path: ../dev.enc.yaml}\n", 5),
    "key-onto-a-store": ("store:\n  file: {key_file: secrets/other.enc.yaml}\n", 5),
    "key-outside": ("store:\n  file: {key_file: /etc/secconf.key}\n", 5),
    "key-into-schema": ("store:\n  file: {key_file: schema/master.key}\n", 5),
    "key-into-locks": ("store:\n  file: {key_file: .secconf/locks/x}\n", 5),
    "nul-in-path": ('targets:\n  dotenv: {path: "out/a\\0b"}\n', 5),
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = make_repo(tmp_path / "r", {"dev": DEV, OTHER_ENV: DEV})
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git/" not in str(p.relative_to(root)) + "/"
    }


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_path_outside_its_role_is_refused_at_load_and_nothing_is_written(
    repo: Path, tmp_path: Path, case: str
) -> None:
    setting, line = REFUSED[case]
    outside = tmp_path / "outside"
    outside.mkdir()
    write_env(repo, "dev", DEV + setting.replace("OUTSIDE", str(outside)))
    before = _tree(repo)
    for args in (["validate", "--offline", "--env", OTHER_ENV], ["render", "--all"]):
        result = run(repo, *args)
        assert result.code == 2, (case, result.both)
        first = result.err.splitlines()[0]
        assert first.startswith(f"secconf: error: environments/dev.yaml:{line}: "), (case, first)
        assert "Traceback" not in result.err
    for target in ("dotenv", "kubernetes", "vault"):
        assert run(repo, "render", "--env", OTHER_ENV, "--target", target).code == 2
    assert _tree(repo) == before  # no store, no key, no output, nothing replaced
    assert list(outside.iterdir()) == [] and not (tmp_path / "x.env").exists()


def test_a_symlink_out_of_the_repo_is_followed_before_the_check(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo / "out").symlink_to(outside)  # committed by a pull request, as git allows
    result = run(repo, "render", "--env", "dev")
    assert result.code == 2 and "out/dev.env is outside the config repository" in result.err
    assert list(outside.iterdir()) == []


def test_a_symlink_onto_the_master_key_is_followed_before_the_check(repo: Path) -> None:
    assert run(repo, "keys", "ensure", "--all").code == 0
    key = (repo / ".secconf" / "master.key").read_bytes()
    (repo / "out").mkdir()
    (repo / "out" / "dev.env").symlink_to(repo / ".secconf" / "master.key")
    result = run(repo, "render", "--env", "dev", "--force")
    assert result.code == 2 and "out/dev.env" in result.err and ".secconf/" in result.err
    assert (repo / ".secconf" / "master.key").read_bytes() == key
    (repo / "out" / "dev.env").unlink()
    assert run(repo, "keys", "status", "--all").code == 0


def test_an_inherited_output_path_names_the_environment_that_inherits_it(repo: Path) -> None:
    write_env(repo, OTHER_ENV, DEV + "targets:\n  dotenv: {path: out/shared.env}\n")
    write_env(repo, "dev", f"extends: {OTHER_ENV}\n")
    result = run(repo, "validate", "--offline", "--env", OTHER_ENV)
    assert result.code == 2
    assert result.err.startswith(
        "secconf: error: environments/dev.yaml: targets.dotenv.path (inherited from "
        "environments/other.yaml:5): out/shared.env is also the output of environment other"
    )


def test_environments_may_share_a_key_file_and_the_example_file(repo: Path) -> None:
    """What the rules allow: the shared master key, the one .env.example, symlinks that
    stay inside the repo, and an abstract base whose fixed paths its children inherit."""
    write_env(
        repo, "base", "abstract: true\ntargets:\n  dotenv-example: {path: docs/.env.example}\n"
    )
    write_env(repo, OTHER_ENV, "extends: base\n" + DEV)
    write_env(repo, "dev", "extends: base\n" + DEV)
    (repo / "elsewhere").mkdir()
    (repo / "out").symlink_to("elsewhere")
    assert run(repo, "validate", "--offline", "--all").code == 0
    assert run(repo, "render", "--all").code == 0
    assert (repo / "elsewhere" / "dev.env").is_file() and (repo / "out" / "other.env").is_file()
    assert run(repo, "render", "--all", "--target", "dotenv-example").code == 0
    assert (repo / "docs" / ".env.example").is_file()


def test_paths_in_a_repo_reached_through_a_symlink(tmp_path: Path) -> None:
    """The root itself may be a symlink (a checkout under a linked home directory)."""
    real = make_repo(tmp_path / "real", {"dev": DEV})
    link = tmp_path / "link"
    link.symlink_to(real)
    assert run(link, "render", "--env", "dev").code == 0
    assert (real / "out" / "dev.env").is_file()
    assert os.path.realpath(link / "out" / "dev.env") == str(real / "out" / "dev.env")


def test_two_environments_inheriting_one_store_file_are_refused(repo: Path) -> None:
    write_env(repo, "base", "abstract: true\nstore:\n  file: {path: secrets/shared.enc.yaml}\n")
    write_env(repo, "dev", "extends: base\n" + DEV)
    assert run(repo, "validate", "--offline", "--env", "dev").code == 0  # one user: fine
    write_env(repo, OTHER_ENV, "extends: base\n" + DEV)
    result = run(repo, "validate", "--offline", "--env", "dev")
    assert result.code == 2 and "secrets/shared.enc.yaml is the store of environment" in result.err


def test_many_environments_are_checked_quickly(tmp_path: Path) -> None:
    """Every environment's paths are checked by lookups, never pair by pair."""
    root = make_repo(tmp_path / "r", {f"env{i:04d}": DEV for i in range(400)})
    start = time.perf_counter()
    assert run(root, "validate", "--offline", "--env", "env0000").code == 0
    assert time.perf_counter() - start < 5


def test_a_secconf_directory_that_is_a_symlink_out_of_the_repo_is_not_used(
    repo: Path, tmp_path: Path
) -> None:
    """`.secconf -> elsewhere` in a pull request: no temp file, lock or key goes there."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo / ".secconf").symlink_to(outside)
    keys_elsewhere = DEV + "store:\n  file: {key_file: keys/master.key}\n"
    write_env(repo, "dev", keys_elsewhere)
    write_env(repo, OTHER_ENV, keys_elsewhere)
    for args in (["render", "--all"], ["keys", "ensure", "--all"]):
        result = run(repo, *args)
        assert result.code == 2, result.both
        assert "symlink" in result.err and "Traceback" not in result.err
    assert list(outside.iterdir()) == []
    assert not (repo / "out").exists()


def test_an_import_into_a_name_that_is_not_an_environment_name_is_refused(
    repo: Path, tmp_path: Path
) -> None:
    source = tmp_path / "old.env"
    source.write_text("JWT_ALGORITHM=HS384\n")
    result = run(repo, "import", str(source), "--env", "../../escaped")
    assert result.code == 2 and "not a valid environment name" in result.err
    assert not (tmp_path / "escaped.yaml").exists()

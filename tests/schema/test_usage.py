"""`secconf schema usage`: what Python code reads, compared with the schema, by `ast`."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from tests.support.repo import make_repo, run

APP = """
import os
from os import environ, getenv

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET = os.environ["JWT_SECRET_KEY"]
FLAG = os.getenv("NEW_FEATURE_FLAG", "0")
URL = environ.get("DATABASE_URL")
DEBUG = "APP_DEBUG" in os.environ
ROLE = getenv("DEFAULT_USER_ROLE")
DYNAMIC = os.environ[f"X_{SECRET}"]  # not a literal: not known


class AppSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="APP_")

    port: int = 8000
    region: str = Field(default="eu", alias="CLOUD_REGION")
    _private: int = 0


class WorkerSettings(AppSettings):
    concurrency: int = 4


class Turnstile(BaseSettings):
    turnstile_enabled: bool = False
    site: str = Field(default="", validation_alias=AliasChoices("TURNSTILE_SITE_KEY", "SITE"))
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_reports_reads_the_schema_lacks_and_variables_no_code_reads(
    repo: Path, tmp_path: Path
) -> None:
    from secconf.operations.project import Project
    from secconf.operations.usage import schema_usage

    app = tmp_path / "app"
    write(app, "main.py", APP)
    write(app, ".venv/lib/ignored.py", "import os\nos.environ['IN_VENV']\n")
    report = schema_usage(Project.open(repo), [app])
    undeclared = sorted((r.name, r.line) for r in report.undeclared)
    assert undeclared == [
        ("APP_CONCURRENCY", 25),
        ("APP_DEBUG", 11),
        ("APP_PORT", 19),  # once, though WorkerSettings inherits it
        ("CLOUD_REGION", 20),  # an alias takes no prefix
        ("DATABASE_URL", 10),
        ("NEW_FEATURE_FLAG", 9),
        ("SITE", 30),
    ]
    read = {"JWT_SECRET_KEY", "DEFAULT_USER_ROLE", "TURNSTILE_ENABLED", "TURNSTILE_SITE_KEY"}
    assert set(report.unread) == set(Project.open(repo).schema.variables) - read
    assert report.files == 1 and not report.problems


def test_the_generated_settings_module_reads_exactly_the_schema(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "app" / "settings.py"
    out.parent.mkdir()
    assert run(repo, "codegen", "--out", str(out)).code == 0
    result = run(repo, "schema", "usage", str(out), "--format", "json")
    assert result.code == 0, result.out + result.err
    assert json.loads(result.out) == {"files": 1, "undeclared": [], "unread": [], "problems": []}


def test_cli_exit_codes_and_text(repo: Path, tmp_path: Path) -> None:
    app = tmp_path / "app"
    write(app, "main.py", APP)
    result = run(repo, "schema", "usage", str(app))
    assert result.code == 1
    assert f"{app / 'main.py'}:9: NEW_FEATURE_FLAG is read but not in the schema" in result.out
    assert "schema: VAPID_SUBJECT is not read by the code" in result.out
    clean = write(tmp_path / "clean", "ok.py", "import os\nos.getenv('JWT_ALGORITHM')\n")
    assert run(repo, "schema", "usage", str(clean)).code == 0
    assert run(repo, "schema", "usage", str(tmp_path / "nowhere")).code == 2
    assert run(repo, "schema", "usage").code == 2  # PATH is required


def test_a_file_that_is_not_python_is_named_never_a_traceback(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from secconf.operations import usage

    app = tmp_path / "app"
    write(app, "broken.py", "def f(:\n    pass\n")
    (app / "nul.py").write_bytes(b"x = 1\x00\n")
    (app / "deep.py").write_text("x = " + "(" * 300_000 + ")" * 300_000 + "\n")
    write(app, "big.py", "import os\nos.getenv('HUGE')\n" + "#" * 5000 + "\n")
    write(app, "fine.py", "import os\nos.getenv('STILL_SEEN')\n")
    monkeypatch.setattr(usage, "MAX_FILE_BYTES", 4096)
    result = run(repo, "schema", "usage", str(app))
    assert result.code == 2, result.err
    assert "Traceback" not in result.err
    assert f"{app / 'broken.py'}:1: not valid Python" in result.err
    assert f"{app / 'nul.py'}: " in result.err and f"{app / 'deep.py'}" in result.err
    assert f"{app / 'big.py'}: larger than" in result.err
    assert "STILL_SEEN is read but not in the schema" in result.out


def test_the_number_of_files_is_bounded(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from secconf.operations import usage

    app = tmp_path / "app"
    for i in range(4):
        write(app, f"m{i}.py", "x = 1\n")
    monkeypatch.setattr(usage, "MAX_FILES", 3)
    result = run(repo, "schema", "usage", str(app))
    assert result.code == 2 and "more than 3 Python files" in result.err


def test_a_settings_class_and_its_prefix_are_followed_across_files(
    repo: Path, tmp_path: Path
) -> None:
    from secconf.operations.project import Project
    from secconf.operations.usage import schema_usage

    app = tmp_path / "app"
    write(
        app,
        "a_base.py",
        """
        import pydantic_settings

        class Base(pydantic_settings.BaseSettings):
            class Config:
                env_prefix = "TURNSTILE_"
                case_sensitive = False
    """,
    )
    write(
        app,
        "b_child.py",
        """
        from a_base import Base

        class Captcha(Base):
            enabled: bool = False
            require_on_login: bool = False
            colour: str = "blue"
    """,
    )
    report = schema_usage(Project.open(repo), [app])
    assert [(r.name, Path(r.file).name) for r in report.undeclared] == [
        ("TURNSTILE_COLOUR", "b_child.py")
    ]
    assert "TURNSTILE_ENABLED" not in report.unread
    assert "TURNSTILE_REQUIRE_ON_LOGIN" not in report.unread

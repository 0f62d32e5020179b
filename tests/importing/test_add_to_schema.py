"""`import --add-to-schema`: unknown names join the schema, typed as pydantic reads them,
sensitive when they look secret; all three files change together or not at all."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
import yaml
from pydantic import TypeAdapter, ValidationError
from tests.support.oracles import dotenv_read
from tests.support.repo import make_repo, run

from secconf.operations.project import Project
from secconf.schema.inference import guess, looks_secret, value_type

LEGACY = {
    "JWT_ALGORITHM": "HS384",
    "STRIPE_API_KEY": "sk_live_abc",
    "WEBHOOK_SECRET": "whsec",
    "GITHUB_TOKEN_RO": "ro",
    "DB_PASSWORD": "pw",
    "SESSION_SALT": "Zk3p9QmX2vLr8TnY4bWc7HsJ",
    "REDIS_URL": "redis://:hunter2pass@cache:6379/0",
    "FEATURE_X": "yes",
    "CACHE_OFF": "OFF",
    "WORKERS": "4",
    "OFFSET": "-12",
    "ZIP_CODE": "0123",
    "APP_NAME": "shop",
    "PUBLIC_URL": "https://shop.acme-shop.io/app",
}
SENSITIVE = {
    "STRIPE_API_KEY",
    "WEBHOOK_SECRET",
    "GITHUB_TOKEN_RO",
    "DB_PASSWORD",
    "SESSION_SALT",
    "REDIS_URL",
}
TYPES = {"FEATURE_X": "boolean", "CACHE_OFF": "boolean", "WORKERS": "integer", "OFFSET": "integer"}
SCHEMA_FILE = "schema/90-imported.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"development": "description: dev\nvalues: {}\n"})


def legacy(tmp_path: Path, values: dict[str, str] = LEGACY) -> Path:
    path = tmp_path / "legacy.env"
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")
    return path


def files(root: Path) -> dict[str, bytes | None]:
    paths = [SCHEMA_FILE, "environments/development.yaml", "secrets/development.enc.yaml"]
    return {p: (root / p).read_bytes() if (root / p).exists() else None for p in paths}


def test_types_are_what_pydantic_reads_them_as() -> None:
    python = {"boolean": bool, "integer": int}
    samples = [
        "yes",
        "No",
        "TRUE",
        "off",
        "0",
        "1",
        "42",
        "-7",
        "0123",
        "+5",
        "1_000",
        "4.5",
        "y",
        "t",
        "",
        " 5",
        "1e3",
        "9" * 30,
        "abc",
    ]
    for text in samples:
        kind = value_type(text)
        if kind == "string":
            continue
        read = TypeAdapter(python[kind]).validate_python(text)
        canonical = ("true" if read else "false") if kind == "boolean" else str(read)
        assert canonical == text.lower() or kind == "boolean", text
    assert value_type("yes") == "boolean" and value_type("42") == "integer"
    assert value_type("0123") == "string"  # pydantic reads 123: the leading zero would go
    assert value_type("4.5") == "string" and value_type("") == "string"
    with pytest.raises(ValidationError):
        TypeAdapter(int).validate_python("4.5")


def test_secrets_are_known_by_name_or_by_value() -> None:
    for name in ("A_KEY", "X_SECRET", "MY_TOKEN_X", "DBPASSWORD", "APIKEY"):
        assert looks_secret(name, "v"), name
    for value in (
        "Zk3p9QmX2vLr8TnY4bWc7HsJ",
        "postgres://u:p4ss@db/x",
        "-----BEGIN KEY-----",
        "3f9a1c0d7e2b4a6f8c1d3e5f7a9b0c2d",
    ):
        assert looks_secret("PLAIN", value), value
    for value in (
        "shop",
        "https://shop.acme-shop.io/app",
        "mailto:ops@acme-shop.io",
        "production-eu-west-1",
        "aaaaaaaaaaaaaaaaaaaaaaaa1",
        "Hello world 2024",
    ):
        assert not looks_secret("PLAIN", value), value
    assert guess("WORKER_TOKEN", "12").type == "string"  # a secret is delivered as written


def test_unknown_names_join_the_schema_then_import(repo: Path, tmp_path: Path) -> None:
    source = legacy(tmp_path)
    result = run(repo, "import", str(source), "--env", "development", "--add-to-schema")
    assert result.code == 0, result.both
    for value in LEGACY.values():
        if len(value) > 3:
            assert value not in result.both
    added = yaml.safe_load((repo / SCHEMA_FILE).read_text())["variables"]
    by_name = {v["name"]: v for v in added}
    assert set(by_name) == set(LEGACY) - {"JWT_ALGORITHM"}
    for name, entry in by_name.items():
        assert entry["sensitive"] is (name in SENSITIVE), name
        assert entry["type"] == TYPES.get(name, "string"), name
        assert entry["description"].startswith("TODO")
        assert f"{name}: added to {SCHEMA_FILE}" in result.out
    project = Project.open(repo)
    values = yaml.safe_load((repo / "environments/development.yaml").read_text())["values"]
    for name in SENSITIVE:
        assert values[name] == {"from_store": True}
    assert values["WORKERS"] == "4" and values["APP_NAME"] == "shop"
    entries = project.open_store(project.environments.get("development")).read()
    assert {n for n in entries if n in LEGACY} == SENSITIVE
    assert all(entries[n].current.value.reveal() == LEGACY[n] for n in SENSITIVE)
    assert run(repo, "validate", "--env", "development").code == 0
    out = tmp_path / "dev.env"
    assert run(repo, "render", "--env", "development", "--out", str(out)).code == 0
    delivered = dotenv_read(out)
    for name, value in LEGACY.items():
        expected = {"yes": "true", "OFF": "false"}.get(value, value)
        assert delivered[name] == expected, name
    before = files(repo)
    again = run(repo, "import", str(source), "--env", "development", "--add-to-schema")
    assert again.code == 0 and "added to" not in again.out
    assert files(repo) == before


def test_a_later_import_appends_and_keeps_what_was_written(repo: Path, tmp_path: Path) -> None:
    first = legacy(tmp_path, {"APP_NAME": "shop"})
    assert run(repo, "import", str(first), "--env", "development", "--add-to-schema").code == 0
    edited = (repo / SCHEMA_FILE).read_text().replace("'TODO: describe", "'The shop: describe")
    (repo / SCHEMA_FILE).write_text(edited + "# a comment at the end\n")
    second = legacy(tmp_path, {"APP_NAME": "shop", "REGION": "eu"})
    assert run(repo, "import", str(second), "--env", "development", "--add-to-schema").code == 0
    text = (repo / SCHEMA_FILE).read_text()
    assert text.startswith(edited + "# a comment at the end\n")
    assert [v["name"] for v in yaml.safe_load(text)["variables"]] == ["APP_NAME", "REGION"]


def test_without_the_flag_unknown_names_are_refused_as_before(repo: Path, tmp_path: Path) -> None:
    result = run(repo, "import", str(legacy(tmp_path)), "--env", "development")
    assert result.code == 1 and "not in the schema" in result.err
    assert not (repo / SCHEMA_FILE).exists()


def test_a_schema_file_it_cannot_append_to_changes_nothing(repo: Path, tmp_path: Path) -> None:
    (repo / SCHEMA_FILE).write_text(
        "section: Imported\nvariables:\n  - {name: A, description: a}\ndescription: last\n"
    )
    before = files(repo)
    result = run(repo, "import", str(legacy(tmp_path)), "--env", "development", "--add-to-schema")
    assert result.code == 2 and f"{SCHEMA_FILE}: secconf appends" in result.err, result.err
    assert files(repo) == before


@pytest.mark.parametrize("failing", ["development.yaml", "90-imported.yaml", ".enc.yaml"])
def test_a_failure_at_any_write_leaves_all_three_files_as_they_were(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    assert (
        run(
            repo,
            "import",
            str(legacy(tmp_path, {"TURNSTILE_SECRET_KEY": "old-secret"})),
            "--env",
            "development",
        ).code
        == 0
    )
    before = files(repo)
    real = os.replace

    def replace(src: str, dst: str) -> None:
        if os.path.basename(str(dst)).endswith(failing):
            raise OSError(errno.EROFS, "Read-only file system")
        real(src, dst)

    monkeypatch.setattr("secconf.core.files.os.replace", replace)
    result = run(repo, "import", str(legacy(tmp_path)), "--env", "development", "--add-to-schema")
    monkeypatch.setattr("secconf.core.files.os.replace", real)
    assert result.code == 2 and "Read-only file system" in result.err, result.both
    assert files(repo) == before

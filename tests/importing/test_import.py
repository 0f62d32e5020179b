"""secconf import: an existing .env comes under secconf, no secret reaches YAML."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from dotenv import dotenv_values
from tests.support.repo import make_repo, run, write_env

from secconf.operations.project import Project


def vapid_pair() -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    public = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(public).decode(), base64.urlsafe_b64encode(private).decode()


PUBLIC, PRIVATE = vapid_pair()
ALL_17 = {
    "JWT_SECRET_KEY": "imported-jwt-secret-" + "x" * 60,
    "JWT_ALGORITHM": "HS512",
    "ACCESS_TOKEN_EXPIRE_HOURS": "12",
    "REFRESH_TOKEN_EXPIRE_DAYS": "14",
    "VAPID_PUBLIC_KEY": PUBLIC,
    "VAPID_PRIVATE_KEY": PRIVATE,
    "VAPID_SUBJECT": "mailto:ops@acme-shop.io",
    "TURNSTILE_ENABLED": "true",
    "TURNSTILE_SITE_KEY": "0x4AAAAAAAimported-site",
    "TURNSTILE_SECRET_KEY": "0x4AAAAAAAimported-secret #with 'quotes' and spaces",
    "TURNSTILE_REQUIRE_ON_LOGIN": "true",
    "TURNSTILE_REQUIRE_ON_REGISTER": "true",
    "TURNSTILE_REQUIRE_ON_PASSWORD_CHANGE": "false",
    "DEFAULT_USER_ROLE": "member",
    "ENABLE_REGISTRATION": "false",
    "ADMIN_CONTACT_EMAIL": "admin@acme-shop.io",
    "ADMIN_CONTACT_URL": "https://acme-shop.io/help",
}
SENSITIVE = ("JWT_SECRET_KEY", "VAPID_PRIVATE_KEY", "TURNSTILE_SECRET_KEY")


def write_dotenv(path: Path, values: dict[str, str]) -> Path:
    from secconf.render._dotenv_quote import dotenv_line

    path.write_text(
        "# the application's old .env\n"
        + "".join(dotenv_line(k, v) + "\n" for k, v in values.items())
    )
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"development": "values: {}\n"})


def stored(root: Path, env: str) -> dict[str, str]:
    project = Project.open(root)
    store = project.open_store(project.environments.get(env))
    return {n: e.current.value.reveal() for n, e in store.read().items()}


def test_all_seventeen_variables(repo: Path, tmp_path: Path) -> None:
    source = write_dotenv(tmp_path / "old.env", ALL_17)
    result = run(repo, "import", str(source), "--env", "imported")
    assert result.code == 0, result.both
    env_file = repo / "environments" / "imported.yaml"
    text = env_file.read_text()
    for name in SENSITIVE:
        assert ALL_17[name] not in text  # no sensitive literal in YAML
    values = yaml.safe_load(text)["values"]
    assert values["JWT_SECRET_KEY"] == {"generate": True}  # kept, and rotatable
    assert values["VAPID_PRIVATE_KEY"] == values["VAPID_PUBLIC_KEY"] == {"generate": True}
    assert values["TURNSTILE_SECRET_KEY"] == {"from_store": True}
    assert values["JWT_ALGORITHM"] == "HS512" and values["ACCESS_TOKEN_EXPIRE_HOURS"] == "12"
    kept = stored(repo, "imported")
    for name in (*SENSITIVE, "VAPID_PUBLIC_KEY"):
        assert kept[name] == ALL_17[name]
    assert run(repo, "validate", "--env", "imported").code == 0
    out = tmp_path / "again.env"
    assert run(repo, "render", "--env", "imported", "--out", str(out)).code == 0
    assert dotenv_values(out) == ALL_17  # the same values come back
    for value in ALL_17.values():
        if value in (ALL_17[n] for n in SENSITIVE):
            assert value not in result.both


def test_running_it_twice_changes_nothing(repo: Path, tmp_path: Path) -> None:
    source = write_dotenv(tmp_path / "old.env", ALL_17)
    assert run(repo, "import", str(source), "--env", "imported").code == 0
    files = {
        p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".secconf/locks" not in str(p)
    }
    second = run(repo, "import", str(source), "--env", "imported")
    assert second.code == 0
    assert "environments/imported.yaml unchanged" in second.out
    assert all(
        status == "kept"
        for status in (
            line.split(": ")[1].split()[0]
            for line in second.out.splitlines()
            if "secret store" in line
        )
    )
    assert {p: p.read_bytes() for p in files} == files


def test_existing_file_keeps_its_comments_and_changed_values_update(
    repo: Path, tmp_path: Path
) -> None:
    write_env(
        repo,
        "development",
        "# my notes\ndescription: dev  # mine\nvalues:\n  JWT_ALGORITHM: HS256  # was\n  DEFAULT_USER_ROLE: user\n",
    )
    source = write_dotenv(
        tmp_path / "old.env",
        {"JWT_ALGORITHM": "HS384", "TURNSTILE_SECRET_KEY": "first-secret-value"},
    )
    assert run(repo, "import", str(source), "--env", "development").code == 0
    text = (repo / "environments" / "development.yaml").read_text()
    assert text.startswith("# my notes\ndescription: dev  # mine\n")
    assert "  JWT_ALGORITHM: HS384  # was\n" in text and "  DEFAULT_USER_ROLE: user\n" in text
    write_dotenv(source, {"JWT_ALGORITHM": "HS384", "TURNSTILE_SECRET_KEY": "second-secret-value"})
    refused = run(repo, "import", str(source), "--env", "development")
    assert refused.code == 2 and "would replace the stored TURNSTILE_SECRET_KEY" in refused.err
    assert "--yes" in refused.err and "second-secret-value" not in refused.both
    assert stored(repo, "development")["TURNSTILE_SECRET_KEY"] == "first-secret-value"
    result = run(repo, "import", str(source), "--env", "development", "--yes")
    assert "TURNSTILE_SECRET_KEY: updated in the secret store" in result.out
    assert stored(repo, "development")["TURNSTILE_SECRET_KEY"] == "second-secret-value"


def test_unknown_names_are_reported_not_dropped_silently(repo: Path, tmp_path: Path) -> None:
    source = write_dotenv(
        tmp_path / "old.env",
        {"VAPID_SUBJET": "mailto:a@b.io", "MY_OWN_FLAG": "1", "JWT_ALGORITHM": "HS256"},
    )
    result = run(repo, "import", str(source), "--env", "development")
    assert result.code == 1
    assert (
        "VAPID_SUBJET: not in the schema, not imported (did you mean VAPID_SUBJECT?)" in result.err
    )
    assert "MY_OWN_FLAG: not in the schema, not imported" in result.err
    assert "JWT_ALGORITHM: literal" in result.out


def test_half_a_key_pair_is_not_imported(repo: Path, tmp_path: Path) -> None:
    source = write_dotenv(tmp_path / "old.env", {"VAPID_PRIVATE_KEY": PRIVATE})
    result = run(repo, "import", str(source), "--env", "development")
    assert result.code == 1 and "a key pair is imported together" in result.err
    assert "VAPID" not in (repo / "environments" / "development.yaml").read_text()
    assert "VAPID_PRIVATE_KEY" not in stored(repo, "development")


def test_production_without_a_master_key_changes_nothing(repo: Path, tmp_path: Path) -> None:
    write_env(repo, "production", "production: true\nvalues: {}\n")
    before = (repo / "environments" / "production.yaml").read_bytes()
    source = write_dotenv(
        tmp_path / "old.env", {"TURNSTILE_SECRET_KEY": "prod-secret", "JWT_ALGORITHM": "HS384"}
    )
    result = run(repo, "import", str(source), "--env", "production")
    assert result.code == 2 and "never creates one silently" in result.err
    assert (repo / "environments" / "production.yaml").read_bytes() == before
    assert not (repo / "secrets").exists()
    assert "prod-secret" not in result.both


def test_missing_file(repo: Path) -> None:
    result = run(repo, "import", "nope.env", "--env", "development")
    assert result.code == 2 and "no such file: nope.env" in result.err


def test_from_store_value_missing_is_an_error(repo: Path) -> None:
    write_env(repo, "development", "values:\n  TURNSTILE_SECRET_KEY: {from_store: true}\n")
    result = run(repo, "validate", "--env", "development", "--format", "json")
    assert result.code == 1 and '"code": "SC019"' in result.out


def test_lines_python_dotenv_cannot_parse_are_reported(repo: Path, tmp_path: Path) -> None:
    source = tmp_path / "old.env"
    source.write_text('JWT_ALGORITHM=HS384\nTURNSTILE_SECRET_KEY="unterminated-secret\n')
    result = run(repo, "import", str(source), "--env", "development")
    assert result.code == 1
    assert "line 2: not imported: python-dotenv cannot parse it" in result.err
    assert "unterminated-secret" not in result.both

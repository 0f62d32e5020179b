"""Environment files: layering with extends, value sources, provenance."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.support.repo import make_repo

from secconf.core.errors import InputError
from secconf.core.secret import Secret
from secconf.operations.project import Project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = make_repo(
        tmp_path / "repo",
        {
            "base": """
                abstract: true
                values:
                  JWT_ALGORITHM: HS384
                  ACCESS_TOKEN_EXPIRE_HOURS: 12
                  TURNSTILE_SITE_KEY: 0x4AAAAAAA
                targets:
                  kubernetes: {namespace: base-ns, app_name: shop}
            """,
            "staging": """
                extends: base
                values:
                  ACCESS_TOKEN_EXPIRE_HOURS: 6
                  JWT_SECRET_KEY: {from_env: CI_JWT_KEY}
                  VAPID_PRIVATE_KEY: {generate: true}
                  TURNSTILE_ENABLED: yes
                targets:
                  kubernetes: {namespace: staging-ns}
            """,
            "production": """
                extends: staging
                production: true
                values:
                  JWT_ALGORITHM: null
            """,
        },
    )
    return Project.open(root)


def test_child_wins_and_settings_merge(project: Project) -> None:
    env = project.environments.get("staging")
    config = project.resolve(env, environ={"CI_JWT_KEY": "k" * 64})
    assert config.value("ACCESS_TOKEN_EXPIRE_HOURS") == "6"  # child wins
    assert config.value("JWT_ALGORITHM") == "HS384"  # inherited
    assert env.targets["kubernetes"].namespace == "staging-ns"
    assert env.targets["kubernetes"].app_name == "shop"  # deep merge keeps the parent's key
    assert env.production is False


def test_provenance_of_each_source(project: Project) -> None:
    config = project.resolve(project.environments.get("staging"), environ={"CI_JWT_KEY": "s" * 40})
    values = config.values
    expiry = values["ACCESS_TOKEN_EXPIRE_HOURS"].provenance
    assert (expiry.kind, str(expiry.at)) == ("literal", "environments/staging.yaml:3")
    algorithm = values["JWT_ALGORITHM"].provenance
    assert (algorithm.kind, str(algorithm.at)) == ("literal", "environments/base.yaml:3")
    jwt = values["JWT_SECRET_KEY"].provenance
    assert (jwt.kind, jwt.env_var) == ("from_env", "CI_JWT_KEY")
    assert values["REFRESH_TOKEN_EXPIRE_DAYS"].provenance.kind == "default"
    assert values["REFRESH_TOKEN_EXPIRE_DAYS"].value == "7"
    # generate on one VAPID half generates the pair
    assert values["VAPID_PRIVATE_KEY"].provenance.kind == "generated"
    assert values["VAPID_PUBLIC_KEY"].provenance.kind == "generated"
    assert values["VAPID_PRIVATE_KEY"].value is None  # no store yet


def test_sensitive_values_are_masked(project: Project) -> None:
    config = project.resolve(
        project.environments.get("staging"), environ={"CI_JWT_KEY": "topsecret" * 5}
    )
    value = config.values["JWT_SECRET_KEY"].value
    assert isinstance(value, Secret)
    assert (
        "topsecret" not in str(value)
        and "topsecret" not in repr(value)
        and "topsecret" not in f"{value}"
    )
    assert value.reveal() == "topsecret" * 5


def test_yaml_one_one_traps_keep_the_written_text(project: Project) -> None:
    config = project.resolve(project.environments.get("staging"), environ={})
    assert config.value("TURNSTILE_SITE_KEY") == "0x4AAAAAAA"  # YAML 1.1 reads an int
    assert config.value("TURNSTILE_ENABLED") == "yes"  # ... and a bool


def test_null_goes_back_to_the_default_and_production_inherits(project: Project) -> None:
    env = project.environments.get("production")
    config = project.resolve(env, environ={})
    assert env.production is True
    assert config.value("JWT_ALGORITHM") == "HS256"
    assert config.values["JWT_ALGORITHM"].provenance.kind == "default"
    assert env.chain == (
        "environments/production.yaml",
        "environments/staging.yaml",
        "environments/base.yaml",
    )


def test_abstract_environments_are_left_out_of_all(project: Project) -> None:
    assert project.environments.names() == ["production", "staging"]
    assert [e.name for e in project.select((), all_=True)] == ["production", "staging"]


def test_extends_cycle_is_an_error(tmp_path: Path) -> None:
    root = make_repo(
        tmp_path / "r",
        {"a": "extends: b\n", "b": "extends: c\n", "c": "# closes the loop\nextends: a\n"},
    )
    with pytest.raises(InputError) as caught:
        Project.open(root).environments.get("a")
    assert "cycle: a -> b -> c -> a" in caught.value.message
    assert (caught.value.file, caught.value.line) == ("environments/c.yaml", 2)


def test_extends_an_unknown_environment(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"a": "extends: nope\n"})
    with pytest.raises(InputError, match="extends unknown environment 'nope'"):
        Project.open(root).environments.get("a")


def test_name_must_match_the_file(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"a": "name: b\n"})
    with pytest.raises(InputError, match="differs from the file name"):
        Project.open(root).environments.get("a")

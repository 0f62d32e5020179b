"""The auditors' inventory and the environment diff: complete, and never a value."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from tests.support.repo import make_repo, run, write_env

CI = {
    "STAGING_TURNSTILE_SECRET_KEY": "1x0000000000000000000000000000000AA",
    "PROD_TURNSTILE_SITE_KEY": "0x4AAAAAAAaudit-site",
    "PROD_TURNSTILE_SECRET_KEY": "0x4AAAAAAAaudit-secret-value",
}
SENSITIVE = ["JWT_SECRET_KEY", "VAPID_PRIVATE_KEY", "TURNSTILE_SECRET_KEY"]


@pytest.fixture
def bundled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in CI.items():
        monkeypatch.setenv(name, value)
    root = make_repo(tmp_path / "repo")
    assert run(root, "keys", "ensure", "--all").code == 0
    return root


def stored_values(root: Path) -> list[str]:
    """Every stored secret (the VAPID public key is not one: diff may show it)."""
    from secconf.operations.project import Project

    project = Project.open(root)
    values = []
    for name in project.environments.names():
        store = project.open_store(project.environments.get(name))
        values += [
            e.current.value.reveal() for n, e in store.read().items() if n != "VAPID_PUBLIC_KEY"
        ]
    return values


def test_json_lists_exactly_the_sensitive_variables_with_provenance_and_destinations(
    bundled: Path,
) -> None:
    result = run(bundled, "audit", "--all", "--format", "json")
    assert result.code == 0, result.err
    document = json.loads(result.out)
    envs = {e["name"]: e["variables"] for e in document["environments"]}
    assert set(envs) == {"development", "staging", "production"}
    for name, variables in envs.items():
        assert [v["name"] for v in variables] == SENSITIVE, name
    prod = {v["name"]: v for v in envs["production"]}
    jwt = prod["JWT_SECRET_KEY"]
    assert jwt["provenance"]["kind"] == "generated"
    assert jwt["provenance"]["backend"] == "file" and jwt["provenance"]["version"] == 1
    assert jwt["provenance"]["created_at"].endswith("Z") and jwt["age_days"] == 0
    assert jwt["rotate_after_days"] == 365 and jwt["overdue"] is False
    assert jwt["set"] is True and len(jwt["fingerprint"]) == 8
    prod_lines = (bundled / "environments/production.yaml").read_text().splitlines()
    (line,) = [n for n, text in enumerate(prod_lines, 1) if "TURNSTILE_SECRET_KEY:" in text]
    assert prod["TURNSTILE_SECRET_KEY"]["provenance"] == {
        "kind": "from_env",
        "file": "environments/production.yaml",
        "line": line,
        "env_var": "PROD_TURNSTILE_SECRET_KEY",
    }
    assert jwt["destinations"] == [
        {"target": "dotenv", "path": "out/production.env", "key": "JWT_SECRET_KEY"},
        {
            "target": "kubernetes",
            "namespace": "app-prod",
            "secret": "app-secrets",
            "key": "JWT_SECRET_KEY",
        },
        {"target": "vault", "mount": "secret", "path": "production/app", "key": "JWT_SECRET_KEY"},
        {
            "target": "external-secret",
            "namespace": "app-prod",
            "secret": "app-secrets",
            "store": "ClusterSecretStore/vault",
            "remote": "secret/production/app",
            "key": "JWT_SECRET_KEY",
        },
    ]
    dev_turnstile = {v["name"]: v for v in envs["development"]}["TURNSTILE_SECRET_KEY"]
    assert (
        dev_turnstile["set"] is False and dev_turnstile["missing"] is False
    )  # documented "(empty)"
    assert document["summary"] == {
        "sensitive": 9,
        "missing": 0,
        "plaintext": 0,
        "overdue": 0,
        "exposed": 0,
    }


def test_no_value_in_any_format(bundled: Path) -> None:
    outputs = [
        run(bundled, "audit", "--all", "--format", fmt).out
        for fmt in ("table", "json", "csv", "markdown")
    ]
    outputs.append(
        run(bundled, "diff", "staging", "production", "--all-variables", "--format", "json").out
    )
    outputs.append(run(bundled, "diff", "development", "staging").out)
    text = "\n".join(outputs)
    secrets = [CI["STAGING_TURNSTILE_SECRET_KEY"], CI["PROD_TURNSTILE_SECRET_KEY"]]
    for value in [*stored_values(bundled), *secrets]:
        assert value not in text


def test_plaintext_literal_is_a_finding_and_strict_fails(bundled: Path) -> None:
    write_env(
        bundled, "leaky", "values:\n  JWT_SECRET_KEY: a-plaintext-secret-of-enough-length-1234\n"
    )
    result = run(bundled, "audit", "--env", "leaky", "--format", "json", "--strict")
    assert result.code == 1
    jwt = json.loads(result.out)["environments"][0]["variables"][0]
    assert jwt["plaintext"] is True
    assert jwt["provenance"] == {"kind": "literal", "file": "environments/leaky.yaml", "line": 2}
    assert "a-plaintext-secret" not in result.out
    table = run(bundled, "audit", "--env", "leaky")
    assert "PLAINTEXT literal at environments/leaky.yaml:2" in table.out


def test_missing_values_counted(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r")
    result = run(root, "audit", "--all", "--format", "json", "--strict")
    assert result.code == 1
    summary = json.loads(result.out)["summary"]
    # 3 environments x (JWT, VAPID) not stored yet + 2 from_env secrets not set
    assert summary["missing"] == 8


def test_overdue_keys(bundled: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from secconf.operations.audit import audit_environments
    from secconf.operations.project import Project

    later = datetime.now(UTC) + timedelta(days=400)
    inventory = audit_environments(
        Project.open(bundled), ["staging"], all_=False, offline=False, now=later
    )
    items = {i.name: i for i in inventory.environments["staging"]}
    assert items["JWT_SECRET_KEY"].age_days == 400 and items["JWT_SECRET_KEY"].overdue
    assert not items["VAPID_PRIVATE_KEY"].overdue  # no rotation age declared


def test_csv_and_markdown_shapes(bundled: Path) -> None:
    rows = list(csv.reader(io.StringIO(run(bundled, "audit", "--all", "--format", "csv").out)))
    assert rows[0][:3] == ["environment", "name", "section"]
    assert len(rows) == 1 + 9
    markdown = run(bundled, "audit", "--all", "--format", "markdown").out
    assert markdown.count("| JWT_SECRET_KEY |") == 3


def test_diff_between_environments(bundled: Path) -> None:
    result = run(bundled, "diff", "staging", "production", "--format", "json", "--exit-code")
    assert result.code == 1
    rows = {r["name"]: r for r in json.loads(result.out)["variables"]}
    assert rows["JWT_ALGORITHM"] == {
        "name": "JWT_ALGORITHM",
        "sensitive": False,
        "left": "HS256",
        "right": "HS512",
        "same": False,
    }
    assert rows["JWT_SECRET_KEY"]["sensitive"] and len(rows["JWT_SECRET_KEY"]["left"]) == 8
    assert "VAPID_SUBJECT" not in rows  # inherited, same on both sides
    same = run(bundled, "diff", "staging", "staging", "--exit-code")
    assert same.code == 0 and "0 of 17 variables differ" in same.err


def test_diff_shows_equal_secrets_with_equal_fingerprints(
    bundled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its own output paths: it must not write production's files (secconf.core.paths).
    write_env(
        bundled,
        "copy",
        "extends: production\nproduction: false\ntargets: {dotenv: {path: out/copy.env}}\n",
    )
    monkeypatch.setenv("PROD_TURNSTILE_SECRET_KEY", CI["PROD_TURNSTILE_SECRET_KEY"])
    result = run(bundled, "diff", "production", "copy", "--all-variables", "--format", "json")
    rows = {r["name"]: r for r in json.loads(result.out)["variables"]}
    turnstile = rows["TURNSTILE_SECRET_KEY"]
    assert turnstile["same"] and turnstile["left"] == turnstile["right"]


def test_offline_audit_does_not_call_stored_keys_missing(bundled: Path) -> None:
    result = run(bundled, "audit", "--env", "staging", "--format", "json", "--offline")
    jwt = json.loads(result.out)["environments"][0]["variables"][0]
    assert jwt["missing"] is False and jwt["provenance"]["store_read"] is False
    assert jwt["fingerprint"] is None  # no store read, no key to fingerprint with
    table = run(bundled, "audit", "--env", "staging", "--offline")
    assert "generated (store not read: --offline)" in table.out


def test_imported_values_show_their_store_provenance(bundled: Path, tmp_path: Path) -> None:
    source = tmp_path / "old.env"
    source.write_text("TURNSTILE_SECRET_KEY='imported-turnstile-secret'\n")
    assert run(bundled, "import", str(source), "--env", "development").code == 0
    result = run(bundled, "audit", "--env", "development", "--format", "json")
    turnstile = json.loads(result.out)["environments"][0]["variables"][2]
    assert turnstile["provenance"]["kind"] == "stored"
    assert turnstile["provenance"]["backend"] == "file" and turnstile["provenance"]["version"] == 1
    assert turnstile["set"] is True and "imported-turnstile-secret" not in result.out
    assert "stored (file v1," in run(bundled, "audit", "--env", "development").out

"""`secconf scan`: every occurrence of a real sensitive value, plain or encoded, in the
working tree (as git sees it), the staged changes and the history; never the value."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from urllib.parse import quote

import jsonschema
import pytest
from tests.support.repo import make_repo, run

from secconf.operations.project import Project
from secconf.operations.scan import MIN_LENGTH, scan

DEV = """
values:
  JWT_SECRET_KEY: {generate: true}
  TURNSTILE_ENABLED: true
  TURNSTILE_SITE_KEY: 1x00000000000000000000AA
  TURNSTILE_SECRET_KEY: {from_env: SCAN_TEST_TURNSTILE}
"""
SHORT = """
values:
  TURNSTILE_SECRET_KEY: "abc12"
"""
TURNSTILE = "0x4AAAAAAA/scan+test?secret=~~~>>>"  # every encoding writes it apart


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SCAN_TEST_TURNSTILE", TURNSTILE)
    root = make_repo(tmp_path / "repo", {"dev": DEV, "short": SHORT})
    assert run(root, "keys", "ensure", "--env", "dev").code == 0
    return root


def jwt(root: Path) -> str:
    project = Project.open(root)
    return project.open_store(project.environments.get("dev")).read()["JWT_SECRET_KEY"].current.value.reveal()


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t.test", "-c", "init.defaultBranch=main", *args],
        cwd=root, check=True, capture_output=True,
    )


def encodings(value: str) -> dict[str, str]:
    data = value.encode()
    return {
        "plain": value,
        "base64": base64.b64encode(data).decode(),
        "base64url": base64.urlsafe_b64encode(data).decode().rstrip("="),
        "url": quote(value, safe=""),
        "hex": data.hex(),
        "HEX": data.hex().upper(),
    }


def found(result) -> set[tuple[str, int, str, str, str]]:  # type: ignore[no-untyped-def]
    return {(o.path, o.line, o.variable, o.environment, o.encoding) for o in result.occurrences}


def test_finds_every_encoding_of_every_value_and_names_file_and_line(repo: Path) -> None:
    lines = ["nothing here"]
    for form, text in encodings(TURNSTILE).items():
        lines.append(f"{form}: prefix{text}suffix")
    lines.append(f'jwt = "{jwt(repo)}"  # and again {jwt(repo)}')
    (repo / "app").mkdir()
    (repo / "app" / "leak.txt").write_text("\n".join(lines) + "\n")
    result = scan(Project.open(repo), [repo / "app"], cwd=repo)
    expected = {
        ("app/leak.txt", 2 + i, "TURNSTILE_SECRET_KEY", "dev", form.lower())
        for i, form in enumerate(encodings(TURNSTILE))
    } | {("app/leak.txt", 8, "JWT_SECRET_KEY", "dev", "plain")}
    assert found(result) == expected
    assert len(result.occurrences) == len(expected) + 1  # the JWT twice on line 8
    assert result.values == 2 and result.environments == ["dev", "short"]
    assert result.short == [("short", "TURNSTILE_SECRET_KEY")] and MIN_LENGTH == 8


def test_a_value_across_a_chunk_boundary_is_found_once(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import secconf.operations.scan as module

    monkeypatch.setattr(module, "CHUNK_BYTES", 64)
    text = "x" * 50 + "\n" + "y" * 40 + TURNSTILE + "\n" + "z" * 100 + "\n" + TURNSTILE
    (repo / "big.txt").write_text(text)
    result = scan(Project.open(repo), [repo / "big.txt"], cwd=repo)
    assert sorted((o.line, o.encoding) for o in result.occurrences) == [(2, "plain"), (4, "plain")]


def test_the_working_tree_is_what_git_does_not_ignore(repo: Path) -> None:
    git(repo, "init", "-q")
    (repo / ".gitignore").write_text("ignored.txt\n.secconf/\n")
    (repo / "ignored.txt").write_text(TURNSTILE)
    (repo / "untracked.txt").write_text(TURNSTILE)
    (repo / "tracked.txt").write_text(TURNSTILE)
    git(repo, "add", "tracked.txt")
    result = scan(Project.open(repo), cwd=repo)
    assert {o.path for o in result.occurrences} == {"untracked.txt", "tracked.txt"}


def test_outside_git_every_file_but_git_and_secconf_own_is_searched(repo: Path) -> None:
    (repo / "notes.txt").write_text(TURNSTILE)
    (repo / ".secconf" / "scratch").write_text(TURNSTILE)
    result = scan(Project.open(repo), [repo], cwd=repo)
    assert {o.path for o in result.occurrences} == {"notes.txt"}


def test_staged_reports_the_added_lines_only(repo: Path) -> None:
    git(repo, "init", "-q")
    (repo / "config.py").write_text("a = 1\n")
    git(repo, "add", "config.py")
    git(repo, "commit", "-qm", "start")
    (repo / "config.py").write_text(f"a = 1\nb = 2\nkey = '{TURNSTILE}'\n")
    git(repo, "add", "config.py")
    (repo / "other.py").write_text(TURNSTILE)  # not staged: not part of the commit
    result = scan(Project.open(repo), staged=True, cwd=repo)
    assert found(result) == {("config.py", 3, "TURNSTILE_SECRET_KEY", "dev", "plain")}


def test_history_names_the_commit_that_added_a_value_removed_since(repo: Path) -> None:
    git(repo, "init", "-q")
    (repo / "README").write_text("x\n")
    git(repo, "add", "README")
    git(repo, "commit", "-qm", "one")
    (repo / "README").write_text("x\n" + base64.b64encode(TURNSTILE.encode()).decode() + "\n")
    git(repo, "commit", "-qam", "two")
    leaked = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    (repo / "README").write_text("x\n")
    git(repo, "commit", "-qam", "three")
    result = scan(Project.open(repo), history=True, cwd=repo)
    assert [(o.commit, o.path, o.line, o.encoding) for o in result.occurrences] == [
        (leaked, "README", 2, "base64")
    ]
    assert not scan(Project.open(repo), [repo / "README"], cwd=repo).found


def test_the_cli_exits_1_and_never_shows_the_value(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo)
    (repo / "leak.txt").write_text(f"one\n{encodings(TURNSTILE)['hex']}\n")
    for fmt in ("text", "json", "sarif"):
        result = run(repo, "scan", "leak.txt", "--env", "dev", "--format", fmt)
        assert result.code == 1, result.both
        for form in encodings(TURNSTILE).values():
            assert form not in result.both
    text = run(repo, "scan", "leak.txt", "--env", "dev").out
    assert "leak.txt:2: TURNSTILE_SECRET_KEY of dev (hex)" in text
    (repo / "leak.txt").write_text("clean\n")
    assert run(repo, "scan", "leak.txt").code == 0
    assert "shorter than 8 characters: TURNSTILE_SECRET_KEY (short)" in run(repo, "scan", "leak.txt").out
    assert run(repo, "scan", "no-such-file").code == 2


# Enough of SARIF 2.1.0 for code scanning to take it: a checked subset of the standard.
SARIF_SUBSET = {
    "type": "object",
    "required": ["version", "runs", "$schema"],
    "properties": {
        "version": {"const": "2.1.0"},
        "runs": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["tool", "results"],
            "properties": {
                "tool": {"type": "object", "required": ["driver"], "properties": {"driver": {
                    "type": "object", "required": ["name", "rules"],
                    "properties": {"rules": {"type": "array", "items": {
                        "type": "object", "required": ["id", "shortDescription"]}}}}}},
                "results": {"type": "array", "items": {
                    "type": "object", "required": ["ruleId", "message", "locations", "level"],
                    "properties": {
                        "level": {"enum": ["none", "note", "warning", "error"]},
                        "message": {"type": "object", "required": ["text"]},
                        "locations": {"type": "array", "items": {"type": "object", "properties": {
                            "physicalLocation": {"type": "object", "required": ["artifactLocation"],
                                "properties": {
                                    "artifactLocation": {"type": "object", "required": ["uri"]},
                                    "region": {"type": "object", "properties": {
                                        "startLine": {"type": "integer", "minimum": 1}}}}}}}}}}}},
        }},
    },
}


def test_sarif_has_the_shape_code_scanning_takes(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo)
    (repo / "leak.txt").write_text(f"x\ny\n{TURNSTILE}\n")
    document = json.loads(run(repo, "scan", "leak.txt", "--format", "sarif").out)
    jsonschema.validate(document, SARIF_SUBSET)
    (result,) = document["runs"][0]["results"]
    rule_ids = [r["id"] for r in document["runs"][0]["tool"]["driver"]["rules"]]
    assert result["ruleId"] in rule_ids
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "leak.txt" and location["region"]["startLine"] == 3
    assert result["properties"]["variable"] == "TURNSTILE_SECRET_KEY"


def test_the_pre_commit_hook_scans_the_staged_changes() -> None:
    import yaml

    hooks = yaml.safe_load((Path(__file__).resolve().parents[2] / ".pre-commit-hooks.yaml").read_text())
    (hook,) = [h for h in hooks if h["id"] == "secconf-scan"]
    assert hook["entry"] == "secconf scan --staged" and hook["pass_filenames"] is False

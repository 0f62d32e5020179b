"""`secconf scan`: every occurrence of a real sensitive value, plain or encoded, in the
working tree (as git sees it), the staged changes and the history; never the value."""

from __future__ import annotations

import base64
import json
import os
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


def test_files_searched_together_do_not_make_an_occurrence_across_two(repo: Path) -> None:
    half = len(TURNSTILE) // 2
    (repo / "app").mkdir()
    (repo / "app" / "a.txt").write_text("x\n" + TURNSTILE[:half])
    (repo / "app" / "b.txt").write_text(TURNSTILE[half:] + TURNSTILE + "\n")
    result = scan(Project.open(repo), [repo / "app"], cwd=repo)
    assert found(result) == {("app/b.txt", 1, "TURNSTILE_SECRET_KEY", "dev", "plain")}


def test_a_large_tree_searched_by_two_processes_gives_the_same(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import secconf.operations.scan as module

    (repo / "tree").mkdir()
    for i in range(10):
        (repo / "tree" / f"f{i}.txt").write_text(f"{i}\n" + (TURNSTILE if i % 3 == 0 else "-") + "\n")
    one = found(scan(Project.open(repo), [repo / "tree"], cwd=repo))
    monkeypatch.setattr(module, "PARALLEL_FROM", 2)
    monkeypatch.setattr(module, "_workers", lambda files: 2)
    result = scan(Project.open(repo), [repo / "tree"], cwd=repo)
    assert found(result) == one and len(one) == 4 and result.files == 10


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


def _both_ways(root: Path, *paths: Path) -> tuple[object, object]:
    project = Project.open(root)
    fast = scan(project, list(paths), cwd=root)
    slow = scan(project, list(paths), cwd=root, git_grep=False)
    return fast, slow


def _same(fast, slow) -> None:  # type: ignore[no-untyped-def]
    assert fast.occurrences == slow.occurrences
    assert (fast.files, fast.skipped, fast.values) == (slow.files, slow.skipped, slow.values)


def test_git_grep_and_the_search_of_every_file_find_the_same(repo: Path) -> None:
    git(repo, "init", "-q")
    (repo / ".gitignore").write_text("ignored/\n.secconf/\n")
    tree = repo / "tree"
    (tree / "deep" / "er").mkdir(parents=True)
    (repo / "ignored").mkdir()
    forms = [*encodings(TURNSTILE).values(), jwt(repo)]
    for i, form in enumerate(forms):
        (tree / f"f{i}.txt").write_text(f"line\nx {form} y\n" + "filler\n" * i)
        (tree / "deep" / "er" / f"g {i}.bin").write_bytes(b"\0\xff" + form.encode() + b"\n")
    (tree / "clean.txt").write_text("nothing\n")
    (tree / "split.txt").write_text(TURNSTILE[:10] + "\n" + TURNSTILE[10:] + "\n")
    (tree / "crlf.txt").write_bytes(b"a\r\n" + TURNSTILE.encode() + b"\r\n")
    (repo / "ignored" / "leak.txt").write_text(TURNSTILE)
    (tree / "tracked.txt").write_text(f"t = {TURNSTILE}\n")
    git(repo, "add", "tree/tracked.txt", "tree/clean.txt")
    (tree / "link.txt").symlink_to("f0.txt")
    (tree / "nested").mkdir()
    git(repo / "tree" / "nested", "init", "-q")  # a repository inside: not searched, said
    fast, slow = _both_ways(repo, repo, tree)
    _same(fast, slow)
    paths = {o.path for o in fast.occurrences}
    assert "tree/split.txt" not in paths and "ignored/leak.txt" not in paths
    assert {"tree/crlf.txt", "tree/tracked.txt", "tree/deep/er/g 0.bin"} <= paths
    assert len([o for o in fast.occurrences if o.path.startswith("tree/f")]) == len(forms) * 2


def test_files_git_grep_reads_otherwise_are_searched_by_secconf(repo: Path) -> None:
    git(repo, "init", "-q")
    (repo / ".gitignore").write_text(".secconf/\n")
    (repo / "assumed.txt").write_text("clean\n")
    (repo / "sparse.txt").write_text("clean\n")
    git(repo, "add", "assumed.txt", "sparse.txt")
    git(repo, "update-index", "--assume-unchanged", "assumed.txt")
    git(repo, "update-index", "--skip-worktree", "sparse.txt")
    # git grep reads these two from the index (clean), secconf the files as they are now
    (repo / "assumed.txt").write_text(f"{TURNSTILE}\n")
    (repo / "sparse.txt").write_text(f"x\n{TURNSTILE}\n")
    fast, slow = _both_ways(repo, repo)
    _same(fast, slow)
    assert {(o.path, o.line) for o in fast.occurrences} == {("assumed.txt", 1), ("sparse.txt", 2)}


def test_a_value_with_a_newline_is_found_by_both_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    value = "first-line-of-it\nsecond-line-of-it"
    monkeypatch.setenv("SCAN_TEST_TURNSTILE", value)
    root = make_repo(tmp_path / "repo", {"dev": DEV})
    assert run(root, "keys", "ensure", "--env", "dev").code == 0
    git(root, "init", "-q")
    (root / ".gitignore").write_text(".secconf/\n")
    (root / "a.txt").write_text(f"x\n{value}\n")
    (root / "b.txt").write_text("first-line-of-it\nonly\n")
    fast, slow = _both_ways(root, root)
    _same(fast, slow)
    plain = [(o.path, o.line) for o in fast.occurrences if o.encoding == "plain"]
    assert plain == [("a.txt", 2)]


def test_in_a_work_tree_only_the_files_git_grep_finds_a_form_in_are_read(repo: Path) -> None:
    from secconf.operations.scan import ScanResult, _grep_patterns, _working_tree

    git(repo, "init", "-q")
    (repo / "tree").mkdir()
    for i in range(20):
        (repo / "tree" / f"f{i:02d}.txt").write_text(TURNSTILE if i % 7 == 0 else f"{i}\n")
    (repo / "tree" / "sub").mkdir()
    (repo / "tree" / "sub" / "hex.txt").write_text(encodings(TURNSTILE)["HEX"])
    forms = [f.encode() for f in encodings(TURNSTILE).values()]
    patterns = _grep_patterns([forms])
    assert patterns is not None and len(patterns) < len(forms)  # base64 and base64url: one
    assert all(any(p in form for p in patterns) for form in forms)
    result = ScanResult()
    read = [shown for _, shown in _working_tree([repo / "tree"], repo, result, patterns)]
    assert read == ["tree/f00.txt", "tree/f07.txt", "tree/f14.txt", "tree/sub/hex.txt"]
    assert result.files == 17  # the others: counted as searched, not read again
    assert _grep_patterns([[b"a\nbcd\r\nef"], [b"xyz"]]) == [b"bcd", b"xyz"]
    assert _grep_patterns([[b"\n\n"]]) is None


def test_the_expressions_for_git_grep_p_match_every_pattern_and_are_fewer() -> None:
    import random
    import re

    from secconf.operations.scan import PERL_PART, _grep_patterns, _perl_patterns

    rng = random.Random(7)
    values = [os.urandom(32) for _ in range(60)] + [TURNSTILE.encode(), b"a.b(c)*d+e?f[g]\\h|i"]
    values += [bytes(rng.randrange(1, 256) for _ in range(rng.randint(8, 90))) for _ in range(40)]
    forms = [[v, base64.b64encode(v), v.hex().encode(), v.hex().upper().encode()] for v in values]
    patterns = _grep_patterns(forms)
    assert patterns is not None
    expressions = _perl_patterns(patterns)
    assert expressions is not None and len(expressions) < len(patterns) / 10  # 400: 31
    # Python's re reads this subset of PCRE alike (literals, \xhh, (?:a|b)): a line that
    # holds a pattern matches an expression; a line holding none of them matches none
    compiled = [re.compile(e) for e in expressions]
    for pattern in patterns:
        assert any(c.search(b"x" + pattern + b"y") for c in compiled), pattern.hex()
    text = b"".join(os.urandom(64).hex().encode() + b"\n" for _ in range(200))
    assert not any(c.search(text) for c in compiled)
    assert all(len(e) < 64 * (PERL_PART + 8) * 4 for e in expressions)  # parts, not values
    assert _perl_patterns([b"only-one-pattern"]) is None  # no fewer: git grep -F
    assert _perl_patterns([b"a" * 20, b"b" * 20]) is None  # nothing in common


def test_a_git_without_pcre_is_given_the_fixed_strings(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    started, _, slow = _odd_files_both_ways(repo, monkeypatch)
    assert [g.perl for g in started] == [True]  # type: ignore[attr-defined]
    # a git built without PCRE: -P stops it before it reads a file, as git says
    shim = repo.parent / "bin"
    shim.mkdir()
    real = shutil.which("git")
    (shim / "git").write_text(
        "#!/bin/sh\n"
        'for a; do [ "$a" = -P ] && { echo "fatal: cannot use Perl-compatible regexes '
        'when not compiled with USE_LIBPCRE" >&2; exit 128; }; done\n'
        f'exec {real} "$@"\n'
    )
    (shim / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim}{os.pathsep}{os.environ['PATH']}")
    started.clear()
    again, _ = _both_ways(repo, repo)
    _same(again, slow)
    # the -P run, and the -F run that took its place (when git stopped before it had
    # read the expressions, start() itself ran it instead)
    first, retried = started
    assert not retried.perl and first.process is retried.process  # type: ignore[attr-defined]
    assert retried.process.returncode in (0, 1)  # type: ignore[attr-defined]


def _greps_started(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every git grep the scan starts (the real ones, only recorded)."""
    import secconf.operations.scan as module

    started: list[object] = []
    start = module._GitGrep.start.__func__  # type: ignore[attr-defined]

    def recorded(cls, *args, **kwargs):  # type: ignore[no-untyped-def]
        grep = start(cls, *args, **kwargs)
        started.append(grep)
        return grep

    monkeypatch.setattr(module._GitGrep, "start", classmethod(recorded))
    return started


def _odd_files(repo: Path) -> None:
    """A work tree with what git grep reads otherwise than secconf, and a few leaks."""
    git(repo, "init", "-q")
    (repo / ".gitignore").write_text(".secconf/\n")
    (repo / "d" / "e").mkdir(parents=True)
    (repo / "d" / "e" / "leak.txt").write_text(f"x\n{TURNSTILE}\n")
    (repo / "d" / "clean.txt").write_text("clean\n")
    (repo / "gone.txt").write_text("tracked, then deleted\n")
    (repo / "now-a-dir").write_text("tracked, then a directory\n")
    git(repo, "add", "gone.txt", "now-a-dir", "d/clean.txt")
    (repo / "gone.txt").unlink()
    (repo / "now-a-dir").unlink()
    (repo / "now-a-dir").mkdir()
    (repo / "now-a-dir" / "inside.txt").write_text(TURNSTILE)
    os.mkfifo(repo / "fifo")
    (repo / "to-dir").symlink_to("d")
    (repo / "to-leak").symlink_to("d/e/leak.txt")


def _odd_files_both_ways(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[object], object, object]:
    """_odd_files scanned with git grep and without (the same found), and each git grep."""
    _odd_files(repo)
    started = _greps_started(monkeypatch)
    fast, slow = _both_ways(repo, repo)
    _same(fast, slow)
    return started, fast, slow


def test_git_grep_bounded_or_not_and_every_file_find_the_same(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import secconf.operations.scan as module

    started, fast, slow = _odd_files_both_ways(repo, monkeypatch)
    assert [g.bounded for g in started] == [module._DATA_LIMIT_HOLDS]  # type: ignore[attr-defined]
    monkeypatch.setattr(module, "_DATA_LIMIT_HOLDS", False)
    unbounded, _ = _both_ways(repo, repo)
    _same(unbounded, slow)
    assert [g.bounded for g in started[1:]] == [False]  # type: ignore[attr-defined]
    assert {(o.path, o.line) for o in fast.occurrences} == {
        ("d/e/leak.txt", 2),
        ("now-a-dir/inside.txt", 1),
    }
    assert fast.skipped == [("now-a-dir", "Is a directory")]  # tracked: a file, once


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="RLIMIT_DATA")
def test_a_file_larger_than_the_bound_stops_git_grep_and_is_not_searched_either_way(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import secconf.operations.scan as module

    git(repo, "init", "-q")
    (repo / ".gitignore").write_text(".secconf/\n")
    (repo / "leak.txt").write_text(f"x\n{TURNSTILE}\n")
    with (repo / "large.bin").open("wb") as large:  # sparse: no disk used
        large.truncate(17 << 20)
    monkeypatch.setattr(module, "MAX_FILE_BYTES", 16 << 20)
    monkeypatch.setattr(module, "GREP_THREADS", 1)
    started = _greps_started(monkeypatch)
    fast, slow = _both_ways(repo, repo)
    _same(fast, slow)
    assert fast.skipped == [("large.bin", "larger than 16 MiB")]
    assert {(o.path, o.line) for o in fast.occurrences} == {("leak.txt", 2)}
    # bounded, it stopped (it could not hold the file); run again unbounded, sizes checked
    assert [g.bounded for g in started] == [True, False]  # type: ignore[attr-defined]
    assert started[0].process.returncode not in (0, 1)  # type: ignore[attr-defined]
    (repo / "large.bin").unlink()
    started.clear()
    fast, slow = _both_ways(repo, repo)
    _same(fast, slow)
    assert [g.bounded for g in started] == [True]  # type: ignore[attr-defined]
    assert started[0].process.returncode in (0, 1)  # type: ignore[attr-defined]


def test_without_git_every_file_is_searched(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (repo / ".gitignore").write_text("ignored.txt\n")
    git(repo, "init", "-q")
    (repo / "ignored.txt").write_text(TURNSTILE)
    (repo / "tree").mkdir()
    (repo / "tree" / "leak.txt").write_text(f"x\n{TURNSTILE}\n")
    no_git = repo.parent / "no-git"
    no_git.mkdir()
    monkeypatch.setenv("PATH", str(no_git))  # no git: the walk, as outside a work tree
    fast, slow = _both_ways(repo, repo)
    _same(fast, slow)
    assert {o.path for o in fast.occurrences} == {"ignored.txt", "tree/leak.txt"}


def test_the_listing_started_early_is_stopped_when_the_values_cannot_be_read(
    repo: Path,
) -> None:
    import gc

    from secconf.core.errors import SecconfError

    git(repo, "init", "-q")
    with pytest.raises(SecconfError):  # ls-files already runs: stopped and waited for
        scan(Project.open(repo), [repo], environments=["no-such-environment"], cwd=repo)
    gc.collect()  # a process left running would warn here (warnings are errors)

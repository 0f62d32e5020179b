"""`secconf validate` as CI runs it: exit codes, output formats, bad input, start-up cost."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tests.support.repo import BUNDLED, make_repo, run, write_env

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def bundled(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    root = make_repo(tmp_path / "repo", {})
    write_env(
        root,
        "prod",
        """
        production: true
        values:
          JWT_ALGORITHM: RS256
          JWT_SECRT_KEY: x
          VAPID_SUBJECT: mailto:admin@example.com
          ACCESS_TOKEN_EXPIRE_HOURS: 400
        """,
    )
    return root


def test_bundled_configuration_passes(bundled: Path) -> None:
    result = run(bundled, "validate", "--all")
    assert result.code == 0, result.both
    assert "3 environments checked: 0 errors" in result.out


def test_errors_exit_1_with_file_line_and_hint(broken: Path) -> None:
    result = run(broken, "validate", "--env", "prod")
    assert result.code == 1
    assert re.search(
        r"environments/prod\.yaml:3: error SC003 JWT_ALGORITHM 'RS256' cannot work", result.out
    )
    assert "hint: did you mean JWT_SECRET_KEY?" in result.out


def test_fail_on_warning(bundled: Path) -> None:
    assert (
        run(bundled, "validate", "--all", "--fail-on", "warning").code == 1
    )  # SC017 in production
    assert run(bundled, "validate", "--env", "development", "--fail-on", "warning").code == 0


def test_json_shape(broken: Path) -> None:
    result = run(broken, "validate", "--env", "prod", "--format", "json")
    assert result.code == 1
    document = json.loads(result.out)
    assert set(document) == {"environments", "summary"}
    assert set(document["summary"]) == {"errors", "warnings"}
    (env,) = document["environments"]
    assert set(env) == {"name", "findings"} and env["name"] == "prod"
    keys = {"code", "severity", "environment", "variable", "message", "file", "line", "hint"}
    assert all(set(f) == keys for f in env["findings"])
    errors = [f for f in env["findings"] if f["severity"] == "error"]
    assert document["summary"]["errors"] == len(errors) >= 3
    assert document["summary"]["warnings"] == sum(
        f["severity"] == "warning" for f in env["findings"]
    )


def test_github_annotations(broken: Path) -> None:
    result = run(broken, "validate", "--env", "prod", "--format", "github")
    lines = result.out.splitlines()
    assert (
        "::error file=environments/prod.yaml,line=3,title=SC003 prod JWT_ALGORITHM::"
        in "\n".join(lines)
    )
    assert all(
        re.match(r"^::(error|warning|notice) file=[^,]+(,line=\d+)?,title=[^:]+::\S", line)
        for line in lines
    )


def test_sarif(broken: Path) -> None:
    result = run(broken, "validate", "--env", "prod", "--format", "sarif")
    sarif = json.loads(result.out)
    assert sarif["version"] == "2.1.0"
    (run_,) = sarif["runs"]
    rules = run_["tool"]["driver"]["rules"]
    for res in run_["results"]:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        assert res["level"] in {"error", "warning", "note"}
        location = res["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"].startswith("environments/")
    assert any(r["ruleId"] == "SC003" and r["level"] == "error" for r in run_["results"])


def test_list_rules() -> None:
    result = run(None, "validate", "--list-rules")
    assert result.code == 0
    listed = [line.split()[0] for line in result.out.splitlines()]
    assert listed == [f"SC{n:03d}" for n in range(1, 23)]


# Bad input: exit 2, one line naming the file (and line), never a traceback.
BAD_INPUT = {
    "malformed": ("values:\n  A: [1, 2\n", r"environments/bad\.yaml:\d+: malformed YAML"),
    "not-a-mapping": ("- a\n- b\n", r"environments/bad\.yaml:1: the top level must be a mapping"),
    "duplicate": (
        "values:\n  JWT_ALGORITHM: HS256\n  JWT_ALGORITHM: HS512\n",
        r"environments/bad\.yaml:3: duplicate key 'JWT_ALGORITHM' \(first written on line 2\)",
    ),
    "alias": ("a: &x [1, 2]\nb: *x\n", r"environments/bad\.yaml:2: YAML aliases"),
    "reference": (
        "values:\n  JWT_SECRET_KEY: {vault: x}\n",
        r"environments/bad\.yaml:2: JWT_SECRET_KEY: unknown reference kind 'vault'",
    ),
    "cycle": ("extends: bad\n", r"environments/bad\.yaml:1: `extends` cycle: bad -> bad"),
    "unknown-key": (
        "valeus: {}\n",
        r"environments/bad\.yaml:1: valeus: Extra inputs are not permitted",
    ),
    "placeholder": (
        'targets:\n  vault:\n    secret_path: "{app}/x"\n',
        r"environments/bad\.yaml:3: targets\.vault\.secret_path: unknown placeholder \{app\}",
    ),
    "tag-mismatch": (
        "values:\n  TURNSTILE_SECRET_KEY: !!int not-a-number-secret\n",
        r"environments/bad\.yaml:2: cannot read the value as its tag or form says \(int\)",
    ),
    "not-utf8": (b"values:\n  A: \xff\n", r"environments/bad\.yaml: not valid UTF-8"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_exits_2_with_one_located_line(tmp_path: Path, case: str) -> None:
    text, pattern = BAD_INPUT[case]
    root = make_repo(tmp_path / "repo", {})
    path = root / "environments" / "bad.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    result = run(root, "validate", "--env", "bad")
    assert result.code == 2
    assert result.out == ""
    first = result.err.splitlines()[0]
    assert re.search(pattern, first), result.err
    assert "Traceback" not in result.err
    assert "not-a-number-secret" not in result.err  # a value is never quoted back
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


def test_billion_laughs_is_refused_fast(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol"]']
    lines += [f"a{i}: &a{i} [{', '.join(['*a' + str(i - 1)] * 9)}]" for i in range(1, 10)]
    root = make_repo(tmp_path / "repo", {})
    (root / "environments" / "bomb.yaml").write_text("\n".join(lines) + "\n")
    result = run(root, "validate", "--env", "bomb")
    assert result.code == 2 and "YAML aliases" in result.err


def test_oversized_file(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {})
    (root / "environments" / "big.yaml").write_text("# " + "x" * (1 << 20) + "\n")
    result = run(root, "validate", "--env", "big")
    assert result.code == 2 and "over the 1048576-byte limit" in result.err


def test_unknown_environment(bundled: Path) -> None:
    result = run(bundled, "validate", "--env", "prod")
    assert result.code == 2
    assert "unknown environment 'prod' (known: development, production, staging)" in result.err


def test_bad_usage(bundled: Path) -> None:
    assert run(bundled, "validate", "--format", "xml").code == 2
    assert run(bundled, "validate", "--env", "staging", "--all").code == 2
    assert run(bundled, "frobnicate").code == 2


def test_root_is_found_upward_and_can_be_given(
    bundled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(bundled / "environments")
    assert run(None, "validate").code == 0
    monkeypatch.chdir(bundled.parent)
    missing = run(None, "validate")
    assert missing.code == 2 and "no secconf config repo" in missing.err
    assert run(bundled.parent, "validate").code == 2
    assert run(bundled, "validate").code == 0


def _subprocess(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECCONF_")}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def test_python_dash_m_and_version(bundled: Path) -> None:
    result = _subprocess("-m", "secconf", "validate", "--all", cwd=bundled)
    assert result.returncode == 0, result.stderr
    assert _subprocess("-m", "secconf", "--version", cwd=bundled).stdout.startswith(
        "secconf, version"
    )


def test_validate_imports_no_heavy_client(bundled: Path) -> None:
    code = (
        "import sys\n"
        "from secconf.cli import main\n"
        "rc = main(['validate', '--all'])\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'kubernetes', 'hvac', 'jinja2', 'rich', 'requests', 'urllib3', 're2'})\n"
        "models = 'pydantic.main' in sys.modules\n"  # BaseModel: its schema generation
        "print('HEAVY', heavy, models, rc)\n"
    )
    result = _subprocess("-c", code, cwd=bundled)
    assert "HEAVY [] False 0" in result.stdout, result.stdout + result.stderr


def test_internal_error_is_exit_3_without_traceback(
    bundled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import secconf.validate as validate_module

    def boom(config: object, **options: object) -> list:
        raise RuntimeError("value-that-might-be-secret")

    monkeypatch.setattr(validate_module, "validate", boom)
    result = run(bundled, "validate")
    assert result.code == 3
    assert "internal error (RuntimeError)" in result.err
    assert "value-that-might-be-secret" not in result.err and "Traceback" not in result.err
    debug = run(bundled, "--debug", "validate")
    assert debug.code == 3 and "Traceback" in debug.err


def test_help_explains(bundled: Path) -> None:
    result = run(bundled, "validate", "--help")
    assert result.code == 0
    for word in ("--env", "--all", "--format", "sarif", "Exit 0"):
        assert word in result.out


def test_docs_command_writes_markdown(bundled: Path, tmp_path: Path) -> None:
    out = tmp_path / "CONFIG.md"
    result = run(bundled, "docs", "--out", str(out))
    assert result.code == 0
    text = out.read_text()
    assert "| JWT_SECRET_KEY | (auto-generated) | Yes |" in text
    assert run(bundled, "docs").out == text
    assert BUNDLED.is_dir()


def test_console_entry_point_enables_garbage_collection_for_the_command(bundled: Path) -> None:
    """The console script pauses the cyclic GC during start-up only: a long `apply --all`
    runs with it enabled."""
    code = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('GC', gc.isenabled(), file=sys.stderr))\n"
        "sys.argv = ['secconf', 'validate', '--all']\n"
        "from secconf.cli import console_main\n"
        "console_main()\n"
    )
    result = _subprocess("-c", code, cwd=bundled)
    assert result.returncode == 0, result.stderr
    assert "GC True" in result.stderr


def test_sc020_production_sharing_a_master_key_file(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {})
    write_env(root, "dev", "values: {}\n")
    write_env(root, "prod", "production: true\nvalues: {}\n")
    shared = run(root, "validate", "--env", "prod", "--format", "json")
    finding = [
        f for f in json.loads(shared.out)["environments"][0]["findings"] if f["code"] == "SC020"
    ]
    assert finding and finding[0]["severity"] == "warning" and "dev" in finding[0]["message"]
    write_env(
        root,
        "prod",
        "production: true\nvalues: {}\nstore:\n  file: {key_file: .secconf/prod.key}\n",
    )
    own = run(root, "validate", "--env", "prod", "--format", "json")
    assert '"SC020"' not in own.out

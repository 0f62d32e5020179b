"""`secconf codegen --lang python`: the module pydantic-settings and mypy read as meant.

Oracles we did not write: mypy --strict checks the module, pydantic-settings loads a
`.env` that secconf rendered (read back by python-dotenv), and pydantic raises on a
value the schema refuses.
"""

from __future__ import annotations

import ast
import importlib.util
import itertools
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from tests.support.oracles import dotenv_read
from tests.support.repo import make_repo, run

pytest.importorskip("pydantic_settings")

_counter = itertools.count()

# A schema file whose every text tries to break out of the literal it lands in.
HOSTILE_SCHEMA = """
section: "Hostile \\"\\"\\" section\\nimport os"
description: "x"
variables:
  - name: HOSTILE_TEXT
    default: "\\"\\"\\"\\nimport os; os.system('touch PWNED')\\n\\"\\"\\""
    description: "ends the docstring \\"\\"\\"\\n    import os; open('PWNED', 'w')\\n# \\\\ '\\u202e\\u2028 \\x00"
  - name: HOSTILE_CHOICE
    default: "a'b"
    description: "')\\nopen('PWNED', 'w')\\n#"
    constraints: {choices: ["a'b", "c\\"d", "\\\\"]}
  - name: HOSTILE_PATTERN
    sensitive: true
    default: "ab12"
    description: "pattern on a secret"
    constraints: {pattern: "[a-z]+[0-9]+", min_length: 3}
  - name: HOSTILE_INT
    type: integer
    default: 5
    description: "int"
    constraints: {minimum: 1, maximum: 9}
  - name: HOSTILE_SECRET_INT
    type: integer
    sensitive: true
    default: 7
    description: "a sensitive integer"
    constraints: {minimum: 2, maximum: 8}
  - name: class
    default: ""
    description: "a keyword"
  - name: REQUIRED_ONE
    description: "no default"
"""


def generated(root: Path) -> str:
    from secconf.operations.codegen import codegen
    from secconf.operations.project import Project

    return codegen(Project.open(root), lang="python")


def load_module(path: Path) -> ModuleType:
    name = f"secconf_generated_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def bundled(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    root = make_repo(tmp_path / "hostile")
    (root / "schema" / "50-hostile.yaml").write_text(HOSTILE_SCHEMA, encoding="utf-8")
    return root


@pytest.fixture
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No variable of the schema in this process: the .env alone gives the values."""
    for name in list(os.environ):
        if name.upper().startswith(("JWT_", "VAPID_", "TURNSTILE_", "HOSTILE_", "ACCESS_")):
            monkeypatch.delenv(name)


def test_generated_modules_pass_mypy_strict(bundled: Path, hostile: Path, tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "bundled_settings.py").write_text(generated(bundled), encoding="utf-8")
    (code / "hostile_settings.py").write_text(generated(hostile), encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "bundled_settings.py",
            "hostile_settings.py",
        ],
        cwd=code,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_loading_a_rendered_env_gives_exactly_the_rendered_values(
    bundled: Path, tmp_path: Path, clean_environ: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pydantic import SecretStr

    from secconf.operations.project import Project
    from secconf.operations.render import render
    from secconf.schema.values import parse_value

    monkeypatch.chdir(tmp_path)  # no stray .env is read
    dotenv = tmp_path / "development.env"
    project = Project.open(bundled)
    render(project, ["development"], all_=False, target="dotenv", notify=lambda _: None, out=dotenv)
    (tmp_path / "app_settings.py").write_text(generated(bundled), encoding="utf-8")
    settings = load_module(tmp_path / "app_settings.py").Settings(_env_file=dotenv)
    rendered = dotenv_read(dotenv)
    assert set(rendered) == set(project.schema.variables)
    shown = repr(settings)
    for name, text in rendered.items():
        variable = project.schema.variables[name]
        value: Any = getattr(settings, name.lower())
        assert text is not None
        if variable.sensitive:
            assert isinstance(value, SecretStr), name
            assert value.get_secret_value() == text, name
            if text:
                assert text not in shown, f"{name} shows in the repr"
        else:
            assert value == parse_value(variable, text), name


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("JWT_SECRET_KEY=too-short", "jwt_secret_key"),
        ("JWT_ALGORITHM=RS256", "jwt_algorithm"),
        ("ACCESS_TOKEN_EXPIRE_HOURS=0", "access_token_expire_hours"),
        ("TURNSTILE_ENABLED=maybe", "turnstile_enabled"),
    ],
)
def test_a_value_the_schema_refuses_raises_pydantics_error(
    bundled: Path, tmp_path: Path, clean_environ: None, line: str, field: str
) -> None:
    from pydantic import ValidationError

    (tmp_path / "settings_mod.py").write_text(generated(bundled), encoding="utf-8")
    settings = load_module(tmp_path / "settings_mod.py").Settings
    dotenv = tmp_path / "bad.env"
    dotenv.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        settings(_env_file=dotenv)
    assert [e["loc"] for e in caught.value.errors()] == [(field,)]
    assert line.split("=", 1)[1] not in str(caught.value)  # hide_input_in_errors


def test_hostile_schema_text_stays_inside_its_literals(
    hostile: Path, tmp_path: Path, clean_environ: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pydantic import ValidationError

    from secconf.operations.project import Project

    monkeypatch.chdir(tmp_path)
    text = generated(hostile)
    path = tmp_path / "hostile_settings.py"
    path.write_text(text, encoding="utf-8")
    tree = ast.parse(text)
    top = [type(node).__name__ for node in tree.body]
    assert top == [
        "Expr",
        "ImportFrom",
        *["ImportFrom"] * (top.count("ImportFrom") - 1),
        "Assign",
        "FunctionDef",
        "ClassDef",
    ]
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Import)]
    settings_class = load_module(path).Settings
    assert not (tmp_path / "PWNED").exists()
    schema = Project.open(hostile).schema
    fields = settings_class.model_fields
    for variable in schema.variables.values():
        from secconf.schema.codegen import field_name

        assert fields[field_name(variable)].description == variable.description
    # A sensitive default is a value like any other: not in the code, so the field is
    # required (as `docs` hides it); the application gets it from its environment.
    assert "Secret[int](7)" not in text and "ab12" not in text
    assert fields["hostile_secret_int"].is_required() and fields["hostile_pattern"].is_required()
    dotenv = tmp_path / "h.env"
    dotenv.write_text("REQUIRED_ONE=x\nclass=kw\n", encoding="utf-8")
    with pytest.raises(ValidationError):
        settings_class(_env_file=dotenv)
    base = "REQUIRED_ONE=x\nHOSTILE_SECRET_INT=7\nHOSTILE_PATTERN=ab12\n"
    dotenv.write_text(base + "class=kw\n", encoding="utf-8")
    settings = settings_class(_env_file=dotenv)
    assert settings.hostile_text == schema.variables["HOSTILE_TEXT"].default
    assert settings.hostile_choice == "a'b" and settings.class_ == "kw"
    assert settings.hostile_secret_int.get_secret_value() == 7
    dotenv.write_text(base + "HOSTILE_CHOICE=\\\nHOSTILE_PATTERN=zz99\n", encoding="utf-8")
    settings = settings_class(_env_file=dotenv)
    assert settings.hostile_choice == "\\"
    assert settings.hostile_pattern.get_secret_value() == "zz99"
    for bad in (
        "HOSTILE_PATTERN=99zz",
        "HOSTILE_PATTERN=zz99x",
        "HOSTILE_CHOICE=e",
        "HOSTILE_INT=10",
        "HOSTILE_SECRET_INT=9",
    ):
        dotenv.write_text(f"{base}{bad}\n", encoding="utf-8")  # the last line wins
        with pytest.raises(ValidationError):
            settings_class(_env_file=dotenv)
    with pytest.raises(ValidationError):  # required
        settings_class(_env_file=tmp_path / "none.env")


def test_regenerating_is_byte_identical_and_out_follows_the_output_rules(
    bundled: Path, tmp_path: Path
) -> None:
    out = tmp_path / "settings.py"
    first = run(bundled, "codegen", "--lang", "python", "--out", str(out))
    assert first.code == 0, first.err
    before = out.read_bytes()
    assert run(bundled, "codegen", "--out", str(out)).code == 0
    assert out.read_bytes() == before == generated(bundled).encode()
    stdout = run(bundled, "codegen")
    assert stdout.code == 0 and stdout.out.encode() == before
    refused = run(bundled, "codegen", "--out", str(tmp_path))
    assert refused.code == 2 and "directory" in refused.err
    assert run(bundled, "codegen", "--lang", "go").code == 2


def test_names_differing_only_in_case_are_refused(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    (root / "schema" / "50-case.yaml").write_text(
        textwrap.dedent(
            """
            section: Case
            variables:
              - {name: jwt_algorithm, description: clash}
            """
        ),
        encoding="utf-8",
    )
    result = run(root, "codegen")
    assert result.code == 2 and "differ only in case" in result.err, result.err

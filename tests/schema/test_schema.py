"""The bundled schema says what the application's documentation says; users can extend it."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from tests.support.repo import BUNDLED, make_repo, run

from secconf.core.errors import InputError
from secconf.schema import load_schema
from secconf.schema.docs import render_markdown

# The application's own documentation page, copied verbatim: the oracle for the bundled schema.
REFERENCE = Path(__file__).resolve().parents[1] / "data" / "security-configuration.txt"
SECTIONS = [
    "JWT Authentication",
    "Web Push (VAPID)",
    "Cloudflare Turnstile (CAPTCHA)",
    "User Management",
]


def reference_tables(text: str) -> dict[str, list[list[str]]]:
    """Rows of each table of the reference page, by the section title above it."""
    tables: dict[str, list[list[str]]] = {}
    section = None
    for line in text.splitlines():
        if line.strip() in SECTIONS:
            section = line.strip()
            tables[section] = []
        elif section and "|" in line and not line.startswith("|"):
            tables[section].append([c.strip() for c in line.strip().strip("|").split("|")])
    return tables


def markdown_tables(text: str) -> dict[str, list[list[str]]]:
    """Rows of each table of generated Markdown, by its `## ` heading."""
    tables: dict[str, list[list[str]]] = {}
    section = None
    for line in text.splitlines():
        if line.startswith("## "):
            section = line[3:]
            tables[section] = []
        elif section and line.startswith("| ") and not line.startswith("| Variable"):
            tables[section].append([c.strip() for c in line.strip().strip("|").split(" | ")])
    return tables


@pytest.fixture(scope="module")
def reference() -> dict[str, list[list[str]]]:
    return reference_tables(REFERENCE.read_text(encoding="utf-8"))


def test_reference_page_parses_into_seventeen_rows(reference: dict[str, list[list[str]]]) -> None:
    assert list(reference) == SECTIONS
    assert sum(len(rows) for rows in reference.values()) == 17


def test_generated_docs_say_what_the_reference_says(reference: dict[str, list[list[str]]]) -> None:
    docs = markdown_tables(render_markdown(load_schema(BUNDLED / "schema")))
    assert list(docs) == SECTIONS
    for section, rows in reference.items():
        generated = docs[section]
        assert [r[0] for r in generated] == [r[0] for r in rows], section
        for ref_row, gen_row in zip(rows, generated, strict=True):
            if len(ref_row) == 4:  # Variable | Default | Sensitive | Description
                assert gen_row == ref_row
            else:  # User Management: no Sensitive column, so not sensitive
                name, default, description = ref_row
                assert gen_row == [name, default, "No", description]


def test_docs_carry_the_reference_warnings() -> None:
    docs = render_markdown(load_schema(BUNDLED / "schema"))
    assert "all active sessions will be invalidated on every restart" in docs
    assert "existing browser push subscriptions may stop receiving notifications" in docs


def test_bundled_schema_types_sensitivity_and_generators() -> None:
    schema = load_schema(BUNDLED / "schema")
    variables = schema.variables
    assert len(variables) == 17
    assert [s.name for s in schema.sections] == SECTIONS
    assert {n for n, v in variables.items() if v.sensitive} == {
        "JWT_SECRET_KEY",
        "VAPID_PRIVATE_KEY",
        "TURNSTILE_SECRET_KEY",
    }
    assert {n for n, v in variables.items() if v.generator} == {
        "JWT_SECRET_KEY",
        "VAPID_PUBLIC_KEY",
        "VAPID_PRIVATE_KEY",
    }
    assert variables["VAPID_PUBLIC_KEY"].group == variables["VAPID_PRIVATE_KEY"].group
    assert {n for n, v in variables.items() if v.auto_generated} == {
        "JWT_SECRET_KEY",
        "VAPID_PUBLIC_KEY",
        "VAPID_PRIVATE_KEY",
    }
    # "(empty)" and "(auto-generated)" are meanings: no variable has them as a string
    assert all(v.default not in ("(empty)", "(auto-generated)") for v in variables.values())
    assert variables["TURNSTILE_SITE_KEY"].default == ""
    assert variables["JWT_SECRET_KEY"].default is None
    types = {n: v.type for n, v in variables.items()}
    assert types["ACCESS_TOKEN_EXPIRE_HOURS"] == types["REFRESH_TOKEN_EXPIRE_DAYS"] == "integer"
    assert {n for n, t in types.items() if t == "boolean"} == {
        "TURNSTILE_ENABLED",
        "TURNSTILE_REQUIRE_ON_LOGIN",
        "TURNSTILE_REQUIRE_ON_REGISTER",
        "TURNSTILE_REQUIRE_ON_PASSWORD_CHANGE",
        "ENABLE_REGISTRATION",
    }


def test_a_user_adds_a_variable_without_code(tmp_path: Path) -> None:
    root = make_repo(
        tmp_path / "repo",
        {"dev": "values:\n  STRIPE_WEBHOOK_SECRET: {generate: true}\n  SHOP_NAME: Acme\n"},
    )
    (root / "schema" / "50-shop.yaml").write_text(
        textwrap.dedent(
            """
            section: Shop
            variables:
              - name: SHOP_NAME
                description: Name shown in the header.
                constraints: {max_length: 3}
              - name: STRIPE_WEBHOOK_SECRET
                sensitive: true
                description: Stripe webhook signing secret.
                generator: {kind: random-token, bytes: 32}
            """
        )
    )
    result = run(root, "validate", "--format", "json")
    assert result.code == 1
    assert '"variable": "SHOP_NAME"' in result.out and "longer than 3" in result.out
    assert "SC001" not in result.out  # both names are known now
    shown = run(root, "schema", "show", "--format", "json")
    assert '"name": "STRIPE_WEBHOOK_SECRET"' in shown.out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("section: X\nvariables:\n  - name: 1BAD\n    description: d\n", "variables.0.name"),
        (
            "section: X\nvariables:\n  - name: A\n    description: d\n    type: float\n",
            "variables.0.type",
        ),
        (
            "section: X\nvariables:\n  - name: A\n    description: d\n    type: integer\n    default: 'x'\n",
            "is not a integer",
        ),
        (
            "section: X\nvariables:\n  - name: A\n    description: d\n    colour: red\n",
            "variables.0.colour",
        ),
        (
            "section: X\nvariables:\n  - name: A\n    description: d\n    auto_generated: true\n    default: x\n",
            "not both",
        ),
        (
            "section: X\nvariables:\n  - name: A\n    description: d\n    generator: {kind: vapid, group: G, part: public_key}\n",
            "needs one private_key",
        ),
        (
            "section: X\nvariables:\n  - name: A\n    description: d\n    constraints: {pattern: '('}\n",
            "pattern",
        ),
    ],
)
def test_bad_schema_files_are_located_errors(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "x.yaml").write_text(text)
    with pytest.raises(InputError) as caught:
        load_schema(tmp_path / "s")
    assert expected in str(caught.value)
    assert caught.value.file is not None and caught.value.file.endswith("x.yaml")


def test_a_variable_defined_twice_is_refused(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"dev": "values: {}\n"})
    (root / "schema" / "99-dup.yaml").write_text(
        "section: Dup\nvariables:\n  - name: JWT_ALGORITHM\n    description: again\n"
    )
    result = run(root, "validate")
    assert result.code == 2
    assert re.search(
        r"schema/99-dup\.yaml:3: .*JWT_ALGORITHM is already defined in schema/10-jwt\.yaml",
        result.err,
    )


def test_schema_show_lists_every_variable(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"dev": "values: {}\n"})
    text = run(root, "schema", "show")
    assert text.code == 0
    names = [line.split()[0] for line in text.out.splitlines() if line and not line[0].isspace()]
    assert names == list(load_schema(BUNDLED / "schema").variables)

"""Users' templates: sandboxed, strict, and checked by parsing the output back.

A template in the config repo's `templates/` that reaches for Python internals, fails,
or changes what is delivered (a variable dropped, a line duplicated, a document added)
stops the render with exit 2, a message naming the template file (and line), no
traceback, and no output file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.support.oracles import kubernetes_validate, load_manifests
from tests.support.repo import BUNDLED, make_repo, run

DEV = """
values:
  JWT_SECRET_KEY: {generate: true}
  ADMIN_CONTACT_EMAIL: dev@acme-shop.io
"""

TEMPLATE_OF = {
    "dotenv": "dotenv.j2",
    "kubernetes": "kubernetes.yaml.j2",
    "vault": "vault.json.j2",
    "dotenv-example": "dotenv-example.j2",
}
OUTPUT_OF = {
    "dotenv": "out/dev.env",
    "kubernetes": "out/dev.k8s.yaml",
    "vault": "out/dev.vault.json",
    "dotenv-example": ".env.example",
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"dev": DEV})


def bundled(name: str) -> str:
    return (BUNDLED / "templates" / name).read_text(encoding="utf-8")


def render_with(root: Path, target: str, template: str) -> tuple[int, str]:
    """Put `template` in templates/, render `target`; the exit code and stderr."""
    (root / "templates" / TEMPLATE_OF[target]).write_text(template, encoding="utf-8")
    result = run(root, "render", "--env", "dev", "--target", target)
    assert "Traceback" not in result.both
    return result.code, result.err


def assert_refused(root: Path, target: str, template: str, line: int | None = None) -> str:
    """Exit 2, the template named (with its line when given), nothing written."""
    code, err = render_with(root, target, template)
    assert code == 2, err
    where = f"templates/{TEMPLATE_OF[target]}" + (f":{line}:" if line else "")
    assert f"secconf: error: {where}" in err
    assert "internal error" not in err
    assert not (root / OUTPUT_OF[target]).exists()
    return err


# Ways out of the sandbox documented for Jinja2 (SSTI payloads), each on line 3.
ESCAPES = {
    "class-mro": "{{ ''.__class__.__mro__ }}",
    "cycler-globals": "{{ cycler.__init__.__globals__ }}",
    "lipsum-globals": "{{ lipsum.__globals__['os'] }}",
    "joiner-globals": "{{ joiner.__init__.__globals__ }}",
    "attr-filter": "{{ ''|attr('__class__') }}",
    "subclasses": "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "format-string": "{{ '{0.__class__}'.format(1) }}",
    "format-map": "{{ '{x.__class__}'.format_map({'x': 1}) }}",
    "template-context": "{{ self._TemplateReference__context }}",
    "mutate-input": "{{ sections.append(1) }}",
}


@pytest.mark.parametrize("attack", list(ESCAPES.values()), ids=list(ESCAPES))
def test_sandbox_escape_fails_naming_file_and_line(repo: Path, attack: str) -> None:
    """Each payload: exit 2, `templates/dotenv.j2:3`, the sandbox named, nothing written."""
    err = assert_refused(repo, "dotenv", f"# one\n# two\n{attack}\n", line=3)
    assert "Python internals" in err


@pytest.mark.parametrize("target", list(TEMPLATE_OF))
def test_every_template_is_sandboxed(repo: Path, target: str) -> None:
    """The same payload in each target's template is refused the same way."""
    original = bundled(TEMPLATE_OF[target])
    err = assert_refused(repo, target, "{# x #}\n{{ ''.__class__.__mro__ }}\n" + original, line=2)
    assert "Python internals" in err


def test_unknown_name_is_an_error_not_an_empty_string(repo: Path) -> None:
    """StrictUndefined: a misspelt name stops the render instead of writing nothing."""
    err = assert_refused(repo, "dotenv", "# a\n{{ enviroment.name }}\n", line=2)
    assert "enviroment" in err


def test_syntax_error_names_file_and_line(repo: Path) -> None:
    assert_refused(repo, "dotenv", "# a\n# b\n# c\n{{ oops \n", line=4)


# Template faults that are the user's to fix, not bugs in secconf (exit 2, not 3).
FAULTS = {
    "division-by-zero": "{{ 1 / 0 }}",
    "range-too-big": "{{ range(10 ** 9) | list | length }}",
    "includes-itself": "{% include 'dotenv.j2' %}",
}


@pytest.mark.parametrize("fault", list(FAULTS.values()), ids=list(FAULTS))
def test_template_fault_is_bad_input_not_an_internal_error(repo: Path, fault: str) -> None:
    assert_refused(repo, "dotenv", f"# a\n{fault}\n")


def test_missing_include_names_the_missing_template(repo: Path) -> None:
    """`{% include 'nope.j2' %}`: the message names nope.j2, not the template that exists."""
    err = assert_refused(repo, "dotenv", "# a\n{% include 'nope.j2' %}\n")
    assert "nope.j2" in err


def test_include_cannot_leave_the_template_directories(repo: Path) -> None:
    """`..` in an include path is refused: a template cannot read the schema or store."""
    code, _ = render_with(repo, "dotenv", "{% include '../schema/10-jwt.yaml' %}\n")
    assert code == 2
    assert not (repo / "out" / "dev.env").exists()


# ---- the parse-back check: a template that changes what is delivered is refused.

DOTENV = bundled("dotenv.j2")
KUBERNETES = bundled("kubernetes.yaml.j2")
ONE_LINE_PER_ITEM = """\
{% for section in sections %}{% for item in section.variables %}{% if item.line %}
{{ item.line }}
{% endif %}{% endfor %}{% endfor %}
"""

BROKEN_TEMPLATES = {
    "dotenv-drops-a-variable": (
        "dotenv",
        ONE_LINE_PER_ITEM.replace("item.line %}", "item.line and item.name != 'JWT_ALGORITHM' %}"),
    ),
    "dotenv-adds-a-variable": ("dotenv", DOTENV + "EXTRA=1\n"),
    "dotenv-changes-a-value": ("dotenv", DOTENV + "JWT_ALGORITHM=HS512\n"),
    "dotenv-breaks-a-quote": (
        "dotenv",
        ONE_LINE_PER_ITEM.replace("{{ item.line }}", "{{ item.line[:-1] }}"),
    ),
    "dotenv-duplicates-a-line": (
        "dotenv",
        ONE_LINE_PER_ITEM.replace("{{ item.line }}", "{{ item.line }}\n{{ item.line }}"),
    ),
    "kubernetes-extra-document": (
        "kubernetes",
        KUBERNETES + "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: evil\n",
    ),
    "kubernetes-drops-a-key": (
        "kubernetes",
        KUBERNETES.replace("{{ secret.data | yaml_items(2) }}", "{}"),
    ),
    "kubernetes-adds-stringdata": (
        "kubernetes",
        KUBERNETES.replace("type: Opaque\n", "type: Opaque\nstringData: {EVIL: x}\n"),
    ),
    "kubernetes-raw-value": (
        "kubernetes",
        KUBERNETES.replace(
            "{{ configmap.data | yaml_items(2) }}",
            "{% for k, v in configmap.data.items() %}{{ k }}: {{ v }}\n  {% endfor %}",
        ),
    ),
    "kubernetes-duplicates-a-data-line": (
        "kubernetes",
        KUBERNETES.replace(
            "  {{ secret.data | yaml_items(2) }}\n",
            "  {{ secret.data | yaml_items(2) }}\n  {{ secret.data | yaml_items(2) }}\n",
        ),
    ),
    "kubernetes-duplicates-a-label": (
        "kubernetes",
        KUBERNETES.replace(
            "    {{ labels | yaml_items(4) }}\n",
            "    {{ labels | yaml_items(4) }}\n    {{ labels | yaml_items(4) }}\n",
            1,
        ),
    ),
    "vault-adds-a-key": ("vault", '{"EVIL": "1", {{ (data | to_json)[1:] }}'),
    "vault-two-objects": ("vault", "{{ data | to_json }}\n{{ data | to_json }}"),
    "vault-not-json": ("vault", "{{ data }}"),
}


def test_the_minimal_template_the_broken_ones_start_from_is_accepted(repo: Path) -> None:
    """So each refusal below is about the one change made to it."""
    code, err = render_with(repo, "dotenv", ONE_LINE_PER_ITEM)
    assert code == 0, err


@pytest.mark.parametrize(
    ("target", "template"), list(BROKEN_TEMPLATES.values()), ids=list(BROKEN_TEMPLATES)
)
def test_parse_back_refuses_output_that_differs_from_the_intended_data(
    repo: Path, target: str, template: str
) -> None:
    assert_refused(repo, target, template)


def test_users_may_add_comments_labels_and_annotations(repo: Path) -> None:
    """What templates are for: extra comments and metadata render and stay valid."""
    dotenv = DOTENV.replace(
        "{% for section", "# Team: web; ask #ops before editing.\n{% for section"
    )
    code, err = render_with(repo, "dotenv", dotenv)
    assert code == 0, err
    assert "# Team: web" in (repo / "out" / "dev.env").read_text()
    kubernetes = KUBERNETES.replace(
        "    {{ labels | yaml_items(4) }}\n",
        "    {{ labels | yaml_items(4) }}\n    team: web\n",
    ).replace(
        "    {{ annotations | yaml_items(4) }}\n",
        '    {{ annotations | yaml_items(4) }}\n    owner: "ops@acme-shop.io"\n',
    )
    code, err = render_with(repo, "kubernetes", kubernetes)
    assert code == 0, err
    documents = load_manifests(repo / "out" / "dev.k8s.yaml")
    for document in documents:
        assert document["metadata"]["labels"]["team"] == "web"
        assert document["metadata"]["annotations"]["owner"] == "ops@acme-shop.io"
        assert document["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "secconf"
        kubernetes_validate(document)


def test_missing_user_template_falls_back_to_the_bundled_one(repo: Path) -> None:
    (repo / "templates" / "vault.json.j2").unlink()
    result = run(repo, "render", "--env", "dev", "--target", "vault")
    assert result.code == 0, result.err
    assert (repo / "out" / "dev.vault.json").exists()

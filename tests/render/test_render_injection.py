"""Values crafted to inject are delivered as plain strings and add nothing.

A value tries to add a line to the .env, a key or a document to the manifests, a key
to the Vault JSON, or to be evaluated as Jinja2. Readers we did not write (python-dotenv,
bash, PyYAML, json) must see exactly the intended variables with exactly these values.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from tests.support.hostile import HostileRepo, hostile_repo, isolated_environ
from tests.support.oracles import (
    bash_read,
    dotenv_read,
    kubernetes_validate,
    load_manifests,
    needs_bash,
    secret_values,
)
from tests.support.repo import run

INJECTIONS: dict[str, str] = {
    "NEWLINE_ASSIGN": "x\nEVIL=1",
    "NEWLINE_EXPORT": "x\nexport EVIL=2\n",
    "QUOTE_BREAKOUT": "x'\nEVIL=3\n'",
    "DQUOTE_BREAKOUT": 'x"\nEVIL=4\n"',
    "COMMENT_THEN_ASSIGN": "# c\nEVIL=5 # c",
    "YAML_DOCUMENT": "x\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: evil\n",
    "YAML_DOCUMENT_START": "---\nkind: Secret",
    "YAML_DOCUMENT_END": "x\n...\n---\nEVIL: 1",
    "YAML_KEY": "x\nEVIL: 1",
    "YAML_INDENTED_KEY": "x\n  EVIL: 1",
    "YAML_FLOW": "{EVIL: 1}",
    "YAML_ANCHOR": "&anchor x",
    "YAML_ALIAS": "*anchor",
    "YAML_MERGE": "<<: *anchor",
    "YAML_PYTHON_TAG": "!!python/object/apply:os.system ['echo pwned']",
    "YAML_BINARY_TAG": "!!binary ZXZpbA==",
    "JINJA_EXPRESSION": "{{ 7*7 }}",
    "JINJA_RAW": "{% raw %}x{% endraw %}{% raw %}",
    "JINJA_INTERNALS": "{{ ''.__class__.__mro__ }}",
    "JINJA_GLOBALS": "{{ cycler.__init__.__globals__ }}",
    "JINJA_STATEMENT": "{% for x in range(3) %}{{ x }}{% endfor %}",
    "JINJA_COMMENT_OPEN": "{# never closed",
    "JSON_BREAKOUT": '", "EVIL": "1',
    "JSON_OBJECT": '"}\n{"EVIL": "1"}',
}


@pytest.fixture(scope="module")
def injected(tmp_path_factory: pytest.TempPathFactory) -> HostileRepo:
    """Each value from_env into the Secret and the ConfigMap, and as a YAML literal;
    rendered once for every target (tests only read the files)."""
    with isolated_environ(tmp_path_factory) as patch:
        root = tmp_path_factory.mktemp("injected") / "repo"
        repo = hostile_repo(root, patch, INJECTIONS, literal=INJECTIONS)
        for target in ("dotenv", "kubernetes", "vault"):
            result = run(repo.root, "render", "--env", repo.env, "--target", target)
            assert result.code == 0, result.both
    return repo


def _delivered(repo: HostileRepo) -> dict[str, str]:
    """What the Vault JSON says was delivered: the reference the others must match."""
    payload: dict[str, str] = json.loads(repo.out("vault.json").read_text(encoding="utf-8"))
    return payload


def test_vault_json_is_exactly_the_intended_object(injected: HostileRepo) -> None:
    """Exactly the schema's delivered variables, each injected value a plain string."""
    payload = _delivered(injected)
    assert {k: v for k, v in payload.items() if k in injected.expected} == injected.expected
    assert "EVIL" not in payload
    bundled = set()
    for path in sorted((injected.root / "schema").glob("[0-8]*.yaml")):
        bundled |= {v["name"] for v in yaml.safe_load(path.read_text())["variables"]}
    assert set(payload) - set(injected.expected) <= bundled


def test_env_file_adds_no_variable(injected: HostileRepo) -> None:
    """python-dotenv reads exactly the delivered variables: no EVIL, every value intact."""
    assert dotenv_read(injected.out("env")) == _delivered(injected)


@needs_bash
def test_env_file_adds_nothing_for_bash(injected: HostileRepo) -> None:
    """bash `set -a; . ./file` exports exactly the delivered variables and runs nothing."""
    assert bash_read(injected.out("env")) == _delivered(injected)


def test_manifests_add_no_document_and_no_key(injected: HostileRepo) -> None:
    """Two documents; the Secret and ConfigMap hold exactly the intended keys and values."""
    documents = load_manifests(injected.out("k8s.yaml"))
    assert [d["kind"] for d in documents] == ["Secret", "ConfigMap"]
    secret, configmap = documents
    assert set(secret) == {"apiVersion", "kind", "metadata", "type", "data"}
    assert set(configmap) == {"apiVersion", "kind", "metadata", "data"}
    assert secret["metadata"]["name"] == "app-secrets"
    assert configmap["metadata"]["name"] == "app-config"
    delivered = _delivered(injected)
    sensitive = {"TURNSTILE_SECRET_KEY", *injected.sensitive}
    assert secret_values(secret) == {k: v for k, v in delivered.items() if k in sensitive}
    assert configmap["data"] == {k: v for k, v in delivered.items() if k not in sensitive}
    for document in documents:
        kubernetes_validate(document)


def test_jinja_in_values_is_not_evaluated(injected: HostileRepo) -> None:
    """`{{ 7*7 }}` is delivered as those characters (three times), never evaluated."""
    for suffix in ("env", "vault.json"):
        text = injected.out(suffix).read_text(encoding="utf-8")
        assert text.count("{{ 7*7 }}") == 3
        assert text.count("{% for x in range(3) %}{{ x }}{% endfor %}") == 3
        assert "<class" not in text and "__builtins__" not in text


def test_descriptions_and_settings_cannot_inject(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Schema descriptions, section names and target settings end up as text only."""
    repo = hostile_repo(
        tmp_path / "repo",
        monkeypatch,
        {"V": "v"},
        extra_yaml=(
            "targets:\n"
            "  kubernetes:\n"
            "    labels: {team: web}\n"
            '    annotations: {note: "x\\n---\\nkind: Secret\\nEVIL: 1", other: "*alias"}\n'
        ),
    )
    schema = repo.root / "schema" / "90-hostile.yaml"
    text = schema.read_text(encoding="utf-8")
    text = text.replace("description: V (plain)", 'description: "plain\\nEVIL=1\\n# x"')
    text = text.replace("section: Hostile values", 'section: "Hostile\\nEVIL=2"')
    schema.write_text(text, encoding="utf-8")
    for target in ("dotenv", "kubernetes", "dotenv-example"):
        result = run(repo.root, "render", "--env", repo.env, "--target", target)
        assert result.code == 0, result.both
    assert "EVIL" not in dotenv_read(repo.out("env"))
    example = dotenv_read(repo.root / ".env.example")
    assert "EVIL" not in example and "P_V" in example
    assert "# plain EVIL=1 # x\n" in (repo.root / ".env.example").read_text(encoding="utf-8")
    documents = load_manifests(repo.out("k8s.yaml"))
    assert len(documents) == 2
    annotations = documents[0]["metadata"]["annotations"]
    assert annotations["note"] == "x\n---\nkind: Secret\nEVIL: 1"
    assert annotations["other"] == "*alias"
    assert documents[1]["metadata"]["labels"]["team"] == "web"

"""No secret or credential in any message, `--debug` included (issue 9, section 2).

First one test per way a value used to reach a message, each at its source (the
library's own error, before the redacting output streams could hide it). Then the
canary test: every command's failure paths, with and without `--debug`, with canary
values placed everywhere an attacker or a careless user can put them, and no canary in
any encoding on stdout or stderr, but for the artifact `render --out -` delivers.

Assertions name the canary and the encoding that leaked, never the value.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import yaml
from tests.support.repo import Result, make_repo, run, write_env

from secconf.core import redact
from secconf.core.errors import SecconfError
from secconf.core.secret import reveal


def canary(kind: str) -> str:
    """A fresh value no output contains by chance."""
    return f"cnry{kind}{secrets.token_hex(8)}"


def encodings(value: str | bytes) -> dict[str, str]:
    """Every encoding a leaked value could take, by name."""
    data = value if isinstance(value, bytes) else value.encode()
    forms = {
        "b64": base64.b64encode(data).decode(),
        "b64url": base64.urlsafe_b64encode(data).decode(),
        "hex": data.hex(),
        "HEX": data.hex().upper(),
    }
    forms |= {f"{k}-nopad": v.rstrip("=") for k, v in list(forms.items()) if k.startswith("b64")}
    if isinstance(value, str):
        forms |= {
            "raw": value,
            "url": quote(value, safe=""),
            "url-plus": quote_plus(value),
            "json": json.dumps(value)[1:-1],
            "repr": repr(value)[1:-1],
        }
    return forms


def leaks(text: str, canaries: dict[str, str | bytes]) -> list[str]:
    """`name/encoding` of every canary found in `text` (never the value itself)."""
    return [
        f"{name}/{form_name}"
        for name, value in canaries.items()
        for form_name, form in encodings(value).items()
        if form in text
    ]


# ------------------------------------------------------------------------------------
# 1. At the source: errors never format values
# ------------------------------------------------------------------------------------


class TestTemplates:
    """A template error names the file and line, never a value the template computed."""

    @pytest.fixture
    def templates(self, tmp_path: Path):
        from secconf.render.templating import Templates

        return lambda text: (tmp_path.joinpath("t.j2").write_text(text), Templates(tmp_path))[1]

    def render_error(self, templates, text: str, value: str) -> SecconfError:
        with pytest.raises(SecconfError) as caught:
            templates(text).render("t.j2", {"data": {"S": value}})
        return caught.value

    def test_an_attribute_named_by_a_value(self, templates) -> None:
        secret = canary("tpl")
        error = self.render_error(templates, "line 1\n{{ data[data.S] }}\n", secret)
        assert not leaks(str(error), {"value": secret})
        assert error.file == "templates/t.j2" and error.line == 2
        assert "has no attribute" in error.message

    def test_an_include_named_by_a_value(self, templates) -> None:
        secret = canary("inc")
        error = self.render_error(templates, "{% include data.S %}\n", secret)
        assert not leaks(str(error), {"value": secret})
        assert "includes a template" in error.message and error.line == 1

    def test_names_the_template_spells_out_are_still_shown(self, templates) -> None:
        assert "'nothing' is undefined" in str(self.render_error(templates, "{{ nothing }}", "x"))
        missing = self.render_error(templates, '{% include "gone.j2" %}', "x")
        assert "includes gone.j2" in str(missing)


class TestYaml:
    """No text of a YAML document in any message, with the C loader and the Python one."""

    @pytest.fixture(params=["C", "python"])
    def loader(self, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
        import secconf.core.yamlio

        if request.param == "python":
            monkeypatch.setattr(secconf.core.yamlio, "_Loader", yaml.SafeLoader)
        elif not hasattr(yaml, "CSafeLoader"):
            pytest.skip("PyYAML without libyaml")
        return str(request.param)

    @pytest.mark.parametrize(
        "document",
        [
            "TURNSTILE_SECRET_KEY: !{v} x\n",  # a tag is a value with a stray `!`
            "TURNSTILE_SECRET_KEY: !!{v} x\n",
            "TURNSTILE_SECRET_KEY: *{v}\n",  # an undefined alias
            "TURNSTILE_SECRET_KEY: !{v}!x y\n",  # an undefined tag handle
            'TURNSTILE_SECRET_KEY: "\\q{v}"\n',  # an unknown escape
            "TURNSTILE_SECRET_KEY: !!int {v}\n",
            "{{{v}: 1, {v}: 2}}\n",  # a duplicate key that is not a name
        ],
    )
    def test_no_message_quotes_the_document(self, loader: str, document: str) -> None:
        from secconf.core.yamlio import parse_document

        secret = canary("yaml").replace("cnry", "Cn-Ry ")  # not a name, not one word
        secret = secret.replace(" ", "") if "!" in document or "*" in document else secret
        with pytest.raises(SecconfError) as caught:
            parse_document(document.format(v=secret), "environments/x.yaml")
        assert not leaks(str(caught.value), {"value": secret}), loader
        assert caught.value.line == 1

    def test_yaml_own_tags_are_still_named(self) -> None:
        from secconf.core.yamlio import parse_document

        with pytest.raises(SecconfError, match=r"\(int\)"):
            parse_document("A: !!int nope\n", "x.yaml")


def test_import_reports_lines_of_a_multi_line_value_by_number(tmp_path: Path) -> None:
    pem_line = canary("pem").upper().replace("CNRY", "MIIE") + "QEFAASCBKcwggSjAgEA"
    padded = canary("pad") + "=="
    unknown = canary("unk")
    source = tmp_path / "old.env"
    source.write_text(
        "TURNSTILE_SECRET_KEY=-----BEGIN PRIVATE KEY-----\n"
        f"{pem_line}\n"
        f"{padded}\n"
        "-----END PRIVATE KEY-----\n"
        f"lower_case_name={unknown}\n"
        f"MY_OWN_TOKEN={unknown}\n"
    )
    root = make_repo(tmp_path / "repo", {"development": "values: {}\n"})
    from secconf.operations.importing import import_dotenv
    from secconf.operations.project import Project

    report = import_dotenv(Project.open(root), "imp", source, notify=lambda _m: None)
    shown = json.dumps([report.unknown, report.skipped, report.literals, report.stored])
    assert not leaks(shown, {"pem": pem_line, "padded": padded, "unknown": unknown})
    assert ("MY_OWN_TOKEN", None) in report.unknown  # a name is still shown
    assert [name for name, _ in report.skipped] == ["line 2", "line 3", "line 4", "line 5"]
    assert redact.is_known(unknown)  # values of unknown names never print


def test_a_vault_token_no_header_can_carry_is_refused(tmp_path: Path) -> None:
    from secconf.core.errors import DeployError
    from secconf.core.vaultclient import vault_connection

    token = canary("tok")
    for bad in (f"{token}\n", f"{token} x", f"{token}\x00"):
        environ = {"VAULT_ADDR": "http://127.0.0.1:1", "VAULT_TOKEN": bad, "HOME": str(tmp_path)}
        with pytest.raises(DeployError) as caught:
            vault_connection(None, DeployError, environ=environ)
        assert "whitespace or control characters" in caught.value.message
        assert not leaks(str(caught.value), {"token": token})
    assert redact.is_credential(token)


def test_a_bad_vault_token_is_exit_2_with_debug_too(
    tmp_path: Path, vault, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = canary("tok")
    monkeypatch.setenv("VAULT_TOKEN", f"{token}\n")
    root = make_repo(tmp_path / "repo", {"dev": "values: {ADMIN_CONTACT_EMAIL: a@b.io}\n"})
    assert run(root, "keys", "ensure", "--env", "dev").code == 0
    result = run(root, "--debug", "plan", "--target", "vault", "--env", "dev")
    assert result.code == 2 and "Traceback" not in result.err
    assert not leaks(result.both, {"token": token})


class TestServerMessages:
    """A Kubernetes or Vault error shows the server's words only redacted, never the
    request it echoes."""

    def plan_error(self, root: Path, target: str) -> str:
        from tests.support.deploy import library_plan

        with pytest.raises(SecconfError) as caught:
            library_plan(root, "dev", target)
        return str(caught.value)

    def repo(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> Path:
        monkeypatch.setenv("LEAKTEST_TURNSTILE", value)
        env = "values:\n  TURNSTILE_SECRET_KEY: {from_env: LEAKTEST_TURNSTILE}\n"
        return make_repo(tmp_path / "repo", {"dev": env})

    def test_an_admission_webhook_echoing_the_secret(
        self,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        kube,
    ) -> None:
        if not hasattr(kube, "fail_next"):
            pytest.skip("needs the loopback server's fault injection")
        value = canary("adm")
        root = self.repo(tmp_path, monkeypatch, value)
        echoed = base64.b64encode(value.encode()).decode()
        body = json.dumps({"kind": "Secret", "data": {"TURNSTILE_SECRET_KEY": echoed}})
        kube.fail_next(1, 422, message=f"admission webhook denied the request: {body}")
        message = self.plan_error(root, "kubernetes")
        assert "admission webhook denied the request" in message
        assert not leaks(message, {"value": value})

    def test_a_403_echoing_the_bearer_token(
        self,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        kube,
    ) -> None:
        if not hasattr(kube, "fail_next"):
            pytest.skip("needs the loopback server's fault injection")
        root = self.repo(tmp_path, monkeypatch, canary("val"))
        kube.fail_next(1, 403, message=f"forbidden; request had Authorization: Bearer {kube.token}")
        message = self.plan_error(root, "kubernetes")
        assert message.startswith("forbidden while reading")
        assert not leaks(message, {"kubeconfig token": kube.token})

    def test_vault_never_echoes_its_error_body(
        self,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        vault,
    ) -> None:
        if not hasattr(vault, "fail_next"):
            pytest.skip("needs the loopback server's fault injection")
        root = self.repo(tmp_path, monkeypatch, canary("val"))
        vault.fail_next(1, 400, errors=[f"bad request with X-Vault-Token: {vault.token}"])
        message = self.plan_error(root, "vault")
        assert not leaks(message, {"vault token": vault.token})


class TestFromEnv:
    """`from_env` never reads secconf's own credentials."""

    @pytest.mark.parametrize(
        "variable", ["SECCONF_MASTER_KEY", "SECCONF_MASTER_KEY_DEV", "VAULT_TOKEN", "KUBECONFIG"]
    )
    def test_secconf_own_variables_are_refused(self, tmp_path: Path, variable: str) -> None:
        from secconf.operations.project import Project

        env = f"values:\n  ADMIN_CONTACT_EMAIL: {{from_env: {variable}}}\n"
        root = make_repo(tmp_path / "repo", {"dev": env})
        with pytest.raises(SecconfError) as caught:
            Project.open(root).environments.get("dev")
        assert caught.value.file == "environments/dev.yaml" and caught.value.line == 2
        assert variable in caught.value.message

    def test_a_copy_of_a_credential_is_refused(self, tmp_path: Path) -> None:
        from secconf.operations.project import Project

        master = base64.b64encode(secrets.token_bytes(32)).decode()
        environ = {"SECCONF_MASTER_KEY": master, "INNOCENT_LOOKING": master}
        redact.register_environment(environ)  # as the CLI does at start
        env = "values:\n  ADMIN_CONTACT_EMAIL: {from_env: INNOCENT_LOOKING}\n"
        project = Project.open(make_repo(tmp_path / "repo", {"dev": env}))
        with pytest.raises(SecconfError) as caught:
            project.resolve(project.environments.get("dev"), environ=environ)
        assert "INNOCENT_LOOKING" in caught.value.message
        assert not leaks(str(caught.value), {"master key": master})


NON_SENSITIVE_CHECKED = ("ADMIN_CONTACT_EMAIL", "ADMIN_CONTACT_URL", "VAPID_SUBJECT")


def test_a_non_sensitive_value_that_is_also_a_secret_is_not_shown(tmp_path: Path) -> None:
    from tests.support.repo import findings_for

    value = canary("cpy")  # not an e-mail address, not a URL: these messages quote values
    literals = "".join(f"  {name}: {value}\n" for name in NON_SENSITIVE_CHECKED)
    env = f"values:\n  TURNSTILE_SECRET_KEY: {{from_env: LEAK_SECRET}}\n{literals}"
    root = make_repo(tmp_path / "repo", {"dev": env})
    findings = findings_for(root, "dev", {"LEAK_SECRET": value})
    assert set(NON_SENSITIVE_CHECKED) <= {f.variable for f in findings if f.severity == "error"}
    assert not leaks(" ".join(f.message for f in findings), {"value": value})
    redact.reset()  # a fresh process, where the value is no secret's
    plain = findings_for(root, "dev", {"LEAK_SECRET": "another-secret-value"})
    assert sum(value in f.message for f in plain) == 3  # a literal of the file: shown


def test_a_non_sensitive_value_from_the_environment_is_not_shown(tmp_path: Path) -> None:
    """A pull request can point `from_env` at any variable CI has (DATABASE_URL...):
    messages never show what it reads, sensitive or not."""
    from tests.support.repo import findings_for

    value = "postgres://app:" + canary("db") + "@db.internal/app"
    references = "".join(
        f"  {name}: {{from_env: DATABASE_URL}}\n" for name in NON_SENSITIVE_CHECKED
    )
    root = make_repo(tmp_path / "repo", {"dev": f"values:\n{references}"})
    findings = findings_for(root, "dev", {"DATABASE_URL": value})
    assert set(NON_SENSITIVE_CHECKED) <= {f.variable for f in findings if f.severity == "error"}
    assert not leaks(" ".join(f.message for f in findings), {"value": value})


def sensitive_default_repo(tmp_path: Path, default: str) -> Path:
    root = make_repo(tmp_path / "repo", {"dev": "values: {}\n"})
    schema = {
        "section": "Extra",
        "description": "Test variables.",
        "variables": [
            {"name": "EXTRA_SECRET", "sensitive": True, "default": default, "description": "x"},
            {"name": "EXTRA_EMPTY", "sensitive": True, "default": "", "description": "y"},
        ],
    }
    (root / "schema" / "90-extra.yaml").write_text(yaml.safe_dump(schema))
    return root


def test_docs_and_schema_show_never_print_a_sensitive_default(tmp_path: Path) -> None:
    default = canary("dflt")
    root = sensitive_default_repo(tmp_path, default)
    docs = run(root, "docs")
    assert docs.code == 0
    assert "| EXTRA_SECRET | (hidden: sensitive) | Yes |" in docs.out
    assert "| EXTRA_EMPTY | (empty) | Yes |" in docs.out
    text = run(root, "schema", "show")
    assert "default=(hidden: sensitive)" in text.out
    shown = json.loads(run(root, "schema", "show", "--format", "json").out)
    rows = {row["name"]: row for row in shown["variables"]}
    assert rows["EXTRA_SECRET"]["default"] == "(hidden: sensitive)"
    assert rows["EXTRA_EMPTY"]["default"] == ""
    for result in (docs, text):
        assert not leaks(result.both, {"default": default})


def test_diff_and_tables_strip_terminal_controls(tmp_path: Path) -> None:
    hostile = "x\x1b]0;pwned\x07\x1b[2J\x1b[1A\r\x08y"
    env = f"values:\n  DEFAULT_USER_ROLE: {json.dumps(hostile)}\n"
    root = make_repo(tmp_path / "repo", {"a": env, "b": "values: {}\n"})
    (root / "environments" / "a.yaml").write_text(
        env + f"targets:\n  dotenv: {{path: {json.dumps('out/a' + hostile + '.env')}}}\n"
    )
    outputs = [run(root, "diff", "a", "b")]
    outputs += [
        run(root, "audit", "--offline", "--format", f) for f in ("table", "csv", "markdown")
    ]
    for result in outputs:
        assert result.code == 0, result.err
        assert not any(c in result.both for c in "\x1b\x07\r\x08")
    assert "xy  ->  " in outputs[0].out  # the value, without its controls
    assert "dotenv out/axy.env" in outputs[1].out


def test_debug_tracebacks_are_redacted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import secconf.validate as validate_module

    secret = canary("tb")
    master = base64.b64encode(secrets.token_bytes(32)).decode()
    monkeypatch.setenv("SECCONF_MASTER_KEY", master)
    monkeypatch.setenv("LEAK_SECRET", secret)
    root = make_repo(
        tmp_path / "repo", {"dev": "values: {TURNSTILE_SECRET_KEY: {from_env: LEAK_SECRET}}\n"}
    )

    def boom(config, **options):
        # A library whose exception quotes what it was handed, as requests' does.
        raise ValueError(f"bad input {reveal(config.value('TURNSTILE_SECRET_KEY'))!r} under {master}")

    monkeypatch.setattr(validate_module, "validate", boom)
    result = run(root, "--debug", "validate", "--offline")
    assert result.code == 3 and "Traceback" in result.err and "ValueError" in result.err
    assert "[redacted]" in result.err
    assert not leaks(result.both, {"secret": secret, "master key": master})


# ------------------------------------------------------------------------------------
# 2. The canary test: every command's failure paths, no canary on stdout or stderr
# ------------------------------------------------------------------------------------

MATERIAL = secrets.token_bytes(32)
CANARIES: dict[str, str | bytes] = {
    "sensitive literal": canary("lit") + "/+=",
    "from_env value": canary("env") + " with spaces & 'quotes'",
    "stored value": canary("sto"),
    "master key": base64.b64encode(MATERIAL).decode(),
    "master key bytes": MATERIAL,
    "vault token": "hvs." + canary("vlt"),
    "kubeconfig token": canary("kub"),
    "ci token": "ghp_" + canary("ci"),
    "yaml tag": canary("tag"),
    "yaml alias": canary("ali"),
    "imported line": f"MIIEvQIBADAN{secrets.token_hex(8)}BgkqhkiG9w0B",  # mixed case, as base64
    "imported unknown": canary("unk"),
}
LITERAL = str(CANARIES["sensitive literal"])
FROM_ENV = str(CANARIES["from_env value"])
STORED = str(CANARIES["stored value"])

DEV = """
description: dev
values:
  JWT_SECRET_KEY: {generate: true}
  VAPID_PRIVATE_KEY: {generate: true}
  VAPID_PUBLIC_KEY: {generate: true}
  TURNSTILE_ENABLED: true
  TURNSTILE_SITE_KEY: 0x4AAAAAAAB1x2y3z4
  TURNSTILE_SECRET_KEY: {from_env: LEAK_TURNSTILE}
  DEFAULT_USER_ROLE: {from_env: LEAK_COPY}
  ADMIN_CONTACT_EMAIL: ops@acme-shop.io
targets:
  vault: {mount: secret, secret_path: leak/dev}
  kubernetes: {namespace: leak, app_name: leak-dev}
"""
BAD = """
description: values copied from a secret into settings whose errors quote values
values:
  TURNSTILE_SECRET_KEY: {from_env: LEAK_TURNSTILE}
  ADMIN_CONTACT_EMAIL: {from_env: LEAK_COPY}
  ADMIN_CONTACT_URL: {from_env: LEAK_COPY}
  VAPID_SUBJECT: {from_env: LEAK_COPY}
  JWT_ALGORITHM: {from_env: LEAK_COPY}
"""
LIT = f"""
description: a production with a secret written in it
production: true
values:
  JWT_SECRET_KEY: {json.dumps(LITERAL)}
  TURNSTILE_SECRET_KEY: {json.dumps(LITERAL)}
  ADMIN_CONTACT_URL: {{from_env: LEAK_COPY}}
targets:
  vault: {{mount: secret, secret_path: leak/lit}}
  kubernetes: {{namespace: leak, app_name: leak-lit}}
"""


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[object, object]]:
    """A Vault and a Kubernetes API whose credentials are canaries."""
    from tests.support.k8s_server import KubeServer
    from tests.support.vault_server import VaultServer

    with (
        VaultServer(token=str(CANARIES["vault token"])) as vault,
        KubeServer(namespaces=["leak"], token=str(CANARIES["kubeconfig token"])) as kube,
    ):
        yield vault, kube


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, servers: tuple[object, object]) -> Path:
    """The canaries in the process environment, and a repo using them."""
    vault, kube = servers
    monkeypatch.setenv("SECCONF_MASTER_KEY", str(CANARIES["master key"]))
    monkeypatch.setenv("VAULT_ADDR", vault.url)
    monkeypatch.setenv("VAULT_TOKEN", str(CANARIES["vault token"]))
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("GITHUB_TOKEN", str(CANARIES["ci token"]))
    monkeypatch.setenv("LEAK_TURNSTILE", FROM_ENV)
    monkeypatch.setenv("LEAK_COPY", FROM_ENV)
    return make_repo(tmp_path / "repo", {"dev": DEV, "lit": LIT, "bad": BAD})


def imported_dotenv(path: Path, stored: str) -> Path:
    """An old .env: a stored secret, an unquoted multi-line PEM, unknown names."""
    line = CANARIES["imported line"]
    path.write_text(
        f"TURNSTILE_SECRET_KEY={stored}\n"
        f"VAPID_PRIVATE_KEY=-----BEGIN PRIVATE KEY-----\n{line}\n{line}AB==\n"
        "-----END PRIVATE KEY-----\n"
        f"LEGACY_API_TOKEN={CANARIES['imported unknown']}\n"
        f"legacy_lower={CANARIES['imported unknown']}\n"
    )
    return path


class Runs:
    """Every run of a canary test, checked together at the end."""

    def __init__(self, root: Path, *, debug: bool = True) -> None:
        self.root = root
        self.debug = debug
        self.results: list[tuple[str, Result, bool]] = []

    def __call__(self, *args: str, delivers: bool = False, debug: bool | None = None) -> Result:
        argv = ("--debug", *args) if (self.debug if debug is None else debug) else args
        result = run(self.root, *argv)
        self.results.append((" ".join(argv), result, delivers))
        return result

    def assert_no_canary(self, more: dict[str, str | bytes] | None = None) -> None:
        canaries = {**CANARIES, **(more or {})}
        found = []
        for command, result, delivers in self.results:
            shown = result.err if delivers else result.both  # the delivery itself aside
            found += [f"{command}: {leak}" for leak in leaks(shown, canaries)]
        assert not found, found  # names of canaries and encodings, never a value


@pytest.fixture(params=[True, False], ids=["debug", "no-debug"])
def debug(request: pytest.FixtureRequest) -> bool:
    """With `--debug` and without."""
    return bool(request.param)


def test_no_canary_from_any_command(
    world: Path, servers: tuple[object, object], debug: bool
) -> None:
    vault, kube = servers
    runs = Runs(world, debug=debug)
    runs("init", str(world))  # refuses: files exist
    assert runs("import", str(imported_dotenv(world / "old.env", STORED)), "--env", "imp").code == 1
    assert (
        runs("import", str(imported_dotenv(world / "new.env", FROM_ENV)), "--env", "imp").code == 2
    )
    for fmt in ("text", "json", "github", "sarif"):
        assert runs("validate", "--all", "--format", fmt).code == 1
        runs("validate", "--all", "--offline", "--format", fmt)
    for command in (["docs"], ["schema", "show"], ["schema", "show", "--format", "json"]):
        runs(*command)
    runs("schema", "export")
    for name in ("dev", "imp"):
        assert runs("keys", "ensure", "--env", name).code == 0
    runs("keys", "status", "--all")
    runs("keys", "status", "--all", "--format", "json")
    assert runs("keys", "rotate", "JWT_SECRET_KEY", "--env", "dev", "--yes").code == 0
    assert runs("keys", "rollback", "JWT_SECRET_KEY", "--env", "dev", "--yes").code == 0
    runs("keys", "rotate", "JWT_SECRET_KEY", "--env", "lit", "--yes")  # not generated: refused
    for target in ("dotenv", "kubernetes", "vault", "external-secret", "dotenv-example"):
        runs("render", "--env", "dev", "--target", target)
        runs("render", "--env", "lit", "--target", target)  # findings: refused
    runs("render", "--env", "dev", "--check-readers")
    delivered = runs("render", "--env", "dev", "--out", "-", delivers=True)
    in_play = delivered.code == 0 and FROM_ENV in delivered.out
    assert in_play  # the canaries were in play: the delivery holds one
    for fmt in ("table", "csv", "markdown", "json"):
        runs("audit", "--all", "--format", fmt)
    runs("diff", "dev", "imp", "--all-variables")
    runs("diff", "dev", "lit", "--format", "json", "--all-variables")
    for target in ("vault", "kubernetes"):
        for command in ("plan", "check"):
            runs(command, "--target", target, "--all", "--format", "json")
        assert runs("apply", "--target", target, "--env", "dev", "--yes").code == 0
        runs("check", "--target", target, "--env", "dev")
    # Servers that echo what they were sent: the token, the Secret's data.
    encoded = base64.b64encode(FROM_ENV.encode()).decode()
    echo = f"X-Vault-Token: {vault.token}; request {{'data': {{'TURNSTILE_SECRET_KEY': '{FROM_ENV}'}}}}"
    vault.fail_next(2, 403, errors=[echo])
    runs("plan", "--target", "vault", "--env", "dev")
    runs("plan", "--target", "vault", "--env", "dev", "--format", "json")
    body = json.dumps({"kind": "Secret", "data": {"TURNSTILE_SECRET_KEY": encoded}})
    kube.fail_next(1, 422, message=f"admission webhook denied the request: {body}")
    kube.fail_next(1, 403, message=f"forbidden: Authorization: Bearer {kube.token} {encoded}")
    runs("plan", "--target", "kubernetes", "--env", "dev")
    runs("plan", "--target", "kubernetes", "--env", "dev", "--format", "json")
    runs("store", "init", "--env", "dev")
    runs("store", "rekey", "--env", "dev", "--yes")
    runs("store", "rekey", "--env", "lit", "--yes")
    runs.assert_no_canary()


def test_no_canary_when_the_master_key_is_a_file_and_is_replaced(
    world: Path, monkeypatch: pytest.MonkeyPatch, debug: bool
) -> None:
    monkeypatch.delenv("SECCONF_MASTER_KEY")
    key_file = world / ".secconf" / "master.key"
    key_file.parent.mkdir()
    key_file.write_text(f"{CANARIES['master key']}\n")
    runs = Runs(world, debug=debug)
    assert runs("keys", "ensure", "--env", "dev").code == 0
    runs("store", "init", "--env", "dev")
    assert runs("store", "rekey", "--env", "dev", "--yes").code == 0
    runs("keys", "status", "--env", "dev")
    replaced = key_file.read_text().strip()
    key_file.write_text(f"{replaced[:-4]}\n")  # a broken key: not base64 of 32 bytes
    runs("keys", "status", "--env", "dev")
    runs("render", "--env", "dev")
    runs.assert_no_canary({"new master key": replaced, "new key bytes": base64.b64decode(replaced)})


def write_template(root: Path, name: str, text: str) -> None:
    (root / "templates" / name).write_text(text, encoding="utf-8")


def test_no_canary_from_broken_input(
    world: Path, monkeypatch: pytest.MonkeyPatch, debug: bool
) -> None:
    import secconf.core.yamlio

    runs = Runs(world, debug=debug)
    # Templates that try to print a value through an error.
    write_template(
        world, "kubernetes.yaml.j2", "{{ secret.data[secret.data.TURNSTILE_SECRET_KEY] }}"
    )
    write_template(world, "vault.json.j2", "{% include data.TURNSTILE_SECRET_KEY %}")
    write_template(
        world,
        "dotenv.j2",
        "{% for s in sections %}{% for i in s.variables %}{{ i[i.line] if i.line }}"
        "{% endfor %}{% endfor %}",
    )
    for target in ("dotenv", "kubernetes", "vault"):
        assert runs("render", "--env", "dev", "--target", target).code == 2
        assert runs("render", "--env", "dev", "--target", target, "--out", "-").code == 2
    # from_env reaching for secconf's own credentials, directly or through a copy.
    monkeypatch.setenv("INNOCENT_LOOKING", str(CANARIES["master key"]))
    monkeypatch.setenv("ALSO_INNOCENT", str(CANARIES["vault token"]))
    for variable in ("SECCONF_MASTER_KEY", "VAULT_TOKEN", "INNOCENT_LOOKING", "ALSO_INNOCENT"):
        write_env(world, "dev", DEV.replace("{from_env: LEAK_COPY}", f"{{from_env: {variable}}}"))
        for command in (["validate", "--offline"], ["render"], ["audit"], ["diff", "dev", "lit"]):
            assert (
                runs(
                    *command[:1], *(["--env", "dev"] if len(command) < 3 else []), *command[1:]
                ).code
                == 2
            )
        assert runs("plan", "--target", "vault", "--env", "dev").code == 2
    write_env(world, "dev", DEV)
    # A value with a stray tag; an undefined alias (pure-Python loader messages too).
    write_env(world, "lit", f"values:\n  TURNSTILE_SECRET_KEY: !{CANARIES['yaml tag']} x\n")
    for loader in (secconf.core.yamlio._Loader, yaml.SafeLoader):
        monkeypatch.setattr(secconf.core.yamlio, "_Loader", loader)
        assert runs("validate", "--env", "lit").code == 2
        assert runs("render", "--env", "lit").code == 2
        assert runs("audit").code == 2
    write_env(world, "lit", f"values:\n  TURNSTILE_SECRET_KEY: *{CANARIES['yaml alias']}\n")
    assert runs("validate", "--offline").code == 2
    write_env(world, "lit", f"values:\n  TURNSTILE_SECRET_KEY: !h!{CANARIES['yaml alias']} x\n")
    assert runs("keys", "ensure", "--env", "lit").code == 2
    runs.assert_no_canary()


def test_no_canary_from_internal_errors(world: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Libraries whose exceptions quote what they were handed: the traceback of
    `--debug` is redacted; without it only the exception's type is shown."""
    import hvac.api.secrets_engines.kv_v2
    import kubernetes.client

    import secconf.render.targets.dotenv
    import secconf.validate
    from secconf.store.masterkey import MasterKey, _key_check

    def quoting(what: str):
        def fail(*args, **kwargs):
            raise RuntimeError(f"{what} failed on {args!r} {kwargs!r}")

        return fail

    def validate_quoting(config, **options):
        values = {name: reveal(config.value(name)) for name in config.values}
        raise ValueError(f"cannot validate {values}")

    def read_quoting(self, *args, **kwargs):
        raise RuntimeError(f"read failed with token {self._adapter.token!r}")

    def k8s_quoting(self, *args, **kwargs):
        raise RuntimeError(f"read failed with {self.api_client.configuration.api_key}")

    def derive_quoting(self, purpose):
        raise RuntimeError(f"cannot derive {purpose} from {self.material!r} {self.material.hex()}")

    assert Runs(world)("keys", "ensure", "--env", "dev").code == 0
    runs = Runs(world)
    cases = [
        (secconf.validate, "validate", validate_quoting, ["validate", "--env", "dev"]),
        (secconf.render.targets.dotenv, "check_dotenv", quoting("check"), ["render", "--env", "dev"]),
        (
            hvac.api.secrets_engines.kv_v2.KvV2,
            "read_secret_version",
            read_quoting,
            ["plan", "--target", "vault", "--env", "dev"],
        ),
        (
            kubernetes.client.CoreV1Api,
            "read_namespaced_secret",
            k8s_quoting,
            ["check", "--target", "kubernetes", "--env", "dev"],
        ),
        (MasterKey, "derive", derive_quoting, ["keys", "status", "--env", "dev"]),
    ]
    for owner, name, replacement, command in cases:
        with monkeypatch.context() as patch:
            patch.setattr(owner, name, replacement)
            for debug in (True, False):
                _key_check.cache_clear()  # else the key check is not derived again
                result = runs(*command, debug=debug)
                assert result.code == 3, command
                assert ("Traceback" in result.err) is debug, command
                assert ("[redacted]" in result.err) is debug, command
    runs.assert_no_canary()

"""`secconf render` as users run it: files, stdout, keys, failures, determinism, checksum.

Outputs are read back with python-dotenv, bash, PyYAML and json (tests/support/oracles.py);
hostile values and injection have their own modules (test_render_roundtrip.py,
test_render_injection.py), user templates too (test_render_templates.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.support.oracles import (
    bash_read,
    dotenv_read,
    kubernetes_validate,
    load_manifests,
    needs_bash,
    secret_values,
)
from tests.support.repo import BUNDLED, Result, make_repo, run, write_env

from secconf.operations.project import Project
from secconf.store import ENVIRONMENT_KEY

TARGETS = ("dotenv", "kubernetes", "vault")
SUFFIX = {"dotenv": "env", "kubernetes": "k8s.yaml", "vault": "vault.json"}

DEV = """
values:
  JWT_SECRET_KEY: {generate: true}
  VAPID_PRIVATE_KEY: {generate: true}
  TURNSTILE_ENABLED: true
  TURNSTILE_SITE_KEY: 0x4AAAAAAA-site
  TURNSTILE_SECRET_KEY: {from_env: CI_TURNSTILE_SECRET}
  ADMIN_CONTACT_EMAIL: dev@acme-shop.io
targets:
  kubernetes: {namespace: app-dev, app_name: shop}
"""

PROD = """
production: true
values:
  JWT_ALGORITHM: HS512
  JWT_SECRET_KEY: {generate: true}
  VAPID_PRIVATE_KEY: {generate: true}
  VAPID_SUBJECT: mailto:ops@acme-shop.io
  ENABLE_REGISTRATION: false
  ADMIN_CONTACT_EMAIL: ops@acme-shop.io
"""

TURNSTILE_SECRET = "0x4AAAAAAA-ci-turnstile-SECRET-7f3a9c"


@pytest.fixture
def dev(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repo with a `dev` environment: generated keys, a from_env secret, literals."""
    monkeypatch.setenv("CI_TURNSTILE_SECRET", TURNSTILE_SECRET)
    return make_repo(tmp_path / "repo", {"dev": DEV})


def render(root: Path, *args: str, env: str = "dev", target: str = "dotenv") -> Result:
    """`secconf render --env ENV --target TARGET ARGS...`, which must succeed."""
    result = run(root, "render", "--env", env, "--target", target, *args)
    assert result.code == 0, result.both
    return result


def out(root: Path, target: str, env: str = "dev") -> Path:
    return root / "out" / f"{env}.{SUFFIX[target]}"


def delivered(root: Path, env: str = "dev") -> dict[str, str]:
    """What the three targets deliver, once they have been checked to agree."""
    payload: dict[str, str] = json.loads(out(root, "vault", env).read_text(encoding="utf-8"))
    documents = load_manifests(out(root, "kubernetes", env))
    manifests = secret_values(documents[0])
    for document in documents[1:]:
        manifests.update(document["data"])
    assert dotenv_read(out(root, "dotenv", env)) == manifests == payload
    return payload


def stored(root: Path, env: str = "dev") -> dict[str, str]:
    """The store's current values (the checksum key included), read through the store API."""
    project = Project.open(root)
    store = project.open_store(project.environments.get(env))
    return {name: entry.current.value.reveal() for name, entry in store.read().items()}


def snapshot(path: Path) -> tuple[bytes, int, int, int]:
    """Bytes, mtime, inode and mode: equal before and after means untouched."""
    st = path.stat()
    return path.read_bytes(), st.st_mtime_ns, st.st_ino, st.st_mode


def checksum_of(root: Path, env: str = "dev") -> str:
    """The checksum annotation; the same on the Secret and the ConfigMap."""
    documents = load_manifests(out(root, "kubernetes", env))
    values = {d["metadata"]["annotations"]["secconf/checksum"] for d in documents}
    assert len(values) == 1
    return values.pop()


# ---- files: mode, atomic replacement, stdout


def test_files_are_written_mode_0600_whatever_the_umask(dev: Path) -> None:
    old = os.umask(0)
    try:
        for target in (*TARGETS, "dotenv-example"):
            render(dev, target=target)
    finally:
        os.umask(old)
    written = [*(out(dev, t) for t in TARGETS), dev / ".env.example"]
    # .env.example holds no secret and is meant to be committed and read: 0644
    assert [p.stat().st_mode & 0o777 for p in written] == [0o600, 0o600, 0o600, 0o644]


def test_files_are_replaced_atomically_and_no_temp_file_is_left(dev: Path) -> None:
    """The old file is replaced by a new inode (a reader keeps the old bytes whole)."""
    path = out(dev, "dotenv")
    path.parent.mkdir()
    path.write_text("OLD='value'\n")
    path.chmod(0o644)
    reader = dev / "reader-link"
    os.link(path, reader)
    render(dev, "--force")  # a file secconf did not write is replaced only on purpose
    assert reader.read_text() == "OLD='value'\n"
    assert path.stat().st_ino != reader.stat().st_ino
    assert path.stat().st_mode & 0o777 == 0o600
    for target in TARGETS:
        render(dev, target=target)
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "dev.env",
        "dev.k8s.yaml",
        "dev.vault.json",
    ]
    assert not list(dev.rglob("*.tmp"))


@pytest.mark.parametrize("target", TARGETS)
def test_out_dash_writes_the_same_bytes_to_stdout_and_no_file(dev: Path, target: str) -> None:
    render(dev, target=target)
    expected = out(dev, target).read_text(encoding="utf-8")
    out(dev, target).unlink()
    result = render(dev, "--out", "-", target=target)
    assert result.out == expected
    assert list((dev / "out").iterdir()) == []


def test_out_path_is_used_instead_of_the_target_path(dev: Path, tmp_path: Path) -> None:
    custom = tmp_path / "elsewhere" / "app.env"
    result = render(dev, "--out", str(custom))
    assert str(custom) in result.err
    assert custom.stat().st_mode & 0o777 == 0o600
    assert not (dev / "out").exists()


def test_vault_next_step_names_the_file_written(dev: Path, tmp_path: Path) -> None:
    """The `vault kv put ... @FILE` hint points at the file that was written."""
    custom = tmp_path / "payload.json"
    result = render(dev, "--out", str(custom), target="vault")
    assert f"next: vault kv put -mount=secret dev/app @{custom}" in result.err


@pytest.mark.parametrize(
    "args",
    [["--all", "--out", "X"], ["--env", "dev", "--env", "other", "--out", "X"], ["--out", "-"]],
    ids=["all", "two-envs", "default-all-to-stdout"],
)
def test_out_with_several_environments_is_a_usage_error(
    dev: Path, tmp_path: Path, args: list[str]
) -> None:
    write_env(dev, "other", DEV)
    args = [str(tmp_path / "x.env") if a == "X" else a for a in args]
    result = run(dev, "render", *args)
    assert result.code == 2
    assert "--out" in result.err and "single" in result.err
    assert result.out == ""
    assert not (tmp_path / "x.env").exists() and not (dev / "out").exists()


# ---- refusing to render


@pytest.mark.parametrize("target", TARGETS)
def test_environment_with_validation_errors_is_not_rendered(dev: Path, target: str) -> None:
    write_env(dev, "dev", DEV.replace("values:\n", "values:\n  JWT_ALGORITHM: RS256\n"))
    result = run(dev, "render", "--env", "dev", "--target", target)
    assert result.code == 1
    assert "SC003" in result.err and "nothing was written" in result.err
    assert not (dev / "out").exists()
    assert run(dev, "render", "--env", "dev", "--target", target, "--out", "-").out == ""


def test_unset_from_env_value_names_the_variable_and_the_env_var(
    dev: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI_TURNSTILE_SECRET")
    for target in TARGETS:
        result = run(dev, "render", "--env", "dev", "--target", target)
        assert result.code == 2
        assert "TURNSTILE_SECRET_KEY" in result.err and "CI_TURNSTILE_SECRET" in result.err
    assert not (dev / "out").exists()


def test_production_without_stored_keys_stops_and_creates_nothing(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"prod": PROD})
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    for target in TARGETS:
        result = run(root, "render", "--env", "prod", "--target", target)
        assert result.code == 2
        assert "secconf keys ensure --env prod" in result.err
        assert "JWT_SECRET_KEY" in result.err
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before  # no store, no key
    assert not (root / ".secconf").exists() and not (root / "secrets").exists()
    # Keys created on purpose: then production renders, with exactly the stored keys.
    assert run(root, "store", "init", "--env", "prod").code == 0
    assert run(root, "keys", "ensure", "--env", "prod").code == 0
    keys = stored(root, "prod")
    for target in TARGETS:
        render(root, env="prod", target=target)
    values = delivered(root, "prod")
    assert values["JWT_SECRET_KEY"] == keys["JWT_SECRET_KEY"]
    assert values["VAPID_PRIVATE_KEY"] == keys["VAPID_PRIVATE_KEY"]
    assert stored(root, "prod") == keys  # rendering created nothing more


def test_outside_production_missing_keys_are_generated_once(dev: Path) -> None:
    assert not (dev / "secrets").exists()
    first = render(dev)
    assert "created the master key" in first.err
    keys = stored(dev)
    assert {"JWT_SECRET_KEY", "VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY"} <= set(keys)
    env_file = dotenv_read(out(dev, "dotenv"))
    assert env_file["JWT_SECRET_KEY"] == keys["JWT_SECRET_KEY"]
    assert len(keys["JWT_SECRET_KEY"]) >= 32
    for target in TARGETS:
        render(dev, target=target)
    values = delivered(dev)
    for name in ("JWT_SECRET_KEY", "VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY"):
        assert values[name] == keys[name]
    assert stored(dev) == keys


def test_failed_environment_in_all_writes_none_of_them(
    dev: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--all`: one environment fails, so no environment's file is written or replaced."""
    write_env(dev, "ci", DEV.replace("CI_TURNSTILE_SECRET", "CI_ONLY_SECRET"))
    monkeypatch.delenv("CI_ONLY_SECRET", raising=False)
    for target in TARGETS:
        render(dev, target=target)
    before = {t: snapshot(out(dev, t)) for t in TARGETS}
    write_env(dev, "dev", DEV.replace("dev@acme-shop.io", "changed@acme-shop.io"))
    for target in TARGETS:
        result = run(dev, "render", "--all", "--target", target)
        assert result.code == 2 and "CI_ONLY_SECRET" in result.err
    assert {t: snapshot(out(dev, t)) for t in TARGETS} == before
    assert not any(p.name.startswith("ci.") for p in (dev / "out").iterdir())


# ---- what is delivered


def _schema_variables() -> list[dict[str, Any]]:
    """The bundled schema, read with PyYAML: the oracle for names, defaults, descriptions."""
    variables = []
    for path in sorted((BUNDLED / "schema").glob("*.yaml")):
        variables += yaml.safe_load(path.read_text(encoding="utf-8"))["variables"]
    return variables


def _default_text(variable: dict[str, Any]) -> str:
    default = variable.get("default")
    if variable.get("sensitive") or default is None:
        return ""
    if isinstance(default, bool):
        return "true" if default else "false"
    return str(default)


def test_dotenv_example_lists_every_variable_with_description_and_no_secret(dev: Path) -> None:
    for target in TARGETS:
        render(dev, target=target)  # generated keys and the from_env secret now exist
    render(dev, target="dotenv-example")
    path = dev / ".env.example"
    variables = _schema_variables()
    assert dotenv_read(path) == {v["name"]: _default_text(v) for v in variables}
    lines = path.read_text(encoding="utf-8").splitlines()
    for variable in variables:
        (index,) = [i for i, line in enumerate(lines) if line.startswith(f"{variable['name']}=")]
        description = " ".join(variable["description"].split())
        assert lines[index - 1].startswith(f"# {description}")
        assert lines[index - 1].endswith("(sensitive)") == bool(variable.get("sensitive"))
    text = path.read_text(encoding="utf-8")
    for value in stored(dev).values():
        assert value not in text
    assert TURNSTILE_SECRET not in text and "0x4AAAAAAA-site" not in text


@needs_bash
def test_dotenv_is_in_schema_order_grouped_by_section(dev: Path) -> None:
    render(dev)
    text = out(dev, "dotenv").read_text(encoding="utf-8")
    assert text.startswith("# Generated by secconf for the dev environment")
    names = [line.split("=", 1)[0] for line in text.splitlines() if line and line[0] != "#"]
    schema_order = [v["name"] for v in _schema_variables()]
    assert names == [n for n in schema_order if n in names]
    sections = [
        yaml.safe_load(p.read_text())["section"]
        for p in sorted((BUNDLED / "schema").glob("*.yaml"))
    ]
    headers = [line[2:] for line in text.splitlines() if line[2:] in sections]
    assert headers == sections
    assert bash_read(out(dev, "dotenv")) == dotenv_read(out(dev, "dotenv"))


def test_all_in_secret_puts_everything_into_the_secret(dev: Path) -> None:
    write_env(dev, "dev", DEV.replace("app_name: shop}", "app_name: shop, all_in_secret: true}"))
    for target in TARGETS:
        render(dev, target=target)
    documents = load_manifests(out(dev, "kubernetes"))
    assert [d["kind"] for d in documents] == ["Secret"]
    assert documents[0]["metadata"]["name"] == "shop-secrets"
    payload = json.loads(out(dev, "vault").read_text(encoding="utf-8"))
    assert secret_values(documents[0]) == payload
    assert "JWT_ALGORITHM" in payload and "ADMIN_CONTACT_EMAIL" in payload
    kubernetes_validate(documents[0])


def test_secret_and_configmap_split_by_sensitivity_with_names_and_labels(dev: Path) -> None:
    for target in TARGETS:
        render(dev, target=target)
    secret, configmap = load_manifests(out(dev, "kubernetes"))
    sensitive = {v["name"] for v in _schema_variables() if v.get("sensitive")}
    assert set(secret["data"]) == sensitive
    assert not set(configmap["data"]) & sensitive
    for document, name in ((secret, "shop-secrets"), (configmap, "shop-config")):
        assert document["metadata"]["name"] == name
        assert document["metadata"]["namespace"] == "app-dev"
        assert document["metadata"]["labels"] == {
            "app.kubernetes.io/managed-by": "secconf",
            "app.kubernetes.io/name": "shop",
        }
        kubernetes_validate(document)
    delivered(dev)  # the three targets agree


@needs_bash
def test_unset_auto_generated_variables_are_left_out_with_a_reason(dev: Path) -> None:
    write_env(
        dev,
        "dev",
        DEV.replace("  JWT_SECRET_KEY: {generate: true}\n", "").replace(
            "  VAPID_PRIVATE_KEY: {generate: true}\n", ""
        ),
    )
    for target in TARGETS:
        render(dev, target=target)
    left_out = {"JWT_SECRET_KEY", "VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY"}
    values = delivered(dev)
    assert not left_out & set(values)
    assert not left_out & set(bash_read(out(dev, "dotenv")))
    text = out(dev, "dotenv").read_text(encoding="utf-8")
    for name in sorted(left_out):
        assert f"# {name} is not set: the application generates it at start-up\n" in text


def test_booleans_and_integers_are_delivered_as_the_application_reads_them(dev: Path) -> None:
    write_env(
        dev,
        "dev",
        DEV.replace(
            "values:\n",
            "values:\n"
            '  TURNSTILE_REQUIRE_ON_LOGIN: "yes"\n'
            "  TURNSTILE_REQUIRE_ON_REGISTER: Off\n"
            "  TURNSTILE_REQUIRE_ON_PASSWORD_CHANGE: 1\n"
            '  ACCESS_TOKEN_EXPIRE_HOURS: "+24"\n'
            "  REFRESH_TOKEN_EXPIRE_DAYS: +30\n",
        ).replace("TURNSTILE_ENABLED: true", "TURNSTILE_ENABLED: YES"),
    )
    for target in TARGETS:
        render(dev, target=target)
    values = delivered(dev)
    assert {
        k: values[k]
        for k in (
            "TURNSTILE_ENABLED",
            "TURNSTILE_REQUIRE_ON_LOGIN",
            "TURNSTILE_REQUIRE_ON_REGISTER",
            "TURNSTILE_REQUIRE_ON_PASSWORD_CHANGE",
            "ACCESS_TOKEN_EXPIRE_HOURS",
            "REFRESH_TOKEN_EXPIRE_DAYS",
        )
    } == {
        "TURNSTILE_ENABLED": "true",
        "TURNSTILE_REQUIRE_ON_LOGIN": "true",
        "TURNSTILE_REQUIRE_ON_REGISTER": "false",
        "TURNSTILE_REQUIRE_ON_PASSWORD_CHANGE": "true",
        "ACCESS_TOKEN_EXPIRE_HOURS": "24",
        "REFRESH_TOKEN_EXPIRE_DAYS": "30",
    }
    # A literal that YAML 1.1 would read as a number stays the text that was written.
    assert values["TURNSTILE_SITE_KEY"] == "0x4AAAAAAA-site"


# ---- determinism and the checksum annotation


def test_two_renders_are_byte_identical_and_the_second_rewrites_nothing(dev: Path) -> None:
    for target in (*TARGETS, "dotenv-example"):
        render(dev, target=target)
    paths = [*(out(dev, t) for t in TARGETS), dev / ".env.example"]
    before = [snapshot(p) for p in paths]
    for target in (*TARGETS, "dotenv-example"):
        assert "unchanged" in render(dev, target=target).err
    assert [snapshot(p) for p in paths] == before


_SCRIPT = """
import sys
from secconf.cli import main
root, dest = sys.argv[1], sys.argv[2]
for target, suffix in (("dotenv", "env"), ("kubernetes", "k8s.yaml"), ("vault", "vault.json")):
    code = main(["--root", root, "render", "--env", "dev", "--target", target,
                 "--out", f"{dest}/dev.{suffix}"])
    assert code == 0, target
"""


def test_renders_in_processes_with_different_hash_seeds_are_byte_identical(
    dev: Path, tmp_path: Path
) -> None:
    """No set or dict order leaks into the output: fresh processes, other hash seeds."""
    render(dev)  # keys and the checksum key exist before the two runs
    runs = []
    for seed in ("1", "4242"):
        dest = tmp_path / f"seed-{seed}"
        dest.mkdir()
        env = {**os.environ, "PYTHONHASHSEED": seed}
        command = [sys.executable, "-c", _SCRIPT, str(dev), str(dest)]
        runs.append((dest, subprocess.Popen(command, env=env, stderr=subprocess.PIPE)))
    for _, process in runs:
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err.decode()
    (one, _), (two, _) = runs
    for suffix in SUFFIX.values():
        assert (one / f"dev.{suffix}").read_bytes() == (two / f"dev.{suffix}").read_bytes()


def test_checksum_changes_when_a_value_changes_and_only_then(
    dev: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def checksum_after(environment: str) -> str:
        write_env(dev, "dev", environment)
        render(dev, target="kubernetes")
        return checksum_of(dev)

    original = checksum_after(DEV)
    assert len(original) == 64 and int(original, 16) >= 0
    same_values = [
        DEV.replace("namespace: app-dev", "namespace: other"),
        DEV.replace("app_name: shop}", "app_name: shop, labels: {team: web}}"),
        DEV.replace("values:", "description: reworded\nvalues:"),
        DEV.replace("TURNSTILE_ENABLED: true", "TURNSTILE_ENABLED: yes"),  # same delivered text
    ]
    for environment in same_values:
        assert checksum_after(environment) == original
    changed = [
        DEV.replace("dev@acme-shop.io", "dev2@acme-shop.io"),  # a literal
        DEV.replace("values:\n", "values:\n  DEFAULT_USER_ROLE: member\n"),  # a default overridden
    ]
    seen = {original}
    for environment in changed:
        checksum = checksum_after(environment)
        assert checksum not in seen
        seen.add(checksum)
    monkeypatch.setenv("CI_TURNSTILE_SECRET", TURNSTILE_SECRET + "-rotated")
    assert checksum_after(DEV) not in seen  # a secret from CI
    monkeypatch.setenv("CI_TURNSTILE_SECRET", TURNSTILE_SECRET)
    assert checksum_after(DEV) == original  # a function of the values
    assert run(dev, "keys", "rotate", "JWT_SECRET_KEY", "--env", "dev", "--yes").code == 0
    assert checksum_after(DEV) not in seen  # a stored key


def _unkeyed_digests(texts: list[str]) -> set[str]:
    digests = set()
    for text in texts:
        data = text.encode("utf-8")
        for name in (
            "md5",
            "sha1",
            "sha224",
            "sha256",
            "sha384",
            "sha512",
            "sha3_256",
            "blake2b",
            "blake2s",
        ):
            digests.add(hashlib.new(name, data).hexdigest())
    return digests


def test_checksum_reveals_nothing_about_the_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not any value, not an unkeyed hash of them; two environments with the same values
    (and no generated keys) get different checksums, so it is keyed per environment."""
    monkeypatch.setenv("CI_TURNSTILE_SECRET", TURNSTILE_SECRET)
    plain = DEV.replace("  JWT_SECRET_KEY: {generate: true}\n", "").replace(
        "  VAPID_PRIVATE_KEY: {generate: true}\n", ""
    )
    root = make_repo(tmp_path / "repo", {"dev": plain, "twin": plain})
    for env in ("dev", "twin"):
        for target in TARGETS:
            render(root, env=env, target=target)
    values = delivered(root, "dev")
    assert delivered(root, "twin") == values
    checksum = checksum_of(root, "dev")
    assert checksum != checksum_of(root, "twin")
    for value in values.values():
        if len(value) >= 4:
            assert value not in checksum
    env_text = out(root, "dotenv").read_text(encoding="utf-8")
    secret = load_manifests(out(root, "kubernetes"))[0]
    candidates = [
        *values.values(),
        "".join(values.values()),
        "\n".join(values.values()),
        "".join(f"{k}={v}\n" for k, v in values.items()),
        json.dumps(values),
        json.dumps(values, sort_keys=True),
        json.dumps(values, separators=(",", ":")),
        json.dumps(values, ensure_ascii=False),
        json.dumps([[k, v] for k, v in values.items()]),
        json.dumps([[k, v] for k, v in values.items()], ensure_ascii=False),
        json.dumps(secret["data"], sort_keys=True),
        out(root, "vault").read_text(encoding="utf-8"),
        env_text,
    ]
    digests = _unkeyed_digests(candidates)
    assert checksum not in digests
    assert not any(d.startswith(checksum[:16]) for d in digests)


# ---- no secret in what a render prints


def test_no_secret_value_in_any_render_output(dev: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every stored key (checksum key included) and from_env secret, in any output but
    the artifact itself: successful, unchanged, stdout, refused, invalid, crashed runs."""
    results = []
    for target in (*TARGETS, "dotenv-example"):
        results.append(run(dev, "render", "--env", "dev", "--target", target))
        results.append(run(dev, "render", "--env", "dev", "--target", target))  # "unchanged"
    to_stdout = [run(dev, "render", "--env", "dev", "--target", t, "--out", "-") for t in TARGETS]
    keys = stored(dev)
    secrets = [v for k, v in keys.items() if k != "VAPID_PUBLIC_KEY"]
    secrets += [TURNSTILE_SECRET]
    assert keys[ENVIRONMENT_KEY] in secrets
    assert all(r.code == 0 for r in results + to_stdout)
    # Failing runs: a refused value, a validation error on a secret, a template fault.
    monkeypatch.setenv("CI_TURNSTILE_SECRET", TURNSTILE_SECRET + "\r")
    results.append(run(dev, "render", "--env", "dev"))
    short = "short-SECRET-value-91c2"
    secrets.append(short)
    write_env(
        dev,
        "dev",
        DEV.replace("JWT_SECRET_KEY: {generate: true}", "JWT_SECRET_KEY: {from_env: SHORT}"),
    )
    monkeypatch.setenv("SHORT", short)
    monkeypatch.setenv("CI_TURNSTILE_SECRET", TURNSTILE_SECRET)
    results.append(run(dev, "render", "--env", "dev", "--target", "kubernetes"))
    assert [r.code for r in results[-2:]] == [2, 1]
    write_env(dev, "dev", DEV)
    (dev / "templates" / "dotenv.j2").write_text("{{ sections }}\n{{ 1 / 0 }}\n")
    results.append(run(dev, "--debug", "render", "--env", "dev"))
    assert results[-1].code != 0
    shown = [r.both for r in results] + [r.err for r in to_stdout]
    for secret in secrets:
        forms = {secret, secret[:12], base64.b64encode(secret.encode()).decode()[:16]}
        for text in shown:
            for form in forms:
                assert form not in text


# A template that turns values into what the parse-back check reports (keys, field
# names): the check refuses it, and its message must not quote the output it refused.
LEAKY_TEMPLATES = {
    "dotenv": (
        "dotenv.j2",
        "{% for s in sections %}{% for item in s.variables %}{% if item.line %}"
        "{{ item.line | replace(\"'\", '') | replace('=', '_', 1) }}=1\n"
        "{% endif %}{% endfor %}{% endfor %}",
    ),
    "kubernetes": (
        "kubernetes.yaml.j2",
        (BUNDLED / "templates" / "kubernetes.yaml.j2")
        .read_text(encoding="utf-8")
        .replace("type: Opaque\n", "type: Opaque\n{{ secret.data.JWT_SECRET_KEY }}: x\n"),
    ),
}


@pytest.mark.parametrize("target", list(LEAKY_TEMPLATES))
def test_refused_template_output_is_not_quoted_in_the_error(dev: Path, target: str) -> None:
    render(dev, target="vault")
    secret = json.loads(out(dev, "vault").read_text())["JWT_SECRET_KEY"]
    name, template = LEAKY_TEMPLATES[target]
    (dev / "templates" / name).write_text(template, encoding="utf-8")
    result = run(dev, "render", "--env", "dev", "--target", target)
    assert result.code == 2, result.err
    for form in (secret, secret[:12], base64.b64encode(secret.encode()).decode()[:16]):
        assert form not in result.both

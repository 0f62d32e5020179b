"""The `.env` secconf writes, read by the readers people use besides the three it is
checked against: kubectl's `--from-env-file` (which keeps quotes as part of the value,
as `docker run --env-file` does) and Node's `--env-file`.

Plain values (and the bundled environments, which hold only plain values) are written
bare and read back exactly by every reader; for every other accepted value,
`misreading_readers` names exactly the readers that misread it, as the real readers show.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from tests.render.test_dotenv_quote import (
    HOSTILE_VALUES,
    LONG_DOUBLE,
    LONG_SINGLE,
    _fuzz_values,
    _read_with_bash,
    _read_with_python_dotenv,
    _write_env,
)
from tests.support.repo import make_repo, run

from secconf.core.errors import RenderError
from secconf.render._dotenv_quote import (
    LITERAL_READERS,
    NODE_READERS,
    misreading_readers,
    quote_dotenv_value,
)

KUBECTL = shutil.which("kubectl")
NODE = shutil.which("node")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl not installed")
needs_node = pytest.mark.skipif(NODE is None, reason="node not installed")

# Values a configuration commonly holds: every one is written bare.
PLAIN_VALUES = [
    "",
    "HS256",
    "true",
    "false",
    "0",
    "3600",
    "-1",
    "1.5",
    "v1.2.3-rc.1+build.7",
    "mailto:webpush@acme-shop.io",
    "support@acme-shop.io",
    "https://staging.acme-shop.io/support",
    "https://x.example:8443/a/b/c.json",
    "postgres://user@db:5432/app",
    "1x00000000000000000000AA",
    "0x4AAAAAAAreadme-site-key",
    "BJ3Xk_-9a2w",
    "dGhpcyBpcyBiYXNlNjQ=",
    "a+b/c==",
    "a=b=c",
    "=x",
    "100%",
    "en_US.UTF-8",
    "a,b,c",
    "host1:80,host2:80",
    "_",
    "--flag",
    "user@example.com",
    "x" * 4096,
]
CI_VALUES = {
    "STAGING_TURNSTILE_SECRET_KEY": "1x0000000000000000000000000000000AA",
    "PROD_TURNSTILE_SITE_KEY": "0x4AAAAAAAreadme-site-key",
    "PROD_TURNSTILE_SECRET_KEY": "0x4AAAAAAAreadme-secret-key",
}


def _accepted(values: list[str]) -> list[str]:
    out = []
    for value in values:
        try:
            quote_dotenv_value("V", value)
        except RenderError:
            continue
        out.append(value)
    return out


def _kubectl_read(path: Path) -> dict[str, str]:
    """`kubectl create secret generic --from-env-file=FILE --dry-run=client -o json`."""
    assert KUBECTL is not None
    env = {"PATH": os.environ.get("PATH", ""), "KUBECONFIG": str(path.parent / "none")}
    result = subprocess.run(
        [KUBECTL, "create", "secret", "generic", "x", f"--from-env-file={path}",
         "--dry-run=client", "-o", "json"],
        capture_output=True, check=False, env=env,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")[:200]
    data = json.loads(result.stdout).get("data") or {}
    return {k: base64.b64decode(v).decode("utf-8") for k, v in data.items()}


def _node_read(path: Path) -> dict[str, str]:
    """What `node --env-file=FILE` puts in `process.env` (started with no environment)."""
    assert NODE is not None
    script = "process.stdout.write(JSON.stringify(process.env))"
    result = subprocess.run(
        [NODE, f"--env-file={path}", "-e", script], capture_output=True, check=False, env={}
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")[:200]
    read: dict[str, str] = json.loads(result.stdout)
    return read


def _bundled_env_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The bundled environments rendered to .env files (keys ensured, CI values set)."""
    root = make_repo(tmp_path / "repo")
    for name, value in CI_VALUES.items():
        monkeypatch.setenv(name, value)
    assert run(root, "keys", "ensure", "--all").code == 0
    result = run(root, "render", "--all", "--target", "dotenv")
    assert result.code == 0, result.err
    return [root / ".env", root / "out" / "staging.env", root / "out" / "production.env"]


def test_plain_values_are_written_bare() -> None:
    assert [quote_dotenv_value("V", v) for v in PLAIN_VALUES] == PLAIN_VALUES
    assert all(misreading_readers(v) == () for v in PLAIN_VALUES)


@pytest.mark.parametrize("value", [" x", "a b", "#x", "~/x", "a~", "$x", "a*", "é", "a'b", "x\n"])
def test_values_needing_quotes_are_quoted(value: str) -> None:
    assert quote_dotenv_value("V", value) != value
    assert set(LITERAL_READERS) <= set(misreading_readers(value))


@needs_kubectl
def test_kubectl_reads_plain_values_exactly(tmp_path: Path) -> None:
    path = tmp_path / "plain.env"
    expected = _write_env(path, PLAIN_VALUES)
    assert _kubectl_read(path) == expected
    assert _read_with_python_dotenv(path) == expected
    assert _read_with_bash(path, list(expected)) == expected


@needs_node
def test_node_reads_plain_values_exactly(tmp_path: Path) -> None:
    path = tmp_path / "plain.env"
    expected = _write_env(path, PLAIN_VALUES)
    read = _node_read(path)
    assert {k: read.get(k) for k in expected} == expected


@needs_kubectl
@needs_node
def test_every_reader_reads_the_bundled_environments_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dotenv

    for path in _bundled_env_files(tmp_path, monkeypatch):
        expected = {k: v for k, v in dotenv.dotenv_values(path).items() if v is not None}
        assert len(expected) >= 14, path.name
        node = _node_read(path)
        assert _kubectl_read(path) == expected, path.name
        assert {k: node.get(k) for k in expected} == expected, path.name
        assert _read_with_bash(path, list(expected)) == expected, path.name
        assert all(misreading_readers(v) == () for v in expected.values())


@needs_kubectl
def test_kubectl_misreads_exactly_what_misreading_readers_says(tmp_path: Path) -> None:
    """kubectl reads one line per entry: values with a line break are left out (no
    env-file line can hold one, so they are always misread)."""
    values = [v for v in _accepted([*PLAIN_VALUES, *HOSTILE_VALUES, *_fuzz_values()])
              if "\n" not in v and "\x85" not in v and "\u2028" not in v]
    path = tmp_path / "all.env"
    expected = _write_env(path, values)
    read = _kubectl_read(path)
    wrong = sorted(k for k, v in expected.items() if read.get(k) != v)
    said = sorted(k for k, v in expected.items() if "kubectl --from-env-file" in misreading_readers(v))
    assert wrong == said
    assert len(said) >= 50 and len(expected) - len(said) >= len(PLAIN_VALUES)


@needs_node
def test_node_misreads_exactly_what_misreading_readers_says(tmp_path: Path) -> None:
    values = _accepted([*PLAIN_VALUES, *HOSTILE_VALUES, *_fuzz_values(), LONG_SINGLE, LONG_DOUBLE])
    path = tmp_path / "all.env"
    expected = _write_env(path, values)
    read = _node_read(path)
    wrong = sorted(k for k, v in expected.items() if read.get(k) != v)
    said = sorted(k for k, v in expected.items() if set(NODE_READERS) & set(misreading_readers(v)))
    assert wrong == said
    assert len(said) >= 20  # double-quoted values with `\` or `"`: the case Node misreads


def test_check_readers_names_variables_never_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    value = 'it\'s "quoted" \\ s3cr3t-marker'
    root = make_repo(tmp_path / "repo")
    monkeypatch.setenv("STAGING_TURNSTILE_SECRET_KEY", value)
    result = run(root, "render", "--env", "staging", "--check-readers")
    assert result.code == 1, result.err
    assert result.out == (
        "staging: TURNSTILE_SECRET_KEY: not read back exactly by docker run --env-file, "
        "kubectl --from-env-file, node --env-file\n"
    )
    assert "s3cr3t-marker" not in result.both and "quoted" not in result.both
    assert "16 of 17 variables" in result.err
    assert not (root / "out").exists() and not (root / ".secconf" / "outputs.json").exists()


def test_check_readers_of_plain_values_exits_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_repo(tmp_path / "repo")
    monkeypatch.setenv("STAGING_TURNSTILE_SECRET_KEY", CI_VALUES["STAGING_TURNSTILE_SECRET_KEY"])
    result = run(root, "render", "--env", "staging", "--check-readers")
    assert (result.code, result.out) == (0, ""), result.err
    assert run(root, "render", "--env", "staging", "--target", "vault", "--check-readers").code == 2

"""Readers secconf did not write, to check what it renders against.

python-dotenv and bash read `.env` files, PyYAML reads manifests, kubectl makes the
Secret a user would otherwise script, kubernetes-validate holds the published
Kubernetes OpenAPI schemas. Each helper returns plain data for a test to compare.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import dotenv
import pytest
import yaml

BASH = shutil.which("bash")
KUBECTL = shutil.which("kubectl")

needs_bash = pytest.mark.skipif(BASH is None, reason="bash not installed")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl not installed")

_DUMP_ENVIRON = "import json,os,sys; sys.stdout.write(json.dumps(dict(os.environ)))"
_SOURCE_AND_DUMP = 'set -a; if [ -n "$1" ]; then . ./"$1"; fi; exec "$2" -c "$3"'


def dotenv_read(path: Path) -> dict[str, str | None]:
    """python-dotenv with its defaults (interpolation on), as applications load a .env."""
    return dict(dotenv.dotenv_values(path))


def _bash_environ(directory: Path, name: str) -> dict[str, str]:
    assert BASH is not None
    argv = ["env", "-i", BASH, "-c", _SOURCE_AND_DUMP, "bash", name, sys.executable, _DUMP_ENVIRON]
    result = subprocess.run(argv, cwd=directory, capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert result.stderr == b"", result.stderr.decode(errors="replace")
    environ: dict[str, str] = json.loads(result.stdout)
    return environ


@functools.cache
def _bash_own_names() -> frozenset[str]:
    """What a clean bash exports by itself (PWD, SHLVL, _): not read from any file."""
    return frozenset(_bash_environ(Path.cwd(), ""))


def bash_read(path: Path) -> dict[str, str]:
    """Every variable `set -a; . ./FILE` in a clean bash hands to a child process."""
    environ = _bash_environ(path.parent, path.name)
    return {k: v for k, v in environ.items() if k not in _bash_own_names()}


def load_manifests(path: Path) -> list[dict[str, Any]]:
    """The documents of a multi-document YAML file (PyYAML's safe loader)."""
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def secret_values(secret: dict[str, Any]) -> dict[str, str]:
    """A Secret's `data`, base64-decoded (strictly) to text."""
    return {
        k: base64.b64decode(v, validate=True).decode("utf-8")
        for k, v in (secret.get("data") or {}).items()
    }


def kubernetes_validate(document: dict[str, Any]) -> str:
    """Validate one object, strictly, against the newest Kubernetes schemas bundled."""
    import kubernetes_validate as kv

    return str(kv.validate(document, kv.latest_version(), strict=True))


def kubectl_create(kind: str, name: str, values: dict[str, str], workdir: Path) -> dict[str, Any]:
    """`kubectl create secret generic|configmap NAME ... --dry-run=client -o yaml`, parsed.

    Single-line values go in `--from-literal=K=V`; values with a line break, which a
    shell user could not type there, go in `--from-file=K=PATH`.
    """
    assert KUBECTL is not None
    workdir.mkdir(parents=True, exist_ok=True)
    args = []
    for key, value in values.items():
        if "\n" in value or "\r" in value:
            path = workdir / key
            path.write_bytes(value.encode("utf-8"))
            args.append(f"--from-file={key}={path}")
        else:
            args.append(f"--from-literal={key}={value}")
    what = ["secret", "generic"] if kind == "Secret" else ["configmap"]
    env = {**os.environ, "KUBECONFIG": str(workdir / "no-kubeconfig")}
    result = subprocess.run(
        [KUBECTL, "create", *what, name, *args, "--dry-run=client", "-o", "yaml"],
        capture_output=True,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    document: dict[str, Any] = yaml.safe_load(result.stdout)
    return document

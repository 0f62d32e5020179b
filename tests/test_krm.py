"""`secconf krm`, the KRM function, run by a real KRM function runner (kpt) and by hand.

The oracle for its objects is `secconf render` itself: kpt's output, less the
annotations the KRM protocol adds, must be the very objects render writes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.support.oracles import load_manifests
from tests.support.repo import make_repo, run

KPT = shutil.which("kpt")
needs_kpt = pytest.mark.skipif(KPT is None, reason="kpt not installed (it comes with the Google Cloud CLI)")
STAGING_SECRET = "1x0000000000000000000000000000000AA-krm-test"
EXISTING = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "existing"},
            "data": {"a": "b"}}


def _fn_config(environment: str, target: str, root: str = ".") -> dict[str, Any]:
    return {"apiVersion": "secconf.dev/v1alpha1", "kind": "SecconfSecrets",
            "metadata": {"name": "secrets"},
            "spec": {"environment": environment, "target": target, "root": root}}


def _krm(root: Path, stdin: str) -> subprocess.CompletedProcess[str]:
    """`secconf krm` in a child process, as a runner starts it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SECCONF_")}
    return subprocess.run([sys.executable, "-m", "secconf", "krm"], input=stdin, cwd=root,
                          capture_output=True, text=True, env=env, check=False)


def _resource_list(*items: dict[str, Any], config: dict[str, Any] | None = None) -> str:
    data: dict[str, Any] = {"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList",
                            "items": list(items)}
    if config is not None:
        data["functionConfig"] = config
    return yaml.safe_dump(data)


def _strip(obj: dict[str, Any]) -> dict[str, Any]:
    """The object less the annotations the KRM protocol adds."""
    annotations = obj.get("metadata", {}).get("annotations", {})
    for key in list(annotations):
        if key.startswith(("config.kubernetes.io/", "internal.config.kubernetes.io/")):
            del annotations[key]
    if "annotations" in obj.get("metadata", {}) and not annotations:
        del obj["metadata"]["annotations"]
    return obj


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STAGING_TURNSTILE_SECRET_KEY", STAGING_SECRET)
    root = make_repo(tmp_path / "repo")
    (root / "pkg").mkdir()
    (root / "pkg" / "existing.yaml").write_text(yaml.safe_dump(EXISTING), encoding="utf-8")
    wrapper = root / "secconf-krm"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m secconf krm\n', encoding="utf-8")
    wrapper.chmod(0o755)
    return root


def _kpt(root: Path, config: dict[str, Any]) -> tuple[subprocess.CompletedProcess[str], Path]:
    assert KPT is not None
    (root / "fn-config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    results = root / "results"
    shutil.rmtree(results, ignore_errors=True)
    results.mkdir()
    argv = [KPT, "fn", "eval", "pkg", "--exec", "./secconf-krm", "--fn-config", "fn-config.yaml",
            "--results-dir", str(results), "-o", "stdout"]
    done = subprocess.run(argv, cwd=root, capture_output=True, text=True, check=False,
                          timeout=120)
    return done, results


@needs_kpt
@pytest.mark.parametrize(("environment", "target"),
                         [("staging", "external-secret"), ("development", "kubernetes")])
def test_kpt_outputs_what_render_writes(repo: Path, environment: str, target: str) -> None:
    done, _ = _kpt(repo, _fn_config(environment, target))
    assert done.returncode == 0, done.stderr
    output = yaml.safe_load(done.stdout)
    items = [_strip(item) for item in output["items"]]
    assert items[0] == EXISTING  # existing items kept, first
    rendered = run(repo, "render", "--env", environment, "--target", target, "--out",
                   str(repo / "rendered.yaml"))
    assert rendered.code == 0, rendered.err
    assert items[1:] == load_manifests(repo / "rendered.yaml")
    if target == "external-secret":
        assert STAGING_SECRET not in done.stdout  # a value lives only in Vault


@needs_kpt
def test_kpt_shows_a_failure_as_an_error_result(repo: Path) -> None:
    done, results = _kpt(repo, _fn_config("production", "kubernetes"))
    assert done.returncode != 0
    (report,) = [yaml.safe_load(p.read_text()) for p in results.iterdir()]
    (item,) = report["items"]
    assert item["exitCode"] != 0
    (result,) = item["results"]
    assert result["severity"] == "error"
    assert "production is a production environment" in result["message"]
    assert "Traceback" not in done.stdout + done.stderr
    assert not (repo / "secrets" / "production.enc.yaml").exists()  # no production key made


def test_the_function_appends_the_rendered_objects(repo: Path) -> None:
    done = _krm(repo, _resource_list(EXISTING, config=_fn_config("staging", "external-secret")))
    assert done.returncode == 0, done.stderr
    output = yaml.safe_load(done.stdout)
    assert output["apiVersion"] == "config.kubernetes.io/v1" and output["kind"] == "ResourceList"
    kinds = [item["kind"] for item in output["items"]]
    assert kinds == ["ConfigMap", "ExternalSecret", "ConfigMap"]
    annotations = output["items"][1]["metadata"]["annotations"]
    assert annotations["config.kubernetes.io/path"] == "out/staging.external-secret.yaml"
    assert annotations["config.kubernetes.io/index"] == "0"
    assert "results" not in output
    assert not (repo / "out").exists()  # the function writes no file


def test_json_input_and_a_root_elsewhere(repo: Path, tmp_path: Path) -> None:
    stdin = json.dumps({"apiVersion": "config.kubernetes.io/v1", "kind": "ResourceList",
                        "items": [], "functionConfig": _fn_config("staging", "kubernetes",
                                                                  str(repo))})
    done = _krm(tmp_path, stdin)
    assert done.returncode == 0, done.stderr
    kinds = [item["kind"] for item in yaml.safe_load(done.stdout)["items"]]
    assert kinds == ["Secret", "ConfigMap"]


@pytest.mark.parametrize(
    ("stdin", "expected"),
    [
        ("", "stdin does not hold one ResourceList"),
        ("kind: Deployment\napiVersion: apps/v1\n", "stdin is not a ResourceList"),
        ("a: [\n", "malformed YAML"),
        (_resource_list(config=None), "functionConfig is not a secconf.dev/v1alpha1"),
        (_resource_list(config=_fn_config("staging", "vault")), "spec.target must be one of"),
        (_resource_list(config={**_fn_config("staging", "kubernetes"), "spec": {"env": "x"}}),
         "unknown fields: env"),
        (_resource_list(config=_fn_config("nope", "kubernetes")), "unknown environment 'nope'"),
        (_resource_list(EXISTING, config=_fn_config("staging", "kubernetes", "/nonexistent")),
         "not a secconf config repo"),
    ],
)
def test_failures_come_back_as_results(repo: Path, stdin: str, expected: str) -> None:
    from secconf.operations.krm import run_function

    outcome = run_function(stdin, cwd=repo, notify=lambda _: None)
    assert not outcome.ok
    (result,) = outcome.resource_list["results"]
    assert result["severity"] == "error" and expected in result["message"], result


def test_the_command_exits_1_with_the_results_on_stdout(repo: Path) -> None:
    done = _krm(repo, _resource_list(EXISTING, config=_fn_config("nope", "kubernetes")))
    assert done.returncode == 1
    output = yaml.safe_load(done.stdout)
    assert output["items"] == [EXISTING]
    (result,) = output["results"]
    assert result["severity"] == "error" and "unknown environment 'nope'" in result["message"]
    assert "secconf krm: error: unknown environment 'nope'" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_a_failure_never_shows_a_value(repo: Path) -> None:
    """A template that would put a value where YAML breaks: refused, the value unshown."""
    (repo / "templates" / "kubernetes.yaml.j2").write_text(
        "{{ secret.data.TURNSTILE_SECRET_KEY }}: [\n", encoding="utf-8")
    done = _krm(repo, _resource_list(EXISTING, config=_fn_config("staging", "kubernetes")))
    assert done.returncode == 1
    (result,) = yaml.safe_load(done.stdout)["results"]
    assert result["severity"] == "error"
    import base64

    encoded = base64.b64encode(STAGING_SECRET.encode()).decode()
    for form in (STAGING_SECRET, encoded, encoded[:16]):
        assert form not in done.stdout + done.stderr

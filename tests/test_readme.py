"""The README's commands run, in order, and do what the README says.

Every `$ ` line of a ```console block is run with bash in a copy of the bundled
configuration, with loopback Vault and Kubernetes servers standing in for the real ones
and the CI-injected variables set. A trailing `# exit N` says the exit code expected.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.support.k8s_server import KubeServer
from tests.support.repo import make_repo

README = Path(__file__).resolve().parents[1] / "README.md"
CI_VALUES = {
    "STAGING_TURNSTILE_SECRET_KEY": "1x0000000000000000000000000000000AA",
    "PROD_TURNSTILE_SITE_KEY": "0x4AAAAAAAreadme-site-key",
    "PROD_TURNSTILE_SECRET_KEY": "0x4AAAAAAAreadme-secret-key",
}


def console_commands(text: str) -> list[tuple[str, int]]:
    """(command, expected exit code) for every `$ ` line of every console block."""
    commands = []
    for block in re.findall(r"```console\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            if not line.startswith("$ "):
                continue
            command = line[2:]
            expected = 0
            match = re.search(r"\s+#\s*exit (\d+)\s*$", command)
            if match:
                expected = int(match.group(1))
                command = command[: match.start()]
            commands.append((command, expected))
    return commands


def test_readme_has_commands_for_every_user() -> None:
    text = README.read_text(encoding="utf-8")
    for heading in ("### App developer", "### Platform team", "### CI", "### Auditor"):
        assert heading in text
    commands = [c for c, _ in console_commands(text)]
    for word in ("render", "apply", "validate", "audit", "init", "import", "keys rotate"):
        assert any(word in c for c in commands), word
    for word in ("codegen --lang python", "schema usage", "--add-to-schema", "--format html"):
        assert any(word in c for c in commands), word


def test_quick_start_matches_ci() -> None:
    text = README.read_text(encoding="utf-8")
    quick = re.search(r"## Quick start\n.*?```bash\n(.*?)```", text, flags=re.S)
    assert quick is not None
    lines = [line for line in quick.group(1).splitlines() if line.strip()]
    assert len(lines) == 2  # two commands on a fresh machine
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "secconf validate --all" in lines[0] and "secconf validate --all" in ci
    assert lines[1].endswith("python -m pytest") and "python -m pytest" in ci


def test_every_readme_command_runs(tmp_path: Path, vault) -> None:  # type: ignore[no-untyped-def]
    root = make_repo(tmp_path / "repo")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SECCONF_", "KUBECONFIG"))}
    env.update(CI_VALUES)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["NO_COLOR"] = "1"
    # The README is run by a member of `ops` (see `make_repo`): production is sealed to it.
    with KubeServer(namespaces=["app-dev", "app-staging", "app-prod"]) as kube:
        env["KUBECONFIG"] = str(kube.write_kubeconfig(tmp_path / "kubeconfig"))
        env["VAULT_ADDR"], env["VAULT_TOKEN"] = vault.url, vault.token
        outputs = []
        for command, expected in console_commands(README.read_text(encoding="utf-8")):
            result = subprocess.run(
                ["bash", "-c", command],
                cwd=root,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            outputs.append(result.stdout + result.stderr)
            assert result.returncode == expected, f"$ {command}\n{result.stdout}\n{result.stderr}"
            assert "Traceback" not in result.stderr, command
    secrets = [v for k, v in CI_VALUES.items() if "SECRET" in k]
    from secconf.operations.project import Project

    project = Project.open(root)
    for name in project.environments.names():
        store = project.open_store(project.environments.get(name))
        secrets += [
            e.current.value.reveal()
            for n, e in store.read().items()
            if n not in project.schema.variables or project.schema.variables[n].sensitive
        ]
    # The one render to stdout (`--out -`) is the documented delivery itself; every
    # other output must hold no secret.
    commands = console_commands(README.read_text(encoding="utf-8"))
    others = [o for o, (c, _) in zip(outputs, commands, strict=True) if "--out -" not in c]
    joined = "\n".join(others)
    assert not [s for s in secrets if s and s in joined]


def test_gitops_commands_run(tmp_path: Path) -> None:
    """The GitOps section's ```bash lines, in a copy with examples/: kpt (and standalone
    kustomize, where installed) run secconf's KRM function and get its objects."""
    import shutil

    import pytest

    text = README.read_text(encoding="utf-8")
    section = re.search(r"## GitOps.*?```bash\n(.*?)```", text, flags=re.S)
    assert section is not None
    lines = [line for line in section.group(1).splitlines() if line.strip()]
    assert [line.split()[0] for line in lines] == ["kpt", "kustomize"]
    if shutil.which("kpt") is None:
        pytest.skip("kpt not installed (it comes with the Google Cloud CLI)")
    root = make_repo(tmp_path / "repo")
    shutil.copytree(README.parent / "examples", root / "examples", symlinks=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SECCONF_", "KUBECONFIG"))}
    env.update(CI_VALUES)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    for line in lines:
        if shutil.which(line.split()[0]) is None:
            continue  # standalone kustomize is not installed with kubectl
        done = subprocess.run(["bash", "-c", line], cwd=root, env=env, capture_output=True,
                              text=True, timeout=120, check=False)
        assert done.returncode == 0, f"$ {line}\n{done.stderr}"
        assert "kind: ExternalSecret" in done.stdout and "kind: Deployment" in done.stdout
        assert CI_VALUES["STAGING_TURNSTILE_SECRET_KEY"] not in done.stdout

"""Config repos for tests: the bundled schema, environments written by the test."""

from __future__ import annotations

import contextlib
import io
import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path

from secconf.cli import main

BUNDLED = Path(__file__).resolve().parents[2] / "src" / "secconf" / "bundled"


@dataclass
class Result:
    """What a CLI run gave: exit code, stdout, stderr."""

    code: int
    out: str
    err: str

    @property
    def both(self) -> str:
        """stdout and stderr together, for searching a leak in either."""
        return self.out + self.err


def make_repo(root: Path, environments: dict[str, str] | None = None) -> Path:
    """A config repo at `root` with the bundled schema and the given environment files.

    Without `environments`, the three bundled example environments are copied.
    """
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(BUNDLED / "schema", root / "schema")
    if (BUNDLED / "templates").is_dir():
        shutil.copytree(BUNDLED / "templates", root / "templates")
    if environments is None:
        shutil.copytree(BUNDLED / "environments", root / "environments")
        shutil.copy(BUNDLED / "recipients.yaml", root / "recipients.yaml")  # production's
        join_ops(root)
    else:
        (root / "environments").mkdir()
        for name, text in environments.items():
            write_env(root, name, text)
    return root


def join_ops(root: Path) -> None:
    """Make the test's user a member of the bundled `ops` group, which production's age
    store is sealed to: an identity in the (test's own) home, its key in recipients.yaml."""
    import os

    import pyrage

    path = Path(os.environ["HOME"]) / ".config" / "secconf" / "age" / "identities.txt"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{pyrage.x25519.Identity.generate()}\n", encoding="ascii")
        path.chmod(0o600)
    public = pyrage.x25519.Identity.from_str(path.read_text().strip()).to_public()
    groups = root / "recipients.yaml"
    text = groups.read_text(encoding="utf-8")
    groups.write_text(text.replace("  ops:\n", f"  ops:\n    - {public}\n", 1), encoding="utf-8")


def write_env(root: Path, name: str, text: str) -> Path:
    """Write environments/NAME.yaml from an indented block of YAML."""
    path = root / "environments" / f"{name}.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def run(root: Path | None, *args: str) -> Result:
    """Run `secconf --root ROOT ARGS...` in-process and capture its output."""
    argv = (["--root", str(root)] if root is not None else []) + list(args)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return Result(code, out.getvalue(), err.getvalue())


def findings_for(root: Path, name: str, environ: dict[str, str] | None = None) -> list:
    """Validate one environment of a repo in-process; the findings (library objects)."""
    from secconf.operations.project import Project
    from secconf.validate import validate

    project = Project.open(root)
    config = project.resolve(project.environments.get(name), environ=environ or {})
    return validate(config)


def codes(findings: list) -> set[tuple[str, str, str | None]]:
    """(code, severity, variable) of each finding."""
    return {(f.code, f.severity, f.variable) for f in findings}


def ensure_concurrently(root: Path, env: str, processes: int = 16) -> list[list[dict]]:
    """Run `secconf keys ensure --env ENV --format json` in many processes at once;
    each process's key report (all must succeed)."""
    import json
    import os
    import subprocess
    import sys

    environ = {k: v for k, v in os.environ.items() if not k.startswith("SECCONF_")}
    command = [sys.executable, "-m", "secconf", "--root", str(root), "keys", "ensure"]
    command += ["--env", env, "--format", "json"]
    procs = [
        subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environ, text=True
        )
        for _ in range(processes)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outputs]
    return [json.loads(out)["keys"] for out, _ in outputs]

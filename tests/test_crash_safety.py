"""A run killed at any moment leaves no plaintext where git sees it, and every store
readable.

`render --all`, `keys rotate`, `store rekey` and `import` run as processes of their
own in a config repo that is a git repository, and are SIGKILLed at random moments of
their run (25 kills each, at delays spread over the run time measured first; see
RUNNER for how they are started). After every kill:
`git status --porcelain --untracked-files=all` (git is the oracle of what would be
committed) lists no file holding any secret (every stored value, old versions included,
the master keys and the imported secrets; raw, base64 and URL-safe base64), and every
store opens with the master key or, after a killed re-key, the new one it left beside
it (running `store rekey` again finishes the job, as documented).
"""

from __future__ import annotations

import base64
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.repo import make_repo

KILLS_PER_COMMAND = 25
ENVIRONMENTS = {
    "dev": """
        values:
          JWT_SECRET_KEY: {generate: true}
          VAPID_PRIVATE_KEY: {generate: true}
          TURNSTILE_SECRET_KEY: {from_store: true}
        targets:
          dotenv: {path: .env}
        """,
    "stage": """
        values:
          JWT_SECRET_KEY: {generate: true}
          VAPID_PRIVATE_KEY: {generate: true}
        """,
}

# Runs secconf commands for the test: each in a process forked from this one, which has
# imported secconf already, so that the kills land in the work rather than in the
# interpreter's start-up (and the test stays short). It kills a run itself, after the
# delay asked for, so that no pid is signalled after it was reaped. Its disk is as slow
# as a loaded CI runner's (each fsync takes a while), so that the moments when a temp
# file exists are not too narrow for random kills to land in.
RUNNER = r"""
import json, os, signal, sys, time
_fsync = os.fsync
def fsync(fd):
    time.sleep(0.02)
    _fsync(fd)
os.fsync = fsync
import secconf.cli, secconf.cli.app, secconf.operations.importing, secconf.store.admin
import secconf.render, secconf.render.templating, secconf.cli.render, secconf.cli.keys
import secconf.cli.store, secconf.cli.importing, cryptography.hazmat.primitives.ciphers.aead
for line in sys.stdin:
    job = json.loads(line)
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0); os.dup2(null, 1); os.dup2(null, 2)
        try:
            code = secconf.cli.main(job["argv"])
        finally:
            os._exit(code if isinstance(code, int) else 3)
    if job["delay"] is not None:
        deadline = start + job["delay"]
        # Poll without reaping (WNOWAIT): until it is reaped the pid stays this child's.
        while time.perf_counter() < deadline:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                break
            time.sleep(0.002)
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    print(json.dumps({"killed": killed,
                      "code": os.waitstatus_to_exitcode(status),
                      "seconds": time.perf_counter() - start}), flush=True)
"""


class Repo:
    """The config repo under test, the runner, and the secrets it has held so far."""

    def __init__(self, root: Path, source: Path) -> None:
        self.root = root
        self.source = source  # the .env that `import` reads: outside the repo
        self.secrets: set[bytes] = set()
        self.environ = {k: v for k, v in os.environ.items() if not k.startswith("SECCONF_")}
        self.counter = 0
        self.runner = subprocess.Popen(
            [sys.executable, "-c", RUNNER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=self.environ,
            text=True,
        )

    def close(self) -> None:
        assert self.runner.stdin is not None and self.runner.stdout is not None
        self.runner.stdin.close()
        self.runner.wait(timeout=60)
        self.runner.stdout.close()

    def argv(self, name: str) -> list[str]:
        base = ["--root", str(self.root)]
        if name == "import":
            self.counter += 1
            value = f"imported-turnstile-{self.counter}-{random.getrandbits(64):016x}"
            self.secrets.add(value.encode())
            self.source.write_text(
                f"TURNSTILE_SECRET_KEY={value}\nACCESS_TOKEN_EXPIRE_HOURS={self.counter % 20 + 1}\n"
            )
            return [*base, "import", str(self.source), "--env", "dev", "--yes"]
        return (
            base
            + {
                "render": ["render", "--all"],
                "rotate": ["keys", "rotate", "JWT_SECRET_KEY", "--env", "dev", "--yes"],
                "rekey": ["store", "rekey", "--env", "dev", "--yes"],
            }[name]
        )

    def _job(self, name: str, delay: float | None) -> dict[str, object]:
        assert self.runner.stdin is not None and self.runner.stdout is not None
        self.runner.stdin.write(json.dumps({"argv": self.argv(name), "delay": delay}) + "\n")
        self.runner.stdin.flush()
        return dict(json.loads(self.runner.stdout.readline()))

    def run(self, name: str) -> float:
        """Run `name` to its end; how long it took."""
        result = self._job(name, None)
        assert result["code"] == 0, (name, result)
        return float(result["seconds"])  # type: ignore[arg-type]

    def kill(self, name: str, delay: float) -> bool:
        """Run `name` and SIGKILL it after `delay`; True when it was still running."""
        return bool(self._job(name, delay)["killed"])


def _keys(root: Path) -> list[object]:
    """The master key and the new one a killed re-key left beside it."""
    from secconf.store.masterkey import parse_key

    keys = []
    for name in ("master.key", "master.key.new"):
        path = root / ".secconf" / name
        if path.exists():
            text = path.read_text()
            keys.append(parse_key(text, name))
    return keys


def _open_stores(repo: Repo) -> list[str]:
    """Open every store with a key that decrypts it; record every value (and key) as a
    secret. Returns the stores that no key opens (must be none)."""
    from secconf.core.errors import StoreError
    from secconf.store.file import FileStore

    keys = _keys(repo.root)
    for key in keys:
        repo.secrets.add(key.material)  # type: ignore[attr-defined]
        repo.secrets.add(base64.b64encode(key.material).strip())  # type: ignore[attr-defined]
    unreadable = []
    for env in ENVIRONMENTS:
        path = repo.root / "secrets" / f"{env}.enc.yaml"
        if not path.exists():
            continue
        for key in keys:
            store = FileStore(
                path, env, lambda _, key=key: key, shown=env, lock_path=repo.root / "unused.lock"
            )
            try:
                entries = store.read()
            except StoreError:
                continue
            for entry in entries.values():
                for version in (entry.current, *entry.previous):
                    repo.secrets.add(version.value.reveal().encode())
            break
        else:
            unreadable.append(env)
    return unreadable


def _forms(secret: bytes) -> set[bytes]:
    return {
        secret,
        base64.b64encode(secret),
        base64.urlsafe_b64encode(secret),
        base64.b64encode(secret).rstrip(b"="),
        base64.urlsafe_b64encode(secret).rstrip(b"="),
    }


def _git_sees(root: Path) -> list[str]:
    out = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all", "-z"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout
    return [entry[3:].decode() for entry in out.split(b"\0") if entry]


def _check(repo: Repo, moment: str) -> None:
    unreadable = _open_stores(repo)
    assert not unreadable, f"{moment}: stores no key opens: {unreadable}"
    forms = {form for secret in repo.secrets for form in _forms(secret) if len(secret) >= 16}
    leaked = []
    for name in _git_sees(repo.root):
        path = repo.root / name
        if path.is_file():
            data = path.read_bytes()
            if any(form in data for form in forms):
                leaked.append(name)
    assert not leaked, f"{moment}: files git would pick up hold a secret: {leaked}"


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    import textwrap

    root = make_repo(tmp_path / "repo", {n: textwrap.dedent(t) for n, t in ENVIRONMENTS.items()})
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    # What a config repo ignores: secconf's private directory and the rendered .env
    # files, by name (so that a temp file beside them would show).
    (root / ".gitignore").write_text(".secconf/\n/.env\n/out/*.env\n")
    repo = Repo(root, tmp_path / "legacy.env")
    yield repo
    repo.close()


def test_sigkill_at_random_moments_leaves_no_plaintext_and_every_store_readable(
    repo: Repo,
) -> None:
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    commands = ["import", "render", "rotate", "rekey"]
    for name in commands:  # the repo gets its state; then the typical run times
        repo.run(name)
    typical = {name: min(repo.run(name), repo.run(name)) for name in commands}
    _check(repo, f"seed {seed}, after the first runs")
    kills = dict.fromkeys(commands, 0)
    attempts = 0
    while min(kills.values()) < KILLS_PER_COMMAND:
        attempts += 1
        assert attempts < 12 * KILLS_PER_COMMAND, f"seed {seed}: too few kills landed: {kills}"
        name = rng.choice([c for c in commands if kills[c] < KILLS_PER_COMMAND])
        delay = rng.uniform(0.0, 1.05) * typical[name]
        if repo.kill(name, delay):
            kills[name] += 1
        _check(repo, f"seed {seed}, {name} killed after {delay:.3f} s")
        if (repo.root / ".secconf" / "master.key.new").exists():
            repo.run("rekey")  # an interrupted re-key finishes when run again
            _check(repo, f"seed {seed}, re-key finished after a kill")
    for name in commands:  # every command still works after all those kills
        repo.run(name)
    _check(repo, f"seed {seed}, at the end")
    status = subprocess.run(
        [sys.executable, "-m", "secconf", "--root", str(repo.root), "keys", "status", "--all"],
        capture_output=True,
        env=repo.environ,
        check=False,
    )
    assert status.returncode == 0
    assert sum(kills.values()) >= 100

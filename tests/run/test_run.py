"""`secconf run`: the command gets the environment's delivered values and nothing is
written; with --redact its output shows each sensitive value (and its encodings) as
`[secconf:VARIABLE]`, its signals are passed on and its exit status is secconf's."""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import quote

import pytest
from tests.support.repo import make_repo, run

from secconf.operations.project import Project
from secconf.operations.run import KEPT_WITH_ONLY, prepare_run

DEV = """
values:
  JWT_SECRET_KEY: {generate: true}
  VAPID_PRIVATE_KEY: {generate: true}
  TURNSTILE_ENABLED: true
  TURNSTILE_SITE_KEY: 1x00000000000000000000AA
  TURNSTILE_SECRET_KEY: {from_env: RUN_TEST_TURNSTILE}
"""
BROKEN = "values:\n  JWT_ALGORITHM: RS256\n"
# A value with characters that base64, base64url, URL-encoding and hex each write apart.
TURNSTILE = "0x4AAAAAAA/run+test?secret=~~~>>>"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = make_repo(tmp_path / "repo", {"dev": DEV, "broken": BROKEN})
    assert run(root, "keys", "ensure", "--env", "dev").code == 0
    return root


def secconf(root: Path, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """`secconf --root ROOT ARGS...` as its own process (run replaces the process)."""
    env = {**os.environ, "RUN_TEST_TURNSTILE": TURNSTILE}
    return subprocess.run(
        [sys.executable, "-m", "secconf", "--root", str(root), *args],
        capture_output=True, text=True, timeout=60, env=env, check=False, **kwargs,  # type: ignore[call-overload]
    )


def stored(root: Path, name: str) -> str:
    project = Project.open(root)
    return project.open_store(project.environments.get("dev")).read()[name].current.value.reveal()


def digest(text: str) -> str:
    """What a failing assertion may show of a value: never the value."""
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def tree(root: Path) -> dict[str, tuple[int, str]]:
    return {
        str(p.relative_to(root)): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(root.rglob("*")) if p.is_file()
    }


# -- the environment the command gets ------------------------------------------------


def test_the_command_gets_the_delivered_values_added_to_the_environment(repo: Path) -> None:
    environ = {"PATH": "/bin", "HOME": "/h", "LANG": "C", "TERM": "dumb", "OTHER": "kept",
               "RUN_TEST_TURNSTILE": TURNSTILE}
    launch = prepare_run(Project.open(repo), "dev", ["env"], only=False, notify=print, environ=environ)
    assert launch.environ["OTHER"] == "kept"
    assert digest(launch.environ["JWT_SECRET_KEY"]) == digest(stored(repo, "JWT_SECRET_KEY"))
    assert launch.environ["TURNSTILE_SITE_KEY"] == "1x00000000000000000000AA"
    assert launch.environ["JWT_ALGORITHM"] == "HS256"  # the schema default, as .env has it
    assert digest(launch.environ["TURNSTILE_SECRET_KEY"]) == digest(TURNSTILE)


def test_only_gives_just_the_delivered_values_and_path_home_lang_term(repo: Path) -> None:
    environ = {"PATH": "/bin", "HOME": "/h", "LANG": "C", "TERM": "dumb", "OTHER": "dropped",
               "SECCONF_MASTER_KEY_X": "dropped", "RUN_TEST_TURNSTILE": TURNSTILE}
    launch = prepare_run(Project.open(repo), "dev", ["env"], only=True, notify=print, environ=environ)
    assert set(launch.environ) == set(KEPT_WITH_ONLY) | set(launch.delivered)
    assert "TURNSTILE_SECRET_KEY" in launch.delivered and "OTHER" not in launch.environ
    # The same through the CLI, as `env` prints it.
    result = secconf(repo, "run", "--env", "dev", "--only", "--", "env")
    assert result.returncode == 0, result.stderr
    names = {line.split("=", 1)[0] for line in result.stdout.splitlines()}
    assert names == (set(KEPT_WITH_ONLY) & set(os.environ)) | set(launch.delivered)


def test_nothing_is_written(repo: Path) -> None:
    before = tree(repo)
    result = secconf(repo, "run", "--env", "dev", "--", "sh", "-c", 'test -n "$JWT_SECRET_KEY"')
    assert result.returncode == 0, result.stderr
    result = secconf(repo, "run", "--env", "dev", "--redact", "--", "true")
    assert result.returncode == 0, result.stderr
    assert tree(repo) == before


def test_keys_are_created_on_first_use_outside_production_and_kept(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "fresh", {"dev": DEV})
    command = ["run", "--env", "dev", "--", "sh", "-c", 'printf %s "$JWT_SECRET_KEY"']
    first, second = secconf(root, *command), secconf(root, *command)
    assert first.returncode == second.returncode == 0, first.stderr
    assert digest(first.stdout) == digest(second.stdout) == digest(stored(root, "JWT_SECRET_KEY"))
    assert not (root / ".env").exists() and not (root / "out").exists()


def test_production_keys_are_never_created(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "prod", {"prod": "production: true\n" + DEV})
    result = secconf(root, "run", "--env", "prod", "--", "true")
    assert result.returncode == 2 and "keys ensure --env prod" in result.stderr
    assert not (root / "secrets").exists()


def test_validation_errors_refuse_to_run(repo: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    result = secconf(repo, "run", "--env", "broken", "--", "touch", str(marker))
    assert result.returncode == 1 and "SC003" in result.stderr
    assert not marker.exists()


# -- exit codes -------------------------------------------------------------------------


def test_the_exit_status_is_the_commands(repo: Path) -> None:
    result = secconf(repo, "run", "--env", "dev", "--", "sh", "-c", "exit 7")
    assert result.returncode == 7, result.stderr
    result = secconf(repo, "run", "--env", "dev", "--redact", "--", "sh", "-c", "exit 7")
    assert result.returncode == 7, result.stderr
    # Ended by a signal: exec'd, secconf's process dies of it; as a child, 128 + N.
    killed = secconf(repo, "run", "--env", "dev", "--", "sh", "-c", "kill -TERM $$")
    assert killed.returncode == -signal.SIGTERM
    killed = secconf(repo, "run", "--env", "dev", "--redact", "--", "sh", "-c", "kill -TERM $$")
    assert killed.returncode == 128 + signal.SIGTERM


def test_a_command_that_is_not_found_exits_127(repo: Path) -> None:
    for redact in ([], ["--redact"]):
        result = secconf(repo, "run", "--env", "dev", *redact, "--", "no-such-command-xyz", "-a")
        assert result.returncode == 127
        assert "secconf: no-such-command-xyz: command not found" in result.stderr
        assert "Traceback" not in result.stderr


# -- --redact -----------------------------------------------------------------------------

PRINTER = textwrap.dedent("""
    import base64, binascii, os, sys, time
    from urllib.parse import quote
    name, forms = sys.argv[1], sys.argv[2].split(",")
    value = os.environ[name].encode()
    encoded = {
        "plain": value,
        "base64": base64.b64encode(value),
        "base64url": base64.urlsafe_b64encode(value).rstrip(b"="),
        "url": quote(value, safe="").encode(),
        "hex": binascii.hexlify(value),
        "HEX": binascii.hexlify(value).upper(),
    }
    out = sys.stdout.buffer if len(sys.argv) < 4 else sys.stderr.buffer
    for form in forms:
        out.write(form.encode() + b" ")
        for byte in encoded[form]:  # one byte per write and per read: split across reads
            out.write(bytes([byte])); out.flush(); time.sleep(0.0005)
        out.write(b" after\\n")
""")


FORMS = ["plain", "base64", "base64url", "url", "hex", "HEX"]


def test_redact_replaces_each_encoding_written_byte_by_byte(repo: Path) -> None:
    assert len({base64.b64encode(TURNSTILE.encode()), base64.urlsafe_b64encode(TURNSTILE.encode()),
                quote(TURNSTILE, safe="").encode(), TURNSTILE.encode()}) == 4  # all differ
    result = secconf(
        repo, "run", "--env", "dev", "--redact", "--",
        sys.executable, "-c", PRINTER, "TURNSTILE_SECRET_KEY", ",".join(FORMS),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "".join(f"{f} [secconf:TURNSTILE_SECRET_KEY] after\n" for f in FORMS)


def test_redact_rewrites_stderr_too_and_leaves_the_rest(repo: Path) -> None:
    result = secconf(
        repo, "run", "--env", "dev", "--redact", "--",
        sys.executable, "-c", PRINTER, "JWT_SECRET_KEY", "plain", "stderr",
    )
    assert result.returncode == 0
    assert "plain [secconf:JWT_SECRET_KEY] after\n" in result.stderr
    script = 'echo "site=$TURNSTILE_SITE_KEY"; printf "prompt> "'
    plain = secconf(repo, "run", "--env", "dev", "--redact", "--", "sh", "-c", script)
    assert plain.stdout == "site=1x00000000000000000000AA\nprompt> "  # not sensitive: as it is


SIGNALLED = textwrap.dedent("""
    import signal, sys, time
    def got(signo, frame):
        print("got", signo, flush=True)
        sys.exit(5)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, got)
    print("ready", flush=True)
    time.sleep(30)
""")


@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_redact_passes_signals_on_to_the_command(repo: Path, signo: int) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "secconf", "--root", str(repo), "run", "--env", "dev", "--redact",
         "--", sys.executable, "-c", SIGNALLED],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "RUN_TEST_TURNSTILE": TURNSTILE},
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "ready\n"
        process.send_signal(signo)  # to secconf, not to the command
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert out == f"got {int(signo)}\n", err
    assert process.returncode == 5

"""Files of a pull request that are not what they say: a link to /dev/zero, a FIFO, a link
to a huge file of the machine, in place of an environment, schema, template or master key
file. Each is refused at once with a located error (exit 2), within a memory bound that an
unbounded read would exceed, never waited on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.support.repo import make_repo

from secconf.core.bounded import NotRegularFile, read_regular

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux paths")

MEMORY = 1 << 30  # an unbounded read of /dev/zero or of the huge file would pass this


# secconf's process, with its address space bounded first (no preexec_fn: the test
# process may run threads, the loopback servers', which a fork before exec can deadlock).
BOUNDED_MAIN = (
    "import resource, runpy, sys; "
    f"resource.setrlimit(resource.RLIMIT_AS, ({MEMORY}, {MEMORY})); "
    "sys.argv[0] = 'secconf'; runpy.run_module('secconf', run_name='__main__')"
)


def secconf(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SECCONF_")}
    return subprocess.run(
        [sys.executable, "-c", BOUNDED_MAIN, "--root", str(root), *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,  # a FIFO opened for reading waits for a writer forever
        check=False,
    )


@pytest.fixture
def huge(tmp_path: Path) -> Path:
    """A 4 GiB file (sparse: no disk), larger than the memory bound."""
    path = tmp_path / "huge.bin"
    with path.open("wb") as handle:
        handle.truncate(4 << 30)
    return path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")  # the bundled schema, templates and environments


def test_an_environment_file_linked_to_dev_zero_is_refused(root: Path) -> None:
    (root / "environments" / "zero.yaml").symlink_to("/dev/zero")
    result = secconf(root, "validate", "--env", "zero")
    assert result.returncode == 2, result.stderr
    assert "environments/zero.yaml: not a regular file" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_schema_file_that_is_a_fifo_is_refused_not_waited_on(root: Path) -> None:
    os.mkfifo(root / "schema" / "50-fifo.yaml")
    result = secconf(root, "validate", "--all")
    assert result.returncode == 2, result.stderr
    assert "50-fifo.yaml: not a regular file" in result.stderr


def test_an_environment_file_linked_to_a_huge_file_is_refused_unread(
    root: Path, huge: Path
) -> None:
    (root / "environments" / "huge.yaml").symlink_to(huge)
    result = secconf(root, "validate", "--env", "huge")
    assert result.returncode == 2, result.stderr
    assert "environments/huge.yaml: file is over the 1048576-byte limit" in result.stderr


def test_a_template_linked_to_a_huge_file_is_refused_unread(root: Path, huge: Path) -> None:
    (root / "templates" / "vault.json.j2").unlink(missing_ok=True)
    (root / "templates" / "vault.json.j2").symlink_to(huge)
    result = secconf(root, "render", "--env", "development", "--target", "vault", "--out", "-")
    assert result.returncode == 2, result.stderr
    assert "templates/vault.json.j2: the template is over the 1048576-byte limit" in (result.stderr)
    assert result.stdout == ""


def test_a_master_key_file_that_is_a_fifo_is_refused_not_waited_on(root: Path) -> None:
    assert secconf(root, "keys", "ensure", "--env", "development").returncode == 0
    key_files = list((root / ".secconf").rglob("*.key"))
    assert key_files, "keys ensure made no key file"
    for key_file in key_files:  # a link out of the repo is refused by the path rules
        key_file.unlink()
        os.mkfifo(key_file)
    result = secconf(root, "render", "--env", "development", "--target", "vault")
    assert result.returncode == 2, result.stderr
    assert "cannot read the master key file" in result.stderr
    assert "not a regular file" in result.stderr


def test_read_regular_reads_what_a_file_holds_up_to_one_byte_past_the_limit(
    tmp_path: Path,
) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    assert read_regular(path, 100) == b"x" * 100
    assert read_regular(path, 99) == b"x" * 100  # limit + 1: the caller says "too large"
    assert read_regular(path, 10) == b"x" * 11
    status = read_regular("/proc/self/status", 1 << 16)  # its size says 0; it holds more
    assert os.stat("/proc/self/status").st_size == 0 and b"Name:" in status
    with pytest.raises(NotRegularFile):
        read_regular("/dev/zero", 10)
    with pytest.raises(NotRegularFile):
        read_regular(tmp_path, 10)
    with pytest.raises(FileNotFoundError):
        read_regular(tmp_path / "missing", 10)


def test_an_included_template_linked_to_a_huge_file_is_refused_and_named(
    root: Path, huge: Path
) -> None:
    (root / "templates" / "big.j2").symlink_to(huge)
    vault = root / "templates" / "vault.json.j2"
    vault.write_text('{% include "big.j2" %}\n' + vault.read_text())
    result = secconf(root, "render", "--env", "development", "--target", "vault", "--out", "-")
    assert result.returncode == 2, result.stderr
    assert (
        "templates/vault.json.j2: the template includes big.j2, which is over the "
        "1048576-byte limit"
    ) in result.stderr

"""The store format on its own: stores written before the format/cipher split read as
they are and are not rewritten, and the strict reader turns every defect of a hostile
file into an integrity error (exit 2), never a traceback, a hang or a huge read.

`data/dev.enc.yaml` was written by secconf at commit 479b555 (before the split) with
the test key `data/dev.master.key`: `keys ensure` then `keys rotate JWT_SECRET_KEY`.
`data/dev-before-generations.enc.yaml` is the same store as written before generations
existed (no `generation` field, re-tagged by that commit's code).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.support.repo import make_repo, run

from secconf.operations.project import Project
from secconf.store import format as fmt
from secconf.store.ciphers import master_key
from secconf.store.masterkey import parse_key

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[2]
DEV = """
values:
  JWT_SECRET_KEY: {generate: true}
  VAPID_PRIVATE_KEY: {generate: true}
"""
# SHA-256 of each version's value in the checked-in stores (current first).
DIGESTS = {
    "secconf.environment-key": [
        "7602c5c4c790f69c7234cc9fe31a7bd4f17cff362246be8ca616951510b3e9fc",
    ],
    "JWT_SECRET_KEY": [
        "ddaf2f9cdffd9097e3df3d4927e6e62ae97d5ece16697fbccdb196cd41c13e5a",
        "be424f2c42d68cb162042eca9652dc2cd4f87a86fccda4c2603761aafa2c23c3",
    ],
    "VAPID_PUBLIC_KEY": ["4445714fa40134b6934d928845153efb6b9ba324ef1c1cf75a8759e3c418c2dd"],
    "VAPID_PRIVATE_KEY": ["53627c073bc854d6b04b41d9cdd6218c410316afd45972b60d803024642791ff"],
}
OLD_STORES = {"with generations": "dev.enc.yaml", "before generations": "dev-before-generations.enc.yaml"}


def old_repo(tmp_path: Path, store: str) -> Path:
    """A config repo holding a store that the code before the split wrote."""
    root = make_repo(tmp_path / "repo", {"dev": DEV})
    (root / "secrets").mkdir()
    shutil.copyfile(DATA / store, store_path(root))
    (root / ".secconf").mkdir()
    shutil.copyfile(DATA / "dev.master.key", root / ".secconf" / "master.key")
    os.chmod(root / ".secconf" / "master.key", 0o600)
    return root


def store_path(root: Path) -> Path:
    return root / "secrets" / "dev.enc.yaml"


def digests(root: Path) -> dict[str, list[str]]:
    project = Project.open(root)
    entries = project.open_store(project.environments.get("dev")).read()
    return {
        name: [hashlib.sha256(v.value.reveal().encode()).hexdigest() for v in versions]
        for name, entry in entries.items()
        for versions in [(entry.current, *entry.previous)]
    }


def dev_sealer() -> fmt.Sealer:
    key = parse_key((DATA / "dev.master.key").read_text(), "test key")
    return fmt.Sealer(fmt.DataKey(key.material), "dev")


@pytest.mark.parametrize("case", sorted(OLD_STORES))
def test_an_old_store_reads_and_unchanged_is_not_rewritten(tmp_path: Path, case: str) -> None:
    root = old_repo(tmp_path, OLD_STORES[case])
    before = store_path(root).read_bytes()
    mtime = store_path(root).stat().st_mtime_ns
    assert digests(root) == DIGESTS  # every version of every value, dates aside
    for command in (("keys", "status", "--env", "dev"), ("keys", "ensure", "--env", "dev")):
        result = run(root, *command)
        assert result.code == 0, result.err
    assert store_path(root).read_bytes() == before
    assert store_path(root).stat().st_mtime_ns == mtime


@pytest.mark.parametrize("case", sorted(OLD_STORES))
def test_the_format_writes_back_what_it_read_byte_for_byte(case: str) -> None:
    data = (DATA / OLD_STORES[case]).read_bytes()
    store = fmt.parse(data.decode(), case)
    sealer = dev_sealer()
    sealer.verify(store.body(), store.mac)
    assert fmt.dump(store, sealer, master_key.COMMENT) == data


def test_a_write_to_an_old_store_changes_only_what_it_touches(tmp_path: Path) -> None:
    root = old_repo(tmp_path, "dev.enc.yaml")
    before = store_path(root).read_text()
    result = run(root, "keys", "rotate", "VAPID_PUBLIC_KEY", "--env", "dev", "--yes")
    assert result.code == 0, result.err
    after = store_path(root).read_text()
    # The comment and the header stay as they were (no `encryption:` is added) ...
    assert after.splitlines()[:7] == before.splitlines()[:7]
    assert "encryption" not in after
    old, new = yaml.safe_load(before), yaml.safe_load(after)
    assert new["generation"] == old["generation"] + 1
    # ... and so do the entries the rotation did not touch, to the byte.
    for name in ("secconf.environment-key", "JWT_SECRET_KEY"):
        assert _block(before, name) in after
    assert new["entries"]["VAPID_PRIVATE_KEY"]["version"] == 2


def _block(text: str, name: str) -> str:
    """The lines of one entry as the file has them."""
    lines = text.splitlines(keepends=True)
    start = lines.index(f"  {name}:\n")
    end = next(
        (i for i in range(start + 1, len(lines)) if not lines[i].startswith("    ")), len(lines)
    )
    return "".join(lines[start:end])


# ---- the strict reader: a store file is hostile input ------------------------------------


def _retagged(root: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Change the store and give it a valid integrity tag, as only a key holder could: what
    the reader must still refuse, without a traceback, once the tag checks out."""
    path = store_path(root)
    data = yaml.safe_load(path.read_text())
    change(data)
    body = {k: v for k, v in data.items() if k != "mac"}
    data["mac"] = dev_sealer().tag(body)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def _jwt(data: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = data["entries"]["JWT_SECRET_KEY"]
    return entry


MALFORMED: dict[str, Callable[[dict[str, Any]], None]] = {
    "version not a number": lambda d: _jwt(d).update(version="x"),
    "version as text": lambda d: _jwt(d).update(version="2"),
    "version a boolean": lambda d: _jwt(d)["previous"][0].update(version=True),
    "version zero": lambda d: _jwt(d)["previous"][0].update(version=0),
    "versions out of order": lambda d: _jwt(d)["previous"][0].update(version=3),
    "date not a date": lambda d: _jwt(d).update(created_at=["2026"]),
    "value not text": lambda d: _jwt(d).update(value=12),
    "unknown entry field": lambda d: _jwt(d).update(note="hi"),
    "current version retired": lambda d: _jwt(d).update(retired_at="2026-01-01T00:00:00Z"),
    "previous not a list": lambda d: _jwt(d).update(previous="x"),
    "previous version not retired": lambda d: _jwt(d)["previous"][0].pop("retired_at"),
    "entry not a mapping": lambda d: d["entries"].update(JWT_SECRET_KEY="x"),
    "entry name not a name": lambda d: d["entries"].update({"A\nB\x1b[2J": _jwt(d)}),
    "key check not hex": lambda d: d.update(key_check=12345678),
    "generation negative": lambda d: d.update(generation=-1),
    "generation huge": lambda d: d.update(generation=10**30),
    "environment not a name": lambda d: d.update(environment="dev\x1b[2J"),
    "default cipher named": lambda d: _insert(d, "encryption", "master-key"),
    "cipher header field added": lambda d: _insert(d, "recipients", ["age1x"]),
    "entries not a mapping": lambda d: d.update(entries=["x"]),
}


def _insert(data: dict[str, Any], key: str, value: Any) -> None:
    """Add a field right after `cipher`, where a cipher's header begins."""
    items = list(data.items())
    data.clear()
    for k, v in items:
        data[k] = v
        if k == "cipher":
            data[key] = value


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_store_is_an_integrity_error_even_with_a_valid_tag(
    tmp_path: Path, case: str
) -> None:
    root = old_repo(tmp_path, "dev.enc.yaml")
    _retagged(root, MALFORMED[case])
    before = store_path(root).read_bytes()
    result = run(root, "keys", "status", "--env", "dev")
    assert result.code == 2
    assert "integrity check failed" in result.err
    assert "Traceback" not in result.err and "\x1b" not in result.err
    assert run(root, "keys", "ensure", "--env", "dev").code == 2  # nothing written over it
    assert store_path(root).read_bytes() == before


NEWER = {
    "format": ("format", "secconf-store/2", "is in format 'secconf-store/2'"),
    "value cipher": ("cipher", "XChaCha20-Poly1305", "seals its values with 'XChaCha20-Poly1305'"),
}


@pytest.mark.parametrize("case", sorted(NEWER))
def test_a_store_of_a_newer_secconf_says_upgrade(tmp_path: Path, case: str) -> None:
    field, value, message = NEWER[case]
    root = old_repo(tmp_path, "dev.enc.yaml")
    store_path(root).write_text(
        store_path(root).read_text().replace(f"{field}: ", f"{field}: {value} #", 1)
    )
    result = run(root, "keys", "status", "--env", "dev")
    assert result.code == 2
    assert message in result.err and "upgrade secconf" in result.err


def test_a_store_sealed_by_an_unknown_cipher_says_upgrade(tmp_path: Path) -> None:
    root = old_repo(tmp_path, "dev.enc.yaml")
    _retagged(root, lambda d: _insert(d, "encryption", "rot13"))
    result = run(root, "keys", "status", "--env", "dev")
    assert result.code == 2
    assert "encrypted with 'rot13', a cipher this secconf does not know" in result.err
    assert "upgrade secconf" in result.err


def test_an_oversized_store_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    root = old_repo(tmp_path, "dev.enc.yaml")
    padding = ("#" + "x" * 1023 + "\n") * (fmt.MAX_STORE_BYTES // 1024)
    store_path(root).write_text(store_path(root).read_text() + padding)
    result = run(root, "keys", "status", "--env", "dev")
    assert result.code == 2
    assert "larger than any store secconf writes" in result.err


def test_a_fifo_in_place_of_the_store_is_refused_not_waited_on(tmp_path: Path) -> None:
    root = old_repo(tmp_path, "dev.enc.yaml")
    store_path(root).unlink()
    os.mkfifo(store_path(root))
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SECCONF_")}
    result = subprocess.run(
        [sys.executable, "-m", "secconf", "--root", str(root), "keys", "status", "--env", "dev"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,  # before the fix, reading the FIFO waited for a writer forever
        check=False,
    )
    assert result.returncode == 2
    assert "is not a regular file" in result.stderr


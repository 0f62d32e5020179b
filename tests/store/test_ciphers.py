"""The format and the cipher are separate: a cipher defined here, in the test, with a data
key of its own and a header naming its readers (as age's names its recipients), plugs
into the file store with no change to `secconf.store.format` or `FileStore`; and the
registry finds every cipher module of its package."""

from __future__ import annotations

import hashlib
import os
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.support.repo import make_repo, run

from secconf.core.errors import StoreError
from secconf.operations.project import Project
from secconf.store import ciphers
from secconf.store.base import Entry
from secconf.store.ciphers import Cipher, Sealing, master_key
from secconf.store.file import FileStore
from secconf.store.format import DataKey
from secconf.store.registry import StoreContext

DEV = "values:\n  JWT_SECRET_KEY: {generate: true}\n  VAPID_PRIVATE_KEY: {generate: true}\n"


class ReadersKeyring:
    """A test cipher's keyring: a data key of its own, and the readers it is meant for."""

    def __init__(self, key: DataKey, readers: Sequence[str]) -> None:
        self.key = key
        self.readers = list(readers)

    @property
    def cipher(self) -> Cipher:
        return READERS

    def require(self, creating: bool) -> None:
        """Nothing to find: the key is at hand."""

    def open(self, header: Mapping[str, Any], location: str) -> DataKey:
        if header["key_id"] != _key_id(self.key):
            raise StoreError(f"{location} is not sealed with this test key")
        return self.key

    def new(self) -> Sealing:
        return Sealing({"key_id": _key_id(self.key), "readers": self.readers}, self.key)

    def rewrap(self, header: Mapping[str, Any], key: DataKey) -> Sealing:
        return self.new()


def _key_id(key: DataKey) -> str:
    return hashlib.sha256(key.material).hexdigest()[:8]


def _check(header: Mapping[str, Any]) -> str | None:
    readers = header["readers"]
    if not isinstance(readers, list) or not all(isinstance(r, str) for r in readers):
        return "its readers are not a list of names"
    return None


def _unused_keyring(context: StoreContext) -> ReadersKeyring:
    raise AssertionError("the tests build their keyrings themselves")


READERS = Cipher(
    name="readers-for-test",
    summary="a data key of the test's own, for named readers",
    fields=("key_id", "readers"),
    check=_check,
    keyring=_unused_keyring,
    comment="# a test store: sealed for its readers\n",
)


def new_key() -> DataKey:
    return DataKey(os.urandom(32))


def store(tmp_path: Path, keyring: Any, env: str = "dev") -> FileStore:
    return FileStore(
        tmp_path / f"{env}.enc.yaml",
        env,
        keyring,
        shown=f"{env}.enc.yaml",
        lock_path=tmp_path / "locks" / f"{env}.lock",
        root=tmp_path,
    )


def values(entries: Mapping[str, Entry]) -> dict[str, list[tuple[int, str, str]]]:
    return {
        name: [(v.version, v.created_at, v.value.reveal()) for v in (e.current, *e.previous)]
        for name, e in entries.items()
    }


def pair() -> dict[str, str]:
    return {"A_KEY": os.urandom(8).hex(), "B_KEY": os.urandom(8).hex()}


def test_a_second_cipher_plugs_into_the_format_unchanged(tmp_path: Path) -> None:
    key = new_key()
    written = store(tmp_path, ReadersKeyring(key, ["alice"]))
    written.create("pair", ["A_KEY", "B_KEY"], pair)
    rotated = written.rotate("pair", ["A_KEY", "B_KEY"], pair)
    text = (tmp_path / "dev.enc.yaml").read_text()
    assert text.startswith(READERS.comment)
    data = yaml.safe_load(text)
    assert list(data) == [
        "format",
        "environment",
        "cipher",
        "encryption",
        "key_id",
        "readers",
        "generation",
        "entries",
        "mac",
    ]
    assert data["format"] == "secconf-store/1" and data["cipher"] == "AES-256-GCM"
    assert data["encryption"] == "readers-for-test" and data["readers"] == ["alice"]
    assert data["entries"]["A_KEY"]["version"] == 2  # rotation, as the format does it
    reread = store(tmp_path, ReadersKeyring(key, ["alice"])).read()
    assert values(reread) == values(rotated)
    with pytest.raises(StoreError, match="not sealed with this test key"):
        store(tmp_path, ReadersKeyring(new_key(), ["alice"])).read()


def test_a_cipher_header_is_covered_by_the_integrity_tag(tmp_path: Path) -> None:
    key = new_key()
    store(tmp_path, ReadersKeyring(key, ["alice"])).create("pair", ["A_KEY", "B_KEY"], pair)
    path = tmp_path / "dev.enc.yaml"
    text = path.read_text()
    path.write_text(text.replace("- alice\n", "- alice\n- mallory\n"))  # a reader added by hand
    with pytest.raises(StoreError, match="integrity check failed: the file's integrity tag"):
        store(tmp_path, ReadersKeyring(key, ["alice"])).read()
    path.write_text(text.replace("readers:\n- alice\n", ""))
    with pytest.raises(StoreError, match="does not have the fields of a store file"):
        store(tmp_path, ReadersKeyring(key, ["alice"])).read()
    path.write_text(text.replace("- alice\n", "- 12\n"))
    with pytest.raises(StoreError, match="its readers are not a list of names"):
        store(tmp_path, ReadersKeyring(key, ["alice"])).read()


def test_rewrap_under_the_same_data_key_changes_only_the_header(tmp_path: Path) -> None:
    key = new_key()
    first = store(tmp_path, ReadersKeyring(key, ["alice"]))
    first.create("pair", ["A_KEY", "B_KEY"], pair)
    before = yaml.safe_load((tmp_path / "dev.enc.yaml").read_text())
    assert first.rewrap(ReadersKeyring(key, ["alice", "bob"])) == 0  # a reader added
    after = yaml.safe_load((tmp_path / "dev.enc.yaml").read_text())
    assert after["readers"] == ["alice", "bob"]
    assert after["entries"] == before["entries"]  # every ciphertext kept
    assert after["generation"] == before["generation"] + 1
    mtime = (tmp_path / "dev.enc.yaml").stat().st_mtime_ns
    assert first.rewrap() == 0  # nothing changed: nothing written
    assert (tmp_path / "dev.enc.yaml").stat().st_mtime_ns == mtime


def test_rewrap_under_a_new_data_key_reseals_every_value(tmp_path: Path) -> None:
    old_key = new_key()
    first = store(tmp_path, ReadersKeyring(old_key, ["alice", "bob"]))
    first.create("pair", ["A_KEY", "B_KEY"], pair)
    kept = values(first.rotate("pair", ["A_KEY", "B_KEY"], pair))
    before = yaml.safe_load((tmp_path / "dev.enc.yaml").read_text())
    new = ReadersKeyring(new_key(), ["alice"])  # bob removed: a new data key, as age must
    assert first.rewrap(new) == 2
    after = yaml.safe_load((tmp_path / "dev.enc.yaml").read_text())
    blobs = [
        (v["value"], w["value"])
        for name in ("A_KEY", "B_KEY")
        for v, w in zip(
            [before["entries"][name], *before["entries"][name]["previous"]],
            [after["entries"][name], *after["entries"][name]["previous"]],
            strict=True,
        )
    ]
    assert all(old != new for old, new in blobs)
    assert values(store(tmp_path, new).read()) == kept
    assert values(first.read()) == kept  # the store object now reads with the new keyring
    with pytest.raises(StoreError, match="not sealed with this test key"):
        store(tmp_path, ReadersKeyring(old_key, ["alice", "bob"])).read()


def test_a_master_key_store_moves_to_another_cipher_keeping_every_version(
    tmp_path: Path,
) -> None:
    root = make_repo(tmp_path / "repo", {"dev": DEV})
    assert run(root, "keys", "ensure", "--env", "dev").code == 0
    assert run(root, "keys", "rotate", "JWT_SECRET_KEY", "--env", "dev", "--yes").code == 0
    project = Project.open(root)
    master = project.open_store(project.environments.get("dev"))
    assert isinstance(master, FileStore)
    kept = values(master.read())
    readers = ReadersKeyring(new_key(), ["alice"])
    assert master.rewrap(readers) == len(kept)
    data = yaml.safe_load((root / "secrets" / "dev.enc.yaml").read_text())
    assert "key_check" not in data and data["encryption"] == "readers-for-test"
    assert values(store(root / "secrets", readers).read()) == kept
    # Read as the settings say (master-key), it is refused for what it is, not as damaged.
    result = run(root, "keys", "status", "--env", "dev")
    assert result.code == 2
    assert "encrypted with 'readers-for-test', a cipher this secconf does not know" in result.err


def test_a_store_of_another_known_cipher_than_its_settings_say_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file says which cipher sealed it; read with another, it is not "damaged"."""
    store(tmp_path, ReadersKeyring(new_key(), ["alice"])).create("pair", ["A_KEY", "B_KEY"], pair)
    monkeypatch.setattr(ciphers, "names", lambda: ("master-key", READERS.name))  # registered
    master = store(tmp_path, lambda _: pytest.fail("no master key is needed to say so"))
    with pytest.raises(StoreError, match="encrypted with the readers-for-test cipher, not with "):
        master.read()


# ---- the registry ----------------------------------------------------------------------


def test_the_registry_lists_the_cipher_modules_of_its_package() -> None:
    assert ciphers.names() == ("age", "master-key")
    assert ciphers.get("master-key") is master_key.CIPHER
    with pytest.raises(StoreError, match="there is no file-store cipher 'sops'") as caught:
        ciphers.get("sops")
    assert caught.value.hint == "known ciphers: age, master-key"


def test_a_new_cipher_is_one_module_of_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "more_ciphers_for_test"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "rot.py").write_text(
        textwrap.dedent(
            """
            from secconf.store.ciphers import Cipher

            CIPHER = Cipher(
                name="rot",
                summary="a cipher module dropped into the package",
                fields=(),
                check=lambda header: None,
                keyring=lambda context: None,
                comment="",
            )
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    found = ciphers.discover("more_ciphers_for_test")
    assert list(found) == ["rot"] and found["rot"].summary.startswith("a cipher module")
    (package / "broken.py").write_text("NOT_A_CIPHER = 1\n")
    with pytest.raises(TypeError, match="defines no CIPHER"):
        ciphers.discover("more_ciphers_for_test")


def test_open_store_builds_the_keyring_the_settings_name(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"dev": DEV})
    project = Project.open(root)
    opened = project.open_store(project.environments.get("dev"))
    assert isinstance(opened, FileStore)
    assert opened.keyring.cipher is master_key.CIPHER

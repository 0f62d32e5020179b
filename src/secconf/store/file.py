"""The embedded store: one encrypted YAML file per environment, meant to be committed.

Each value is sealed with AES-256-GCM; its associated data binds the format, the
environment, the variable name and the version, so a value copied to another name,
environment or version fails to open. An HMAC-SHA256 tag over the whole file (in file
order) detects a removed, added, reordered or replayed entry. Names, versions and dates
stay readable, so a git diff shows which key changed; a write re-seals only the entries
it touches, so every other entry keeps its bytes and an unchanged store is not
rewritten at all.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from secconf.core.errors import StoreError
from secconf.core.files import write_atomic
from secconf.core.secret import Secret
from secconf.store.base import MAX_PREVIOUS, Entry, Maker, Version, utc_now
from secconf.store.masterkey import MasterKey, private_directory

FORMAT = "secconf-store/1"
CIPHER = "AES-256-GCM"
LOCK_TIMEOUT_SECONDS = 60
HEADER = (
    "# secconf encrypted store: the generated keys of one environment.\n"
    "# Safe to commit (the master key is not in it). Change it only with\n"
    "# `secconf keys` and `secconf store`: any hand edit fails its integrity check.\n"
)

KeyProvider = Callable[[bool], MasterKey]  # argument: may a missing key be created?


class _Sealer:
    """AES-256-GCM and HMAC-SHA256 under keys derived from one master key."""

    def __init__(self, key: MasterKey, environment: str) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self.key = key
        self.environment = environment
        self.aead = AESGCM(key.derive("secconf store/1 encryption"))
        self.mac_key = key.derive("secconf store/1 integrity")

    def _aad(self, name: str, version: int) -> bytes:
        return "\0".join((FORMAT, self.environment, name, str(version))).encode()

    def seal(self, name: str, version: int, value: str) -> str:
        nonce = os.urandom(12)
        sealed = self.aead.encrypt(nonce, value.encode("utf-8"), self._aad(name, version))
        return base64.b64encode(nonce + sealed).decode("ascii")

    def open(self, name: str, version: int, blob: str) -> Secret:
        from cryptography.exceptions import InvalidTag

        try:
            raw = base64.b64decode(blob, validate=True)
            plain = self.aead.decrypt(raw[:12], raw[12:], self._aad(name, version))
        except (binascii.Error, ValueError, InvalidTag):
            raise _integrity(f"the value of {name} (version {version}) does not decrypt") from None
        return Secret(plain.decode("utf-8"))

    def _mac(self, body: dict[str, Any]) -> Any:
        """HMAC-SHA256 over the body as canonical JSON, in file order (so order counts)."""
        import json

        from cryptography.hazmat.primitives import hashes, hmac

        mac = hmac.HMAC(self.mac_key, hashes.SHA256())
        mac.update(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())
        return mac

    def tag(self, body: dict[str, Any]) -> str:
        return str(self._mac(body).finalize().hex())

    def verify(self, body: dict[str, Any], tag: str) -> None:
        from cryptography.exceptions import InvalidSignature

        mac = self._mac(body)
        try:
            mac.verify(bytes.fromhex(tag))
        except (InvalidSignature, ValueError):
            raise _integrity("the file's integrity tag does not match its content") from None


def _integrity(detail: str) -> StoreError:
    return StoreError(
        f"integrity check failed: {detail}",
        hint="the store was edited, truncated or damaged; restore it from git "
        "(`git checkout -- FILE`) and use `secconf keys` to change keys",
    )


class FileStore:
    """An encrypted file store for one environment."""

    backend = "file"

    def __init__(
        self,
        path: Path,
        environment: str,
        keys: KeyProvider,
        *,
        shown: str,
        lock_path: Path,
    ) -> None:
        self.path = path
        self.lock_path = lock_path  # in a directory of its own: it gets a .gitignore of `*`
        self.environment = environment
        self.location = shown
        self._keys = keys

    def exists(self) -> bool:
        """True when the store file exists."""
        return self.path.exists()

    def read(self) -> dict[str, Entry]:
        """Every entry, decrypted and checked; empty when the file does not exist yet."""
        loaded = self._load()
        return {} if loaded is None else loaded[1]

    def create(
        self, group: str, names: Sequence[str], make: Maker
    ) -> tuple[dict[str, Entry], bool]:
        """Store fresh values for `names` unless present (under the file lock)."""
        with self._lock():
            sealer, entries, body = self._load_for_write()
            present = [n for n in names if n in entries]
            if present and len(present) == len(names):
                return {n: entries[n] for n in names}, False
            if present:
                raise StoreError(
                    f"{', '.join(present)} stored without the rest of its group "
                    f"({', '.join(n for n in names if n not in entries)})",
                    hint="a key pair is generated together; rotate the whole group with "
                    "`secconf keys rotate`",
                )
            values = make()
            now = utc_now()
            for name in names:
                entries[name] = Entry(name, Version(Secret(values[name]), 1, now))
                body["entries"][name] = _entry_doc(sealer, entries[name], None)
            self._write(sealer, body)
            return {n: entries[n] for n in names}, True

    def rotate(self, group: str, names: Sequence[str], make: Maker) -> dict[str, Entry]:
        """New values for the whole group; the old ones are kept as previous versions."""
        with self._lock():
            sealer, entries, body = self._load_for_write()
            missing = [n for n in names if n not in entries]
            if missing:
                raise StoreError(
                    f"{', '.join(missing)} is not stored yet: nothing to rotate",
                    hint="create it with `secconf keys ensure`",
                )
            values = make()
            now = utc_now()
            version = 1 + max(_all_versions(entries[n]) for n in names)
            for name in names:
                old = entries[name]
                entries[name] = _replaced(old, Version(Secret(values[name]), version, now), now)
                body["entries"][name] = _entry_doc(sealer, entries[name], body["entries"][name])
            self._write(sealer, body)
            return {n: entries[n] for n in names}

    def rollback(self, group: str, names: Sequence[str]) -> dict[str, Entry]:
        """The values before the last rotation come back, as a new version."""
        with self._lock():
            sealer, entries, body = self._load_for_write()
            for name in names:
                if name not in entries or not entries[name].previous:
                    raise StoreError(
                        f"{name} has no previous version to roll back to",
                        hint="`secconf keys status` shows the stored versions",
                    )
            now = utc_now()
            version = 1 + max(_all_versions(entries[n]) for n in names)
            for name in names:
                old = entries[name]
                restored = Version(old.previous[-1].value, version, now)
                entries[name] = _replaced(old, restored, now)
                body["entries"][name] = _entry_doc(sealer, entries[name], body["entries"][name])
            self._write(sealer, body)
            return {n: entries[n] for n in names}

    def rekey(self, new_key: MasterKey) -> int:
        """Re-seal every value under `new_key`, in one atomic write; returns the entry count."""
        with self._lock():
            loaded = self._load()
            if loaded is None:
                raise StoreError(f"no store at {self.location}: nothing to re-key")
            _, entries, _ = loaded
            sealer = _Sealer(new_key, self.environment)
            body = self._empty_body(new_key)
            for name, entry in entries.items():
                body["entries"][name] = _entry_doc(sealer, entry, None)
            self._write(sealer, body)
            return len(entries)

    # -- file handling -------------------------------------------------------------

    def _lock(self) -> Any:
        from filelock import FileLock

        # The master key first: when there is none and none may be created (production),
        # the write stops here, before anything (even a lock file) touches the disk.
        self._keys(not self.exists())
        private_directory(self.lock_path.parent)
        return FileLock(str(self.lock_path), timeout=LOCK_TIMEOUT_SECONDS)

    def _empty_body(self, key: MasterKey) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "environment": self.environment,
            "cipher": CIPHER,
            "key_check": key.key_check(),
            "entries": {},
        }

    def _load_for_write(self) -> tuple[_Sealer, dict[str, Entry], dict[str, Any]]:
        loaded = self._load()
        if loaded is None:  # the first write: the only time a master key may be created
            key = self._keys(True)
            return _Sealer(key, self.environment), {}, self._empty_body(key)
        return loaded

    def _load(self) -> tuple[_Sealer, dict[str, Entry], dict[str, Any]] | None:
        from secconf.core.errors import InputError
        from secconf.core.yamlio import parse_document

        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise StoreError(
                f"cannot read the store {self.location}: {type(exc).__name__}",
                hint="check the file's permissions and encoding",
            ) from None
        try:
            # The strict reader: a store file arrives by pull request, and YAML aliases
            # in it could expand to gigabytes.
            data = parse_document(text, self.location).data
        except InputError:
            raise _integrity(f"{self.location} is not a complete store file") from None
        body, tag = _split(data, self.location)
        if body["environment"] != self.environment:
            raise _integrity(
                f"{self.location} belongs to environment {body['environment']!r}, "
                f"not {self.environment!r}"
            )
        key = self._keys(False)
        if key.key_check() != body["key_check"]:
            raise StoreError(
                f"cannot decrypt {self.location}: wrong master key? (it was written with "
                f"key {body['key_check']}, the key from {key.source} is {key.key_check()})",
                hint="use the master key this store was written with (README: sharing the "
                "master key); if a `secconf store rekey` was interrupted, run it again",
            )
        sealer = _Sealer(key, self.environment)
        try:
            sealer.verify(body, tag)
        except TypeError:  # a value YAML read as something other than text
            raise _integrity(f"{self.location} has been edited") from None
        entries = {name: _entry(sealer, name, doc) for name, doc in body["entries"].items()}
        return sealer, entries, body

    def _remove_stale_temp_files(self) -> None:
        # Called under the lock: a temp file of this store can only be left by a writer
        # that was killed before its rename.
        for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()

    def _write(self, sealer: _Sealer, body: dict[str, Any]) -> None:
        from secconf.core.yamlio import dump_yaml

        document = {**body, "mac": sealer.tag(body)}
        self._remove_stale_temp_files()
        write_atomic(self.path, (HEADER + dump_yaml(document)).encode("utf-8"), mode=0o600)


def _split(data: Any, location: str) -> tuple[dict[str, Any], str]:
    fields = ("format", "environment", "cipher", "key_check", "entries", "mac")
    if not isinstance(data, dict) or list(data) != list(fields):
        raise _integrity(f"{location} does not have the fields of a store file")
    if data["format"] != FORMAT or data["cipher"] != CIPHER:
        raise StoreError(
            f"{location} is in format {data['format']!r}, which this secconf does not read",
            hint="upgrade secconf",
        )
    if not isinstance(data["entries"], dict) or not isinstance(data["mac"], str):
        raise _integrity(f"{location} is malformed")
    body = {k: data[k] for k in fields[:-1]}
    return body, data["mac"]


def _entry(sealer: _Sealer, name: str, doc: Any) -> Entry:
    try:
        current = _version(sealer, name, doc)
        previous = tuple(_version(sealer, name, p) for p in doc.get("previous", []))
    except (KeyError, TypeError, AttributeError):
        raise _integrity(f"the entry {name} is malformed") from None
    return Entry(name, current, previous)


def _version(sealer: _Sealer, name: str, doc: dict[str, Any]) -> Version:
    number = int(doc["version"])
    return Version(
        sealer.open(name, number, doc["value"]),
        number,
        str(doc["created_at"]),
        doc.get("retired_at"),
    )


def _entry_doc(sealer: _Sealer, entry: Entry, old_doc: dict[str, Any] | None) -> dict[str, Any]:
    """The YAML form of an entry, reusing the ciphertext of every version it already had."""
    old_blobs: dict[int, str] = {}
    if old_doc is not None:
        old_blobs[int(old_doc["version"])] = old_doc["value"]
        for prev in old_doc.get("previous", []):
            old_blobs[int(prev["version"])] = prev["value"]

    def doc(version: Version) -> dict[str, Any]:
        blob = old_blobs.get(version.version) or sealer.seal(
            entry.name, version.version, version.value.reveal()
        )
        out: dict[str, Any] = {
            "version": version.version,
            "created_at": version.created_at,
            "value": blob,
        }
        if version.retired_at is not None:
            out["retired_at"] = version.retired_at
        return out

    result = doc(entry.current)
    if entry.previous:
        result["previous"] = [doc(v) for v in entry.previous]
    return result


def _replaced(old: Entry, new: Version, now: str) -> Entry:
    retired = Version(old.current.value, old.current.version, old.current.created_at, now)
    previous = (*old.previous, retired)[-MAX_PREVIOUS:]
    return Entry(old.name, new, previous)


def _all_versions(entry: Entry) -> int:
    return max([entry.current.version, *(v.version for v in entry.previous)])

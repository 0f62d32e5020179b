"""The embedded store: one encrypted YAML file per environment, meant to be committed.

Each value is sealed with AES-256-GCM; its associated data binds the format, the
environment, the variable name and the version, so a value copied to another name,
environment or version fails to open. An HMAC-SHA256 tag over the whole file (in file
order) detects a removed, added, reordered or replayed entry. Names, versions and dates
stay readable, so a git diff shows which key changed; a write re-seals only the entries
it touches, so every other entry keeps its bytes and an unchanged store is not
rewritten at all.

Each write also raises the store's `generation` by one (covered by the integrity tag),
so a whole file put back from before a rotation, valid as it is, can be told from the
newest one (`secconf.store.generations` keeps the highest seen on this machine; Vault
metadata keeps the one last delivered). The format stays `secconf-store/1`: a file
written before generations existed has no `generation` field and reads as generation 0.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from secconf.core.errors import StoreError
from secconf.core.files import write_atomic
from secconf.core.secret import Secret
from secconf.store.base import (
    MAX_PREVIOUS,
    Entry,
    Maker,
    StoredValuesDiffer,
    StoreReplay,
    Version,
    utc_now,
)
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
# The fields of a store file, in order; files from before generations lack "generation".
FIELDS = ("format", "environment", "cipher", "key_check", "generation", "entries", "mac")
FIELDS_WITHOUT_GENERATION = tuple(f for f in FIELDS if f != "generation")


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
        root: Path | None = None,
        key_lock_path: Path | None = None,
        key_file: Path | None = None,
        state_path: Path | None = None,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.path = path
        self.lock_path = lock_path  # in a directory of its own: it gets a .gitignore of `*`
        # The master key file's lock (None: the caller holds it, as `store rekey` does),
        # and the key file, to recognise a store re-keyed under `KEYFILE.new`.
        self.key_lock_path = key_lock_path
        self.key_file = key_file
        # The record of generations seen on this machine (None: none is kept), and where
        # a warning about a store that went back goes.
        self.state_path = state_path
        self.notify = notify
        self.generation: int | None = None  # as last read or written
        self.highest_seen: int | None = None  # set when the file is older than one seen
        self.environment = environment
        self.location = shown
        self._keys = keys
        self._root = root  # the config repo: temp files are staged in its .secconf/tmp/

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

    def put(
        self, groups: Mapping[str, Mapping[str, str]], *, replace: bool
    ) -> tuple[dict[str, str], bytes | None]:
        """Store these values of whole groups in one atomic write: each group is created
        when absent, kept when equal, replaced (a rotation) only with `replace`, all
        decided under the lock. Returns the status of each name (created, kept,
        updated) and the file's bytes before the write (None: there was no file)."""
        with self._lock():
            before = self.path.read_bytes() if self.exists() else None
            sealer, entries, body = self._load_for_write()
            differing = [
                group
                for group, values in groups.items()
                if any(
                    n in entries and entries[n].current.value.reveal() != v
                    for n, v in values.items()
                )
            ]
            if differing and not replace:
                raise StoredValuesDiffer(differing)
            now = utc_now()
            statuses: dict[str, str] = {}
            for values in groups.values():
                statuses.update(self._put_group(sealer, entries, body, dict(values), now))
            if any(status != "kept" for status in statuses.values()):
                self._write(sealer, body)
            return statuses, before

    def _put_group(
        self,
        sealer: _Sealer,
        entries: dict[str, Entry],
        body: dict[str, Any],
        values: dict[str, str],
        now: str,
    ) -> dict[str, str]:
        names = list(values)
        present = [n for n in names if n in entries]
        if present and len(present) != len(names):
            raise StoreError(
                f"{', '.join(present)} stored without the rest of its group "
                f"({', '.join(n for n in names if n not in entries)})",
                hint="a key pair is stored together; rotate the whole group with "
                "`secconf keys rotate`",
            )
        if not present:
            for name in names:
                entries[name] = Entry(name, Version(Secret(values[name]), 1, now))
                body["entries"][name] = _entry_doc(sealer, entries[name], None)
            return dict.fromkeys(names, "created")
        if all(entries[n].current.value.reveal() == values[n] for n in names):
            return dict.fromkeys(names, "kept")
        version = 1 + max(_all_versions(entries[n]) for n in names)
        for name in names:
            new = Version(Secret(values[name]), version, now)
            entries[name] = _replaced(entries[name], new, now)
            body["entries"][name] = _entry_doc(sealer, entries[name], body["entries"][name])
        return dict.fromkeys(names, "updated")

    def restore(self, before: bytes | None) -> None:
        """Put the file back as `put` found it (None: remove it), under the lock."""
        with self._lock():
            if before is None:
                self.path.unlink(missing_ok=True)
            else:
                write_atomic(self.path, before, mode=0o600, root=self._root, shown=self.location)

    def rekey(self, new_key: MasterKey) -> int:
        """Re-seal every value under `new_key`, in one atomic write; returns the entry count."""
        with self._lock():
            loaded = self._load()
            if loaded is None:
                raise StoreError(f"no store at {self.location}: nothing to re-key")
            _, entries, _ = loaded
            sealer = _Sealer(new_key, self.environment)
            body = self._empty_body(new_key)
            body["generation"] = loaded[2].get("generation", 0)
            for name, entry in entries.items():
                body["entries"][name] = _entry_doc(sealer, entry, None)
            self._write(sealer, body)
            return len(entries)

    # -- file handling -------------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """The key file's lock, then the store's: the order `store rekey` takes them in.

        Everything a write uses, the master key included, is read after both are held.
        """
        from secconf.store import locking

        # The master key first: when there is none and none may be created (production),
        # the write stops here, before anything (even a lock file) touches the disk.
        self._keys(not self.exists())
        private_directory(self.lock_path.parent)
        with contextlib.ExitStack() as held:
            if self.key_lock_path is not None:
                held.enter_context(
                    locking.hold(self.key_lock_path, LOCK_TIMEOUT_SECONDS, shared=True)
                )
            held.enter_context(locking.hold(self.lock_path, LOCK_TIMEOUT_SECONDS))
            yield

    def _empty_body(self, key: MasterKey) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "environment": self.environment,
            "cipher": CIPHER,
            "key_check": key.key_check(),
            "generation": 0,
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
            self._check_rekey_pending(body["key_check"])
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
        self._seen(body.get("generation", 0))
        return sealer, entries, body

    def replay(self) -> StoreReplay | None:
        """The store went back: its generation is lower than one seen on this machine."""
        if self.generation is None or self.highest_seen is None:
            return None
        return StoreReplay(self.location, self.generation, self.highest_seen, "on this machine")

    def _seen(self, generation: int) -> None:
        """Note the generation read; warn (once) when a higher one was seen before."""
        from secconf.store.generations import observe

        self.generation = generation
        if self.state_path is None:
            return
        higher = observe(self.state_path, self.environment, self.location, generation)
        if higher is not None and self.highest_seen is None and self.notify is not None:
            self.notify(
                f"warning: {self.location} is at generation {generation}, lower than "
                f"generation {higher} seen on this machine: it may be a copy put back from "
                "before a rotation (a replayed store); check `git log` of the file"
            )
        self.highest_seen = higher

    def _check_rekey_pending(self, written_with: Any) -> None:
        """Say so when the store was written with the key waiting in `KEYFILE.new`: a
        `store rekey` was interrupted (or is still running)."""
        from secconf.store.masterkey import parse_key

        if self.key_file is None:
            return
        pending = self.key_file.with_name(self.key_file.name + ".new")
        try:
            new = parse_key(pending.read_text(encoding="ascii"), str(pending))
        except (OSError, UnicodeDecodeError, StoreError):
            return
        if new.key_check() == written_with:
            raise StoreError(
                f"{self.location} is encrypted with the new master key in {pending.name}: "
                "a `secconf store rekey` was interrupted (or is still running) before it put "
                f"that key in place of {self.key_file.name}",
                hint=f"run `secconf store rekey --env {self.environment}` again to finish it",
            )

    def _remove_stale_temp_files(self) -> None:
        # Called under the lock: a temp file of this store can only be left by a writer
        # that was killed before its rename.
        from secconf.core.files import remove_beside

        remove_beside(self.path)

    def _write(self, sealer: _Sealer, body: dict[str, Any]) -> None:
        from secconf.core.yamlio import dump_yaml

        # One more than the file's, or than the highest seen here when the file went back:
        # a write made on purpose after the warning moves the store past what was seen.
        generation = 1 + max(body.get("generation", 0), self.highest_seen or 0)
        ordered = {f: body[f] for f in FIELDS_WITHOUT_GENERATION[:4]}
        body = {**ordered, "generation": generation, "entries": body["entries"]}
        document = {**body, "mac": sealer.tag(body)}
        self._remove_stale_temp_files()
        data = (HEADER + dump_yaml(document)).encode("utf-8")
        write_atomic(self.path, data, mode=0o600, root=self._root, shown=self.location)
        self.highest_seen = None
        self._seen(generation)


def _split(data: Any, location: str) -> tuple[dict[str, Any], str]:
    fields = tuple(data) if isinstance(data, dict) else ()
    if fields not in (FIELDS, FIELDS_WITHOUT_GENERATION):
        raise _integrity(f"{location} does not have the fields of a store file")
    if data["format"] != FORMAT or data["cipher"] != CIPHER:
        raise StoreError(
            f"{location} is in format {data['format']!r}, which this secconf does not read",
            hint="upgrade secconf",
        )
    if not isinstance(data["entries"], dict) or not isinstance(data["mac"], str):
        raise _integrity(f"{location} is malformed")
    generation = data.get("generation", 0)
    if not isinstance(generation, int) or isinstance(generation, bool) or generation < 0:
        raise _integrity(f"{location} has a generation that is not a count")
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

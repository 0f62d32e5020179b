"""The embedded store: one encrypted YAML file per environment, meant to be committed.

`FileStore` composes two parts it keeps apart: the on-disk format
(`secconf.store.format`: the fields, the strict reader, AES-256-GCM per value bound to
its name and version, the HMAC over the file, the ciphertext of untouched entries kept)
and the cipher that protects the store's data key (`secconf.store.ciphers`: today the
master key). Around them it adds what a store on disk needs: locks (the key file's,
shared, then the store's), atomic writes, and generations.

Each write raises the store's `generation` by one (covered by the integrity tag), so a
whole file put back from before a rotation, valid as it is, can be told from the newest
one (`secconf.store.generations` keeps the highest seen on this machine; Vault metadata
keeps the one last delivered). A file written before generations existed has no
`generation` field and reads as generation 0; an unchanged store is not rewritten.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from secconf.core.errors import StoreError
from secconf.core.files import write_atomic
from secconf.core.secret import Secret
from secconf.store import format as fmt
from secconf.store.base import (
    MAX_PREVIOUS,
    Entry,
    Maker,
    StoredValuesDiffer,
    StoreReplay,
    Version,
    utc_now,
)
from secconf.store.ciphers import Keyring, Sealing
from secconf.store.ciphers.master_key import KeyProvider, MasterKeyring
from secconf.store.masterkey import MasterKey, private_directory

LOCK_TIMEOUT_SECONDS = 60

__all__ = ["LOCK_TIMEOUT_SECONDS", "FileStore", "KeyProvider"]


class _Opened(NamedTuple):
    """A store file read and verified: how to seal more, its entries, its fields."""

    sealer: fmt.Sealer
    key: fmt.DataKey
    entries: dict[str, Entry]
    file: fmt.StoreFile
    data: bytes | None  # the file's bytes (None: no file yet)


class FileStore:
    """An encrypted file store for one environment: the store format, sealed by a cipher."""

    backend = "file"

    def __init__(
        self,
        path: Path,
        environment: str,
        keys: Keyring | KeyProvider,
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
        # The lock of the credential shared by several stores (the master key file's; None:
        # the caller holds it, as `store rekey` does). `keys` is a cipher's keyring, or the
        # master key's provider, with `key_file` to recognise a store re-keyed under
        # `KEYFILE.new`.
        self.key_lock_path = key_lock_path
        if callable(keys):  # a KeyProvider (a keyring is an object, never called); not
            # isinstance(keys, Keyring): a runtime protocol check takes 15 us, each store
            keys = MasterKeyring(keys, environment=environment, key_file=key_file)
        self.keyring: Keyring = keys
        # The record of generations seen on this machine (None: none is kept), and where
        # a warning about a store that went back goes.
        self.state_path = state_path
        self.notify = notify
        self.generation: int | None = None  # as last read or written
        self.highest_seen: int | None = None  # set when the file is older than one seen
        self.environment = environment
        self.location = shown
        self._root = root  # the config repo: temp files are staged in its .secconf/tmp/

    def exists(self) -> bool:
        """True when the store file exists."""
        return self.path.exists()

    def read(self) -> dict[str, Entry]:
        """Every entry, decrypted and checked; empty when the file does not exist yet."""
        opened = self._load()
        return {} if opened is None else opened.entries

    def peek(self) -> fmt.StoreFile | None:
        """The file's fields, checked for shape but not opened (no key is needed: who can
        decrypt, and which versions, are readable); None when there is no file."""
        data = self._read_bytes()
        if data is None:
            return None
        try:
            return fmt.parse(data.decode("utf-8"), self.location)
        except UnicodeDecodeError as exc:
            raise self._unreadable(exc) from None

    def create(
        self, group: str, names: Sequence[str], make: Maker
    ) -> tuple[dict[str, Entry], bool]:
        """Store fresh values for `names` unless present (under the file lock)."""
        with self._lock():
            opened = self._load_for_write()
            entries = opened.entries
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
                _set(opened, Entry(name, Version(Secret(values[name]), 1, now)))
            self._write(opened)
            return {n: entries[n] for n in names}, True

    def rotate(self, group: str, names: Sequence[str], make: Maker) -> dict[str, Entry]:
        """New values for the whole group; the old ones are kept as previous versions."""
        with self._lock():
            opened = self._load_for_write()
            entries = opened.entries
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
                new = Version(Secret(values[name]), version, now)
                _set(opened, _replaced(entries[name], new, now))
            self._write(opened)
            return {n: entries[n] for n in names}

    def rollback(self, group: str, names: Sequence[str]) -> dict[str, Entry]:
        """The values before the last rotation come back, as a new version."""
        with self._lock():
            opened = self._load_for_write()
            entries = opened.entries
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
                _set(opened, _replaced(old, restored, now))
            self._write(opened)
            return {n: entries[n] for n in names}

    def put(
        self, groups: Mapping[str, Mapping[str, str]], *, replace: bool
    ) -> tuple[dict[str, str], bytes | None]:
        """Store these values of whole groups in one atomic write: each group is created
        when absent, kept when equal, replaced (a rotation) only with `replace`, all
        decided under the lock. Returns the status of each name (created, kept,
        updated) and the file's bytes before the write (None: there was no file)."""
        with self._lock():
            opened = self._load_for_write()
            entries = opened.entries
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
                statuses.update(_put_group(opened, dict(values), now))
            if any(status != "kept" for status in statuses.values()):
                self._write(opened)
            return statuses, opened.data

    def restore(self, before: bytes | None) -> None:
        """Put the file back as `put` found it (None: remove it), under the lock."""
        with self._lock():
            if before is None:
                self.path.unlink(missing_ok=True)
            else:
                write_atomic(self.path, before, mode=0o600, root=self._root, shown=self.location)

    def rekey(self, new_key: MasterKey) -> int:
        """Re-seal every value under `new_key`, in one atomic write; returns the entry count."""
        keyring = MasterKeyring(lambda _: new_key, environment=self.environment)
        return self.rewrap(keyring)

    def rewrap(self, keyring: Keyring | None = None) -> int:
        """Protect the store as `keyring` (default: this store's own) says now, in one
        atomic write: only the header changes while the data key stays, every value is
        re-sealed when it changes (another master key, another cipher, a recipient
        removed). Returns the count of entries re-sealed; writes nothing when nothing
        changed. The store is then read with `keyring`."""
        target = keyring or self.keyring
        with self._lock():
            opened = self._load()
            if opened is None:
                raise StoreError(f"no store at {self.location}: nothing to re-key")
            file = opened.file
            if file.encryption == target.cipher.name:
                sealing = target.rewrap(file.header, opened.key)
            else:
                sealing = target.new()
            _checked(sealing, target)
            fresh = not sealing.key.same(opened.key)
            rewrapped = fmt.StoreFile(
                file.environment, target.cipher.name, sealing.header, file.generation, {}
            )
            sealer = fmt.Sealer(sealing.key, self.environment) if fresh else opened.sealer
            for name, entry in opened.entries.items():
                old_doc = None if fresh else file.entries[name]
                rewrapped.entries[name] = fmt.entry_doc(sealer, entry, old_doc)
            if rewrapped.body() != file.body():
                self._write(_Opened(sealer, sealing.key, opened.entries, rewrapped, None), target)
            self.keyring = target
            return len(opened.entries) if fresh else 0

    # -- file handling -------------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """The key file's lock, then the store's: the order `store rekey` takes them in.

        Everything a write uses, the master key included, is read after both are held.
        """
        from secconf.store import locking

        # The credential first: when there is none and none may be created (production),
        # the write stops here, before anything (even a lock file) touches the disk.
        self.keyring.require(not self.exists())
        private_directory(self.lock_path.parent)
        with contextlib.ExitStack() as held:
            if self.key_lock_path is not None:
                held.enter_context(
                    locking.hold(self.key_lock_path, LOCK_TIMEOUT_SECONDS, shared=True)
                )
            held.enter_context(locking.hold(self.lock_path, LOCK_TIMEOUT_SECONDS))
            yield

    def _load_for_write(self) -> _Opened:
        opened = self._load()
        if opened is None:  # the first write: the only time a new key may be made
            sealing = _checked(self.keyring.new(), self.keyring)
            file = fmt.new_file(self.environment, self.keyring.cipher.name, sealing.header)
            sealer = fmt.Sealer(sealing.key, self.environment)
            return _Opened(sealer, sealing.key, {}, file, None)
        return opened

    def _load(self) -> _Opened | None:
        data = self._read_bytes()
        if data is None:
            return None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self._unreadable(exc) from None
        file = fmt.parse(text, self.location)
        if file.environment != self.environment:
            raise fmt.integrity(
                f"{self.location} belongs to environment {file.environment!r}, "
                f"not {self.environment!r}"
            )
        self._check_header(file)
        key = self.keyring.open(file.header, self.location)
        sealer = fmt.Sealer(key, self.environment)
        sealer.verify(file.body(), file.mac)
        entries = fmt.open_entries(file, sealer)
        self._seen(file.generation or 0)
        return _Opened(sealer, key, entries, file, data)

    def _read_bytes(self) -> bytes | None:
        """The store file's bytes (None: there is none), refusing what is no regular
        file or larger than any store: a pull request chooses what lies at that path."""
        from secconf.core.bounded import NotRegularFile, read_regular

        try:
            data = read_regular(self.path, fmt.MAX_STORE_BYTES)
        except FileNotFoundError:
            return None
        except NotRegularFile:
            raise StoreError(
                f"cannot read the store {self.location}: it is not a regular file",
                hint="a store is a file that secconf wrote; restore it from git",
            ) from None
        except OSError as exc:
            raise self._unreadable(exc) from None
        if len(data) > fmt.MAX_STORE_BYTES:
            raise fmt.integrity(f"{self.location} is larger than any store secconf writes")
        return data

    def _unreadable(self, exc: Exception) -> StoreError:
        return StoreError(
            f"cannot read the store {self.location}: {type(exc).__name__}",
            hint="check the file's permissions and encoding",
        )

    def _check_header(self, file: fmt.StoreFile) -> None:
        """The file's cipher is the one this store is read with, and its header is whole."""
        cipher = self.keyring.cipher
        if file.encryption != cipher.name:
            from secconf.store import ciphers

            if file.encryption not in ciphers.names():
                raise StoreError(
                    f"{self.location} is encrypted with {file.encryption!r}, a cipher this "
                    "secconf does not know",
                    hint="upgrade secconf",
                )
            raise StoreError(
                f"{self.location} is encrypted with the {file.encryption} cipher, not with "
                f"{cipher.name} as its store settings say",
                hint=f"set `encryption: {file.encryption}` in the store settings, or restore "
                "the store from git",
            )
        if tuple(file.header) != cipher.fields:
            raise fmt.integrity(f"{self.location} does not have the fields of a store file")
        problem = cipher.check(file.header)
        if problem is not None:
            raise fmt.integrity(f"{self.location}: {problem}")

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

    def _remove_stale_temp_files(self) -> None:
        # Called under the lock: a temp file of this store can only be left by a writer
        # that was killed before its rename.
        from secconf.core.files import remove_beside

        remove_beside([self.path])

    def _write(self, opened: _Opened, keyring: Keyring | None = None) -> None:
        """Write the store as `opened` holds it now, with the comment of its cipher."""
        # One more than the file's, or than the highest seen here when the file went back:
        # a write made on purpose after the warning moves the store past what was seen.
        generation = 1 + max(opened.file.generation or 0, self.highest_seen or 0)
        opened.file.generation = generation
        comment = (keyring or self.keyring).cipher.comment
        data = fmt.dump(opened.file, opened.sealer, comment)
        self._remove_stale_temp_files()
        write_atomic(self.path, data, mode=0o600, root=self._root, shown=self.location)
        self.highest_seen = None
        self._seen(generation)


def _checked(sealing: Sealing, keyring: Keyring) -> Sealing:
    """The cipher's new header, when it is one its own reader accepts (else a bug)."""
    cipher = keyring.cipher
    if tuple(sealing.header) != cipher.fields or cipher.check(sealing.header) is not None:
        raise RuntimeError(f"the {cipher.name} cipher made a header it would refuse to read")
    return sealing


def _set(opened: _Opened, entry: Entry) -> None:
    """Put `entry` in the store, keeping the ciphertext of the versions it already had."""
    old_doc = opened.file.entries.get(entry.name)
    opened.entries[entry.name] = entry
    opened.file.entries[entry.name] = fmt.entry_doc(opened.sealer, entry, old_doc)


def _put_group(opened: _Opened, values: dict[str, str], now: str) -> dict[str, str]:
    entries = opened.entries
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
            _set(opened, Entry(name, Version(Secret(values[name]), 1, now)))
        return dict.fromkeys(names, "created")
    if all(entries[n].current.value.reveal() == values[n] for n in names):
        return dict.fromkeys(names, "kept")
    version = 1 + max(_all_versions(entries[n]) for n in names)
    for name in names:
        _set(opened, _replaced(entries[name], Version(Secret(values[name]), version, now), now))
    return dict.fromkeys(names, "updated")


def _replaced(old: Entry, new: Version, now: str) -> Entry:
    retired = Version(old.current.value, old.current.version, old.current.created_at, now)
    previous = (*old.previous, retired)[-MAX_PREVIOUS:]
    return Entry(old.name, new, previous)


def _all_versions(entry: Entry) -> int:
    return max([entry.current.version, *(v.version for v in entry.previous)])

"""The on-disk format of a file store, `secconf-store/1`, apart from any cipher.

A store file is, in this order: `format`, `environment`, `cipher` (how values are
sealed: AES-256-GCM), `encryption` (which cipher protects the data key; absent means
`master-key`, as in every file written before ciphers had names), the header fields of
that cipher, `generation` (absent in files written before generations: 0), `entries`
and `mac`. Each value is sealed with AES-256-GCM under a key derived from the store's
data key; its associated data binds the format, the environment, the variable name and
the version. The `mac` is an HMAC-SHA256, under another key derived from the data key,
over everything before it in file order, the cipher's header included. Names, versions
and dates stay readable, and a write keeps the ciphertext of every version it does not
change, so a git diff shows which key changed.

This module never learns where the data key comes from: a cipher
(`secconf.store.ciphers`) opens its header to the data key and hands it over. A store
file arrives by pull request, so `parse` trusts nothing in it: every field is checked,
and every defect is an integrity `StoreError`, never a traceback.
"""

from __future__ import annotations

import base64
import binascii
import functools
import itertools
import os
import re
from collections.abc import Mapping
from typing import Any

from secconf.core.errors import StoreError
from secconf.core.secret import Secret
from secconf.store.base import Entry, Version

FORMAT = "secconf-store/1"
VALUE_CIPHER = "AES-256-GCM"
# The cipher of a file that names none: every file written before ciphers had names.
DEFAULT_ENCRYPTION = "master-key"
# A store holds a few keys per variable (10 previous versions at most); this bounds what a
# hostile file makes secconf read and parse, with room for large imported values.
MAX_STORE_BYTES = 16 << 20

# Patterns as text: `re` compiles them on first use (a command that reads no store pays
# nothing for them) and keeps them compiled.
_LEADING = ("format", "environment", "cipher")
_TRAILING = ("entries", "mac")
_ENTRY_FIELDS = ("version", "created_at", "value", "retired_at", "previous")
_NAME = r"[A-Za-z_][A-Za-z0-9_.-]*"  # variable names, and the environment key
_CIPHER_NAME = r"[a-z0-9][a-z0-9-]{0,39}"
_ENVIRONMENT = r"[a-z0-9][a-z0-9_-]{0,62}"  # environment names, as files name them
_FORMAT_NAME = r"[A-Za-z0-9][A-Za-z0-9./_-]{0,39}"
_DATE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"  # as secconf.store.base.utc_now writes
_TAG = r"[0-9a-f]{64}"
_MAX_COUNT = 1 << 53  # versions and generations: counts, exact in JSON


class DataKey:
    """The 32 secret bytes a store's value and integrity keys are derived from. Never shown."""

    __slots__ = ("material",)

    def __init__(self, material: bytes) -> None:
        from secconf.core import redact

        redact.register(material)  # whichever cipher made it, it never prints
        self.material = material

    def __repr__(self) -> str:
        return "DataKey(********)"

    def same(self, other: DataKey) -> bool:
        """True when both are the same key (compared in constant time)."""
        import hmac as stdlib_hmac

        return stdlib_hmac.compare_digest(self.material, other.material)

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for one purpose (HKDF-SHA256), independent of every other's."""
        return _derive(self.material, purpose)


@functools.lru_cache(maxsize=32)
def _derive(material: bytes, purpose: str) -> bytes:
    """HKDF-SHA256, once per key and purpose in a process: a thousand master-key stores
    share one data key (the master key), so their value and integrity keys are the same."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode())
    return hkdf.derive(material)


class Sealer:
    """AES-256-GCM for values and HMAC-SHA256 for the file, under keys derived from one
    data key, for the store of one environment."""

    def __init__(self, key: DataKey, environment: str) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self.environment = environment
        # The purposes are those the master key was derived for before ciphers were split
        # out: a master-key store's data key is its master key, so its files read as they are.
        self.aead = AESGCM(key.derive("secconf store/1 encryption"))
        self.mac_key = key.derive("secconf store/1 integrity")

    def _aad(self, name: str, version: int) -> bytes:
        return "\0".join((FORMAT, self.environment, name, str(version))).encode()

    def seal(self, name: str, version: int, value: str) -> str:
        """One version of one value, sealed and bound to its place; base64."""
        nonce = os.urandom(12)
        sealed = self.aead.encrypt(nonce, value.encode("utf-8"), self._aad(name, version))
        return base64.b64encode(nonce + sealed).decode("ascii")

    def open(self, name: str, version: int, blob: str) -> Secret:
        """The value sealed in `blob`, or an integrity error when it was not sealed there."""
        from cryptography.exceptions import InvalidTag

        try:
            raw = base64.b64decode(blob, validate=True)
            plain = self.aead.decrypt(raw[:12], raw[12:], self._aad(name, version))
            return Secret(plain.decode("utf-8"))
        except (binascii.Error, ValueError, InvalidTag):
            raise integrity(f"the value of {name} (version {version}) does not decrypt") from None

    def _mac(self, body: Mapping[str, Any]) -> Any:
        """HMAC-SHA256 over the body as canonical JSON, in file order (so order counts)."""
        import json

        from cryptography.hazmat.primitives import hashes, hmac

        mac = hmac.HMAC(self.mac_key, hashes.SHA256())
        mac.update(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())
        return mac

    def tag(self, body: Mapping[str, Any]) -> str:
        """The integrity tag of a file's body (every field before `mac`)."""
        return str(self._mac(body).finalize().hex())

    def verify(self, body: Mapping[str, Any], tag: str) -> None:
        """Raise an integrity error unless `tag` is the body's."""
        from cryptography.exceptions import InvalidSignature

        try:
            self._mac(body).verify(bytes.fromhex(tag))
        except (InvalidSignature, ValueError):
            raise integrity("the file's integrity tag does not match its content") from None


def integrity(detail: str) -> StoreError:
    """The error of a store file that is not as secconf wrote it."""
    return StoreError(
        f"integrity check failed: {detail}",
        hint="the store was edited, truncated or damaged; restore it from git "
        "(`git checkout -- FILE`) and use `secconf keys` to change keys",
    )


class StoreFile:
    """The fields of a store file, checked for shape but not yet for integrity."""

    def __init__(
        self,
        environment: str,
        encryption: str,
        header: dict[str, Any],
        generation: int | None,
        entries: dict[str, dict[str, Any]],
        mac: str = "",
    ) -> None:
        self.environment = environment
        self.encryption = encryption  # the name of the cipher that protects the data key
        self.header = header  # that cipher's fields, in file order
        self.generation = generation  # None: written before generations (reads as 0)
        self.entries = entries  # name -> its sealed versions, as in the file
        self.mac = mac

    def body(self) -> dict[str, Any]:
        """Every field before `mac`, in file order: what the integrity tag covers."""
        body: dict[str, Any] = {
            "format": FORMAT,
            "environment": self.environment,
            "cipher": VALUE_CIPHER,
        }
        if self.encryption != DEFAULT_ENCRYPTION:
            body["encryption"] = self.encryption
        body.update(self.header)
        if self.generation is not None:
            body["generation"] = self.generation
        body["entries"] = self.entries
        return body


def new_file(environment: str, encryption: str, header: Mapping[str, Any]) -> StoreFile:
    """An empty store under a cipher's new header."""
    return StoreFile(environment, encryption, dict(header), 0, {})


def parse(text: str, location: str) -> StoreFile:
    """The fields of a store file, every one checked; an integrity error names the defect."""
    from secconf.core.errors import InputError
    from secconf.core.yamlio import parse_document

    try:
        # Strict YAML: a store file arrives by pull request, and aliases in it could
        # expand to gigabytes.
        data = parse_document(text, location).data
    except InputError:
        raise integrity(f"{location} is not a complete store file") from None
    _check_versions(data, location)
    fields = tuple(data)
    if fields[:3] != _LEADING or fields[-2:] != _TRAILING:
        raise integrity(f"{location} does not have the fields of a store file")
    middle = list(fields[3:-2])
    has_generation = middle[-1:] == ["generation"]
    named = middle[:1] == ["encryption"]
    header = {f: data[f] for f in middle[int(named) : len(middle) - int(has_generation)]}
    encryption = data["encryption"] if named else DEFAULT_ENCRYPTION
    generation = data["generation"] if has_generation else None
    _check_top(data, location)
    if not isinstance(encryption, str) or not re.fullmatch(_CIPHER_NAME, encryption):
        raise integrity(f"{location} names its encryption in a way secconf never writes")
    if named and encryption == DEFAULT_ENCRYPTION:
        # One spelling per file: the default cipher is never named.
        raise integrity(f"{location} does not have the fields of a store file")
    if has_generation and not _is_count(generation, 0):
        raise integrity(f"{location} has a generation that is not a count")
    for name, doc in data["entries"].items():
        _check_entry(name, doc, location)
    entries, mac = data["entries"], data["mac"]
    return StoreFile(data["environment"], encryption, header, generation, entries, mac)


def _check_versions(data: dict[str, Any], location: str) -> None:
    """A file of another format or value cipher: say "upgrade", not "damaged"."""
    for key, ours in (("format", FORMAT), ("cipher", VALUE_CIPHER)):
        value = data.get(key, ours)
        if value != ours and isinstance(value, str) and re.fullmatch(_FORMAT_NAME, value):
            what = "is in format" if key == "format" else "seals its values with"
            raise StoreError(
                f"{location} {what} {value!r}, which this secconf does not read",
                hint="upgrade secconf",
            )


def _check_top(data: dict[str, Any], location: str) -> None:
    if data["format"] != FORMAT or data["cipher"] != VALUE_CIPHER:
        raise integrity(f"{location} is malformed")
    environment = data["environment"]
    if not isinstance(environment, str) or not re.fullmatch(_ENVIRONMENT, environment):
        raise integrity(f"{location} names its environment in a way secconf never writes")
    if not isinstance(data["entries"], dict):
        raise integrity(f"{location} is malformed")
    if not isinstance(data["mac"], str) or not re.fullmatch(_TAG, data["mac"]):
        raise integrity(f"{location} has a malformed integrity tag")


def _check_entry(name: str, doc: Any, location: str) -> None:
    """An entry as secconf writes it: the current version, then older ones in order."""
    if not re.fullmatch(_NAME, name):
        raise integrity(f"{location} has an entry whose name is not a variable name")
    if not isinstance(doc, dict) or not _is_version(doc, current=True):
        raise integrity(f"the entry {name} is malformed")
    previous = doc.get("previous", [])
    if not isinstance(previous, list) or ("previous" in doc and not previous):
        raise integrity(f"the entry {name} is malformed")
    numbers = []
    for old in previous:
        if not isinstance(old, dict) or not _is_version(old, current=False):
            raise integrity(f"the entry {name} is malformed")
        numbers.append(old["version"])
    numbers.append(doc["version"])
    if any(a >= b for a, b in itertools.pairwise(numbers)):
        raise integrity(f"the versions of {name} are out of order")


def _is_version(doc: dict[str, Any], *, current: bool) -> bool:
    """A version as secconf writes it: a retired one has `retired_at`, the current none."""
    fields = ("version", "created_at", "value") if current else _ENTRY_FIELDS[:4]
    given = tuple(k for k in doc if k != "previous") if current else tuple(doc)
    if given != fields:
        return False
    dates = [doc["created_at"], *([] if current else [doc["retired_at"]])]
    return (
        _is_count(doc["version"], 1)
        and all(isinstance(d, str) and re.fullmatch(_DATE, d) for d in dates)
        and isinstance(doc["value"], str)
    )


def _is_count(value: Any, least: int) -> bool:
    return type(value) is int and least <= value < _MAX_COUNT


def open_entries(store: StoreFile, sealer: Sealer) -> dict[str, Entry]:
    """Every entry decrypted, once the file's integrity tag has been verified."""
    return {name: _entry(sealer, name, doc) for name, doc in store.entries.items()}


def _entry(sealer: Sealer, name: str, doc: dict[str, Any]) -> Entry:
    current = _version(sealer, name, doc)
    previous = tuple(_version(sealer, name, p) for p in doc.get("previous", []))
    return Entry(name, current, previous)


def _version(sealer: Sealer, name: str, doc: dict[str, Any]) -> Version:
    number = doc["version"]
    value = sealer.open(name, number, doc["value"])
    return Version(value, number, doc["created_at"], doc.get("retired_at"))


def entry_doc(sealer: Sealer, entry: Entry, old_doc: Mapping[str, Any] | None) -> dict[str, Any]:
    """The file form of an entry, reusing the ciphertext of every version `old_doc` had
    (pass None to seal every version afresh, as under a new data key)."""
    old_blobs: dict[int, str] = {}
    if old_doc is not None:
        for old in (old_doc, *old_doc.get("previous", [])):
            old_blobs[old["version"]] = old["value"]

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


def dump(store: StoreFile, sealer: Sealer, comment: str) -> bytes:
    """The bytes of a store file: the cipher's comment, then the fields and their tag."""
    from secconf.core.yamlio import dump_yaml

    body = store.body()
    data = (comment + dump_yaml({**body, "mac": sealer.tag(body)})).encode("utf-8")
    if len(data) > MAX_STORE_BYTES:
        # Never write a file the reader would refuse.
        raise StoreError(
            f"the store would be {len(data)} bytes, over the {MAX_STORE_BYTES}-byte limit",
            hint="a store keeps keys, not files: store a path or a reference instead",
        )
    return data

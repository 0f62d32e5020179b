"""The master key of a file store: where it comes from, and the keys derived from it.

Sources, first found wins: `SECCONF_MASTER_KEY_<ENV>` (the environment's name in upper
case, `-` as `_`), `SECCONF_MASTER_KEY`, then the key file of the environment's store
settings (default `.secconf/master.key`, git-ignored). Each holds the base64 of 32
random bytes. It is the data key of the stores of the `master-key` cipher
(`secconf.store.ciphers.master_key`), from which the store format derives the keys of
its values (AES-256-GCM) and of its integrity tag (HMAC-SHA256); here HKDF-SHA256
derives the key check that tells a wrong key apart.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from secconf.core.errors import StoreError

KEY_BYTES = 32
ENV_VAR = "SECCONF_MASTER_KEY"


@dataclass(frozen=True)
class MasterKey:
    """32 secret bytes and where they came from (for messages; never the bytes)."""

    material: bytes
    source: str  # "$SECCONF_MASTER_KEY" or a key file path

    def __repr__(self) -> str:
        return f"MasterKey(source={self.source!r})"

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for one purpose, independent of every other purpose's key."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode())
        return hkdf.derive(self.material)

    def key_check(self) -> str:
        """8 hex digits identifying the key, stored beside the data to detect a wrong key."""
        return _key_check(self)


@functools.lru_cache(maxsize=16)
def _key_check(key: MasterKey) -> str:
    """Once per key and process: every store read checks it, and HKDF is not free."""
    return key.derive("secconf store/1 key check").hex()[:8]


def env_var_for(environment: str) -> str:
    """`SECCONF_MASTER_KEY_<ENV>`: the per-environment variable name."""
    return f"{ENV_VAR}_{environment.upper().replace('-', '_')}"


def parse_key(text: str, source: str) -> MasterKey:
    """Decode a base64 master key, or say what is wrong with it (never echoing it)."""
    from secconf.core import redact

    redact.register_credential(text)  # even a malformed key is never printable
    try:
        material = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise StoreError(
            f"the master key in {source} is not valid base64",
            hint="it must be the base64 of 32 random bytes, e.g. from `secconf store init`",
        ) from None
    if len(material) != KEY_BYTES:
        raise StoreError(
            f"the master key in {source} is {len(material)} bytes, not {KEY_BYTES}",
            hint="it must be the base64 of 32 random bytes",
        )
    redact.register_credential(material)
    return MasterKey(material, source)


def find_master_key(
    environment: str, key_file: Path, environ: Mapping[str, str] | None = None
) -> MasterKey | None:
    """The environment's master key from the environment variables or the key file."""
    env = os.environ if environ is None else environ
    for name in (env_var_for(environment), ENV_VAR):
        value = env.get(name)
        if value:
            return parse_key(value, f"${name}")
    identity = _identity(key_file)
    if identity is not None and (known := _known_keys.get(identity)) is not None:
        return known
    text = _read_key_file(key_file)
    key = None if text is None else parse_key(text, str(key_file))
    if key is not None and identity is not None and identity == _identity(key_file):
        if len(_known_keys) >= _KNOWN_KEYS:
            _known_keys.clear()
        _known_keys[identity] = key
    return key


# The keys read from key files, by the file's identity: a thousand stores of one run
# that share a key file read and decode it once. A file replaced or rewritten since
# (another inode, size, modification or change time) is read again.
_KNOWN_KEYS = 64
_known_keys: dict[tuple[str, int, int, int, int, int], MasterKey] = {}


def _identity(key_file: Path) -> tuple[str, int, int, int, int, int] | None:
    try:
        info = os.stat(key_file)
    except OSError:
        return None  # none, or not to be read: _read_key_file says which
    return (
        os.fspath(key_file),
        info.st_dev,
        info.st_ino,
        info.st_size,
        info.st_mtime_ns,
        info.st_ctime_ns,
    )


MAX_KEY_FILE_BYTES = 4096  # a key file holds 45 bytes; anything much larger is not one


def _read_key_file(key_file: Path) -> str | None:
    """The key file's text; None when there is none. A link to nothing is an error, not
    "no key": creating a key there would write through the link, or fail."""
    from secconf.core.bounded import read_regular

    try:
        data = read_regular(key_file, MAX_KEY_FILE_BYTES)
    except FileNotFoundError:
        if not key_file.is_symlink():
            return None
        raise StoreError(
            f"the master key file {key_file} is a symbolic link to {os.readlink(key_file)}, "
            "which does not exist",
            hint="restore the file it points to (stores written with that key need it), "
            "or remove the link",
        ) from None
    except OSError as exc:  # NotRegularFile too: a directory, /dev/zero, a FIFO
        why = exc.strerror or type(exc).__name__
        raise StoreError(f"cannot read the master key file {key_file}: {why}") from None
    if len(data) > MAX_KEY_FILE_BYTES:
        raise StoreError(
            f"cannot read the master key file {key_file}: it is larger than a key file "
            f"({MAX_KEY_FILE_BYTES} bytes at most)",
            hint="a key file holds one line: the base64 of 32 random bytes",
        )
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise StoreError(
            f"cannot read the master key file {key_file}: it is not ASCII text",
            hint="a key file holds one line: the base64 of 32 random bytes",
        ) from None


def create_key_file(key_file: Path, root: Path | None = None) -> tuple[MasterKey, bool]:
    """Create a new key file (mode 0600) unless one exists; return the key it holds and
    whether this call created it.

    Safe when many processes race: the key is written to a private temp file and linked
    into place, which fails if another process linked first; then everyone reads the
    one that won. The temp is made in `.secconf/tmp/` of `root` (git-ignored), or beside
    the key under a name its directory's .gitignore covers before the temp exists, so
    a run killed at any moment never leaves the key where git would see it.
    """
    from secconf.core.files import make_dirs, new_temp, write_error

    try:
        make_dirs(key_file.parent)
        _ignore_in_git(key_file)
        import secrets

        text = base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii") + "\n"
        tmp = new_temp(key_file, root, data=text.encode("ascii"))
        try:
            created = _link(tmp, key_file)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    except OSError as exc:
        raise write_error(exc, str(key_file)) from None
    written = _read_key_file(key_file)
    if written is None:
        raise StoreError(f"the master key file {key_file} vanished while it was created")
    return parse_key(written, str(key_file)), created


def _link(tmp: Path, key_file: Path) -> bool:
    """Link `tmp` to `key_file` unless it exists; True when this call put it there."""
    import errno

    from secconf.core.files import new_temp

    try:
        os.link(tmp, key_file)
    except FileExistsError:
        return False
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        beside = new_temp(key_file, None, data=tmp.read_bytes())  # a name .gitignore covers
        try:
            os.link(beside, key_file)
        except FileExistsError:
            return False
        finally:
            with contextlib.suppress(OSError):
                os.unlink(beside)
    return True


def _ignore_in_git(key_file: Path) -> None:
    """Keep the key out of git even in a repository whose .gitignore forgot it: a
    `.secconf/` directory ignores all it holds; elsewhere only the key file, its `.new`
    and its temp files are added to its directory's .gitignore (the store beside it is
    meant to be committed)."""
    from secconf.core.files import BESIDE_SUFFIX, new_temp

    if key_file.parent.name == ".secconf":
        private_directory(key_file.parent)
        return
    marker = key_file.parent / ".gitignore"
    lines = [key_file.name, key_file.name + ".new", f".{key_file.name}.*{BESIDE_SUFFIX}"]
    with contextlib.suppress(OSError):
        current = marker.read_text(encoding="utf-8") if marker.exists() else ""
        missing = [line for line in lines if line not in current.splitlines()]
        if missing:
            prefix = "" if not current or current.endswith("\n") else "\n"
            note = "# secconf: master keys never go into git\n"
            text = current + prefix + note + "\n".join(missing) + "\n"
            # Atomically: a run killed here must not leave the .gitignore cut short.
            tmp = new_temp(marker, None, data=text.encode("utf-8"), mode=0o644)
            os.replace(tmp, marker)


def private_directory(directory: Path) -> None:
    """Create `directory` (0700) with a .gitignore that ignores everything in it."""
    from secconf.core.files import private_directory as make_private

    make_private(directory)

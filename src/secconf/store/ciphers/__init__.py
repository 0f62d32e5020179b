"""File-store ciphers: what protects a store's data key. One module per cipher.

The store format (`secconf.store.format`) seals every value under keys derived from one
data key; a cipher only provides and protects that data key. Each module of this
package defines `CIPHER = Cipher(...)`: its name (the store file's `encryption:`), the
header fields it writes, how to check them, and how to build the `Keyring` of one store
from the credentials it needs (the master key, an age identity...). `get` and `names`
find them by listing this package, so a new cipher is a new module and nothing else.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

from secconf.core.errors import StoreError
from secconf.store.format import DataKey

if TYPE_CHECKING:
    from secconf.environment.settings import SettingsModel
    from secconf.store.registry import StoreContext


class Sealing(NamedTuple):
    """What a cipher hands the format for a write: its header, and the data key it protects."""

    header: dict[str, Any]  # the cipher's fields (`Cipher.fields`, in that order)
    key: DataKey


@runtime_checkable
class Keyring(Protocol):
    """A cipher bound to the credentials of one environment's store."""

    @property
    def cipher(self) -> Cipher:
        """The cipher this keyring belongs to."""
        ...

    def require(self, creating: bool) -> None:
        """Fail before anything touches the disk when the credential a write needs is
        missing; `creating`: the store does not exist yet (a new key may be made)."""
        ...

    def open(self, header: Mapping[str, Any], location: str) -> DataKey:
        """The data key this header protects, or a StoreError saying whose it is."""
        ...

    def new(self) -> Sealing:
        """The header and data key of a new store file."""
        ...

    def rewrap(self, header: Mapping[str, Any], key: DataKey) -> Sealing:
        """The header for the credentials as they are now, over the store's data key
        (`key`, opened from `header`) or a new one; a new key makes the store re-seal
        every value (as a re-key, or removing an age recipient, must)."""
        ...


class Cipher(NamedTuple):
    """A file-store cipher, as its module registers it."""

    name: str  # `encryption:` in settings and in the store file's header
    summary: str
    fields: tuple[str, ...]  # the header fields it writes, in file order
    check: Callable[[Mapping[str, Any]], str | None]  # what is wrong with a header, if any
    keyring: Callable[[StoreContext], Keyring]  # from the environment's store context
    comment: str  # the comment a store file starts with: why it is safe to commit
    # The model of its own settings fields (none for master-key: its `key_file` is still a
    # field of the file backend's settings).
    settings: type[SettingsModel] | None = None


def get(name: str) -> Cipher:
    """The cipher of this name; a StoreError listing the known ones otherwise."""
    found = _ciphers().get(name)
    if found is None:
        raise StoreError(
            f"there is no file-store cipher {name!r}",
            hint=f"known ciphers: {', '.join(names())}",
        )
    return found


def names() -> tuple[str, ...]:
    """The names of every cipher, sorted."""
    return tuple(sorted(_ciphers()))


@functools.cache
def _ciphers() -> dict[str, Cipher]:
    return discover(__name__)


def discover(package: str) -> dict[str, Cipher]:
    """The `CIPHER` of every module of `package`, by name."""
    import importlib
    import pkgutil

    found: dict[str, Cipher] = {}
    for module in pkgutil.iter_modules(importlib.import_module(package).__path__):
        if module.name.startswith("_"):
            continue  # a private helper module, as in the other registries
        cipher = getattr(importlib.import_module(f"{package}.{module.name}"), "CIPHER", None)
        if not isinstance(cipher, Cipher):
            raise TypeError(f"{package}.{module.name} defines no CIPHER = Cipher(...)")
        if cipher.name in found:
            raise TypeError(f"two modules of {package} define the cipher {cipher.name!r}")
        found[cipher.name] = cipher
    return found

"""The masked type that sensitive values travel in, and their fingerprints.

A `Secret` prints as a mask everywhere (str, repr, f-strings, logs, tracebacks); only
`reveal()` gives the value, and only delivery code calls it. A fingerprint identifies a
value without disclosing it: the first 8 hex digits of an HMAC-SHA256 keyed by the
environment's random key (kept in its store), so that a low-entropy value cannot be
guessed from it. Every value a Secret holds is registered with `secconf.core.redact`, so no
output of the process can show it even if some message formats it by mistake.
"""

from __future__ import annotations

from typing import Final

from secconf.core import redact

MASK: Final = "********"


class Secret:
    """A sensitive string whose str/repr are masked; `reveal()` is the one way out."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        redact.register(value)  # never printable again, whatever message it reaches

    def reveal(self) -> str:
        """The value itself, for delivery (render, store, API call) only."""
        return self._value

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __format__(self, spec: str) -> str:
        return MASK

    def is_empty(self) -> bool:
        """True for the empty string (a documented "(empty)" default), without revealing."""
        return not self._value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        import hmac

        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(("secconf.Secret", self._value))  # str hashing is keyed per process

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret cannot be pickled")


def reveal(value: str | Secret) -> str:
    """The plain string of a value that may or may not be masked."""
    return value.reveal() if isinstance(value, Secret) else value


def fingerprint(value: str | Secret, key: bytes | None) -> str | None:
    """First 8 hex digits of HMAC-SHA256(key, value): shows that a value changed, not what
    it is. None without a key: a fingerprint under a key anyone knows would let anyone
    test guesses of a low-entropy value against it."""
    if key is None:
        return None
    import hashlib
    import hmac

    data = reveal(value).encode("utf-8")
    return hmac.new(key, data, hashlib.sha256).hexdigest()[:8]

"""A schema entry guessed from a name and a value (`secconf import --add-to-schema`).

The type is what pydantic-settings would read the value as: `true`/`false`/`yes`/`no`/
`on`/`off` (any case) a boolean, a plain decimal integer an integer, anything else a
string. A guess errs towards sensitive: a secret taken for a plain setting would be
written into git, a setting taken for a secret only goes to the store.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from secconf.schema.models import VariableType

_BOOLEAN_WORDS = frozenset({"true", "false", "yes", "no", "on", "off"})
# A plain decimal, as it reads back the same once delivered (no leading zero: "0123"
# is more likely a code than a number), within what every language's int holds.
_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
_SECRET_NAME = re.compile(
    r"(?:_KEY|_SECRET)$|TOKEN|PASSWORD|PASSWD|SECRET|PRIVATE|CREDENTIAL|APIKEY|API_KEY"
)
_TOKEN_LIKE = re.compile(r"[A-Za-z0-9+/=_.~-]{20,}")
_SEPARATORS = re.compile(r"[-._~]")
_URL_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/@\s:]*:[^/@\s]+@")
MIN_ENTROPY_BITS = 3.5  # per character; English words stay well under, random keys above


@dataclass(frozen=True)
class Guess:
    """The type and sensitivity guessed for one imported variable."""

    name: str
    type: VariableType
    sensitive: bool


def shannon_bits(text: str) -> float:
    """Shannon entropy of `text`, in bits per character."""
    counts = Counter(text)
    total = len(text)
    return -sum(n / total * math.log2(n / total) for n in counts.values()) if total else 0.0


def _mixed(part: str) -> bool:
    return any(c.isdigit() for c in part) and any(c.isalpha() for c in part)


def high_entropy(value: str) -> bool:
    """A value that looks random: one token of 20+ key-like characters with a run of
    8+ mixing letters and digits (not words joined by `-`, `.` or `_`), and at least
    MIN_ENTROPY_BITS of entropy per character."""
    if not _TOKEN_LIKE.fullmatch(value):
        return False
    parts = _SEPARATORS.split(value)
    return any(len(p) >= 8 and _mixed(p) for p in parts) and shannon_bits(value) >= MIN_ENTROPY_BITS


def looks_secret(name: str, value: str) -> bool:
    """The name says secret (`*_KEY`, `*_SECRET`, `*TOKEN*`, `*PASSWORD*`...), or the
    value is a private key, a URL with a password, or high-entropy text."""
    return bool(
        _SECRET_NAME.search(name.upper())
        or "-----BEGIN" in value
        or _URL_PASSWORD.match(value)
        or high_entropy(value)
    )


def value_type(value: str) -> VariableType:
    """boolean, integer or string, as pydantic-settings would read `value`."""
    if value.lower() in _BOOLEAN_WORDS:
        return "boolean"
    if _INTEGER.fullmatch(value):
        return "integer"
    return "string"


def guess(name: str, value: str) -> Guess:
    """The schema entry for `name`: a sensitive value is a string (delivered as it is)."""
    sensitive = looks_secret(name, value)
    return Guess(name, "string" if sensitive else value_type(value), sensitive)

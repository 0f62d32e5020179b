"""Compare two environments variable by variable, sensitive values by fingerprint."""

from __future__ import annotations

from dataclasses import dataclass

from secconf.core.secret import Secret, fingerprint
from secconf.environment.resolve import Config
from secconf.schema.models import Variable
from secconf.schema.values import canonical_text


def _fingerprint(value: str | Secret, key: bytes | None) -> str:
    return fingerprint(value, key) or "(set; no store key to fingerprint it)"


def _canonical(variable: Variable, value: str | Secret | None) -> str | Secret | None:
    """The value as the application reads it; a sensitive one stays masked (a sensitive
    variable is text, whose canonical form is itself)."""
    if value is None or isinstance(value, Secret):
        return value
    return canonical_text(variable, value)


@dataclass(frozen=True)
class DiffRow:
    """One variable in both environments: shown values (fingerprints if sensitive)."""

    name: str
    sensitive: bool
    left: str | None  # None: not set
    right: str | None
    same: bool

    def to_dict(self) -> dict[str, object]:
        """The JSON form."""
        return {
            "name": self.name,
            "sensitive": self.sensitive,
            "left": self.left,
            "right": self.right,
            "same": self.same,
        }


def compare(left: Config, right: Config, key: bytes | None) -> list[DiffRow]:
    """Every schema variable, compared as the application would read it.

    Both sides' sensitive values are fingerprinted with the same key, so equal values
    show equal fingerprints.
    """
    rows = []
    for name, resolved in left.values.items():
        variable = resolved.variable
        values = [_canonical(variable, config.value(name)) for config in (left, right)]
        shown = [
            None if v is None else (_fingerprint(v, key) if isinstance(v, Secret) else v)
            for v in values
        ]
        rows.append(DiffRow(name, variable.sensitive, shown[0], shown[1], values[0] == values[1]))
    return rows

"""Compare two environments variable by variable, sensitive values by fingerprint."""

from __future__ import annotations

from dataclasses import dataclass

from secconf.core.secret import fingerprint
from secconf.environment.resolve import Config
from secconf.schema.values import canonical_text


def _fingerprint(text: str, key: bytes | None) -> str:
    return fingerprint(text, key) or "(set; no store key to fingerprint it)"


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
        texts = []
        for config in (left, right):
            text = config.text(name)
            texts.append(None if text is None else canonical_text(variable, text))
        shown = [
            None if t is None else (_fingerprint(t, key) if variable.sensitive else t)
            for t in texts
        ]
        rows.append(DiffRow(name, variable.sensitive, shown[0], shown[1], texts[0] == texts[1]))
    return rows

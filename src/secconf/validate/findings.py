"""Findings: what validation says about a configuration, one located fact each."""

from __future__ import annotations

from typing import Literal, NamedTuple

Severity = Literal["error", "warning", "info"]
SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "info": 2}


class Finding(NamedTuple):
    """One finding. `code` is stable across releases; `message` never holds a secret value."""

    code: str
    severity: Severity
    environment: str
    variable: str | None
    message: str
    file: str | None = None
    line: int | None = None
    hint: str | None = None

    def to_dict(self) -> dict[str, object]:
        """The JSON form: exactly the fields above."""
        return dict(self._asdict())


def sort_key(finding: Finding) -> tuple[str, int, int, str, str]:
    """Order findings by file, line, severity, code: the order a reader fixes them in."""
    return (
        finding.file or "",
        finding.line or 0,
        SEVERITY_ORDER[finding.severity],
        finding.code,
        finding.variable or "",
    )

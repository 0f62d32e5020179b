"""The one error root of secconf, and the exit codes every command maps outcomes to."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes shared by every command (DESIGN.md, "Exit codes")."""

    OK = 0
    FINDINGS = 1  # error-level findings, or drift found by `check`
    BAD_INPUT = 2  # bad usage or input, unreachable server, missing key...
    INTERNAL = 3  # a bug in secconf


class SecconfError(Exception):
    """An error the user can act on: a one-line message, where it happened, what to do.

    Messages never hold a secret value: callers name the variable, never its value.
    """

    exit_code: ExitCode = ExitCode.BAD_INPUT

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        file: str | None = None,
        line: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.file = file
        self.line = line

    def location(self) -> str:
        """`file:line: ` prefix, or empty when the error has no source location."""
        if self.file is None:
            return ""
        if self.line is None:
            return f"{self.file}: "
        return f"{self.file}:{self.line}: "

    def __str__(self) -> str:
        text = f"{self.location()}{self.message}"
        return f"{text} ({self.hint})" if self.hint else text


class InputError(SecconfError):
    """Malformed or inconsistent input: YAML, schema, environment files, arguments."""


class StoreError(SecconfError):
    """The secret store cannot be read, decrypted or written."""


class RenderError(SecconfError):
    """A value or template cannot be rendered for a target."""


class DeployError(SecconfError):
    """A live system (Vault, Kubernetes) refused or failed an operation."""


class FindingsError(SecconfError):
    """An operation refused because the configuration has error-level findings."""

    exit_code = ExitCode.FINDINGS

    def __init__(self, message: str, findings: list[object], **kwargs: str | None) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.findings = findings

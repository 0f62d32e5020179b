"""The command line: parse, call the library, format, map outcomes to exit codes."""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run `secconf` with `argv` (default: sys.argv[1:]) and return its exit code."""
    from secconf.cli.app import run

    return run(argv)


__all__ = ["main"]

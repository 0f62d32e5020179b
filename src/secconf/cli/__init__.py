"""The command line: parse, call the library, format, map outcomes to exit codes."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run `secconf` with `argv` (default: sys.argv[1:]) and return its exit code."""
    from secconf.cli.app import run

    return run(argv)


def console_main() -> None:
    """The `secconf` program (console script and `python -m secconf`): a fresh process.

    Start-up builds many long-lived objects (modules, pydantic validators) and frees
    almost none, so cyclic garbage collection during it is wasted work: about a fifth
    of the start-up time of `secconf validate`. It is enabled again as soon as the
    command is loaded (LazyGroup.get_command), and at exit every object is frozen so
    that the interpreter's last collection has nothing to scan.

    Pydantic looks for plugins in every installed distribution's entry points when it
    builds the first model (a scan of all package metadata, about a tenth of the start-
    up); secconf uses none, so the scan is skipped unless the user set
    PYDANTIC_DISABLE_PLUGINS. secconf starts no program, so the setting reaches no child.
    """
    import gc
    import os

    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

    from secconf.core import redact

    redact.protect_process()  # what Python prints itself (an uncaught error) is redacted too
    gc.disable()
    try:
        code = main()
    finally:
        gc.freeze()
    sys.exit(code)


__all__ = ["console_main", "main"]

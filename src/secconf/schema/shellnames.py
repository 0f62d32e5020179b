"""Variable names bash will not assign from a `.env` file, and why.

`set -a; . ./.env` runs each line as an assignment. bash refuses some names (readonly),
silently keeps its own value for others (computed on every read), or resets them before
the child process starts. A schema variable with such a name could never be delivered
through a `.env`, so the schema refuses it when it is loaded.
"""

from __future__ import annotations

from typing import Final

_READONLY: Final = "bash makes it readonly, so `set -a; . ./.env` stops with an error there"
_COMPUTED: Final = "bash computes its value on every read, so the assigned value is lost"
_RESET: Final = "bash resets it before starting a program, so the program never sees the value"
_PREFIX: Final = "bash reserves the BASH_ names for its own state"

# Checked against bash 5 by tests/schema/test_shell_names.py (each one fails to read back).
REFUSED: Final[dict[str, str]] = {
    **dict.fromkeys(("UID", "EUID", "PPID", "BASHOPTS", "SHELLOPTS"), _READONLY),
    **dict.fromkeys(
        (
            "BASHPID", "RANDOM", "SRANDOM", "SECONDS", "LINENO", "HISTCMD", "EPOCHSECONDS",
            "EPOCHREALTIME", "FUNCNAME", "GROUPS", "DIRSTACK", "PIPESTATUS", "COMP_WORDBREAKS",
        ),
        _COMPUTED,
    ),
    **dict.fromkeys(("_", "SHLVL", "OPTIND"), _RESET),
}


def bash_refusal(name: str) -> str | None:
    """Why bash would not deliver a variable called `name` from a `.env`, or None."""
    if name in REFUSED:
        return REFUSED[name]
    if name.startswith("BASH_"):
        return _PREFIX
    return None

"""What python-dotenv reads from a rendered .env, line by line, each line parsed once.

`secconf render --all` checks every .env it writes by parsing it back with python-dotenv;
a thousand environments share most of their lines (a secret from CI, `true`, a
section's comment), and parsing is most of a dotenv render. A file whose every line is
empty, a comment (`#` first) or one whole binding parses, line by line, to the bindings
the whole file parses to: each regex of python-dotenv's grammar that starts inside such
a line ends inside it (a quoted value ends at its first unescaped quote, the rest stop
at the newline), and an empty line only adds whitespace before the next binding. So
each binding line is parsed alone, once per process; any other file is left to
python-dotenv whole (`None`).
"""

from __future__ import annotations

import functools
import io

_MAX_LINE = 1 << 16  # longer lines are parsed with the whole file, not remembered


def read_back(text: str) -> list[tuple[str, str | None]] | None:
    """The (name, value) pairs python-dotenv reads from `text` (no CR), in order; None
    when `text` is not of the line-by-line form above (then parse it whole)."""
    if not text.endswith("\n"):
        return None
    read = []
    for line in text[:-1].split("\n"):
        if not line or line.startswith("#"):
            continue  # no binding, and the next line starts afresh
        if len(line) > _MAX_LINE:
            return None
        binding = _binding(line)
        if binding is None:
            return None
        read.append(binding)
    return read


@functools.lru_cache(maxsize=4096)
def _binding(line: str) -> tuple[str, str | None] | None:
    """The one binding `line` holds alone, when python-dotenv reads it whole and without
    error as exactly one binding with a name; else None."""
    from dotenv.parser import parse_stream

    bindings = list(parse_stream(io.StringIO(line + "\n")))
    if len(bindings) != 1:
        return None
    binding = bindings[0]
    if binding.error or binding.key is None or binding.original.string != line + "\n":
        return None
    return binding.key, binding.value

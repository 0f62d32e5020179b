"""Schema `pattern` constraints, compiled and matched by RE2, which never backtracks.

Python's `re` backtracks: `(a+)+$` against a long run of `a` and one `!` takes longer
than the age of the universe, and a schema file (which may come from a pull request)
chooses the pattern. RE2 matches in time linear in the text, and bounds the memory a
pattern may compile to. It has no backreferences or lookaround: a pattern that needs
them is refused when the schema is loaded. Syntax: https://github.com/google/re2/wiki/Syntax

RE2 is imported only when a schema has a pattern.
"""

from __future__ import annotations

import functools
from typing import Any

# The memory RE2 may use for one pattern (program and match caches); a pattern that needs
# more is refused. Cached patterns are bounded in number too, so a schema of many large
# patterns cannot take more than a few hundred MiB.
MAX_PATTERN_MEMORY = 2 << 20
CACHED_PATTERNS = 128


class PatternError(ValueError):
    """A pattern RE2 cannot compile; the message says why (the pattern is not secret)."""


@functools.lru_cache(maxsize=CACHED_PATTERNS)
def compile_pattern(pattern: str) -> Any:
    """The compiled pattern, or PatternError saying why RE2 refuses it."""
    import re2

    options = re2.Options()
    options.log_errors = False  # RE2 would print the error to stderr itself
    options.max_mem = MAX_PATTERN_MEMORY
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "does not compile"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise PatternError(
            f"pattern is not RE2 syntax ({reason}); backreferences and lookaround are not "
            "supported"
        ) from None


def fullmatch(pattern: str, text: str) -> bool:
    """True when the whole of `text` matches `pattern`, in time linear in the text."""
    # A lone surrogate cannot be UTF-8; as bytes it simply does not match a character.
    data = text.encode("utf-8", "surrogatepass")
    return compile_pattern(pattern).fullmatch(data) is not None

"""Operations: one function per command, typed arguments in, results out.

The CLI parses, calls one of these, formats the result and maps it to an exit code;
library callers and behaviour tests call them directly.
"""

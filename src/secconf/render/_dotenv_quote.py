r"""Quote `.env` values so three different readers all get the same value back.

The readers are python-dotenv (1.2.x, with interpolation on, its default), Docker
Compose's `env_file` parser (compose-go) and bash running `set -a; . ./file`. Each
has its own quoting rules, and the set of values they all read back exactly is
smaller than any one of them can carry:

- single quotes carry almost everything, newlines included, but bash single quotes
  cannot hold `'`, and python-dotenv treats `\\` and `\'` as escapes even there
  (compose-go: `\'`), so two backslashes in a row or a trailing backslash are misread;
- double quotes can hold `'` and backslashes (written `\\`, and `"` as `\"`), but
  inside them bash expands `$` and backquotes, and the bash escapes for those (`\$`,
  a backslash before a backquote) stay literal in python-dotenv;
- python-dotenv expands `${NAME}` and `${NAME:-x}` even inside single quotes and has
  no escape for it; it also reads CR as LF; no environment can hold NUL.

A value outside that common set is refused with `RenderError`, never written in a
form one reader would misread. Messages name the variable, never the value.

A value that needs no quoting at all (only letters, digits and `_ - . , : / @ + = %`, or
nothing) is
written bare: then the literal readers, which keep quotes as part of the value
(`docker run --env-file`, `kubectl create secret generic --from-env-file`), read it back
exactly too. `misreading_readers` says, for any value, which other common readers would
not read back what secconf writes.
"""

from __future__ import annotations

import re
from typing import Final

from secconf.core.errors import RenderError

# The portable POSIX shell name; bash refuses anything else as an assignment.
_NAME_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# Values every reader takes as they are when written bare: no quote, blank, `#`, `$`,
# backquote, backslash, `~` (bash expands it after `=` and `:`), glob or shell operator.
# The empty value too: `NAME=` is the empty string for every reader tested (an unset
# variable would be a line `NAME` without `=`, which secconf never writes).
_BARE_RE: Final = re.compile(r"[A-Za-z0-9_\-.,:/@+=%]*")

# Lone surrogates cannot be encoded as UTF-8, so the file could not even be written
# (and UnicodeEncodeError would quote the offending character in its message).
_SURROGATE_RE: Final = re.compile("[\ud800-\udfff]")

_HINT: Final = (
    "store the value base64-encoded and decode it in the application, "
    "or choose a value without these characters"
)

# Reasons are fixed text: they describe characters in words, so no part of a
# refused value (which always holds one of these characters) can appear in them.
_REASON_CR: Final = "its value contains a carriage return, which python-dotenv reads as a line feed"
_REASON_NUL: Final = "its value contains a NUL character, which no environment variable can hold"
_REASON_BRACE: Final = (
    "its value contains a dollar sign followed by an opening brace, which "
    "python-dotenv expands as a variable reference even inside single quotes"
)
_REASON_SURROGATE: Final = (
    "its value contains a lone UTF-16 surrogate, which cannot be written as UTF-8"
)
_REASON_TRAILING: Final = (
    "its value ends with a backslash: single quotes cannot carry it (python-dotenv reads "
    "the backslash as escaping the closing quote), and in the double-quoted form "
    "python-dotenv before 1.2.3 (which secconf supports) reads the closing quote as "
    "escaped, losing the variable and every line after it up to the next double quote"
)
_REASON_MIXED: Final = (
    "its value needs double quotes (it has a single quote, two backslashes in a row "
    "or a trailing backslash) but also has a dollar sign or a backquote, which bash "
    "expands inside double quotes and python-dotenv cannot escape there"
)


def quote_dotenv_value(name: str, value: str) -> str:
    """The `value` part of a `NAME=value` line, quoted so python-dotenv, Docker
    Compose's env_file parser and bash `set -a; . ./file` all read back exactly `value`.

    `name` is used only in error messages. Raises `RenderError` (naming the variable,
    never showing the value) when no quoting is read back exactly by all three.
    """
    if not isinstance(value, str):
        raise TypeError(f"value of {name} must be str, not {type(value).__name__}")
    reason = _unrepresentable_reason(value)
    if reason is not None:
        raise RenderError(f"cannot write {name} to a .env file: {reason}", hint=_HINT)
    if _BARE_RE.fullmatch(value):
        return value  # the one form the literal readers (docker, kubectl) read exactly
    if _fits_single_quotes(value):
        return f"'{value}'"
    if _fits_double_quotes(value):
        return _double_quote(value)
    raise RenderError(f"cannot write {name} to a .env file: {_REASON_MIXED}", hint=_HINT)


def dotenv_line(name: str, value: str) -> str:
    """One `NAME=<quoted value>` line (without the trailing newline).

    Raises `RenderError` when `name` is not `[A-Za-z_][A-Za-z0-9_]*` or when the value
    cannot be quoted for every reader (see `quote_dotenv_value`). Never writes
    `export `: python-dotenv and compose-go accept it but do not need it, and
    `set -a` exports every assignment for bash.
    """
    _check_name(name)
    return f"{name}={quote_dotenv_value(name, value)}"


def _check_name(name: str) -> None:
    """Refuse names bash would not parse as an assignment (it would run a command)."""
    if not isinstance(name, str) or _NAME_RE.fullmatch(name) is None:
        raise RenderError(
            f"invalid variable name {name!r} for a .env file",
            hint="use letters, digits and underscores, not starting with a digit",
        )


def _unrepresentable_reason(value: str) -> str | None:
    """Why no quoting at all can carry `value`, checked before choosing a quoting."""
    if "\r" in value:
        # python-dotenv opens the file in text mode: universal newlines turn CR and
        # CRLF into LF, in any quoting.
        return _REASON_CR
    if "\0" in value:
        # bash variables and execve's environment are C strings.
        return _REASON_NUL
    if "${" in value:
        # python-dotenv interpolates `${...}` after unquoting, whatever the quotes,
        # and has no escape for it. Refusing every `${` is stricter than its regex
        # (`${a:b}` or an unclosed `${` are left alone) but needs no knowledge of it.
        return _REASON_BRACE
    if _SURROGATE_RE.search(value):
        return _REASON_SURROGATE
    if value.endswith("\\"):
        # Single quotes: python-dotenv reads `\'` as an escaped quote. Double quotes
        # (`"...\\"`): python-dotenv before 1.2.3 matched `\"` as an escaped quote
        # without first pairing the backslashes, so the value ran on to the next `"`.
        return _REASON_TRAILING
    return None


def _fits_single_quotes(value: str) -> bool:
    """Whether `'value'` reads back exactly in all three readers."""
    # bash: a single-quoted string cannot contain `'`, not even escaped.
    # python-dotenv: `\\` and `\'` are escapes inside single quotes, so a `\\` pair
    # reads back as one backslash, and a trailing `\` escapes the closing quote (the
    # line fails to parse and swallows the following lines). compose-go likewise
    # reads `\'` as an escaped quote.
    return "'" not in value and "\\\\" not in value and not value.endswith("\\")


def _fits_double_quotes(value: str) -> bool:
    """Whether `_double_quote(value)` reads back exactly in all three readers."""
    # bash expands `$` and backquotes inside double quotes, and the bash escapes for
    # them (`\$`, backslash-backquote) stay literal in python-dotenv. compose-go also
    # interpolates `$` there, and keeps a backslash-backquote literally.
    return "$" not in value and "`" not in value


def _double_quote(value: str) -> str:
    r"""`"value"`, escaping only `\` and `"`: all three readers decode those alike."""
    # bash, python-dotenv and compose-go all read `\\` as `\` and `\"` as `"`. Every
    # other backslash sequence differs between them (python-dotenv and compose-go
    # decode `\n`, `\t`...; bash keeps them), which escaping every `\` rules out.
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


# The readers `misreading_readers` knows, beyond the three every written value is
# checked against (python-dotenv, Docker Compose, bash). Names as the user types them.
LITERAL_READERS: Final = ("docker run --env-file", "kubectl --from-env-file")
NODE_READERS: Final = ("node --env-file",)
OTHER_READERS: Final = (*LITERAL_READERS, *NODE_READERS)


def misreading_readers(value: str) -> tuple[str, ...]:
    r"""The readers of `OTHER_READERS` that would not read back exactly `value` from the
    line `quote_dotenv_value` writes for it (the value must be one it accepts).

    The literal readers take everything after `=` as it is, so only a bare value reads
    back. Node keeps single-quoted text as it is, and in double quotes decodes `\n`
    only: neither `\\` nor `\"`, so a double-quoted value with a backslash or a `"`
    is misread.
    """
    written = quote_dotenv_value("V", value)
    if written == value:
        return ()
    wrong = list(LITERAL_READERS)
    if written.startswith('"') and ("\\" in value or '"' in value):
        wrong.extend(NODE_READERS)
    return tuple(wrong)

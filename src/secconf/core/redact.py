"""The last line of defence: no known secret or credential reaches stdout or stderr.

Errors never format values in the first place; this module catches what slips through
anyway (a library's exception text in a `--debug` traceback, a server's error body).
It keeps a process-wide registry of sensitive strings of two kinds: secrets (every
`Secret` registers its value) and credentials (secconf's own: master keys, the Vault
token, kubeconfig credentials, the values of `SECCONF_MASTER_KEY*`, `SECCONF_AGE_IDENTITY*`
and `VAULT_TOKEN`). While the CLI runs, stdout and stderr are `RedactingStream`s:
every line printed has each registered value replaced by `[redacted]`, in every form a
message could carry it: as it is, stripped, line by line, JSON- and repr-escaped,
base64 (standard and URL-safe, with and without padding), hex, URL-encoded. Terminal
control characters are stripped from every line too (a value cannot move the cursor,
rewrite a line or set a window title). Only `deliver_stdout` writes past it, for the
artifact a user asked for on stdout (`render --out -`).

Forms shorter than 6 characters are not redacted: a short string occurs by chance in
ordinary text, and replacing it would mangle every message (`is_known` still matches
short values exactly). Forms are computed lazily, at the first scan after a
registration, and looked up by 4-character grams at every third position of a line, so
a scan costs about the same with thousands of registered values as with one.

This module imports nothing heavy: `Secret` registers through it on every value.
"""

from __future__ import annotations

import io
import re
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Final, TextIO

REDACTED: Final = "[redacted]"
MIN_LENGTH: Final = 6  # shorter forms are left alone: see the module docstring
_LINE_MIN: Final = 8  # each line of a multi-line value is a form when at least this long
_GRAM: Final = 4  # with _STRIDE 3, every form of >= 6 characters has a gram at a scanned spot
_STRIDE: Final = 3


class _Index:
    """Registered values and every form of them, found in text by sampled grams."""

    def __init__(self) -> None:
        self._pending: list[str | bytes] = []
        self._done: set[str | bytes] = set()
        self._exact: set[str] = set()
        # gram -> [(form, offset of the gram in the form)]; `spans` says why it finds all
        self._grams: dict[str, list[tuple[str, int]]] = {}
        self._lock = threading.Lock()

    def add(self, value: str | bytes) -> None:
        """Remember a value; its forms are computed at the next scan."""
        if value:
            self._pending.append(value)  # list.append is atomic: no lock on this path

    def reset(self) -> None:
        """Forget every value (for tests that run many CLI invocations in one process)."""
        with self._lock:
            self._pending, self._done, self._exact, self._grams = [], set(), set(), {}

    def _refresh(self) -> None:
        if not self._pending:
            return
        with self._lock:
            # Removed from the list only once indexed: a scan in another thread that
            # sees the list empty can rely on every value in it being found.
            pending = self._pending[:]
            for value in pending:
                if value in self._done:
                    continue
                self._done.add(value)
                if isinstance(value, str):
                    self._exact.update({value, value.strip()} - {""})
                for form in _forms(value):
                    for offset in range(_STRIDE):
                        self._grams.setdefault(form[offset : offset + _GRAM], []).append(
                            (form, offset)
                        )
            del self._pending[: len(pending)]

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where registered forms occur in `text`, overlapping spans merged."""
        self._refresh()
        grams = self._grams
        if not grams or len(text) < MIN_LENGTH:
            return []
        found: list[tuple[int, int]] = []
        get = grams.get
        # A form of length >= 6 starting at i covers the 4 characters at j, the first
        # multiple of 3 at or after i (j - i <= 2, and j - i + 4 <= 6): looking up the
        # gram at every third position finds it, under the offset j - i.
        for j in range(0, len(text) - _GRAM + 1, _STRIDE):
            entries = get(text[j : j + _GRAM])
            if entries is None:
                continue
            for form, offset in entries:
                start = j - offset
                if start >= 0 and text.startswith(form, start):
                    found.append((start, start + len(form)))
        return _merged(found)

    def contains(self, text: str) -> bool:
        """True when `text` is a registered value or holds a form of one."""
        self._refresh()
        return text in self._exact or text.strip() in self._exact or bool(self.spans(text))


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    # Overlapping matches are replaced as one: replacing only the leftmost would leave
    # the tail of the other readable.
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _forms(value: str | bytes) -> set[str]:
    """Every form of a value that a message could carry, at least MIN_LENGTH long."""
    import base64
    import json
    from urllib.parse import quote, quote_plus

    forms: set[str] = set()
    blobs: list[bytes] = []
    if isinstance(value, bytes):
        blobs.append(value)
    else:
        texts = {value, value.strip()}
        if "\n" in value or "\r" in value:
            texts.update(line.strip() for line in value.splitlines())
            texts = {t for t in texts if len(t) >= _LINE_MIN or t in (value, value.strip())}
        for text in texts:
            data = text.encode("utf-8", "surrogatepass")
            blobs.append(data)
            forms.update((text, printable(text)))  # printable: as the stream shows it
            forms.add(json.dumps(text)[1:-1])
            forms.add(json.dumps(text, ensure_ascii=False)[1:-1])
            forms.add(repr(text)[1:-1])
            forms.add(repr(data)[2:-1])
            forms.add(quote(data, safe=""))
            forms.add(quote_plus(data, safe=""))
    for data in blobs:
        for encoded in (base64.b64encode(data), base64.urlsafe_b64encode(data)):
            text = encoded.decode("ascii")
            forms.update((text, text.rstrip("=")))
        forms.update((data.hex(), data.hex().upper()))
    return {f for f in forms if len(f) >= MIN_LENGTH}


def named_forms(value: str) -> dict[bytes, str]:
    """The forms of a value that `secconf scan` looks for, each with its encoding: the
    value as it is (`plain`), `url` (percent-encoded), `base64` and `base64url`
    (unpadded, so that a padded one is found too) and `hex` (either case), as UTF-8.
    A form that two encodings share is named by the first of that order."""
    import base64
    from urllib.parse import quote

    data = value.encode("utf-8", "surrogatepass")
    forms: dict[bytes, str] = {}
    candidates = [
        (data, "plain"),
        (quote(data, safe="").encode("ascii"), "url"),
        (base64.b64encode(data).rstrip(b"="), "base64"),
        (base64.urlsafe_b64encode(data).rstrip(b"="), "base64url"),
        (data.hex().encode("ascii"), "hex"),
        (data.hex().upper().encode("ascii"), "hex"),
    ]
    for form, encoding in candidates:
        forms.setdefault(form, encoding)
    return forms


_SECRETS = _Index()  # every secret and every credential
_CREDENTIALS = _Index()  # secconf's own credentials only


def register(value: str | bytes) -> None:
    """Make a sensitive value unprintable for the rest of the process (cheap: no work
    until the next scan)."""
    _SECRETS.add(value)


def register_credential(value: str | bytes) -> None:
    """As `register`, and mark the value as one of secconf's own credentials, which
    `from_env` may never read (`is_credential`)."""
    _SECRETS.add(value)
    _CREDENTIALS.add(value)


def redact(text: str) -> str:
    """`text` with every registered secret or credential, in any form, as `[redacted]`."""
    spans = _SECRETS.spans(text)
    if not spans:
        return text
    out: list[str] = []
    last = 0
    for start, end in spans:
        out += [text[last:start], REDACTED]
        last = end
    out.append(text[last:])
    return "".join(out)


def is_known(text: str) -> bool:
    """True when `text` is, or holds, a registered secret or credential: a message may
    not show it even as the value of a non-sensitive variable."""
    return _SECRETS.contains(text)


def is_credential(text: str) -> bool:
    """True when `text` is, or holds, one of secconf's own credentials."""
    return _CREDENTIALS.contains(text)


def reset() -> None:
    """Forget every registered value. For tests; a process never needs it."""
    _SECRETS.reset()
    _CREDENTIALS.reset()


def quoted_message(text: str, limit: int = 200) -> str:
    """Another party's message (a server's error, a library's), fit to show: redacted
    first (so that a cut cannot leave half a value), then its first line up to any
    payload it echoes back (from the first `{`), controls stripped, at most `limit`
    characters."""
    safe = printable(redact(text)).strip()
    first = safe.splitlines()[0] if safe else ""
    return first.split("{", 1)[0].rstrip(" :")[:limit]


# -- the process environment ---------------------------------------------------------

# secconf's own credentials (prefixes of variable names)
_CREDENTIAL_VARIABLES: Final = ("SECCONF_MASTER_KEY", "SECCONF_AGE_IDENTITY", "VAULT_TOKEN")
# Names that CI gives secrets under (GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY, NPM_TOKEN...).
_SECRET_NAME = re.compile(
    r"(?:^|_)(?:TOKEN|SECRET|PASSWORD|PASSWD|PASS|PRIVATE|CREDENTIALS?|APIKEY)(?:_|$)|(?:^|_)KEY$",
    re.IGNORECASE,
)


def register_environment(environ: Mapping[str, str]) -> None:
    """Register the credentials and the secret-looking values of the process environment
    (never addresses or paths: VAULT_ADDR, SECCONF_ROOT, KUBECONFIG stay printable), and
    the credentials of the Vault token file and the kubeconfig the clients would read,
    so that even one that fails to load cannot show them."""
    import os

    for name, value in environ.items():
        if name.upper().startswith(_CREDENTIAL_VARIABLES):
            register_credential(value)
        elif (
            len(value) >= MIN_LENGTH
            and _SECRET_NAME.search(name)
            and not name.upper().endswith(("_ADDR", "_URL", "_HOST"))
            and "PUBLIC" not in name.upper()
            and not re.fullmatch(_WORD, value.strip())
        ):
            register(value)
    home = os.path.expanduser(environ.get("HOME") or "~")
    register_credential(_small_file(os.path.join(home, ".vault-token")).strip())
    kubeconfig = environ.get("KUBECONFIG") or os.path.join(home, ".kube", "config")
    for path in kubeconfig.split(os.pathsep):
        register_kubeconfig_text(_small_file(os.path.expanduser(path)))


# A guessed secret (by its variable's name) that is one short word or a number is more
# likely a setting (CACHE_KEY=production): redacting it would mangle every message.
_WORD = r"[A-Za-z]{1,12}|[0-9]+"

# Kubeconfig keys whose values are credentials (users[].user, auth-provider config).
_KUBECONFIG_CREDENTIAL = (
    r"(?m)^[ \t-]*[\"']?(token|password|client-key-data|client-secret|access-token|id-token|"
    r"refresh-token)[\"']?[ \t]*:[ \t]*(.*)$"
)


def register_kubeconfig_text(text: str) -> None:
    """Register the credentials of a kubeconfig read line by line (YAML or JSON), so
    that one that is not valid YAML still cannot show them."""
    import base64
    import binascii
    import contextlib

    for match in re.finditer(_KUBECONFIG_CREDENTIAL, text):
        value = match.group(2).rstrip(" \t\r,").strip("\"'")
        register_credential(value)
        if match.group(1) == "client-key-data":
            with contextlib.suppress(binascii.Error, ValueError):
                register_credential(base64.b64decode(value))


def _small_file(path: str) -> str:
    """The text of a credentials file (its first MiB), or "" when there is none."""
    try:
        with open(path, "rb") as handle:
            return handle.read(1 << 20).decode("utf-8", "replace")
    except OSError:
        return ""


# -- terminal control characters -----------------------------------------------------

_SGR = r"\x1b\[[0-9;]*m"  # colours, as `validate` prints on a terminal: kept
_CONTROLS = re.compile(
    _SGR + r"|("
    r"\x1b\[[0-?]*[ -/]*[@-~]?"  # other CSI sequences (cursor moves, erase, ...)
    r"|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC (titles, hyperlinks), DCS, PM, APC
    r"|\x1b[ -/]*[0-~]?"  # any other escape
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"  # C0 but tab and newline, DEL, C1
    "|[\u200e\u200f\u202a-\u202e\u2066-\u2069\u061c]"  # bidi overrides (Trojan Source)
    r")"
)


def printable(text: str) -> str:
    """`text` without terminal control characters (tab, newline and colours kept)."""
    return _CONTROLS.sub(lambda m: "" if m.group(1) else m.group(0), text)


# -- the streams -----------------------------------------------------------------------


class RedactingStream(io.TextIOBase):
    """A text stream that redacts and strips control characters before writing to the
    stream it wraps. Buffers up to a line end, so that a value written in two pieces is
    still found; `flush()` writes the rest (a prompt still shows). Its `.buffer` takes
    bytes into the same redaction (click writes completions as bytes); there is no
    `fileno()`: nothing reaches the wrapped stream around it."""

    def __init__(self, raw: TextIO) -> None:
        super().__init__()
        self._raw = raw
        self._pending = ""
        self._lock = threading.RLock()
        self.buffer = _RedactingBuffer(self)

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._raw, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str:  # type: ignore[override]
        return "backslashreplace"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        with suppress(AttributeError, ValueError, OSError):
            return bool(self._raw.isatty())
        return False

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        with self._lock:
            self._pending += text
            cut = self._pending.rfind("\n") + 1
            if cut:
                chunk, self._pending = self._pending[:cut], self._pending[cut:]
                self._emit(chunk)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                chunk, self._pending = self._pending, ""
                self._emit(chunk)
            self._raw.flush()

    def _emit(self, text: str) -> None:
        # Stripped first, then redacted: the forms include each value as stripped too.
        safe = redact(printable(text))
        try:
            self._raw.write(safe)
        except UnicodeEncodeError:
            encoding = self.encoding
            self._raw.write(safe.encode(encoding, "backslashreplace").decode(encoding, "replace"))


class _RedactingBuffer(io.RawIOBase):
    """The bytes side of a RedactingStream: decoded as UTF-8, then redacted like text."""

    def __init__(self, text: RedactingStream) -> None:
        super().__init__()
        import codecs

        self._text = text
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        chunk = bytes(data)
        self._text.write(self._decoder.decode(chunk))
        return len(chunk)

    def flush(self) -> None:
        self._text.flush()


def _raw(stream: TextIO) -> TextIO:
    return stream._raw if isinstance(stream, RedactingStream) else stream


def deliver_stdout(data: bytes) -> None:
    """Write an artifact the user asked for to stdout as it is, past the redaction: the
    one deliberate way out (`render --out -`)."""
    stream = sys.stdout
    stream.flush()
    raw = _raw(stream)
    buffer = getattr(raw, "buffer", None)
    if buffer is not None:
        raw.flush()
        buffer.write(data)
        buffer.flush()
    else:
        raw.write(data.decode("utf-8", "replace"))
        raw.flush()


def raw_stderr() -> TextIO:
    """The terminal's stderr, for the progress bar only: it shows counts, never a value,
    and its cursor movements would be stripped by the redacting stream."""
    return _raw(sys.stderr)


@contextmanager
def redacted_output() -> Iterator[None]:
    """Wrap stdout and stderr in RedactingStreams for the duration (once: nested uses
    keep the outer ones)."""
    saved = sys.stdout, sys.stderr
    if sys.stdout is not None and not isinstance(sys.stdout, RedactingStream):
        sys.stdout = RedactingStream(sys.stdout)
    if sys.stderr is not None and not isinstance(sys.stderr, RedactingStream):
        sys.stderr = RedactingStream(sys.stderr)
    try:
        yield
    finally:
        for stream, original in zip((sys.stdout, sys.stderr), saved, strict=True):
            if stream is not None and stream is not original:
                with suppress(OSError, ValueError):
                    stream.flush()
        sys.stdout, sys.stderr = saved


def protect_process() -> None:
    """Wrap stdout and stderr for the rest of the process: what Python itself prints
    (an uncaught exception, a warning at exit) is redacted too. Interpreter shutdown
    flushes them."""
    if sys.stdout is not None and not isinstance(sys.stdout, RedactingStream):
        sys.stdout = RedactingStream(sys.stdout)
    if sys.stderr is not None and not isinstance(sys.stderr, RedactingStream):
        sys.stderr = RedactingStream(sys.stderr)


# -- a child's output, each value shown as its variable (`secconf run --redact`) ---------

# A tail held back that grows past this (overlapping values back to back, without end)
# is written out: memory stays bounded whatever the child prints.
_HELD_MAX: Final = 1 << 16


class StreamRedactor:
    """Rewrites a byte stream so that every form of each value (as `redact` knows them:
    as it is, base64, base64url, URL-encoded, hex, JSON- and repr-escaped...) shows as
    its label, e.g. `[secconf:JWT_SECRET_KEY]`. Streaming: `feed` returns what is safe
    to write now and holds back only the longest end of the input that could begin a
    form, so a value split across two reads is still found, and a prompt without a
    newline still shows; `finish` returns the rest. Other bytes pass unchanged."""

    def __init__(self, labels: Mapping[str, str]) -> None:
        from secconf.core.literals import Literals

        self._labels: dict[bytes, bytes] = {}
        for value, label in labels.items():
            for form in sorted(_forms(value)):
                data = form.encode("utf-8", "surrogatepass")
                self._labels.setdefault(data, label.encode("utf-8"))
        self._literals = Literals(self._labels)
        self._sorted = sorted(self._labels)
        self._firsts = {f[0] for f in self._labels}
        self._held = b""

    def feed(self, data: bytes) -> bytes:
        """The redacted bytes that can be written now."""
        return self._rewrite(self._held + data, final=False)

    def finish(self) -> bytes:
        """What was held back, redacted: the stream has ended."""
        return self._rewrite(self._held, final=True)

    def _rewrite(self, data: bytes, *, final: bool) -> bytes:
        cut = len(data) if final else len(data) - self._open_end(data)
        out: list[bytes] = []
        pos = 0
        for start, end in _merged_strict(self._literals.spans(data)):
            if start >= cut:
                break
            if end > cut and not final and len(data) - start <= _HELD_MAX:
                cut = start  # another form may overlap its end: decide with more input
                break
            out += [data[pos:start], self._label(data[start:end])]
            pos = end
        cut = max(cut, pos)
        out.append(data[pos:cut])
        self._held = data[cut:]
        return b"".join(out)

    def _open_end(self, data: bytes) -> int:
        """The length of the longest end of `data` that a form begins with."""
        for k in range(min(len(data), self._literals.longest - 1), 0, -1):
            if data[-k] in self._firsts and self._begins_a_form(data[-k:]):
                return k
        return 0

    def _begins_a_form(self, end: bytes) -> bool:
        import bisect

        index = bisect.bisect_left(self._sorted, end)
        return index < len(self._sorted) and self._sorted[index].startswith(end)

    def _label(self, span: bytes) -> bytes:
        # Merged overlapping forms are shown as the label of the form they start with.
        found = next(self._literals.spans(span, overlapping=False), None)
        return self._labels.get(found[2], REDACTED.encode()) if found else REDACTED.encode()


def _merged_strict(spans: Iterator[tuple[int, int, bytes]]) -> list[tuple[int, int]]:
    """Overlapping spans merged; spans that only touch stay apart (two labels)."""
    out: list[tuple[int, int]] = []
    for start, end, _ in sorted(spans):
        if out and start < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out

"""A loopback HTTP server that speaks the HashiCorp Vault API, for tests.

It models the parts of Vault that secconf touches: the KV version 2 secrets
engine (data, metadata, delete/undelete/destroy, config), ``sys/health``,
``sys/seal-status``, ``auth/token/lookup-self``, tokens limited by path globs,
Enterprise namespaces (``X-Vault-Namespace``) and sealing.  Status codes, error
bodies and response envelopes follow Vault's own code (the vault repository's
``http``/``sdk/logical`` packages and ``vault-plugin-secrets-kv``), so hvac
raises the same exceptions and sees the same JSON as against a real server.

On top of that it offers test hooks: request recording and counting, injected
failures, delays and dropped connections, and backdoor reads and writes.

Usage::

    with VaultServer(token="root-token") as vault:
        client = hvac.Client(url=vault.url, token=vault.token)

Only the standard library is used.
"""

from __future__ import annotations

import contextlib
import copy
import http.server
import json
import re
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import Message
from http import HTTPStatus
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

__all__ = ["RequestRecord", "VaultServer", "vault_env"]

# Reported by sys/health and sys/seal-status.  "+ent" because namespaces are
# an Enterprise feature and this server honours X-Vault-Namespace.
VAULT_VERSION = "1.17.6+ent"
# vault-plugin-secrets-kv keeps this many versions when neither the key nor
# the mount sets max_versions.
DEFAULT_MAX_VERSIONS = 10
# Error texts copied from Vault so that clients matching on them behave alike.
CAS_MISMATCH = "check-and-set parameter did not match the current version"
CAS_REQUIRED = "check-and-set parameter required for this call"
PERMISSION_DENIED = "permission denied"
# Vault wraps ACL denials in a go-multierror, which renders like this.
ACL_DENIED = "1 error occurred:\n\t* permission denied\n\n"
SEALED = "Vault is sealed"
MERGE_PATCH = "application/merge-patch+json"

_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_KV_WRITE_SEGMENTS = frozenset({"data", "metadata", "delete", "undelete", "destroy"})
_TRUE_WORDS = frozenset({"1", "t", "T", "true", "TRUE", "True"})
_FALSE_WORDS = frozenset({"0", "f", "F", "false", "FALSE", "False"})
# Paths Vault's built-in "default" policy opens to every valid token.
_DEFAULT_POLICY_PATHS = (
    re.compile(r"auth/token/lookup-self"),
    re.compile(r"auth/token/renew-self"),
    re.compile(r"auth/token/revoke-self"),
    re.compile(r"sys/capabilities-self"),
    re.compile(r"sys/internal/ui/mounts(/.*)?"),
)
# Characters Go's encoding/json escapes inside strings.
_GO_ESCAPES = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)
# The error Vault itself gives for each status, used by fail_next.
_FAULT_ERRORS: dict[int, list[str]] = {
    400: ["invalid request"],
    401: [],
    403: [PERMISSION_DENIED],
    404: [],
    405: ["unsupported operation"],
    412: ["required index state not present"],
    500: ["internal error"],
    501: ["Vault is not initialized"],
    502: ["upstream rate limited"],
    503: [SEALED],
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d)")
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}


# --------------------------------------------------------------------------
# Public records
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestRecord:
    """One request the server received.

    ``path`` is the URL path as sent (``/v1/secret/data/app``), without the
    query string; ``query`` holds the query parameters (last value wins);
    ``body`` is the parsed JSON object or None; ``status`` is the status
    answered, 0 when the connection was dropped; ``namespace`` is the
    normalised X-Vault-Namespace value or None for the root namespace.
    """

    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any] | None
    status: int
    namespace: str | None


def vault_env(server: VaultServer) -> dict[str, str]:
    """Return the environment variables that point Vault clients at ``server``."""
    return {"VAULT_ADDR": server.url, "VAULT_TOKEN": server.token}


# --------------------------------------------------------------------------
# Encoding helpers: make the bytes look like Go's encoding/json output
# --------------------------------------------------------------------------


def _go_value(value: Any) -> Any:
    """Shape ``value`` as Go would emit it after a JSON round trip.

    Go sorts map keys, and KV v2 decodes stored secrets into
    ``map[string]interface{}``, so numbers come back as float64: 1.0 prints
    as 1 and integers beyond 2**53 lose precision, exactly as with Vault.
    """
    if isinstance(value, dict):
        return {key: _go_value(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_go_value(item) for item in value]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    try:
        number = float(value)
    except OverflowError:
        return value
    if number.is_integer() and abs(number) < 1e21:
        return int(number)
    return number


def _encode(body: Mapping[str, Any], *, sort_maps: bool = True, newline: bool = True) -> bytes:
    """Serialise ``body`` the way Vault's Go HTTP layer does.

    Top-level keys keep their order (they come from Go structs); nested maps
    are sorted when ``sort_maps``.  json.Encoder, which Vault uses for normal
    responses, appends a newline; json.Marshal, used for raw 404 bodies,
    does not.
    """
    shaped = {key: _go_value(item) for key, item in body.items()} if sort_maps else dict(body)
    text = json.dumps(shaped, separators=(",", ":"), ensure_ascii=False)
    for raw, escaped in _GO_ESCAPES:
        text = text.replace(raw, escaped)
    return (text + ("\n" if newline else "")).encode("utf-8")


def _timestamp(ns: int | None) -> str:
    """Format nanoseconds since the epoch as Go's RFC 3339 (nano) UTC string."""
    if ns is None:
        return ""
    seconds, fraction = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    digits = f"{fraction:09d}".rstrip("0")
    return f"{base}.{digits}Z" if digits else f"{base}Z"


def _format_duration(seconds: int) -> str:
    """Format whole seconds as Go's time.Duration.String() does ("1h0m0s")."""
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{sign}{minutes}m{secs}s"
    return f"{sign}{secs}s"


def _parse_duration(value: Any) -> int:
    """Parse a Vault duration (seconds as a number, or "1h30m") into seconds."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}")
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip()
    sign = -1 if text.startswith("-") else 1
    text = text.lstrip("+-")
    if text.isdigit():
        return sign * int(text)
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"invalid duration {value!r}")
    total = sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)
    return sign * int(total)


def _parse_bool(value: Any) -> bool:
    """Parse a boolean the way Go's strconv.ParseBool (and Vault's fields) do."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    text = str(value)
    if text in _TRUE_WORDS:
        return True
    if text in _FALSE_WORDS:
        return False
    raise ValueError(f"invalid boolean {value!r}")


def _parse_int(value: Any) -> int:
    """Parse an integer field the way mapstructure's weak decoding does."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    text = str(value).strip()
    if text == "":
        return 0
    return int(text, 0) if text.lower().startswith(("0x", "0o", "0b")) else int(text)


def _weak_string(value: Any) -> str:
    """Convert a custom_metadata value to a string as mapstructure.WeakDecode does."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (str, int, float)):
        return str(value)
    raise ValueError(f"'' expected type 'string', got unconvertible type '{type(value).__name__}'")


def _merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7396 JSON merge patch, as Vault's PATCH operations do."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


def _policy_glob(pattern: str) -> re.Pattern[str]:
    """Compile a Vault ACL path glob: "+" is one segment, a trailing "*" a prefix."""
    prefix = pattern.endswith("*")
    body = pattern[:-1] if prefix else pattern
    regex = "[^/]+".join(re.escape(piece) for piece in body.split("+"))
    return re.compile(regex + (".*" if prefix else ""))


def _normalise_namespace(value: str | None) -> str | None:
    """Normalise an X-Vault-Namespace value: "ns1/", "/ns1" and "ns1" are one."""
    if value is None:
        return None
    cleaned = value.strip().strip("/")
    return cleaned or None


def _api_path(path: str) -> str:
    """Strip the leading "/" and "v1/" so paths and prefixes compare alike."""
    cleaned = path.lstrip("/")
    return cleaned[3:] if cleaned.startswith("v1/") else cleaned


def _media_type(header: str | None) -> str:
    """Return the media type of a Content-Type header, without parameters."""
    return (header or "").split(";", 1)[0].strip().lower()


# --------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Response:
    """A response ready to send: status and body (headers are always Vault's), and the
    Location of a redirect."""

    status: int
    body: bytes = b""
    location: str | None = None


def _error(status: int, errors: Sequence[str] = ()) -> _Response:
    """Vault's error body: {"errors": [...]} (an empty list for a plain 404)."""
    return _Response(status, _encode({"errors": list(errors)}))


def _envelope(data: Any, *, mount_type: str, warnings: list[str] | None = None) -> dict[str, Any]:
    """The logical.HTTPResponse struct, fields in Go declaration order."""
    return {
        "request_id": str(uuid.uuid4()),
        "lease_id": "",
        "renewable": False,
        "lease_duration": 0,
        "data": data,
        "wrap_info": None,
        "warnings": warnings,
        "auth": None,
        "mount_type": mount_type,
    }


def _ok(data: Any, *, mount_type: str, warnings: list[str] | None = None) -> _Response:
    """A 200 response carrying ``data`` in Vault's envelope."""
    return _Response(200, _encode(_envelope(data, mount_type=mount_type, warnings=warnings)))


def _no_content() -> _Response:
    """A 204: Vault's answer to writes and deletes that return nothing."""
    return _Response(204)


def _raw_not_found(data: Any, warnings: list[str] | None = None) -> _Response:
    """A 404 that still carries an envelope (logical.RespondWithStatusCode).

    The plugin builds these responses itself, so the router never fills in
    mount_type, and they are json.Marshal'ed (no trailing newline).
    """
    body = _envelope(data, mount_type="", warnings=warnings)
    return _Response(404, _encode(body, newline=False))


# --------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------


@dataclass
class _Version:
    """One version of a KV v2 secret."""

    data: dict[str, Any] | None
    created_ns: int
    deletion_ns: int | None = None
    destroyed: bool = False

    def is_deleted(self, now_ns: int) -> bool:
        """Soft-deleted versions have a deletion time in the past."""
        return self.deletion_ns is not None and self.deletion_ns <= now_ns

    def summary(self) -> dict[str, Any]:
        """The per-version fields Vault reports in metadata reads."""
        return {
            "created_time": _timestamp(self.created_ns),
            "deletion_time": _timestamp(self.deletion_ns),
            "destroyed": self.destroyed,
        }


@dataclass
class _KeyMeta:
    """The metadata record of one KV v2 key (KeyMetadata in the plugin)."""

    versions: dict[int, _Version] = field(default_factory=dict)
    current_version: int = 0
    oldest_version: int = 0
    created_ns: int | None = None
    updated_ns: int | None = None
    max_versions: int = 0
    cas_required: bool = False
    delete_version_after: int = 0
    custom_metadata: dict[str, str] | None = None

    def version_metadata(self, number: int, version: _Version) -> dict[str, Any]:
        """The "metadata" block of a data read or the "data" of a write."""
        return {"version": number, "custom_metadata": self.custom_metadata, **version.summary()}


@dataclass
class _MountConfig:
    """A KV v2 mount's config endpoint values."""

    max_versions: int = 0
    cas_required: bool = False
    delete_version_after: int = 0


@dataclass
class _KvStore:
    """The keys of one KV v2 mount in one namespace."""

    keys: dict[str, _KeyMeta] = field(default_factory=dict)
    config: _MountConfig = field(default_factory=_MountConfig)


@dataclass
class _Token:
    """A token: the root token (no path list) or one limited to path globs."""

    token_id: str
    accessor: str
    policies: list[str]
    allow: tuple[re.Pattern[str], ...] | None
    read_only: bool
    created: float
    display_name: str

    @property
    def is_root(self) -> bool:
        """Root tokens skip ACL checks altogether, as in Vault."""
        return self.allow is None


@dataclass
class _Fault:
    """An injected failure, delay or dropped connection for the next n requests."""

    kind: str
    remaining: int
    prefix: str | None
    status: int = 0
    seconds: float = 0.0
    errors: list[str] | None = None
    method: str | None = None  # only requests of this method, when set
    location: str = ""  # where a redirect points


@dataclass
class _Request:
    """A request parsed into Vault's terms."""

    method: str
    url_path: str
    path: str
    operation: str
    query: dict[str, str]
    body: dict[str, Any] | None
    namespace: str | None
    token: str | None
    content_type: str
    problem: _Response | None = None


# --------------------------------------------------------------------------
# KV v2 engine logic (mirrors vault-plugin-secrets-kv)
# --------------------------------------------------------------------------


def _deletion_ns(base_ns: int, *durations: int) -> int | None:
    """When a new version auto-deletes: the shortest positive delete_version_after."""
    positive = [seconds for seconds in durations if seconds > 0]
    return base_ns + min(positive) * 1_000_000_000 if positive else None


def _add_version(store: _KvStore, meta: _KeyMeta, data: dict[str, Any]) -> int:
    """Append a version, trimming the oldest beyond max_versions (AddVersion)."""
    now = time.time_ns()
    config = store.config
    deletion = None
    if config.delete_version_after >= 0:
        deletion = _deletion_ns(now, config.delete_version_after, meta.delete_version_after)
    meta.current_version += 1
    meta.versions[meta.current_version] = _Version(copy.deepcopy(data), now, deletion)
    meta.updated_ns = now
    if meta.created_ns is None:
        meta.created_ns = now
    limit = max(meta.max_versions, config.max_versions) or DEFAULT_MAX_VERSIONS
    if meta.current_version - meta.oldest_version >= limit:
        drop_through = meta.current_version - limit
        for number in range(meta.oldest_version, drop_through + 1):
            meta.versions.pop(number, None)
        meta.oldest_version = drop_through + 1
    return meta.current_version


def _check_cas(body: Mapping[str, Any], config: _MountConfig, meta: _KeyMeta) -> str | None:
    """Return Vault's CAS error text, or None when the write may proceed."""
    options = body.get("options")
    if isinstance(options, dict) and "cas" in options:
        try:
            # mapstructure decodes a JSON null to the zero value.
            cas = 0 if options["cas"] is None else _parse_int(options["cas"])
        except (TypeError, ValueError):
            return "error parsing check-and-set parameter"
        if cas != meta.current_version:
            return CAS_MISMATCH
        return None
    if config.cas_required or meta.cas_required:
        return CAS_REQUIRED
    return None


def _validate_custom_metadata(values: Mapping[str, str]) -> str | None:
    """Vault's custom_metadata limits: 64 keys, key <= 128, value <= 512 chars."""
    prefix = "custom_metadata validation failed"
    if len(values) > 64:
        return f"{prefix}: payload must contain at most 64 keys, provided {len(values)}"
    problems = []
    for key, value in values.items():
        if not 0 < len(key) <= 128:
            problems.append(
                f"{prefix}: length of key {json.dumps(key)} is {len(key)} "
                "but must be 0 < len(key) <= 128"
            )
        if not 0 < len(value) <= 512:
            problems.append(
                f"{prefix}: length of value for key {json.dumps(key)} is {len(value)} "
                "but must be 0 < len(value) <= 512"
            )
    if not problems:
        return None
    listed = "".join(f"\t* {problem}\n" for problem in problems)
    count = len(problems)
    return f"{count} error{'s' if count > 1 else ''} occurred:\n{listed}\n"


def _parse_custom_metadata(raw: Any, *, drop_nulls: bool) -> dict[str, str]:
    """Turn a custom_metadata field into string pairs (parseCustomMetadata)."""
    if not isinstance(raw, dict):
        raise ValueError("custom_metadata must be an object")
    return {
        key: _weak_string(value) for key, value in raw.items() if not (drop_nulls and value is None)
    }


def _apply_metadata_fields(meta: _KeyMeta, body: Mapping[str, Any]) -> str | None:
    """Set max_versions/cas_required/delete_version_after from ``body``."""
    try:
        if "max_versions" in body:
            meta.max_versions = _parse_int(body["max_versions"])
        if "cas_required" in body:
            meta.cas_required = _parse_bool(body["cas_required"])
        if "delete_version_after" in body:
            seconds = _parse_duration(body["delete_version_after"])
            if seconds < 0:
                return "delete_version_after cannot be negative"
            meta.delete_version_after = seconds
    except (TypeError, ValueError) as exc:
        return str(exc)
    return None


def _list_children(keys: Iterable[str], prefix: str) -> list[str]:
    """The immediate children of ``prefix``: keys, and folders with a "/" suffix."""
    children: set[str] = set()
    for key in keys:
        if not key.startswith(prefix):
            continue
        head, slash, _ = key[len(prefix) :].partition("/")
        if head:
            children.add(head + slash)
    return sorted(children)


# --------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    """Reads one request at a time off a keep-alive connection and answers it."""

    protocol_version = "HTTP/1.1"
    # Without TCP_NODELAY plus a single write per response, the client's
    # delayed ACK stalls every keep-alive request by ~40 ms.
    disable_nagle_algorithm = True
    wbufsize = 1 << 16
    server: _HttpServer

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests do not want a line on stderr per request."""

    def handle_one_request(self) -> None:
        """Parse one request and dispatch every method to the Vault model.

        The base class answers unknown methods with 501 and an HTML page;
        Vault answers 405 with a JSON body, so dispatch is done here.
        """
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            self._answer()
        except OSError:
            # The client went away, or stop() shut the socket: nothing to answer.
            self.close_connection = True

    def _answer(self) -> None:
        """Read the body, let the server decide, then reply or drop."""
        raw_body = self._read_body()
        if raw_body is None:
            self.close_connection = True
            self._write(_error(400, ["invalid request body framing"]))
            return
        response = self.server.vault._handle(self.command, self.path, self.headers, raw_body)
        if response is None:
            # drop_next: close without a byte of answer, as a crashed proxy would.
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._write(response)

    def _read_body(self) -> bytes | None:
        """Read the whole request body so the connection can be reused."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        length_text = self.headers.get("Content-Length")
        if not length_text:
            return b""
        try:
            length = int(length_text)
        except ValueError:
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes | None:
        """Decode a chunked request body (rare from hvac, cheap to support)."""
        chunks: list[bytes] = []
        while True:
            size_line = self.rfile.readline(65537).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                return None
            if size == 0:
                # Skip trailers up to the blank line that ends the message.
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline(65537)

    def _write(self, response: _Response) -> None:
        """Send status line, headers and body in one write, then flush once."""
        try:
            phrase = HTTPStatus(response.status).phrase
        except ValueError:
            phrase = f"status code {response.status}"
        lines = [
            f"HTTP/1.1 {response.status} {phrase}",
            "Cache-Control: no-store",
            "Content-Type: application/json",
            f"Date: {self.date_time_string()}",
        ]
        # A 204 must not carry Content-Length; everything else always does,
        # which is what keeps the connection reusable.
        if response.status != 204:
            lines.append(f"Content-Length: {len(response.body)}")
        if response.location is not None:
            lines.append(f"Location: {response.location}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        body = b"" if self.command == "HEAD" or response.status == 204 else response.body
        self.wfile.write(head + body)
        self.wfile.flush()


class _HttpServer(http.server.ThreadingHTTPServer):
    """ThreadingHTTPServer that remembers its connections so stop() can end them."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], vault: VaultServer) -> None:
        super().__init__(address, _Handler)
        self.vault = vault
        self._track_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._handler_threads: list[threading.Thread] = []

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve each connection on its own daemon thread, tracked for stop()."""
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"vault-server-conn-{client_address[1]}",
            daemon=True,
        )
        with self._track_lock:
            self._connections.add(request)
            self._handler_threads = [t for t in self._handler_threads if t.is_alive()]
            self._handler_threads.append(thread)
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        """Forget the connection, then close it as the base class does."""
        with self._track_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Record handler crashes instead of printing, so stop() can report them."""
        self.vault._note_crash(traceback.format_exc())

    def close_connections(self, timeout: float) -> None:
        """Shut every open keep-alive connection and wait for its thread."""
        with self._track_lock:
            connections = list(self._connections)
            threads = list(self._handler_threads)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by its handler
                connection.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(timeout)


# --------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------


class VaultServer:
    """An in-process Vault API server on 127.0.0.1 for tests.

    A "secret" KV v2 mount exists from the start.  Mounts are shared by all
    namespaces, but every namespace keeps its own keys and mount config.
    """

    def __init__(
        self, token: str = "root-token", *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        """Prepare a server; it starts listening on ``start()`` or ``with``."""
        self.token = token
        self._address = (host, port)
        self._lock = threading.RLock()
        self._stop_event = threading.Event()
        self._mounts: set[str] = {"secret"}
        self._stores: dict[tuple[str | None, str], _KvStore] = {}
        self._tokens: dict[str, _Token] = {}
        self._records: list[RequestRecord] = []
        self._faults: list[_Fault] = []
        self._crashes: list[str] = []
        self._sealed = False
        self._cluster_id = str(uuid.uuid4())
        self._cluster_name = f"vault-cluster-{self._cluster_id[:8]}"
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._tokens[token] = _Token(
            token_id=token,
            accessor=str(uuid.uuid4()),
            policies=["root"],
            allow=None,
            read_only=False,
            created=time.time(),
            display_name="root",
        )

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> VaultServer:
        """Bind a free port and serve from a daemon thread."""
        if self._httpd is not None:
            return self
        self._stop_event.clear()
        self._httpd = _HttpServer(self._address, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},  # keeps stop() quick
            name="vault-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every connection and join the threads."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stop_event.set()  # wakes handlers sleeping in delay_next
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections(timeout=5.0)
        if thread is not None:
            thread.join(5.0)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> VaultServer:
        """Start the server for the ``with`` block."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Shut down cleanly; surface server crashes if the block itself passed."""
        self.stop()
        if exc_type is None and self._crashes:
            raise RuntimeError("VaultServer handler crashed:\n" + "\n".join(self._crashes))

    @property
    def url(self) -> str:
        """The base URL, e.g. "http://127.0.0.1:PORT"."""
        if self._httpd is None:
            raise RuntimeError("VaultServer is not running")
        return f"http://{self._address[0]}:{self._httpd.server_port}"

    # -- configuration -----------------------------------------------------

    def add_token(self, token: str, allow: Sequence[str] = (), read_only: bool = False) -> str:
        """Create ``token`` limited to the Vault path globs in ``allow``.

        Globs follow Vault policy syntax ("secret/data/app/*", "+" for one
        segment) and are matched against API paths without "/v1/".  A
        read-only token may read and list there; otherwise it may also
        create, update, patch and delete.  Anything else answers 403.
        """
        with self._lock:
            self._tokens[token] = _Token(
                token_id=token,
                accessor=str(uuid.uuid4()),
                policies=["default", f"{token}-policy"],
                allow=tuple(_policy_glob(pattern) for pattern in allow),
                read_only=read_only,
                created=time.time(),
                display_name="token",
            )
        return token

    def enable_kv2(self, mount: str) -> None:
        """Mount a KV version 2 engine at ``mount`` (no-op if it exists)."""
        with self._lock:
            self._mounts.add(mount.strip("/"))

    def seal(self) -> None:
        """Seal: API calls answer 503 "Vault is sealed" until unseal()."""
        with self._lock:
            self._sealed = True

    def unseal(self) -> None:
        """Unseal after seal()."""
        with self._lock:
            self._sealed = False

    @property
    def sealed(self) -> bool:
        """Whether the server is sealed."""
        with self._lock:
            return self._sealed

    # -- fault injection ---------------------------------------------------

    def fail_next(
        self,
        n: int,
        status: int,
        path_prefix: str | None = None,
        *,
        errors: Sequence[str] | None = None,
    ) -> None:
        """Answer the next ``n`` matching requests with ``status`` and Vault's error body.

        ``path_prefix`` matches the API path with or without "/v1/"
        ("secret/data/app" or "/v1/secret/data/app").  ``errors`` overrides
        the error list Vault would send for that status.
        """
        self._add_fault(
            _Fault(
                "fail",
                n,
                path_prefix,
                status=status,
                errors=None if errors is None else list(errors),
            )
        )

    def delay_next(self, n: int, seconds: float, path_prefix: str | None = None) -> None:
        """Hold the next ``n`` matching requests for ``seconds`` before answering."""
        self._add_fault(_Fault("delay", n, path_prefix, seconds=seconds))

    def drop_next(self, n: int, path_prefix: str | None = None) -> None:
        """Close the connection of the next ``n`` matching requests without answering."""
        self._add_fault(_Fault("drop", n, path_prefix))

    def lose_reply_next(
        self, n: int, path_prefix: str | None = None, method: str | None = "POST"
    ) -> None:
        """Serve the next ``n`` matching requests (writes by default), then close the
        connection without sending the answer: the write happened, the client cannot
        know it."""
        self._add_fault(_Fault("lose", n, path_prefix, method=method))

    def redirect_next(self, n: int, base_url: str, path_prefix: str | None = None) -> None:
        """Answer the next ``n`` matching requests with 307 to the same path and query
        under ``base_url``, as a standby node redirects to the active one."""
        self._add_fault(_Fault("redirect", n, path_prefix, status=307, location=base_url))

    def _add_fault(self, fault: _Fault) -> None:
        """Queue a fault; faults of one kind are consumed in the order added."""
        if fault.remaining <= 0:
            return
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, kind: str, url_path: str, method: str | None = None) -> _Fault | None:
        """Consume one use of the first queued fault of ``kind`` matching the path."""
        with self._lock:
            for fault in self._faults:
                if fault.kind != kind or not self._prefix_matches(fault.prefix, url_path):
                    continue
                if fault.method is not None and fault.method != method:
                    continue
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    @staticmethod
    def _prefix_matches(prefix: str | None, url_path: str) -> bool:
        """Compare API paths with "/v1/" stripped from both sides."""
        return prefix is None or _api_path(url_path).startswith(_api_path(prefix))

    # -- request log -------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of the requests received so far, oldest first."""
        with self._lock:
            return list(self._records)

    def reset_requests(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self._records.clear()

    def count(
        self,
        method: str | None = None,
        path_prefix: str | None = None,
        writes_only: bool = False,
    ) -> int:
        """Count recorded requests by method, path prefix and write-ness.

        A write is a POST/PUT/PATCH/DELETE to a KV v2 mount's data/,
        metadata/, delete/, undelete/ or destroy/ paths.
        """
        wanted = method.upper() if method else None
        with self._lock:
            return sum(
                1
                for record in self._records
                if (wanted is None or record.method == wanted)
                and self._prefix_matches(path_prefix, record.path)
                and (not writes_only or self._is_kv_write(record))
            )

    def _is_kv_write(self, record: RequestRecord) -> bool:
        """Whether ``record`` modified (or tried to modify) KV data or metadata."""
        if record.method not in _WRITE_METHODS:
            return False
        path = _api_path(record.path)
        mount = self._match_mount(path)
        if mount is None:
            return False
        segment = path[len(mount) + 1 :].split("/", 1)[0]
        return segment in _KV_WRITE_SEGMENTS

    def _record(self, request: _Request, status: int) -> None:
        """Append a RequestRecord for ``request``."""
        record = RequestRecord(
            method=request.method,
            path=request.url_path,
            query=dict(request.query),
            body=copy.deepcopy(request.body),
            status=status,
            namespace=request.namespace,
        )
        with self._lock:
            self._records.append(record)

    def _note_crash(self, text: str) -> None:
        """Keep a handler traceback for __exit__ to report."""
        with self._lock:
            self._crashes.append(text)

    # -- backdoor ----------------------------------------------------------

    def kv_read(self, mount: str, path: str, namespace: str | None = None) -> dict[str, Any] | None:
        """Return a copy of the latest data at ``path`` (None if missing, deleted or destroyed)."""
        with self._lock:
            meta = self._store(namespace, self._known_mount(mount)).keys.get(path)
            if meta is None:
                return None
            version = meta.versions.get(meta.current_version)
            if version is None or version.destroyed or version.is_deleted(time.time_ns()):
                return None
            return copy.deepcopy(version.data)

    def kv_write(
        self, mount: str, path: str, data: Mapping[str, Any], namespace: str | None = None
    ) -> int:
        """Write a new version behind the API's back (a "hand edit"); return its number."""
        with self._lock:
            store = self._store(namespace, self._known_mount(mount))
            meta = store.keys.setdefault(path, _KeyMeta())
            return _add_version(store, meta, dict(data))

    def kv_versions(self, mount: str, path: str, namespace: str | None = None) -> int:
        """Return the key's current_version (0 when the key does not exist)."""
        with self._lock:
            meta = self._store(namespace, self._known_mount(mount)).keys.get(path)
            return 0 if meta is None else meta.current_version

    def kv_custom_metadata(
        self, mount: str, path: str, namespace: str | None = None
    ) -> dict[str, str] | None:
        """Return a copy of the key's custom_metadata (None if unset or missing)."""
        with self._lock:
            meta = self._store(namespace, self._known_mount(mount)).keys.get(path)
            if meta is None or meta.custom_metadata is None:
                return None
            return dict(meta.custom_metadata)

    def _known_mount(self, mount: str) -> str:
        """Normalise a mount name, refusing ones never enabled (a test typo)."""
        name = mount.strip("/")
        if name not in self._mounts:
            raise KeyError(f"no KV v2 mount {name!r}; call enable_kv2({name!r}) first")
        return name

    def _store(self, namespace: str | None, mount: str) -> _KvStore:
        """The store of ``mount`` in ``namespace``, created on first use."""
        key = (_normalise_namespace(namespace), mount)
        store = self._stores.get(key)
        if store is None:
            store = self._stores[key] = _KvStore()
        return store

    def _match_mount(self, path: str) -> str | None:
        """The longest mount that ``path`` falls under, as Vault's router picks."""
        for mount in sorted(self._mounts, key=len, reverse=True):
            if path == mount or path.startswith(mount + "/"):
                return mount
        return None

    # -- request handling --------------------------------------------------

    def _handle(
        self, method: str, target: str, headers: Message, raw_body: bytes
    ) -> _Response | None:
        """Answer one HTTP request; None means "drop the connection"."""
        request = self._parse(method, target, headers, raw_body)
        delay = self._take_fault("delay", request.url_path)
        if delay is not None:
            self._stop_event.wait(delay.seconds)
        if self._take_fault("drop", request.url_path) is not None:
            self._record(request, 0)
            return None
        response = self._respond(request)
        self._record(request, response.status)
        if self._take_fault("lose", request.url_path, method) is not None:
            return None
        return response

    def _respond(self, request: _Request) -> _Response:
        """Apply injected failures, then serve; a crash becomes a 500."""
        redirect = self._take_fault("redirect", request.url_path)
        if redirect is not None:
            query = f"?{urlencode(request.query)}" if request.query else ""
            target = redirect.location.rstrip("/") + request.url_path + query
            return _Response(redirect.status, _encode({"errors": []}), location=target)
        fault = self._take_fault("fail", request.url_path)
        if fault is not None:
            return _error(fault.status, self._fault_errors(fault, request))
        if request.problem is not None:
            return request.problem
        try:
            with self._lock:
                return self._serve(request)
        except Exception:  # a bug here must fail the test, not hang it
            self._note_crash(traceback.format_exc())
            return _error(500, ["internal error"])

    @staticmethod
    def _fault_errors(fault: _Fault, request: _Request) -> list[str]:
        """The error list for an injected status: what Vault itself would say."""
        if fault.errors is not None:
            return fault.errors
        if fault.status == 429:
            return [f"request path {json.dumps(request.path)}: rate limit quota exceeded"]
        if fault.status in _FAULT_ERRORS:
            return list(_FAULT_ERRORS[fault.status])
        try:
            return [HTTPStatus(fault.status).phrase.lower()]
        except ValueError:
            return []

    def _parse(self, method: str, target: str, headers: Message, raw_body: bytes) -> _Request:
        """Turn the HTTP request into Vault's operation, path and data."""
        parts = urlsplit(target)
        url_path = unquote(parts.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        token = headers.get("X-Vault-Token")
        authorization = headers.get("Authorization") or ""
        if not token and authorization.lower().startswith("bearer "):
            token = authorization[7:].strip()
        request = _Request(
            method=method.upper(),
            url_path=url_path,
            path=url_path[4:] if url_path.startswith("/v1/") else "",
            operation="",
            query=query,
            body=None,
            namespace=_normalise_namespace(headers.get("X-Vault-Namespace")),
            token=token or None,
            content_type=_media_type(headers.get("Content-Type")),
        )
        request.body, body_problem = self._parse_body(raw_body)
        request.operation, op_problem = self._operation(request)
        if request.path == "":
            request.problem = _error(404)
        else:
            request.problem = op_problem or (
                body_problem if request.operation in ("update", "patch") else None
            )
        if request.operation == "list" and not request.path.endswith("/"):
            # Vault's HTTP layer makes every LIST path a folder.
            request.path += "/"
        return request

    @staticmethod
    def _parse_body(raw_body: bytes) -> tuple[dict[str, Any] | None, _Response | None]:
        """Parse a JSON object body; an empty body is "no data" as in Vault."""
        if not raw_body.strip():
            return None, None
        try:
            parsed = json.loads(raw_body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return None, _error(400, [f"failed to parse JSON input: {exc}"])
        if not isinstance(parsed, dict):
            return None, _error(400, ["failed to parse JSON input: body must be a JSON object"])
        return parsed, None

    @staticmethod
    def _operation(request: _Request) -> tuple[str, _Response | None]:
        """Map the HTTP method to Vault's logical operation (buildLogicalRequest)."""
        method = request.method
        if method == "GET":
            list_flag = request.query.get("list", "")
            if list_flag == "":
                return "read", None
            try:
                return ("list" if _parse_bool(list_flag) else "read"), None
            except ValueError:
                return "read", _error(400)
        if method in ("POST", "PUT"):
            return "update", None
        if method == "DELETE":
            return "delete", None
        if method == "LIST":
            return "list", None
        if method == "HEAD":
            return "head", None
        if method == "PATCH":
            if request.content_type != MERGE_PATCH:
                got = json.dumps(request.content_type)
                message = f"PATCH requires Content-Type of {MERGE_PATCH}, got {got}"
                return "patch", _error(415, [message])
            return "patch", None
        return "", _error(405)

    def _serve(self, request: _Request) -> _Response:
        """Route an authenticated request, in the order Vault's core checks things."""
        if request.path == "sys/health":
            return self._sys_health(request)
        if request.path == "sys/seal-status":
            return self._sys_seal_status(request)
        if request.operation == "head":
            return _error(405)
        if self._sealed:
            return _error(503, [SEALED])
        token = self._tokens.get(request.token or "")
        if token is None:
            return _error(403, [PERMISSION_DENIED])
        if not self._allowed(token, request):
            return _error(403, [ACL_DENIED])
        return self._route(request, token)

    def _allowed(self, token: _Token, request: _Request) -> bool:
        """ACL check: root passes, others need a matching glob and capability."""
        if token.is_root:
            return True
        if any(pattern.fullmatch(request.path) for pattern in _DEFAULT_POLICY_PATHS):
            return True
        if token.read_only and request.operation not in ("read", "list"):
            return False
        assert token.allow is not None
        return any(pattern.fullmatch(request.path) for pattern in token.allow)

    def _route(self, request: _Request, token: _Token) -> _Response:
        """Find the backend for the path: token store, sys, or a KV v2 mount."""
        path = request.path
        if path == "auth/token/lookup-self":
            return self._lookup_self(request, token)
        if path.startswith("sys/internal/ui/mounts/"):
            return self._ui_mount(request, path[len("sys/internal/ui/mounts/") :])
        if path == "sys/mounts":
            return self._sys_mounts(request)
        mount = self._match_mount(path)
        if mount is not None:
            return self._kv(request, mount, path[len(mount) + 1 :])
        if path.startswith(("sys/", "auth/token/")):
            return _error(404, ["unsupported path"])
        route = path.rstrip("/") if request.operation != "list" else path
        return _error(404, [f"no handler for route {json.dumps(route)}. route entry not found."])

    # -- sys and token endpoints -------------------------------------------

    def _sys_health(self, request: _Request) -> _Response:
        """sys/health: unauthenticated, answers even when sealed; codes tunable."""
        if request.operation not in ("read", "head"):
            return _error(405, ["unsupported operation"])
        try:
            active = _parse_int(request.query.get("activecode", 200))
            sealed_code = _parse_int(request.query.get("sealedcode", 503))
        except ValueError:
            return _error(400, ["bad code parameter"])
        now = int(time.time())
        if self._sealed:
            body: dict[str, Any] = {
                "initialized": True,
                "sealed": True,
                "standby": True,
                "performance_standby": False,
                "replication_performance_mode": "unknown",
                "replication_dr_mode": "unknown",
                "server_time_utc": now,
                "version": VAULT_VERSION,
                "enterprise": True,
                "echo_duration_ms": 0,
                "clock_skew_ms": 0,
                "replication_primary_canary_age_ms": 0,
                "removed_from_cluster": False,
            }
            return _Response(sealed_code, _encode(body, sort_maps=False))
        body = {
            "initialized": True,
            "sealed": False,
            "standby": False,
            "performance_standby": False,
            "replication_performance_mode": "disabled",
            "replication_dr_mode": "disabled",
            "server_time_utc": now,
            "version": VAULT_VERSION,
            "enterprise": True,
            "cluster_name": self._cluster_name,
            "cluster_id": self._cluster_id,
            "echo_duration_ms": 0,
            "clock_skew_ms": 0,
            "replication_primary_canary_age_ms": 0,
            "removed_from_cluster": False,
        }
        return _Response(active, _encode(body, sort_maps=False))

    def _sys_seal_status(self, request: _Request) -> _Response:
        """sys/seal-status: unauthenticated, 200 whether sealed or not."""
        if request.operation != "read":
            return _error(405, ["unsupported operation"])
        body: dict[str, Any] = {
            "type": "shamir",
            "initialized": True,
            "sealed": self._sealed,
            "t": 1,
            "n": 1,
            "progress": 0,
            "nonce": "",
            "version": VAULT_VERSION,
            "build_date": "2024-10-30T16:34:13Z",
            "migration": False,
            "recovery_seal": False,
            "storage_type": "inmem",
        }
        if not self._sealed:
            body["cluster_name"] = self._cluster_name
            body["cluster_id"] = self._cluster_id
        return _Response(200, _encode(body, sort_maps=False))

    def _lookup_self(self, request: _Request, token: _Token) -> _Response:
        """auth/token/lookup-self: the calling token's properties."""
        if request.operation not in ("read", "update"):
            return _error(405, ["unsupported operation"])
        created = int(token.created)
        if token.is_root:
            lifetime: dict[str, Any] = {
                "creation_ttl": 0,
                "expire_time": None,
                "explicit_max_ttl": 0,
                "path": "auth/token/root",
                "ttl": 0,
            }
        else:
            ttl = 768 * 3600  # Vault's default max lease TTL
            remaining = max(0, created + ttl - int(time.time()))
            lifetime = {
                "creation_ttl": ttl,
                "expire_time": _timestamp((created + ttl) * 1_000_000_000),
                "explicit_max_ttl": 0,
                "issue_time": _timestamp(int(token.created * 1e9)),
                "path": "auth/token/create",
                "renewable": True,
                "ttl": remaining,
            }
        data = {
            "accessor": token.accessor,
            "creation_time": created,
            "display_name": token.display_name,
            "entity_id": "",
            "id": token.token_id,
            "meta": None,
            "num_uses": 0,
            "orphan": token.is_root,
            "policies": token.policies,
            "type": "service",
            **lifetime,
        }
        return _ok(data, mount_type="token")

    def _mount_info(self, mount: str) -> dict[str, Any]:
        """What sys/mounts says about one KV v2 mount."""
        return {
            "accessor": f"kv_{uuid.uuid5(uuid.NAMESPACE_URL, mount).hex[:8]}",
            "config": {"default_lease_ttl": 0, "force_no_cache": False, "max_lease_ttl": 0},
            "description": "key/value secret storage",
            "external_entropy_access": False,
            "local": False,
            "options": {"version": "2"},
            "plugin_version": "",
            "running_plugin_version": "v0.20.0+builtin",
            "running_sha256": "",
            "seal_wrap": False,
            "type": "kv",
            "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, mount)),
        }

    def _ui_mount(self, request: _Request, path: str) -> _Response:
        """sys/internal/ui/mounts/<path>: how the Vault CLI detects KV versions."""
        if request.operation != "read":
            return _error(405, ["unsupported operation"])
        mount = self._match_mount(path.rstrip("/")) if path else None
        if mount is None:
            message = (
                "preflight capability check returned 403, please ensure client's "
                f'policies grant access to path "{path}"'
            )
            return _error(403, [message])
        info = {**self._mount_info(mount), "path": mount + "/"}
        return _ok(info, mount_type="system")

    def _sys_mounts(self, request: _Request) -> _Response:
        """sys/mounts (read): the KV v2 mounts."""
        if request.operation != "read":
            return _error(405, ["unsupported operation"])
        mounts = {mount + "/": self._mount_info(mount) for mount in sorted(self._mounts)}
        # Vault still repeats the mounts at the top level for old clients.
        return _Response(200, _encode({**mounts, **_envelope(mounts, mount_type="system")}))

    # -- KV v2 -------------------------------------------------------------

    def _kv(self, request: _Request, mount: str, rest: str) -> _Response:
        """Dispatch within a KV v2 mount the way the plugin's path table does."""
        store = self._store(request.namespace, mount)
        segment, slash, key = rest.partition("/")
        if rest == "config":
            return self._kv_config(request, store)
        if slash and segment == "data" and key and not key.endswith("/"):
            return self._kv_data(request, store, key)
        if slash and segment == "metadata":
            return self._kv_metadata(request, store, key)
        if slash and segment in ("delete", "undelete", "destroy"):
            return self._kv_versions_op(request, store, segment, key)
        return self._kv_invalid_path(request, rest)

    @staticmethod
    def _kv_invalid_path(request: _Request, rest: str) -> _Response:
        """The plugin's catch-all: a 404 whose envelope carries a warning."""
        if request.operation not in ("read", "update", "patch", "delete", "list"):
            return _error(405, ["unsupported operation"])
        if rest in ("metadata", "data", "delete", "undelete", "destroy"):
            warning = "Non-listing operations on the root of a K/V v2 mount are not supported."
        else:
            verb = {"update": "put", "read": "get"}.get(request.operation, request.operation)
            warning = (
                "Invalid path for a versioned K/V secrets engine. See the API docs for the "
                "appropriate API endpoints to use. If using the Vault CLI, use "
                f"'vault kv {verb}' for this operation."
            )
        return _raw_not_found(None, warnings=[warning])

    def _kv_config(self, request: _Request, store: _KvStore) -> _Response:
        """<mount>/config: mount-wide max_versions, cas_required, delete_version_after."""
        config = store.config
        if request.operation == "read":
            data = {
                "cas_required": config.cas_required,
                "delete_version_after": _format_duration(config.delete_version_after),
                "max_versions": config.max_versions,
            }
            return _ok(data, mount_type="kv")
        if request.operation != "update":
            return _error(405, ["unsupported operation"])
        body = request.body or {}
        try:
            if "max_versions" in body:
                config.max_versions = _parse_int(body["max_versions"])
            if "cas_required" in body:
                config.cas_required = _parse_bool(body["cas_required"])
            if "delete_version_after" in body:
                config.delete_version_after = _parse_duration(body["delete_version_after"])
        except (TypeError, ValueError) as exc:
            return _error(400, [str(exc)])
        return _no_content()

    def _kv_data(self, request: _Request, store: _KvStore, key: str) -> _Response:
        """<mount>/data/<key>: read, write, patch, soft-delete latest."""
        handlers = {
            "read": self._kv_data_read,
            "update": self._kv_data_write,
            "patch": self._kv_data_patch,
            "delete": self._kv_data_delete,
        }
        handler = handlers.get(request.operation)
        if handler is None:
            return _error(405, ["unsupported operation"])
        return handler(request, store, key)

    def _kv_data_read(self, request: _Request, store: _KvStore, key: str) -> _Response:
        """Read the latest or ``?version=N``; deleted/destroyed is a 404 with metadata."""
        meta = store.keys.get(key)
        if meta is None:
            return _error(404)
        try:
            wanted = _parse_int(request.query.get("version", 0))
        except ValueError:
            return _error(
                400, [f'error converting input {request.query.get("version")} for field "version"']
            )
        number = wanted if wanted > 0 else meta.current_version
        version = meta.versions.get(number)
        if version is None:
            return _error(404)
        body = {"data": None, "metadata": meta.version_metadata(number, version)}
        if version.destroyed or version.is_deleted(time.time_ns()):
            return _raw_not_found(body)
        body["data"] = copy.deepcopy(version.data)
        return _ok(body, mount_type="kv")

    def _kv_data_write(self, request: _Request, store: _KvStore, key: str) -> _Response:
        """Create a new version, honouring options.cas and cas_required."""
        body = request.body or {}
        data = body.get("data")
        if data is None:
            return _error(400, ["no data provided"])
        if not isinstance(data, dict):
            return _error(400, ['error converting input for field "data": expected a map'])
        meta = store.keys.get(key) or _KeyMeta()
        problem = _check_cas(body, store.config, meta)
        if problem is not None:
            return _error(400, [problem])
        store.keys[key] = meta
        number = _add_version(store, meta, data)
        return _ok(meta.version_metadata(number, meta.versions[number]), mount_type="kv")

    def _kv_data_patch(self, request: _Request, store: _KvStore, key: str) -> _Response:
        """HTTP PATCH on data: merge-patch the current version into a new one."""
        body = request.body or {}
        patch = body.get("data")
        if patch is None:
            return _error(400, ["no data provided"])
        meta = store.keys.get(key)
        if meta is None:
            return _error(404)
        problem = _check_cas(body, store.config, meta)
        if problem is not None:
            return _error(400, [problem])
        current = meta.versions.get(meta.current_version)
        if current is None:
            return _error(404)
        if current.destroyed or current.is_deleted(time.time_ns()):
            return _raw_not_found(meta.version_metadata(meta.current_version, current))
        merged = _merge_patch(current.data or {}, patch)
        number = _add_version(store, meta, merged)
        return _ok(meta.version_metadata(number, meta.versions[number]), mount_type="kv")

    @staticmethod
    def _kv_data_delete(request: _Request, store: _KvStore, key: str) -> _Response:
        """Soft-delete the latest version; always 204, as in Vault."""
        meta = store.keys.get(key)
        if meta is None:
            return _no_content()
        latest = meta.versions.get(meta.current_version)
        now = time.time_ns()
        if latest is not None and not latest.destroyed and not latest.is_deleted(now):
            latest.deletion_ns = now
        return _no_content()

    def _kv_metadata(self, request: _Request, store: _KvStore, key: str) -> _Response:
        """<mount>/metadata/<key>: read, write, patch, delete, list."""
        handlers = {
            "read": self._kv_metadata_read,
            "update": self._kv_metadata_write,
            "patch": self._kv_metadata_patch,
            "delete": self._kv_metadata_delete,
            "list": self._kv_metadata_list,
        }
        handler = handlers.get(request.operation)
        if handler is None:
            return _error(405, ["unsupported operation"])
        return handler(request, store, key)

    @staticmethod
    def _kv_metadata_read(request: _Request, store: _KvStore, key: str) -> _Response:
        """All metadata of a key, including every retained version."""
        meta = store.keys.get(key)
        if meta is None:
            return _error(404)
        data = {
            "cas_required": meta.cas_required,
            "created_time": _timestamp(meta.created_ns),
            "current_version": meta.current_version,
            "custom_metadata": meta.custom_metadata,
            "delete_version_after": _format_duration(meta.delete_version_after),
            "max_versions": meta.max_versions,
            "oldest_version": meta.oldest_version,
            "updated_time": _timestamp(meta.updated_ns),
            "versions": {
                str(number): version.summary() for number, version in meta.versions.items()
            },
        }
        return _ok(data, mount_type="kv")

    @staticmethod
    def _kv_metadata_write(request: _Request, store: _KvStore, key: str) -> _Response:
        """POST metadata: set the given fields; custom_metadata is replaced whole."""
        if key == "":
            return _error(400, ["missing path"])
        body = request.body or {}
        fields = ("max_versions", "cas_required", "delete_version_after", "custom_metadata")
        if not any(name in body for name in fields):
            return _no_content()  # the plugin's fast path: nothing to change
        custom: dict[str, str] | None = None
        if "custom_metadata" in body:
            try:
                custom = _parse_custom_metadata(body["custom_metadata"], drop_nulls=False)
            except ValueError as exc:
                return _error(400, [f"custom_metadata validation failed: {exc}"])
            problem = _validate_custom_metadata(custom)
            if problem is not None:
                return _error(400, [problem])
        meta = store.keys.get(key)
        if meta is None:
            now = time.time_ns()
            meta = _KeyMeta(created_ns=now, updated_ns=now)
        problem = _apply_metadata_fields(meta, body)
        if problem is not None:
            return _error(400, [problem])
        if custom is not None:
            meta.custom_metadata = custom
        store.keys[key] = meta
        return VaultServer._cas_warning(store, body)

    @staticmethod
    def _cas_warning(store: _KvStore, body: Mapping[str, Any]) -> _Response:
        """204, or 200 with Vault's warning when cas_required=false is overridden."""
        try:
            turned_off = "cas_required" in body and not _parse_bool(body["cas_required"])
        except ValueError:
            turned_off = False
        if turned_off and store.config.cas_required:
            warning = (
                '"cas_required" set to false, but is mandated by backend config. '
                "This value will be ignored."
            )
            return _ok(None, mount_type="kv", warnings=[warning])
        return _no_content()

    @staticmethod
    def _kv_metadata_patch(request: _Request, store: _KvStore, key: str) -> _Response:
        """PATCH metadata: JSON merge patch; a null custom_metadata value removes it."""
        if key == "":
            return _error(400, ["missing path"])
        body = request.body or {}
        if "custom_metadata" in body and body["custom_metadata"] is not None:
            try:
                checked = _parse_custom_metadata(body["custom_metadata"], drop_nulls=True)
            except ValueError as exc:
                return _error(400, [f"custom_metadata validation failed: {exc}"])
            problem = _validate_custom_metadata(checked)
            if problem is not None:
                return _error(400, [problem])
        meta = store.keys.get(key)
        if meta is None:
            return _error(404)
        scalars: dict[str, Any] = {
            name: body[name]
            for name in ("max_versions", "cas_required", "delete_version_after")
            if name in body
        }
        problem = _apply_metadata_fields(meta, scalars)
        if problem is not None:
            return _error(400, [problem])
        if "custom_metadata" in body:
            merged = _merge_patch(meta.custom_metadata or {}, body["custom_metadata"])
            if body["custom_metadata"] is None:
                meta.custom_metadata = None
            else:
                meta.custom_metadata = {name: _weak_string(value) for name, value in merged.items()}
        return VaultServer._cas_warning(store, body)

    @staticmethod
    def _kv_metadata_delete(request: _Request, store: _KvStore, key: str) -> _Response:
        """Delete the key's metadata and every version permanently; always 204."""
        store.keys.pop(key, None)
        return _no_content()

    @staticmethod
    def _kv_metadata_list(request: _Request, store: _KvStore, key: str) -> _Response:
        """LIST metadata: immediate children; empty answers 404 as in Vault."""
        children = _list_children(store.keys, key)
        if not children:
            return _error(404)
        return _ok({"keys": children}, mount_type="kv")

    @staticmethod
    def _kv_versions_op(request: _Request, store: _KvStore, action: str, key: str) -> _Response:
        """<mount>/delete|undelete|destroy/<key> with {"versions": [...]}."""
        if request.operation != "update":
            return _error(405, ["unsupported operation"])
        raw = (request.body or {}).get("versions")
        items = raw.split(",") if isinstance(raw, str) else raw if isinstance(raw, list) else []
        try:
            numbers = [_parse_int(item) for item in items if str(item).strip() != ""]
        except (TypeError, ValueError):
            return _error(400, ['error converting input for field "versions"'])
        if not numbers:
            message = (
                "no version number provided"
                if action == "destroy"
                else "No version number provided"
            )
            return _error(400, [message])
        meta = store.keys.get(key)
        if meta is None:
            return _no_content()
        now = time.time_ns()
        for number in numbers:
            version = meta.versions.get(number)
            if version is None or version.destroyed:
                continue
            if action == "delete" and not version.is_deleted(now):
                version.deletion_ns = now
            elif action == "undelete":
                version.deletion_ns = None
            elif action == "destroy":
                version.destroyed = True
                version.data = None
        return _no_content()

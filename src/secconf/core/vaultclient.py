"""One place that connects to Vault (hvac) and turns its errors into secconf's.

Connection settings come from the standard Vault environment variables, which win over
an address written in the config repo (the repo holds mounts and paths, never
credentials): VAULT_ADDR, VAULT_TOKEN or ~/.vault-token, VAULT_NAMESPACE, VAULT_CACERT.
TLS is verified unless VAULT_SKIP_VERIFY is set or the caller asks, and then the caller
is told so it can warn.

Every request runs under the total deadline of `secconf.core.net`. The token never follows a
redirect to another host, port or scheme: such a redirect is refused. Every answer is
checked before hvac reads it (a JSON object of bounded size where JSON is due), and
the KV v2 answers secconf unpacks are checked for their shape (`kv_version`,
`listed_keys`): anything else is a one-line error, never a traceback.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from secconf.core import net
from secconf.core.errors import SecconfError
from secconf.core.retry import RetryPolicy, with_retries

_TRUE = ("1", "true", "yes", "on")
MAX_ANSWER_BYTES = 32 << 20  # Vault's own default limit on a request's size
_MAX_TEMPLATES = 64  # prepared GETs kept per session (one per origin and header set)


class RedirectRefused(Exception):
    """Vault redirected a request to another origin, where the token must not go."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


class MalformedAnswer(Exception):
    """Vault (or whatever answers at VAULT_ADDR) sent something that is not its API."""


@dataclass(frozen=True)
class VaultConnection:
    """Where and how to reach Vault. The token is never shown."""

    address: str
    token: str
    namespace: str | None
    verify: bool | str
    from_repo: bool = False  # the address came from an environment file, not VAULT_ADDR

    def __repr__(self) -> str:
        return f"VaultConnection(address={self.address!r}, namespace={self.namespace!r})"


def vault_connection(
    configured_address: str | None,
    error: type[SecconfError],
    *,
    environ: Mapping[str, str] | None = None,
    skip_verify: bool = False,
) -> VaultConnection:
    """Connection settings from the environment (first) and the config repo (address only)."""
    env = os.environ if environ is None else environ
    address = env.get("VAULT_ADDR") or configured_address
    from_repo = not env.get("VAULT_ADDR")
    if address:
        _check_address(address, "the environment file" if from_repo else "VAULT_ADDR", error)
    if address and from_repo and not _safe_for_token(address):
        # The token belongs to the person or CI job; the address to whoever last edited
        # the file. Never send it in clear to a host the repository names.
        raise error(
            f"refusing to send the Vault token over plain http to {address}, an address "
            "taken from the environment file",
            hint="use an https:// address, or export VAULT_ADDR to choose it yourself",
        )
    if not address:
        raise error(
            "no Vault address: VAULT_ADDR is not set and the environment file names none",
            hint="export VAULT_ADDR=https://vault.example:8200",
        )
    token = env.get("VAULT_TOKEN") or _token_file(Path(env.get("HOME", "~")).expanduser())
    if not token:
        raise error(
            "no Vault token: set VAULT_TOKEN or log in with `vault login` (~/.vault-token)",
            hint="secconf reads tokens only from the environment or ~/.vault-token",
        )
    _check_token(token, error)
    verify: bool | str = True
    if env.get("VAULT_CACERT"):
        verify = env["VAULT_CACERT"]
    if skip_verify or env.get("VAULT_SKIP_VERIFY", "").lower() in _TRUE:
        verify = False
    if isinstance(verify, str):
        _check_cacert(verify, error)
    return VaultConnection(
        address.rstrip("/"), token, env.get("VAULT_NAMESPACE") or None, verify, from_repo=from_repo
    )


def _check_address(address: str, origin: str, error: type[SecconfError]) -> None:
    """An http(s) URL with a host and a valid port, or a one-line error saying so."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(address)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        _ = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError:
        valid = False
    if not valid or any(c.isspace() or ord(c) < 32 for c in address):
        # The address is not repeated: whatever it holds, it is not an address.
        raise error(
            f"the Vault address from {origin} is not an http(s) URL with a host",
            hint="set it like https://vault.example:8200",
        )


def _check_cacert(path: str, error: type[SecconfError]) -> None:
    """VAULT_CACERT must name a readable file (or a directory of certificates)."""
    if os.path.isdir(path):
        return
    try:
        with open(path, "rb"):
            pass
    except FileNotFoundError:
        raise error(
            f"VAULT_CACERT names {path}, which does not exist",
            hint="point VAULT_CACERT at the PEM file of the CA that signed Vault's certificate",
        ) from None
    except OSError as exc:
        raise error(f"cannot read VAULT_CACERT {path}: {exc.strerror or exc}") from None


def _check_token(token: str, error: type[SecconfError]) -> None:
    """Register the token as a credential, and refuse one that no header can carry (the
    HTTP library would raise an error quoting it)."""
    from secconf.core import redact

    redact.register_credential(token)
    if any(c.isspace() or not c.isprintable() for c in token):
        raise error(
            "the Vault token holds whitespace or control characters",
            hint="check VAULT_TOKEN or ~/.vault-token: a token is one word, on one line",
        )


def _safe_for_token(address: str) -> bool:
    """https, or plain http to this machine only."""
    from urllib.parse import urlsplit

    parts = urlsplit(address)
    loopback = (parts.hostname or "") in ("127.0.0.1", "localhost", "::1")
    return parts.scheme == "https" or (parts.scheme == "http" and loopback)


def _token_file(home: Path) -> str | None:
    try:
        return (home / ".vault-token").read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def make_client(connection: VaultConnection) -> Any:
    """An hvac client for the connection, on a session that bounds, checks and confines."""
    import hvac

    session = _session_class()()
    # hvac prefers the session's `verify` to its own argument when it is truthy.
    session.verify = connection.verify
    session.hooks["response"].append(_check_answer)
    net.mount_bounded(session)
    return hvac.Client(
        url=connection.address,
        token=connection.token,
        namespace=connection.namespace,
        verify=connection.verify,
        # Per socket operation; the total of the request is net's deadline.
        timeout=net.timeout(),
        session=session,
    )


@functools.cache
def _session_class() -> type[Any]:
    import requests

    class VaultSession(requests.Session):
        """A session that never carries the Vault token to another origin, and reads the
        process environment once per origin.

        requests drops only `Authorization` on such a redirect; hvac sends the token in
        `X-Vault-Token`, so the redirect is refused before anything is sent there.

        requests looks up the proxy and CA bundle variables (HTTPS_PROXY, NO_PROXY,
        REQUESTS_CA_BUNDLE...) at every request, about a third of the CPU a Vault read
        costs; a session lives for one command, so the answer is kept per origin and
        arguments (the environment is not expected to change under a running command).

        A plain GET (hvac's reads and lists: no body, cookies, auth or hooks of its own)
        is prepared from a request prepared once per origin and headers, so ~/.netrc
        and the session's headers, hooks and cookie jar are merged once, not at every
        read; then it goes through `send` like any request (redirects, hooks, cookies).
        Anything else, or once the session holds a cookie, is prepared by requests.
        """

        def request(  # type: ignore[override]
            self,
            method: str,
            url: Any,
            params: Any = None,
            data: Any = None,
            headers: Any = None,
            cookies: Any = None,
            files: Any = None,
            auth: Any = None,
            timeout: Any = None,
            allow_redirects: bool = True,
            proxies: Any = None,
            hooks: Any = None,
            stream: Any = None,
            verify: Any = None,
            cert: Any = None,
            json: Any = None,
        ) -> Any:
            prepared = None
            plain = not (data or files or cookies or auth or hooks) and json is None
            if plain and isinstance(method, str) and method.upper() == "GET":
                prepared = self._prepared_get(url, params, headers)
            if prepared is None:
                return super().request(
                    method,
                    url,
                    params=params,
                    data=data,
                    headers=headers,
                    cookies=cookies,
                    files=files,
                    auth=auth,
                    timeout=timeout,
                    allow_redirects=allow_redirects,
                    proxies=proxies,
                    hooks=hooks,
                    stream=stream,
                    verify=verify,
                    cert=cert,
                    json=json,
                )
            settings = self.merge_environment_settings(
                prepared.url, proxies or {}, stream, verify, cert
            )
            return self.send(prepared, timeout=timeout, allow_redirects=allow_redirects, **settings)

        def _prepared_get(self, url: Any, params: Any, headers: Any) -> Any:
            """A GET of `url` prepared as `prepare_request` would, from the GET of its
            origin with the same headers prepared once; None where that could differ."""
            from urllib.parse import urlsplit

            import requests

            if not isinstance(url, str) or self.cookies or self.auth or self.params:
                return None
            try:
                parts = urlsplit(url)
                key = (parts.scheme, parts.netloc, tuple((headers or {}).items()))
                hash(key)
            except (ValueError, TypeError):  # requests reports it as it always does
                return None
            templates: dict[Any, Any] = self.__dict__.setdefault("_templates", {})
            template = templates.get(key)
            if template is None:
                if len(templates) >= _MAX_TEMPLATES:
                    templates.clear()
                origin = f"{parts.scheme}://{parts.netloc}/"
                request = requests.Request("GET", origin, headers=dict(headers or {}))
                template = templates[key] = self.prepare_request(request)
            prepared = template.copy()
            prepared.prepare_url(url, params or {})
            return prepared

        def merge_environment_settings(
            self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
        ) -> Any:
            from urllib.parse import urlsplit

            try:
                parts = urlsplit(url)
            except ValueError:  # requests refuses the URL when it sends it
                return super().merge_environment_settings(url, proxies, stream, verify, cert)
            args = (frozenset((proxies or {}).items()), stream, verify, cert)
            key = (parts.scheme, parts.netloc, args)
            cache: dict[Any, Any] = self.__dict__.setdefault("_environment", {})
            settings: Any = cache.get(key)
            if settings is None:
                settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
                cache[key] = settings
            return {**settings, "proxies": dict(settings["proxies"])}

        def rebuild_auth(self, prepared_request: Any, response: Any) -> None:
            if self.should_strip_auth(  # type: ignore[no-untyped-call]
                response.request.url, prepared_request.url
            ):
                prepared_request.headers.pop("X-Vault-Token", None)
                raise RedirectRefused(_origin(prepared_request.url))
            super().rebuild_auth(prepared_request, response)  # type: ignore[no-untyped-call]

    return VaultSession


def _origin(url: str) -> str:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
    except ValueError:
        return "another address"


def _check_answer(response: Any, *args: Any, **kwargs: Any) -> Any:
    """A response hook: where hvac will read JSON, it must be one JSON object, bounded.

    hvac reads the body of every 200 and of every error marked application/json (other
    answers, such as 204, it does not read); a body that is not a JSON object would
    reach secconf as a Response object, a list or a string, and fail far from here.
    """
    media = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    read_by_hvac = response.status_code == 200 or (not response.ok and media == "application/json")
    if response.is_redirect or not read_by_hvac:
        return response
    chunks, size = [], 0
    for chunk in response.iter_content(1 << 16):
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise MalformedAnswer(f"an answer over {MAX_ANSWER_BYTES} bytes")
        chunks.append(chunk)
    response._content = b"".join(chunks)  # read once, here; requests keeps it
    try:
        body = json.loads(response._content)
    except ValueError:
        raise MalformedAnswer("an answer that is not JSON") from None
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(body, dict) or not isinstance(errors, list | None):
        raise MalformedAnswer("an answer that is not a JSON object")
    return response


@dataclass(frozen=True)
class KvVersion:
    """One version of a KV v2 secret, as a read answers it, checked. Values never shown."""

    values: dict[str, Any] = field(repr=False)
    version: int
    created_time: str
    custom_metadata: dict[str, str] | None
    deleted: bool = False  # soft-deleted (or destroyed): no values, still a version number


def read_kv(client: Any, mount: str, path: str, *, version: int | None = None) -> KvVersion | None:
    """One KV v2 read, checked (`kv_version`); run it inside `call`. None when no secret
    is at `path`. A soft-deleted version comes back as one (`deleted`, no values): its
    number is what a check-and-set write must name. A 404 that names no route (a wrong
    mount, not a missing secret) is raised, for `vault_errors` to say what to check."""
    import hvac.exceptions as hx

    try:
        response = client.secrets.kv.v2.read_secret_version(
            path=path, version=version, mount_point=mount, raise_on_deleted_version=False
        )
    except hx.InvalidPath as exc:
        if exc.errors:  # "no handler for route"
            raise
        return None
    return kv_version(response)


def kv_version(response: Any) -> KvVersion | None:
    """The secret in a KV v2 read answer; None when the answer holds none.

    A soft-deleted version comes back with no values and its metadata (its version
    number is still what a check-and-set write needs).
    """
    if response is None:
        return None
    data = _field(response, "data", dict, optional=True)
    if data is None:
        return None
    meta = _field(data, "metadata", dict, optional=True) or {}
    stored = _field(data, "data", dict, optional=True)
    values = stored or {}
    version = _field(meta, "version", int, optional=True) or 0
    created = _field(meta, "created_time", str, optional=True) or ""
    custom = _field(meta, "custom_metadata", dict, optional=True)
    # Vault answers `data: null` for a deleted or destroyed version (a deletion time
    # may also be set in the future on a live one: delete_version_after).
    deleted = stored is None
    if isinstance(version, bool) or version < 0:
        raise MalformedAnswer("a version that is not a version number")
    if custom is not None and not all(isinstance(v, str) for v in custom.values()):
        raise MalformedAnswer("custom metadata that is not text")
    return KvVersion({str(k): v for k, v in values.items()}, version, created, custom, deleted)


def listed_keys(response: Any) -> list[str]:
    """The keys of a KV v2 list answer."""
    keys = _field(_field(response, "data", dict), "keys", list)
    if not all(isinstance(k, str) for k in keys):
        raise MalformedAnswer("listed keys that are not text")
    return list(keys)


def _field(container: Any, name: str, kind: type[Any], *, optional: bool = False) -> Any:
    if not isinstance(container, dict):
        raise MalformedAnswer(f"an answer without a JSON object where {name} belongs")
    value = container.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, kind):
        raise MalformedAnswer(f"{name} of the wrong type")
    return value


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: connection faults, timeouts, 429, 500, 502, and 503 unless sealed."""
    import hvac.exceptions as hx
    import requests

    if isinstance(exc, requests.exceptions.SSLError):
        return False  # a certificate does not fix itself: say so at once
    if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
        return True
    if isinstance(exc, hx.VaultDown):
        return not _sealed(exc)
    return isinstance(exc, hx.RateLimitExceeded | hx.InternalServerError | hx.BadGateway)


def is_cas_mismatch(exc: BaseException) -> bool:
    """True for the 400 Vault answers when check-and-set finds another version."""
    import hvac.exceptions as hx

    return isinstance(exc, hx.InvalidRequest) and "check-and-set" in " ".join(
        str(e) for e in (exc.errors or [exc.args[0] if exc.args else ""])
    )


def _sealed(exc: BaseException) -> bool:
    return "sealed" in " ".join(str(e) for e in (getattr(exc, "errors", None) or [])).lower()


def call(
    action: Callable[[], Any],
    *,
    what: str,
    connection: VaultConnection,
    error: type[SecconfError],
    policy: RetryPolicy | None = None,
    on_retry: Callable[[BaseException, int, float], None] | None = None,
) -> Any:
    """Run one Vault request with retries on transient faults; errors become `error`."""
    with vault_errors(what, connection, error):
        return with_retries(action, transient=is_transient, policy=policy, on_retry=on_retry)


@contextmanager
def vault_errors(
    what: str, connection: VaultConnection, error: type[SecconfError]
) -> Iterator[None]:
    """Translate hvac and connection errors into `error` with what to check."""
    import hvac.exceptions as hx
    import requests

    try:
        yield
    except net.DeadlineExceeded as exc:
        raise error(
            f"no answer from Vault at {connection.address} within {exc.seconds:g} s while {what}",
            hint="check that Vault is up and answering; --timeout SECONDS allows longer",
        ) from None
    except RedirectRefused as exc:
        raise error(
            f"Vault at {connection.address} redirected {what} to {exc.target}; secconf "
            "never sends the token to another host",
            hint="if you trust that address (e.g. the active node), set VAULT_ADDR to it",
        ) from None
    except MalformedAnswer as exc:
        raise error(
            f"Vault at {connection.address} gave an answer that is not a KV v2 response "
            f"while {what} ({exc})",
            hint="check that VAULT_ADDR points at Vault itself, and the mount is KV version 2",
        ) from None
    except hx.Forbidden:
        raise error(
            f"Vault at {connection.address} denied {what} (403 permission denied)",
            hint="check VAULT_TOKEN and that its policy allows this path"
            + (f" in namespace {connection.namespace}" if connection.namespace else ""),
        ) from None
    except hx.VaultDown as exc:
        if _sealed(exc):
            raise error(
                f"Vault at {connection.address} is sealed",
                hint="unseal it (vault operator unseal) and run again",
            ) from None
        raise error(f"Vault at {connection.address} is unavailable (503) for {what}") from None
    except hx.InvalidPath:
        raise error(
            f"Vault at {connection.address} has no such path for {what} (404)",
            hint="check the mount (a KV version 2 engine) and path in the environment file",
        ) from None
    except hx.Unauthorized:
        raise error(
            f"Vault at {connection.address} refused the token (401)",
            hint="log in again or set a valid VAULT_TOKEN",
        ) from None
    except hx.VaultError as exc:
        status = type(exc).__name__
        raise error(f"Vault at {connection.address} failed {what}: {status}") from None
    except requests.exceptions.SSLError:
        raise error(
            f"TLS verification of {connection.address} failed",
            hint="set VAULT_CACERT to the CA that signed Vault's certificate",
        ) from None
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout):
        raise error(
            f"cannot reach Vault at {connection.address}",
            hint="check VAULT_ADDR and that Vault is running and reachable",
        ) from None
    except requests.exceptions.RequestException as exc:
        # A broken answer (cut short, badly encoded), a URL requests will not send to...
        raise error(
            f"cannot talk to Vault at {connection.address} while {what} ({type(exc).__name__})",
            hint="check VAULT_ADDR and that Vault answers there",
        ) from None


def patch_custom_metadata(client: Any, mount: str, path: str, values: dict[str, str]) -> None:
    """Merge keys into a KV v2 secret's custom metadata (JSON merge patch, Vault 1.9+).

    Unlike hvac's update_metadata, this leaves every other metadata setting and every
    custom key someone else set as it was.
    """
    client.adapter.request(
        "PATCH",
        f"/v1/{mount}/metadata/{path}",
        json={"custom_metadata": values},
        headers={"Content-Type": "application/merge-patch+json"},
    )

"""One place that connects to Vault (hvac) and turns its errors into secconf's.

Connection settings come from the standard Vault environment variables, which win over
an address written in the config repo (the repo holds mounts and paths, never
credentials): VAULT_ADDR, VAULT_TOKEN or ~/.vault-token, VAULT_NAMESPACE, VAULT_CACERT.
TLS is verified unless VAULT_SKIP_VERIFY is set or the caller asks, and then the caller
is told so it can warn.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from secconf.core.errors import SecconfError
from secconf.core.retry import RetryPolicy, with_retries

_TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class VaultConnection:
    """Where and how to reach Vault. The token is never shown."""

    address: str
    token: str
    namespace: str | None
    verify: bool | str
    timeout: float = 10.0
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
    return VaultConnection(
        address.rstrip("/"), token, env.get("VAULT_NAMESPACE") or None, verify, from_repo=from_repo
    )


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
    """An hvac client for the connection."""
    import hvac

    return hvac.Client(
        url=connection.address,
        token=connection.token,
        namespace=connection.namespace,
        verify=connection.verify,
        timeout=connection.timeout,
    )


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

"""Config repos for deploy tests, and the checks every deploy test shares.

One `Deployment` is a config repo whose environments deliver under names that are
unique to the test (Vault paths under `prefix/`, Kubernetes objects named `prefix-ENV-*`
in the test's namespace), so tests sharing one server never see each other's data.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tests.support.repo import Result, make_repo, run, write_env

from secconf.core.retry import RetryPolicy

MOUNT = "secret"
# The sensitive variables of the bundled schema that the test environments deliver.
SENSITIVE = ("JWT_SECRET_KEY", "VAPID_PRIVATE_KEY", "TURNSTILE_SECRET_KEY")
# Every variable is delivered: the environments set or default all 17.
DELIVERED = 17


def environment_yaml(
    prefix: str, name: str, namespace: str, *, mount: str = MOUNT, extra: str = ""
) -> str:
    """A non-production environment: generated keys, a literal, a from_env secret."""
    return f"""
        description: {name}, a deploy test environment
        values:
          JWT_SECRET_KEY: {{generate: true}}
          VAPID_PRIVATE_KEY: {{generate: true}}
          VAPID_PUBLIC_KEY: {{generate: true}}
          VAPID_SUBJECT: mailto:webpush@acme-shop.io
          TURNSTILE_ENABLED: true
          TURNSTILE_SITE_KEY: 0x4AAAAAAAB1x2y3z4
          TURNSTILE_SECRET_KEY: {{from_env: {injected_var(name)}}}
          ADMIN_CONTACT_EMAIL: ops@acme-shop.io
        {extra}
        targets:
          vault: {{mount: {mount}, secret_path: {prefix}/{name}/app}}
          kubernetes: {{namespace: {namespace}, app_name: {prefix}-{name}}}
    """


def injected_var(name: str) -> str:
    """The process variable CI injects an environment's Turnstile secret through."""
    return f"DEPLOYTEST_{name.upper().replace('-', '_')}_TURNSTILE_SECRET"


@dataclass
class Deployment:
    """A config repo of test environments and where each is delivered."""

    root: Path
    prefix: str
    namespace: str
    names: tuple[str, ...]
    injected: dict[str, str] = field(default_factory=dict)  # variable -> value

    def run(self, *args: str) -> Result:
        """`secconf --root ROOT ARGS...` in-process."""
        return run(self.root, *args)

    def vault_path(self, env: str) -> str:
        """The KV v2 path an environment is delivered to (without the mount)."""
        return f"{self.prefix}/{env}/app"

    def secret_name(self, env: str) -> str:
        """The Kubernetes Secret of an environment."""
        return f"{self.prefix}-{env}-secrets"

    def configmap_name(self, env: str) -> str:
        """The Kubernetes ConfigMap of an environment."""
        return f"{self.prefix}-{env}-config"

    def rewrite(self, name: str, text: str) -> None:
        """Replace an environment file."""
        write_env(self.root, name, text)


def make_deployment(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    prefix: str,
    *,
    names: Iterable[str] = ("dev",),
    namespace: str = "default",
    namespaces: Mapping[str, str] | None = None,
    mounts: Mapping[str, str] | None = None,
) -> Deployment:
    """A repo whose environments deliver under `prefix`; their injected secrets are set."""
    names = tuple(names)
    texts = {
        n: environment_yaml(
            prefix,
            n,
            (namespaces or {}).get(n, namespace),
            mount=(mounts or {}).get(n, MOUNT),
        )
        for n in names
    }
    root = make_repo(tmp_path / "repo", texts)
    deployment = Deployment(root, prefix, namespace, names)
    for n in names:
        value = f"ts-{n}-{secrets.token_urlsafe(18)}"
        monkeypatch.setenv(injected_var(n), value)
        deployment.injected[injected_var(n)] = value
    return deployment


# --------------------------------------------------------------------------- live values


def vault_secret_values(vault: Any, deployment: Deployment) -> list[str]:
    """The sensitive values live in Vault for every environment of the deployment."""
    values = list(deployment.injected.values())
    for env in deployment.names:
        data = vault.kv_read(MOUNT, deployment.vault_path(env)) or {}
        values += [str(data[k]) for k in SENSITIVE if k in data]
    return values


def decoded(secret: Mapping[str, Any] | None) -> dict[str, str]:
    """A Secret's data, base64-decoded (or a ConfigMap's data as it is)."""
    if not secret:
        return {}
    data = secret.get("data") or {}
    if secret.get("kind") == "ConfigMap":
        return dict(data)
    return {k: base64.b64decode(v).decode("utf-8") for k, v in data.items()}


def kube_secret_values(kube: Any, deployment: Deployment) -> list[str]:
    """The sensitive values live in the Kubernetes Secrets of every environment."""
    values = list(deployment.injected.values())
    for env in deployment.names:
        secret = kube.get_object("Secret", deployment.namespace, deployment.secret_name(env))
        values += list(decoded(secret).values())
    return values


# --------------------------------------------------------------------------- leaks


def leak_forms(value: str) -> set[str]:
    """How a value could show up in output: as is, a long prefix of it, its base64."""
    forms = {value, value[:16]}
    b64 = base64.b64encode(value.encode("utf-8")).decode("ascii")
    forms |= {b64, b64[:16], base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")}
    return {f for f in forms if len(f) >= 12}


def assert_no_leak(outputs: Iterable[Result | str], values: Iterable[str]) -> None:
    """No secret value (nor its base64) appears in any stdout or stderr."""
    text = "\n".join(o.both if isinstance(o, Result) else o for o in outputs)
    assert text.strip(), "no output was collected"
    for value in values:
        for form in leak_forms(value):
            assert form not in text, f"a secret value leaked into the output ({len(value)} chars)"


# --------------------------------------------------------------------------- library API


# Retries with millisecond backoff, so fault tests take no real time; attempts as shipped.
FAST_RETRIES = RetryPolicy(base_seconds=0.001, cap_seconds=0.005)


def deploy_target(name: str, **options: Any) -> Any:
    """The deploy target of render target `name`, retrying fast unless told otherwise."""
    from secconf.deploy.base import DeployOptions
    from secconf.operations.deploy import deploy_target as build

    return build(name, DeployOptions(**{"policy": FAST_RETRIES, **options}))


def plan_outcomes(
    root: Path,
    envs: Iterable[str],
    target: Any,
    *,
    prune: bool = False,
    generate: bool = False,
    parallel: int = 4,
) -> list[Any]:
    """`secconf plan` through the operation (no CLI): one Outcome per environment."""
    from secconf.operations.deploy import plan_environments
    from secconf.operations.project import Project

    project = Project.open(root)
    return plan_environments(
        project,
        [project.environments.get(env) for env in envs],
        target,
        prune=prune,
        generate=generate,
        parallel=parallel,
        notify=lambda _message: None,
    )


def apply_outcomes(
    root: Path, envs: Iterable[str], target: Any, *, prune: bool = False
) -> list[Any]:
    """`secconf apply --yes` through the operations: plan (generating keys), then apply."""
    from secconf.operations.deploy import apply_plans

    planned = plan_outcomes(root, envs, target, prune=prune, generate=True)
    return apply_plans(planned, target, parallel=4)


def library_plan(root: Path, env: str, target_name: str, *, prune: bool = False) -> tuple[Any, Any]:
    """Plan one environment through the operation (no CLI): the target and its Plan.

    For tests that must act between plan and apply, as a concurrent writer would.
    """
    target = deploy_target(target_name)
    (outcome,) = plan_outcomes(root, [env], target, prune=prune, generate=True)
    if outcome.error is not None:
        raise outcome.error
    return target, outcome.plan


# --------------------------------------------------------------------------- TLS


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (its own CA) and its key, as PEM files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "secconf test vault")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "vault.crt", directory / "vault.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@contextmanager
def tls_vault(directory: Path) -> Iterator[tuple[Any, Path]]:
    """A loopback Vault served over HTTPS with a self-signed certificate; (server, CA file)."""
    import ssl

    from tests.support.vault_server import VaultServer

    cert_path, key_path = self_signed_certificate(directory)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    with VaultServer(token="tls-root-token") as server:
        # The listening socket is wrapped before any client connects; a client that
        # rejects the certificate only costs a failed accept, which the server ignores.
        httpd = server._httpd
        assert httpd is not None
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        yield server, cert_path

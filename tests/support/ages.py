"""Config repos whose stores use the age cipher, and identities made for tests."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import pyrage
from tests.support.repo import make_repo

GENERATED = "values:\n  JWT_SECRET_KEY: {generate: true}\n  VAPID_PRIVATE_KEY: {generate: true}\n"


class Person(NamedTuple):
    """An age identity: its file's content (a private key) and its public key."""

    identity: str
    public: str


def person() -> Person:
    """A new age identity."""
    identity = pyrage.x25519.Identity.generate()
    return Person(f"{identity}\n", str(identity.to_public()))


def ssh_person(comment: str = "alice@laptop") -> Person:
    """A new SSH ed25519 key pair: its OpenSSH private key, and `ssh-ed25519 AAAA… comment`."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return Person(private, f"{public.decode()} {comment}")


def age_env(recipients: list[str], values: str = GENERATED) -> str:
    """An environment file whose store is sealed to `recipients`."""
    listed = ", ".join(f'"{r}"' for r in recipients)
    return (
        values
        + f"store:\n  backend: file\n  file:\n    encryption: age\n    recipients: [{listed}]\n"
    )


def write_groups(root: Path, groups: dict[str, list[Person]]) -> None:
    """`recipients.yaml` with these groups."""
    lines = ["groups:"]
    for name, people in groups.items():
        lines.append(f"  {name}:")
        lines += [f'    - "{p.public}"' for p in people]
    (root / "recipients.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def age_repo(root: Path, groups: dict[str, list[Person]], recipients: list[str]) -> Path:
    """A config repo with one environment, `dev`, on the age cipher."""
    make_repo(root, {"dev": age_env(recipients)})
    write_groups(root, groups)
    return root


def identity_file(path: Path, *people: Person) -> Path:
    """An identity file (mode 0600) holding these people's private keys."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(p.identity for p in people), encoding="utf-8")
    os.chmod(path, 0o600)
    return path

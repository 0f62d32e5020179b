"""Generators: one function per `generator.kind`, each returning the group's values."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Sequence

from secconf.keys import HASH_BYTES
from secconf.schema.models import Variable


def _urlsafe_token(n_bytes: int) -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(n_bytes)).decode("ascii").rstrip("=")


def _jwt_secret(members: Sequence[Variable], algorithm: str | None) -> dict[str, str]:
    (variable,) = members
    assert variable.generator is not None
    wanted = max(HASH_BYTES.get(algorithm or "", 64), variable.generator.bytes or 0)
    return {variable.name: _urlsafe_token(wanted)}


def _random_token(members: Sequence[Variable], algorithm: str | None) -> dict[str, str]:
    (variable,) = members
    assert variable.generator is not None
    return {variable.name: _urlsafe_token(variable.generator.bytes or 32)}


def _vapid(members: Sequence[Variable], algorithm: str | None) -> dict[str, str]:
    from cryptography.hazmat.primitives.asymmetric import ec

    from secconf.keys.vapid import vapid_private_key_text, vapid_public_key_text

    key = ec.generate_private_key(ec.SECP256R1())
    out: dict[str, str] = {}
    for variable in members:
        gen = variable.generator
        assert gen is not None
        if gen.part == "private_key":
            out[variable.name] = vapid_private_key_text(key, gen.private_format)
        else:
            out[variable.name] = vapid_public_key_text(key)
    return out


GENERATORS: dict[str, Callable[[Sequence[Variable], str | None], dict[str, str]]] = {
    "jwt-secret": _jwt_secret,
    "random-token": _random_token,
    "vapid": _vapid,
}


def generate_group(members: Sequence[Variable], *, algorithm: str | None = None) -> dict[str, str]:
    """Fresh values for every member of one generation group, generated together.

    `algorithm` is the environment's JWT algorithm, for generators that size keys by it
    (an unknown or missing algorithm gets the largest size, 64 bytes).
    """
    first = members[0].generator
    assert first is not None, "only generated variables have a group"
    return GENERATORS[first.kind](members, algorithm)

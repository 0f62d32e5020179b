"""VAPID keys (RFC 8292) as text: parse and encode the forms the application accepts.

Private key: the URL-safe base64 of its PKCS#8 DER encoding (what the application's
documented snippet prints), or of the raw 32-byte scalar (what the node `web-push`
tools print). Public key: the URL-safe base64 of the 65-byte uncompressed X9.62 point.
Padding is optional on input; the reference's encoding (with padding) is produced.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, TypeVar, cast

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

_B64URL = re.compile(r"^[A-Za-z0-9_-]*={0,2}$")

PrivateFormat = Literal["pkcs8", "raw"]
_Key = TypeVar("_Key")


class VapidKeyError(ValueError):
    """A VAPID key that does not parse; the message says why, never the key."""


def b64url_decode(text: str) -> bytes:
    """Decode URL-safe base64 with or without padding; VapidKeyError on anything else."""
    stripped = text.strip()
    if not _B64URL.match(stripped):
        raise VapidKeyError("is not URL-safe base64 (only A-Z a-z 0-9 - _ and = padding)")
    body = stripped.rstrip("=")
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise VapidKeyError("is not valid base64") from None


def b64url_encode(data: bytes, *, padding: bool = True) -> str:
    """URL-safe base64, with `=` padding unless asked otherwise."""
    text = base64.urlsafe_b64encode(data).decode("ascii")
    return text if padding else text.rstrip("=")


# Keys parsed, by the fingerprint of their text: validation reads each key several times
# per environment, and many environments share one pair; parsing costs more than the
# rest of validation. Bounded; holds no key text.
_parsed: dict[tuple[str, bytes], object] = {}
_MAX_PARSED = 256


def _cached(kind: str, text: str, parse: Callable[[str], _Key]) -> _Key:
    """`parse(text)`, or its result (a key or the VapidKeyError) from an earlier call."""
    import hashlib

    slot = (kind, hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest())
    if slot not in _parsed:
        try:
            result: object = parse(text)
        except VapidKeyError as exc:
            result = exc
        if len(_parsed) >= _MAX_PARSED:
            _parsed.clear()
        _parsed[slot] = result
    found = _parsed[slot]
    if isinstance(found, VapidKeyError):
        raise VapidKeyError(str(found))
    return cast(_Key, found)


def load_vapid_private_key(text: str) -> ec.EllipticCurvePrivateKey:
    """The P-256 private key of a VAPID_PRIVATE_KEY value (PKCS#8 DER or raw 32 bytes)."""
    return _cached("private", text, _load_private)


def load_vapid_public_key(text: str) -> ec.EllipticCurvePublicKey:
    """The P-256 public key of a VAPID_PUBLIC_KEY value (65-byte uncompressed point)."""
    return _cached("public", text, _load_public)


def _load_private(text: str) -> ec.EllipticCurvePrivateKey:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    data = b64url_decode(text)
    if len(data) == 32:
        try:
            return ec.derive_private_key(int.from_bytes(data, "big"), ec.SECP256R1())
        except ValueError:
            raise VapidKeyError("is not a valid P-256 private scalar") from None
    try:
        key = load_der_private_key(data, password=None)
    except (ValueError, TypeError):
        raise VapidKeyError("is neither a PKCS#8 DER private key nor a raw 32-byte key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise VapidKeyError("is not a P-256 (prime256v1) elliptic-curve key")
    return key


def _load_public(text: str) -> ec.EllipticCurvePublicKey:
    from cryptography.hazmat.primitives.asymmetric import ec

    data = b64url_decode(text)
    if len(data) != 65 or data[0] != 0x04:
        raise VapidKeyError(
            f"is {len(data)} bytes; a VAPID public key is a 65-byte uncompressed P-256 point"
        )
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data)
    except ValueError:
        raise VapidKeyError("is not a point on the P-256 curve") from None


def public_point(key: ec.EllipticCurvePublicKey) -> bytes:
    """The 65-byte uncompressed X9.62 encoding of a public key."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def vapid_public_key_text(private: ec.EllipticCurvePrivateKey) -> str:
    """VAPID_PUBLIC_KEY for a private key, encoded as the reference's snippet does."""
    return b64url_encode(public_point(private.public_key()))


def vapid_private_key_text(private: ec.EllipticCurvePrivateKey, form: PrivateFormat) -> str:
    """VAPID_PRIVATE_KEY in the chosen form: PKCS#8 DER (reference) or the raw scalar."""
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    if form == "raw":
        scalar = private.private_numbers().private_value.to_bytes(32, "big")
        return b64url_encode(scalar, padding=False)
    der = private.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    return b64url_encode(der)

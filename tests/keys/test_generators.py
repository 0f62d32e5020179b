"""Generated keys work with the libraries that consume them: py_vapid and PyJWT."""

from __future__ import annotations

import base64
import warnings

import jwt
import pytest
from py_vapid import Vapid01, Vapid02
from tests.support.repo import BUNDLED

from secconf.keys.generate import generate_group
from secconf.schema import load_schema

SCHEMA = load_schema(BUNDLED / "schema")
VARIABLES = SCHEMA.variables


def vapid_pair(private_format: str = "pkcs8") -> dict[str, str]:
    members = [VARIABLES["VAPID_PUBLIC_KEY"], VARIABLES["VAPID_PRIVATE_KEY"]]
    if private_format == "raw":
        private = members[1]
        generator = private.generator.replace(private_format="raw")  # type: ignore[union-attr]
        members[1] = private.replace(generator=generator)
    return generate_group(members)


@pytest.mark.parametrize("private_format", ["pkcs8", "raw"])
def test_vapid_key_signs_a_claim_that_verifies_with_the_public_key(private_format: str) -> None:
    pair = vapid_pair(private_format)
    vapid = Vapid01.from_string(pair["VAPID_PRIVATE_KEY"])
    claims = {"sub": "mailto:ops@acme-shop.io", "aud": "https://push.services.mozilla.com"}
    header = vapid.sign(dict(claims))
    assert Vapid01.verify(pair["VAPID_PUBLIC_KEY"], header["Authorization"])
    # RFC 8292 form: the key in the header is the generated public key
    header2 = Vapid02.from_string(pair["VAPID_PRIVATE_KEY"]).sign(dict(claims))
    k = dict(p.split("=", 1) for p in header2["Authorization"].split(" ", 1)[1].split(","))["k"]
    assert k == pair["VAPID_PUBLIC_KEY"].rstrip("=")
    assert Vapid02.verify(header2["Authorization"])


def test_another_public_key_does_not_verify() -> None:
    one, other = vapid_pair(), vapid_pair()
    header = Vapid01.from_string(one["VAPID_PRIVATE_KEY"]).sign(
        {"sub": "mailto:ops@acme-shop.io", "aud": "https://fcm.googleapis.com"}
    )
    assert not Vapid01.verify(other["VAPID_PUBLIC_KEY"], header["Authorization"])


def test_vapid_encoding_is_the_reference_snippets() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        PublicFormat,
        load_der_private_key,
    )

    pair = vapid_pair()
    # padded URL-safe base64, as base64.urlsafe_b64encode (the snippet) writes it
    key = load_der_private_key(base64.urlsafe_b64decode(pair["VAPID_PRIVATE_KEY"]), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1)
    der = key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    public_raw = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    assert pair["VAPID_PRIVATE_KEY"] == base64.urlsafe_b64encode(der).decode()
    assert pair["VAPID_PUBLIC_KEY"] == base64.urlsafe_b64encode(public_raw).decode()


@pytest.mark.parametrize("algorithm", ["HS256", "HS384", "HS512"])
def test_jwt_secret_signs_and_verifies_without_a_weak_key_warning(algorithm: str) -> None:
    secret = generate_group([VARIABLES["JWT_SECRET_KEY"]], algorithm=algorithm)["JWT_SECRET_KEY"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # PyJWT's InsecureKeyLengthWarning would raise here
        token = jwt.encode({"sub": "user-1"}, secret, algorithm=algorithm)
        assert jwt.decode(token, secret, algorithms=[algorithm]) == {"sub": "user-1"}
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, secret + "x", algorithms=[algorithm])
    assert len(secret) >= {"HS256": 32, "HS384": 48, "HS512": 64}[algorithm]


def test_pyjwt_warns_on_a_short_key_so_the_check_above_means_something() -> None:
    with pytest.warns(jwt.warnings.InsecureKeyLengthWarning):
        jwt.encode({"sub": "u"}, "x" * 40, algorithm="HS512")


def test_generated_values_differ() -> None:
    keys = {generate_group([VARIABLES["JWT_SECRET_KEY"]])["JWT_SECRET_KEY"] for _ in range(20)}
    assert len(keys) == 20

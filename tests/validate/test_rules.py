"""Every validation rule: a case that must trigger it and a case that must not."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from tests.support.repo import codes, findings_for, make_repo, write_env

JWT_KEY = "k" * 64


def reference_vapid_pair() -> tuple[str, str]:
    """A key pair made exactly as the application's documentation snippet makes it."""
    private_key = ec.generate_private_key(ec.SECP256R1())
    private_der = private_key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    public_raw = private_key.public_key().public_bytes(
        Encoding.X962, PublicFormat.UncompressedPoint
    )
    return (
        base64.urlsafe_b64encode(public_raw).decode(),
        base64.urlsafe_b64encode(private_der).decode(),
    )


PUBLIC, PRIVATE = reference_vapid_pair()
OTHER_PUBLIC, OTHER_PRIVATE = reference_vapid_pair()

CLEAN = {
    "JWT_SECRET_KEY": "{from_env: JWT}",
    "JWT_ALGORITHM": "HS512",
    "VAPID_PUBLIC_KEY": "{from_env: VPUB}",
    "VAPID_PRIVATE_KEY": "{from_env: VPRIV}",
    "VAPID_SUBJECT": "mailto:ops@acme-shop.io",
    "TURNSTILE_ENABLED": "true",
    "TURNSTILE_SITE_KEY": "'0x4AAAAAAAreal-site-key'",
    "TURNSTILE_SECRET_KEY": "{from_env: TS}",
    "ADMIN_CONTACT_EMAIL": "admin@acme-shop.io",
    "ADMIN_CONTACT_URL": "https://acme-shop.io/help",
}
ENVIRON = {"JWT": JWT_KEY, "VPUB": PUBLIC, "VPRIV": PRIVATE, "TS": "0x4AAAAAAAreal-secret"}


def check(
    tmp_path: Path,
    production: bool = True,
    environ: dict[str, str] | None = None,
    drop: tuple[str, ...] = (),
    **values: str,
) -> set[tuple[str, str, str | None]]:
    merged = {k: v for k, v in {**CLEAN, **values}.items() if k not in drop}
    lines = [f"production: {'true' if production else 'false'}", "values:"]
    lines += [f"  {k}: {v}" for k, v in merged.items()]
    root = tmp_path / "repo"
    if not root.exists():
        make_repo(root, {})
    write_env(root, "env", "\n".join(lines) + "\n")
    return codes(findings_for(root, "env", ENVIRON if environ is None else environ))


def errors_and_warnings(
    found: set[tuple[str, str, str | None]],
) -> set[tuple[str, str, str | None]]:
    return {f for f in found if f[1] != "info"}


def test_the_clean_production_environment_has_no_finding(tmp_path: Path) -> None:
    assert check(tmp_path) == set()


def test_sc001_unknown_variable_with_did_you_mean(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"e": "values:\n  JWT_SECRT_KEY: x\n  WHOLLY_UNRELATED: y\n"})
    found = findings_for(root, "e")
    unknown = [f for f in found if f.code == "SC001"]
    assert [(f.variable, f.severity, f.line) for f in unknown] == [
        ("JWT_SECRT_KEY", "error", 2),
        ("WHOLLY_UNRELATED", "error", 3),
    ]
    assert unknown[0].hint == "did you mean JWT_SECRET_KEY?"
    assert "did you mean" not in (unknown[1].hint or "")


@pytest.mark.parametrize(
    "word", ["true", "FALSE", "1", "0", "yes", "No", "on", "OFF", "'t'", "'Y'"]
)
def test_sc002_booleans_accept_what_pydantic_settings_reads(tmp_path: Path, word: str) -> None:
    assert ("SC002", "error", "TURNSTILE_REQUIRE_ON_LOGIN") not in check(
        tmp_path, TURNSTILE_REQUIRE_ON_LOGIN=word
    )


@pytest.mark.parametrize("word", ["'maybe'", "'2'", "'enabled'", "''"])
def test_sc002_other_booleans_are_refused(tmp_path: Path, word: str) -> None:
    assert ("SC002", "error", "TURNSTILE_REQUIRE_ON_LOGIN") in check(
        tmp_path, TURNSTILE_REQUIRE_ON_LOGIN=word
    )


@pytest.mark.parametrize(
    ("value", "bad"),
    [("24", False), ("0", True), ("-3", True), ("1.5", True), ("soon", True), ("0x18", True)],
)
def test_sc002_expiry_is_a_positive_integer(tmp_path: Path, value: str, bad: bool) -> None:
    found = check(tmp_path, ACCESS_TOKEN_EXPIRE_HOURS=value)
    assert (("SC002", "error", "ACCESS_TOKEN_EXPIRE_HOURS") in found) is bad


@pytest.mark.parametrize(
    ("algorithm", "bad"),
    [("HS256", False), ("HS384", False), ("RS256", True), ("ES256", True), ("none", True)],
)
def test_sc003_only_hmac_algorithms(tmp_path: Path, algorithm: str, bad: bool) -> None:
    found = check(tmp_path, JWT_ALGORITHM=algorithm)
    assert (("SC003", "error", "JWT_ALGORITHM") in found) is bad
    assert ("SC002", "error", "JWT_ALGORITHM") not in found  # one finding, the specific one


@pytest.mark.parametrize(
    ("algorithm", "length", "bad"),
    [
        ("HS256", 31, True),
        ("HS256", 32, False),
        ("HS384", 47, True),
        ("HS384", 48, False),
        ("HS512", 63, True),
        ("HS512", 64, False),
    ],
)
def test_sc004_key_length_follows_the_algorithm(
    tmp_path: Path, algorithm: str, length: int, bad: bool
) -> None:
    environ = {**ENVIRON, "JWT": "x" * length}
    found = check(tmp_path, environ=environ, JWT_ALGORITHM=algorithm)
    assert (("SC004", "error", "JWT_SECRET_KEY") in found) is bad


def test_sc005_unset_jwt_key_is_an_error_in_production_and_a_warning_elsewhere(
    tmp_path: Path,
) -> None:
    assert ("SC005", "error", "JWT_SECRET_KEY") in check(tmp_path, drop=("JWT_SECRET_KEY",))
    assert ("SC005", "warning", "JWT_SECRET_KEY") in check(
        tmp_path, production=False, drop=("JWT_SECRET_KEY",)
    )
    assert not any(c == "SC005" for c, _, _ in check(tmp_path, JWT_SECRET_KEY="{generate: true}"))


def test_sc006_vapid_pair_both_or_neither(tmp_path: Path) -> None:
    found = check(tmp_path, drop=("VAPID_PUBLIC_KEY",))
    assert ("SC006", "error", "VAPID_PUBLIC_KEY") in found
    found = check(tmp_path, production=False, drop=("VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY"))
    assert not any(c == "SC006" for c, _, _ in found)
    found = check(tmp_path, drop=("VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY"))
    assert ("SC006", "error", "VAPID_PRIVATE_KEY") in found  # production needs a stable pair


def test_sc006_vapid_keys_parse_and_match(tmp_path: Path) -> None:
    assert ("SC006", "error", "VAPID_PUBLIC_KEY") in check(
        tmp_path, environ={**ENVIRON, "VPUB": OTHER_PUBLIC}
    )
    assert ("SC006", "error", "VAPID_PRIVATE_KEY") in check(
        tmp_path, environ={**ENVIRON, "VPRIV": "bm90LWEta2V5"}
    )
    short = base64.urlsafe_b64encode(base64.urlsafe_b64decode(PUBLIC)[:33]).decode()
    assert ("SC006", "error", "VAPID_PUBLIC_KEY") in check(
        tmp_path, environ={**ENVIRON, "VPUB": short}
    )
    off_curve = base64.urlsafe_b64encode(b"\x04" + b"\x01" * 64).decode()
    assert ("SC006", "error", "VAPID_PUBLIC_KEY") in check(
        tmp_path, environ={**ENVIRON, "VPUB": off_curve}
    )


def test_sc006_accepts_the_raw_32_byte_private_key_of_web_push_tools(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    key = load_der_private_key(base64.urlsafe_b64decode(PRIVATE), None)
    raw = key.private_numbers().private_value.to_bytes(32, "big")  # type: ignore[union-attr]
    raw_text = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert not any(
        c == "SC006" for c, _, _ in check(tmp_path, environ={**ENVIRON, "VPRIV": raw_text})
    )


def test_sc006_stable_pair_by_generate_passes_production(tmp_path: Path) -> None:
    found = check(
        tmp_path, VAPID_PUBLIC_KEY="{generate: true}", VAPID_PRIVATE_KEY="{generate: true}"
    )
    assert not any(c == "SC006" for c, _, _ in found)


@pytest.mark.parametrize(
    ("subject", "production", "bad"),
    [
        ("mailto:ops@acme-shop.io", True, False),
        ("https://acme-shop.io/contact", True, False),
        ("http://acme-shop.io/contact", True, True),
        ("ops@acme-shop.io", True, True),
        ("mailto:not an address", True, True),
        ("mailto:admin@example.com", True, True),
        ("mailto:admin@example.com", False, False),
        ("mailto:ops@mail.example.org", True, True),
        ("mailto:ops@shop.test", True, True),
        ("https://push.localhost/", True, True),
        ("mailto:ops@x.invalid", True, True),
        ("mailto:ops@corp.example", True, True),
        ("https://notexample.com/", True, False),
    ],
)
def test_sc007_vapid_subject(tmp_path: Path, subject: str, production: bool, bad: bool) -> None:
    found = check(tmp_path, production=production, VAPID_SUBJECT=f"'{subject}'")
    assert (("SC007", "error", "VAPID_SUBJECT") in found) is bad


def test_sc007_the_default_placeholder_fails_production(tmp_path: Path) -> None:
    assert ("SC007", "error", "VAPID_SUBJECT") in check(tmp_path, drop=("VAPID_SUBJECT",))


def test_sc008_enabled_turnstile_needs_both_keys(tmp_path: Path) -> None:
    found = check(tmp_path, production=False, drop=("TURNSTILE_SITE_KEY",))
    assert ("SC008", "error", "TURNSTILE_SITE_KEY") in found
    found = check(tmp_path, production=False, TURNSTILE_SECRET_KEY="''")
    assert ("SC008", "error", "TURNSTILE_SECRET_KEY") in found
    found = check(
        tmp_path,
        production=False,
        TURNSTILE_ENABLED="false",
        drop=("TURNSTILE_SITE_KEY", "TURNSTILE_SECRET_KEY"),
    )
    assert not any(c == "SC008" for c, _, _ in found)


@pytest.mark.parametrize(
    ("variable", "key"),
    [
        ("TURNSTILE_SITE_KEY", "1x00000000000000000000AA"),
        ("TURNSTILE_SITE_KEY", "2x00000000000000000000AB"),
        ("TURNSTILE_SITE_KEY", "1x00000000000000000000BB"),
        ("TURNSTILE_SITE_KEY", "2x00000000000000000000BB"),
        ("TURNSTILE_SITE_KEY", "3x00000000000000000000FF"),
        ("TURNSTILE_SITE_KEY", "0x4AAAAAAA"),
        ("TURNSTILE_SECRET_KEY", "1x0000000000000000000000000000000AA"),
        ("TURNSTILE_SECRET_KEY", "2x0000000000000000000000000000000AA"),
        ("TURNSTILE_SECRET_KEY", "3x0000000000000000000000000000000AA"),
        ("TURNSTILE_SECRET_KEY", "0x4AAAAAAA"),
    ],
)
def test_sc009_testing_keys_fail_production_only(tmp_path: Path, variable: str, key: str) -> None:
    if variable == "TURNSTILE_SECRET_KEY":
        found_prod = check(tmp_path, environ={**ENVIRON, "TS": key})
        found_dev = check(tmp_path, production=False, environ={**ENVIRON, "TS": key})
    else:
        found_prod = check(tmp_path, **{variable: key})
        found_dev = check(tmp_path, production=False, **{variable: key})
    assert ("SC009", "error", variable) in found_prod
    assert not any(c == "SC009" for c, _, _ in found_dev)


def test_sc010_require_flags_without_turnstile(tmp_path: Path) -> None:
    found = check(
        tmp_path, production=False, TURNSTILE_ENABLED="false", TURNSTILE_REQUIRE_ON_LOGIN="true"
    )
    assert ("SC010", "warning", "TURNSTILE_REQUIRE_ON_LOGIN") in found
    # the documented defaults (true for register and password change) are not the user's doing
    assert ("SC010", "warning", "TURNSTILE_REQUIRE_ON_REGISTER") not in found
    found = check(tmp_path, production=False, TURNSTILE_REQUIRE_ON_LOGIN="true")
    assert not any(c == "SC010" for c, _, _ in found)


@pytest.mark.parametrize(
    ("role", "bad"), [("admin", True), ("Administrator", True), ("user", False), ("editor", False)]
)
def test_sc011_privileged_default_role(tmp_path: Path, role: str, bad: bool) -> None:
    assert (
        ("SC011", "error", "DEFAULT_USER_ROLE") in check(tmp_path, DEFAULT_USER_ROLE=role)
    ) is bad
    assert ("SC011", "error", "DEFAULT_USER_ROLE") not in check(
        tmp_path, production=False, DEFAULT_USER_ROLE=role
    )


def test_sc012_open_registration_without_captcha(tmp_path: Path) -> None:
    found = check(
        tmp_path, TURNSTILE_ENABLED="false", drop=("TURNSTILE_SITE_KEY", "TURNSTILE_SECRET_KEY")
    )
    assert ("SC012", "warning", "ENABLE_REGISTRATION") in found
    found = check(tmp_path, TURNSTILE_REQUIRE_ON_REGISTER="false")
    assert ("SC012", "warning", "ENABLE_REGISTRATION") in found
    assert not any(c == "SC012" for c, _, _ in check(tmp_path))
    found = check(
        tmp_path,
        ENABLE_REGISTRATION="false",
        TURNSTILE_ENABLED="false",
        drop=("TURNSTILE_SITE_KEY", "TURNSTILE_SECRET_KEY"),
    )
    assert not any(c == "SC012" for c, _, _ in found)


@pytest.mark.parametrize(
    ("variable", "value", "production", "bad"),
    [
        ("ADMIN_CONTACT_EMAIL", "admin@acme-shop.io", True, False),
        ("ADMIN_CONTACT_EMAIL", "admin at acme", True, True),
        ("ADMIN_CONTACT_EMAIL", "admin@", False, True),
        ("ADMIN_CONTACT_URL", "https://acme-shop.io/help", True, False),
        ("ADMIN_CONTACT_URL", "http://acme-shop.io/help", True, True),
        ("ADMIN_CONTACT_URL", "http://acme-shop.io/help", False, False),
        ("ADMIN_CONTACT_URL", "ftp://acme-shop.io/", False, True),
        ("ADMIN_CONTACT_URL", "acme-shop.io/help", False, True),
    ],
)
def test_sc013_admin_contact(
    tmp_path: Path, variable: str, value: str, production: bool, bad: bool
) -> None:
    found = check(tmp_path, production=production, **{variable: f"'{value}'"})
    assert (("SC013", "error", variable) in found) is bad


def test_sc014_plaintext_secret(tmp_path: Path) -> None:
    assert ("SC014", "error", "JWT_SECRET_KEY") in check(tmp_path, JWT_SECRET_KEY=JWT_KEY)
    assert ("SC014", "warning", "JWT_SECRET_KEY") in check(
        tmp_path, production=False, JWT_SECRET_KEY=JWT_KEY
    )
    assert not any(c == "SC014" for c, _, _ in check(tmp_path))


def test_sc015_access_token_outliving_refresh_token(tmp_path: Path) -> None:
    found = check(tmp_path, ACCESS_TOKEN_EXPIRE_HOURS="200", REFRESH_TOKEN_EXPIRE_DAYS="7")
    assert ("SC015", "warning", "ACCESS_TOKEN_EXPIRE_HOURS") in found
    found = check(tmp_path, ACCESS_TOKEN_EXPIRE_HOURS="168", REFRESH_TOKEN_EXPIRE_DAYS="7")
    assert not any(c == "SC015" for c, _, _ in found)


def test_sc016_generate_without_a_generator(tmp_path: Path) -> None:
    assert ("SC016", "error", "TURNSTILE_SECRET_KEY") in check(
        tmp_path, TURNSTILE_SECRET_KEY="{generate: true}"
    )


def test_sc017_and_sc018_name_what_is_not_checked(tmp_path: Path) -> None:
    found = check(tmp_path, environ={}, JWT_SECRET_KEY="{generate: true}")
    assert ("SC017", "warning", "JWT_SECRET_KEY") in found
    assert ("SC018", "info", "TURNSTILE_SECRET_KEY") in found
    assert ("SC017", "info", "JWT_SECRET_KEY") in check(
        tmp_path, production=False, environ={}, JWT_SECRET_KEY="{generate: true}"
    )


def test_no_finding_message_contains_a_secret(tmp_path: Path) -> None:
    secret = "S3cr3t-value-that-must-not-appear-anywhere"
    root = make_repo(tmp_path / "r", {})
    write_env(
        root,
        "env",
        f"""
        production: true
        values:
          JWT_SECRET_KEY: {secret}
          JWT_ALGORITHM: HS512
          TURNSTILE_SECRET_KEY: {secret}
          VAPID_PRIVATE_KEY: {secret}
          VAPID_PUBLIC_KEY: {PUBLIC}
        """,
    )
    found = findings_for(root, "env")
    assert {f.code for f in found} >= {"SC004", "SC006", "SC014"}
    for finding in found:
        assert secret not in str(finding.to_dict())

"""Rules of the bundled application: JWT, Web Push (VAPID), Turnstile, user management.

They come from its documentation and its behaviour (it signs JWTs with one shared key
through PyJWT; it generates missing keys at start-up). Each rule stays silent when the
schema in use does not define the variables it is about.
"""

from __future__ import annotations

from secconf.keys import HASH_BYTES
from secconf.keys.vapid import (
    VapidKeyError,
    load_vapid_private_key,
    load_vapid_public_key,
    public_point,
)
from secconf.validate.context import Check
from secconf.validate.formats import (
    contact_domain,
    email_problem,
    is_reserved_domain,
    mailto_or_https_problem,
    url_problem,
)

VAPID_SUBJECT_PLACEHOLDER = "mailto:admin@example.com"
# Cloudflare's documented testing keys: they always pass (or always fail) and protect nothing.
TURNSTILE_TEST_SITE_KEYS = frozenset(
    {
        "1x00000000000000000000AA",
        "2x00000000000000000000AB",
        "1x00000000000000000000BB",
        "2x00000000000000000000BB",
        "3x00000000000000000000FF",
    }
)
TURNSTILE_TEST_SECRET_KEYS = frozenset(
    {
        "1x0000000000000000000000000000000AA",
        "2x0000000000000000000000000000000AA",
        "3x0000000000000000000000000000000AA",
    }
)
TURNSTILE_PLACEHOLDER = "0x4AAAAAAA"  # the application documentation's example value
PRIVILEGED_ROLES = frozenset({"admin", "administrator", "superuser", "root", "owner"})


def _shown(check: Check, name: str, text: str) -> str:
    """` 'value'` for a message, or nothing when the schema marks the variable sensitive,
    the value was read from the process environment (a pull request can point
    `from_env` at any variable CI has), or it is also a secret's or a credential's."""
    from secconf.core.redact import is_known

    resolved = check.resolved(name)
    hidden = resolved.variable.sensitive or resolved.provenance.kind == "from_env"
    return "" if hidden or is_known(text) else f" {text!r}"


def jwt_algorithm(check: Check) -> None:
    """SC003: the application verifies with one shared secret, so only HMAC algorithms work."""
    name = "JWT_ALGORITHM"
    algorithm = check.text(name)
    if algorithm is None or algorithm in HASH_BYTES:
        return
    check.add(
        "SC003",
        "error",
        name,
        f"JWT_ALGORITHM{_shown(check, name, algorithm)} cannot work: the application signs "
        "and verifies with "
        "one shared secret (HMAC), so only HS256, HS384 and HS512 are possible",
        "set JWT_ALGORITHM to HS256, HS384 or HS512",
    )


def jwt_key_length(check: Check) -> None:
    """SC004: at least 32 characters, and at least the hash size (RFC 7518 §3.2)."""
    name = "JWT_SECRET_KEY"
    key = check.text(name)
    if key is None:
        return
    algorithm = check.text("JWT_ALGORITHM") or "HS256"
    needed = max(32, HASH_BYTES.get(algorithm, 32))
    if len(key) >= needed:
        return
    why = "" if needed == 32 else f" for {algorithm} (RFC 7518 §3.2: at least the hash size)"
    check.add(
        "SC004",
        "error",
        name,
        f"JWT_SECRET_KEY is shorter than {needed} characters{why}",
        "use `{generate: true}`, or rotate to a longer key with `secconf keys rotate`",
    )


def jwt_key_stable(check: Check) -> None:
    """SC005: left unset, the key is regenerated at every start and logs everyone out."""
    name = "JWT_SECRET_KEY"
    if not check.has(name) or check.stable(name):
        return
    check.add(
        "SC005",
        check.strict(),
        name,
        "JWT_SECRET_KEY is not set: the application generates a new key at every start-up, "
        "which logs every user out on each restart",
        "set `JWT_SECRET_KEY: {generate: true}` (or a from_env value) in the environment file",
    )


def vapid_keys(check: Check) -> None:
    """SC006: both VAPID keys or neither; each parses; the public key matches the private."""
    public, private = "VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY"
    if not (check.has(public) and check.has(private)):
        return
    declared = {n: check.declared(n) for n in (public, private)}
    if declared[public] != declared[private]:
        missing = public if not declared[public] else private
        check.add(
            "SC006",
            "error",
            missing,
            f"{missing} is missing: VAPID keys are a pair, set both or neither",
            "use `{generate: true}` on both keys to let secconf generate the pair",
        )
        return
    if not declared[public]:
        if check.production:
            check.add(
                "SC006",
                "error",
                private,
                "no stable VAPID key pair in production: the application generates one at "
                "start-up, and each new pair breaks every browser push subscription",
                "set `{generate: true}` on VAPID_PRIVATE_KEY and VAPID_PUBLIC_KEY",
                at=check.location(None),
            )
        return
    _vapid_pair_matches(check, public, private)


def _vapid_pair_matches(check: Check, public: str, private: str) -> None:
    public_text, private_text = check.text(public), check.text(private)
    if public_text is None or private_text is None:
        return  # one half arrives later (CI or store): nothing to compare yet
    try:
        private_key = load_vapid_private_key(private_text)
    except VapidKeyError as exc:
        check.add("SC006", "error", private, f"VAPID_PRIVATE_KEY {exc}", _VAPID_HINT)
        return
    try:
        public_key = load_vapid_public_key(public_text)
    except VapidKeyError as exc:
        check.add("SC006", "error", public, f"VAPID_PUBLIC_KEY {exc}", _VAPID_HINT)
        return
    if public_point(public_key) != public_point(private_key.public_key()):
        check.add(
            "SC006",
            "error",
            public,
            "VAPID_PUBLIC_KEY does not belong to VAPID_PRIVATE_KEY",
            "browsers would subscribe with a key the server cannot sign for; "
            "set the matching pair, or `{generate: true}` on both",
        )


_VAPID_HINT = (
    "expected the URL-safe base64 of a PKCS#8 DER P-256 key (or of the raw 32-byte key) "
    "and of its 65-byte uncompressed public point; `secconf keys ensure` generates a pair"
)


def vapid_subject(check: Check) -> None:
    """SC007: a mailto: address or https URL; in production a real one you control."""
    name = "VAPID_SUBJECT"
    subject = check.text(name)
    if subject is None:
        return
    problem = mailto_or_https_problem(subject)
    if problem:
        check.add(
            "SC007",
            "error",
            name,
            f"VAPID_SUBJECT{_shown(check, name, subject)} {problem}",
            "e.g. mailto:ops@your-domain.com",
        )
        return
    if not check.production:
        return
    domain = contact_domain(subject) or ""
    if subject == VAPID_SUBJECT_PLACEHOLDER or is_reserved_domain(domain):
        check.add(
            "SC007",
            "error",
            name,
            f"VAPID_SUBJECT{_shown(check, name, subject)} is a placeholder: {domain} is a "
            "reserved example "
            "domain (RFC 2606/6761), so push services cannot reach anyone",
            "set a contact you control, e.g. mailto:ops@your-domain.com",
        )


def turnstile_keys(check: Check) -> None:
    """SC008: enabled Turnstile needs both keys; SC010: flags without effect when disabled."""
    if not check.has("TURNSTILE_ENABLED"):
        return
    enabled = check.value("TURNSTILE_ENABLED") is True
    if enabled:
        for name in ("TURNSTILE_SITE_KEY", "TURNSTILE_SECRET_KEY"):
            if check.has(name) and not check.declared(name):
                check.add(
                    "SC008",
                    "error",
                    name,
                    f"TURNSTILE_ENABLED is true but {name} is empty: every CAPTCHA check fails",
                    f"set {name} from the Cloudflare dashboard, or disable Turnstile",
                    at=check.location("TURNSTILE_ENABLED"),
                )
        return
    for name in (
        "TURNSTILE_REQUIRE_ON_LOGIN",
        "TURNSTILE_REQUIRE_ON_REGISTER",
        "TURNSTILE_REQUIRE_ON_PASSWORD_CHANGE",
    ):
        if check.has(name) and check.stable(name) and check.value(name) is True:
            check.add(
                "SC010",
                "warning",
                name,
                f"{name} is true but Turnstile is disabled, so it has no effect",
                "set TURNSTILE_ENABLED: true, or remove the flag",
            )


def turnstile_test_keys(check: Check) -> None:
    """SC009: Cloudflare's testing keys and the documentation's placeholder protect nothing."""
    if not check.production:
        return
    for name, testing in (
        ("TURNSTILE_SITE_KEY", TURNSTILE_TEST_SITE_KEYS),
        ("TURNSTILE_SECRET_KEY", TURNSTILE_TEST_SECRET_KEYS),
    ):
        key = check.text(name)
        if key is None:
            continue
        if key in testing or key == TURNSTILE_PLACEHOLDER:
            kind = "a placeholder" if key == TURNSTILE_PLACEHOLDER else "a Cloudflare testing key"
            check.add(
                "SC009",
                "error",
                name,
                f"{name} is {kind}: it protects nothing in production",
                "use the keys of your Turnstile widget from the Cloudflare dashboard",
            )


def default_role(check: Check) -> None:
    """SC011: a privileged default role makes every self-registered user an administrator."""
    name = "DEFAULT_USER_ROLE"
    role = check.text(name)
    if role is None or role.strip().lower() not in PRIVILEGED_ROLES:
        return
    check.add(
        "SC011",
        check.strict(),
        name,
        f"DEFAULT_USER_ROLE{_shown(check, name, role)} is privileged: every new user would "
        "be an administrator",
        "use an unprivileged role such as `user`",
    )


def registration_captcha(check: Check) -> None:
    """SC012: production with open registration should put a CAPTCHA on it."""
    if not check.production or not check.has("ENABLE_REGISTRATION"):
        return
    if check.value("ENABLE_REGISTRATION") is not True:
        return
    protected = (
        check.value("TURNSTILE_ENABLED") is True
        and check.value("TURNSTILE_REQUIRE_ON_REGISTER") is True
    )
    if not protected:
        check.add(
            "SC012",
            "warning",
            "ENABLE_REGISTRATION",
            "registration is open in production without a CAPTCHA: bots can sign up freely",
            "enable Turnstile with TURNSTILE_REQUIRE_ON_REGISTER, or disable registration",
        )


def admin_contact(check: Check) -> None:
    """SC013: a valid address, an http(s) URL, and https in production."""
    email = check.text("ADMIN_CONTACT_EMAIL")
    if email:
        problem = email_problem(email)
        if problem:
            check.add(
                "SC013",
                "error",
                "ADMIN_CONTACT_EMAIL",
                f"ADMIN_CONTACT_EMAIL{_shown(check, 'ADMIN_CONTACT_EMAIL', email)} {problem}",
            )
    url = check.text("ADMIN_CONTACT_URL")
    if url:
        problem = url_problem(url, https_only=check.production)
        if problem:
            hint = "production pages link over https" if check.production else None
            check.add(
                "SC013",
                "error",
                "ADMIN_CONTACT_URL",
                f"ADMIN_CONTACT_URL{_shown(check, 'ADMIN_CONTACT_URL', url)} {problem}",
                hint,
            )


def token_expiry(check: Check) -> None:
    """SC015: an access token that outlives the refresh token makes refreshing pointless."""
    hours = check.value("ACCESS_TOKEN_EXPIRE_HOURS")
    days = check.value("REFRESH_TOKEN_EXPIRE_DAYS")
    if not isinstance(hours, int) or not isinstance(days, int):
        return
    if hours > days * 24:
        check.add(
            "SC015",
            "warning",
            "ACCESS_TOKEN_EXPIRE_HOURS",
            f"access tokens last {hours} h, longer than refresh tokens ({days} d = {days * 24} h)",
            "shorten ACCESS_TOKEN_EXPIRE_HOURS or lengthen REFRESH_TOKEN_EXPIRE_DAYS",
        )

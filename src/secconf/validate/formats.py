"""Checks for the string formats a schema can ask for (email, URLs, VAPID keys)."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

from secconf.keys.vapid import VapidKeyError, load_vapid_private_key, load_vapid_public_key

# The HTML Living Standard's "valid e-mail address": what browsers accept in
# <input type=email>, a sane bar for an address shown to users.
_EMAIL = re.compile(
    r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$"
)

# RFC 2606 and RFC 6761: names reserved for documentation and testing; mail to them
# never reaches anyone.
_RESERVED_SECOND_LEVEL = ("example.com", "example.net", "example.org")
_RESERVED_TOP_LEVEL = ("example", "test", "invalid", "localhost")


def email_problem(text: str) -> str | None:
    """Why `text` is not a valid e-mail address, or None."""
    if not _EMAIL.match(text):
        return "is not a valid e-mail address"
    return None


def url_problem(text: str, *, https_only: bool = False) -> str | None:
    """Why `text` is not an absolute http(s) URL with a host, or None."""
    if any(c.isspace() for c in text):
        return "is not a URL (it contains whitespace)"
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        return "is not a valid URL"
    allowed = ("https",) if https_only else ("http", "https")
    if parts.scheme not in allowed:
        return f"must be an {' or '.join(allowed)} URL"
    if not host:
        return "is a URL without a host"
    return None


def mailto_or_https_problem(text: str) -> str | None:
    """Why `text` is neither `mailto:` with a valid address nor an https URL, or None."""
    if text.startswith("mailto:"):
        problem = email_problem(text[len("mailto:") :])
        return f"is a mailto: whose address {problem}" if problem else None
    if text.startswith("https://"):
        return url_problem(text, https_only=True)
    return "must be a mailto: address or an https:// URL"


def contact_domain(text: str) -> str | None:
    """The domain of a mailto: address, e-mail address or URL, lower-cased."""
    if text.startswith("mailto:"):
        text = text[len("mailto:") :]
    if "://" in text:
        try:
            return (urlsplit(text).hostname or "").lower() or None
        except ValueError:
            return None
    if "@" in text:
        return text.rsplit("@", 1)[1].lower().rstrip(".")
    return None


def is_reserved_domain(domain: str) -> bool:
    """True for RFC 2606/6761 example and testing names (example.com, *.test, localhost...)."""
    domain = domain.lower().rstrip(".")
    for name in _RESERVED_SECOND_LEVEL:
        if domain == name or domain.endswith("." + name):
            return True
    last = domain.rsplit(".", 1)[-1]
    return last in _RESERVED_TOP_LEVEL


def _vapid_private_problem(text: str) -> str | None:
    try:
        load_vapid_private_key(text)
    except VapidKeyError as exc:
        return str(exc)
    return None


def _vapid_public_problem(text: str) -> str | None:
    try:
        load_vapid_public_key(text)
    except VapidKeyError as exc:
        return str(exc)
    return None


FORMAT_CHECKS: dict[str, Callable[[str], str | None]] = {
    "email": email_problem,
    "url": url_problem,
    "https-url": lambda text: url_problem(text, https_only=True),
    "mailto-or-https-url": mailto_or_https_problem,
    "vapid-public-key": _vapid_public_problem,
    "vapid-private-key": _vapid_private_problem,
}

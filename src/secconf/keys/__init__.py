"""Key generators and key codecs: JWT secrets, VAPID key pairs, random tokens.

All cryptography comes from the `cryptography` package, imported only when a key is
parsed or generated, so commands that touch no key don't pay for it. Import the
generators from `secconf.keys.generate` and the codecs from `secconf.keys.vapid`.
"""

from __future__ import annotations

# RFC 7518 §3.2: an HMAC key must be at least as long as the hash output.
HASH_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}

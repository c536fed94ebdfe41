"""API key secrets: how they are made, shown once, and stored only as a hash.

Keys carry 256 bits of randomness, so a single SHA-256 is a safe and cheap
digest (microseconds, not the milliseconds of a password hash): it is computed
on every request.
"""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "cs_"


def generate_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def display_prefix(secret: str) -> str:
    """The first characters, kept so a person can tell their keys apart."""
    return secret[:10]

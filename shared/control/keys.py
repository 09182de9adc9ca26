"""API key secrets: generated here, shown once, stored only as their SHA-256.

A key is 32 random bytes (``sk_`` + base64url). With that much entropy a salted slow KDF adds
nothing (it protects guessable passwords, and nobody can guess 2^256); a plain SHA-256 lets the API
find a key by an indexed lookup of the hash and keeps the tenancy file's ``sha256`` field as the
import/export format.
"""

from __future__ import annotations

import secrets

from shared.config.tenancy import hash_key

PREFIX = "sk_"


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def new_key_id() -> str:
    return "key-" + secrets.token_hex(6)


__all__ = ["hash_key", "new_key_id", "new_secret"]

"""Credentials: password hashes, session JWTs, API keys and per-call tokens. Pure functions.

* Passwords are hashed with Argon2id (``argon2-cffi`` defaults, RFC 9106 low-memory profile).
* Sessions are JWTs (``JWT_SECRET``, ``JWT_ALGORITHM``, ``JWT_EXPIRE_MINUTES``) naming the user.
* API keys are ``ori_<key id>_<secret>``; only the SHA-256 of the whole key is stored (the key
  carries 192 random bits, so a slow hash adds nothing), and the key is shown once.
* Call tokens are ``oct1.<call_id>.<expiry>.<hmac>``: an HMAC-SHA256, under a key derived from
  ``JWT_SECRET``, of the call id and its expiry; a token opens only its own call's endpoints.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Final

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = [
    "API_KEY_PREFIX",
    "CallTokenError",
    "NewApiKey",
    "derived_id",
    "hash_api_key",
    "hash_password",
    "issue_call_token",
    "issue_session",
    "new_api_key",
    "new_id",
    "read_session",
    "verify_call_token",
    "verify_password",
]

API_KEY_PREFIX: Final = "ori_"
CALL_TOKEN_VERSION: Final = "oct1"  # noqa: S105 - a format tag, not a secret
_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash("timing-equaliser")


def new_id(prefix: str) -> str:
    """A new random id, ``<prefix>_<24 hex>``, safe for Redis keys and URLs."""
    return f"{prefix}_{secrets.token_hex(12)}"


def derived_id(prefix: str, workspace_id: str, ref: str) -> str:
    """The id of the record a caller names by ``ref`` in a workspace: ``<prefix>_<24 hex>``.

    The same reference always gives the same id (the first 96 bits of SHA-256 over
    ``<workspace>/<ref>``), so a create repeated after a lost answer finds the record it made
    instead of making another: the store's unique ``_id`` decides between concurrent creates.
    """
    digest = hashlib.sha256(f"{workspace_id}/{ref}".encode()).hexdigest()[:24]
    return f"{prefix}_{digest}"


def hash_password(password: str) -> str:
    """Argon2id hash of ``password``."""
    return _HASHER.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """Whether ``password`` matches; hashes a dummy when there is no account (even timing)."""
    try:
        return _HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def issue_session(user_id: str, *, secret: str, algorithm: str, expire_minutes: int) -> str:
    """A signed session JWT for ``user_id``."""
    now = int(time.time())
    claims = {"sub": user_id, "iat": now, "exp": now + expire_minutes * 60, "typ": "session"}
    return jwt.encode(claims, secret, algorithm=algorithm)


def read_session(token: str, *, secret: str, algorithm: str) -> str | None:
    """The user id in a valid, unexpired session token; None for any other token."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[algorithm], options={"require": ["exp", "sub"]}
        )
    except jwt.PyJWTError:
        return None
    if claims.get("typ") != "session" or not isinstance(claims.get("sub"), str):
        return None
    return str(claims["sub"])


@dataclass(frozen=True)
class NewApiKey:
    """A freshly minted API key: the secret (shown once), its id and its stored hash."""

    key_id: str
    secret: str
    hash: str


def new_api_key() -> NewApiKey:
    """Mint an API key ``ori_<key id>_<secret>``."""
    key_id = secrets.token_hex(6)
    secret = f"{API_KEY_PREFIX}{key_id}_{secrets.token_urlsafe(24)}"
    return NewApiKey(key_id=f"key_{key_id}", secret=secret, hash=hash_api_key(secret))


def hash_api_key(secret: str) -> str:
    """The stored form of an API key."""
    return hashlib.sha256(secret.encode()).hexdigest()


class CallTokenError(ValueError):
    """A call token is malformed, forged or expired."""


def _call_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"ori-call-token-v1", hashlib.sha256).digest()


def _sign(secret: str, call_id: str, expires: int) -> str:
    mac = hmac.new(_call_key(secret), f"{call_id}.{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def issue_call_token(call_id: str, *, secret: str, ttl_s: int, now: float | None = None) -> str:
    """A token that authenticates requests about ``call_id`` for ``ttl_s`` seconds."""
    expires = int(now if now is not None else time.time()) + ttl_s
    return f"{CALL_TOKEN_VERSION}.{call_id}.{expires}.{_sign(secret, call_id, expires)}"


def verify_call_token(token: str, *, secret: str, now: float | None = None) -> str:
    """The call id a valid token is for.

    Raises:
        CallTokenError: The token is malformed, forged or expired.
    """
    version, _, rest = token.partition(".")
    head, _, signature = rest.rpartition(".")
    call_id, _, expires_text = head.rpartition(".")
    if version != CALL_TOKEN_VERSION or not call_id or not expires_text.isdigit():
        raise CallTokenError("malformed call token")
    expires = int(expires_text)
    if not hmac.compare_digest(signature, _sign(secret, call_id, expires)):
        raise CallTokenError("call token signature does not match")
    if expires < (now if now is not None else time.time()):
        raise CallTokenError("call token expired")
    return call_id

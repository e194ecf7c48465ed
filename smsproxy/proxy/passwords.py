"""Passwords: argon2id hashes, checked in a worker thread.

Hashing takes a noticeable fraction of a second on purpose, so it runs in a worker
thread (argon2's C code releases the GIL) and never stalls the event loop.
"""

from __future__ import annotations

import asyncio
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..errors import ProxyError

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024

hasher = PasswordHasher()


@cache
def dummy_hash() -> str:
    # Verified against when the username is unknown, so a wrong username takes as long
    # as a wrong password and response times do not reveal which usernames exist.
    return hasher.hash(secrets.token_urlsafe(16))


def validate_password(password: str, field: str = "password") -> str:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ProxyError(f"Password must be at least {MIN_PASSWORD_LENGTH} characters", field=field)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ProxyError(f"Password must be at most {MAX_PASSWORD_LENGTH} characters", field=field)
    return password


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(hasher.hash, password)


async def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return await asyncio.to_thread(hasher.verify, stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    """A random password of 20 URL-safe characters (about 120 bits)."""
    return secrets.token_urlsafe(15)

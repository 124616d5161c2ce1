"""Password hashing with Argon2id (argon2-cffi's tuned defaults).

A hash made with other parameters than today's (older, weaker defaults) still verifies; a
successful login then stores the password's hash remade with today's (``rehashed``).
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# A real hash of a random password, verified when the user does not exist so that a missing
# user costs the same time as a wrong password (no user enumeration by timing).
_DUMMY_HASH = _hasher.hash("credgrid-no-such-user")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def rehashed(password_hash: str, password: str) -> str | None:
    """``password``'s hash with today's parameters if ``password_hash`` (which ``password`` has
    just been verified against) was made with others; ``None`` when it needs no new hash (the
    usual case, which costs no hashing)."""
    try:
        stale = _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return None
    return hash_password(password) if stale else None

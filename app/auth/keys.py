"""API keys: random 256-bit secrets; only their SHA-256 is stored and looked up.

A password hasher would be wrong here: keys are high-entropy, so a fast hash is as safe and
keeps the per-request check in microseconds.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import utcnow
from app.auth.models import ApiKey

KEY_PREFIX = "cg_"
LABEL_MAX_LENGTH = 100


class ApiKeyError(ValueError):
    pass


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def issue_api_key(session: Session, label: str) -> str:
    """Store a new key under ``label`` and return the key itself (shown once)."""
    if not label.strip() or len(label) > LABEL_MAX_LENGTH:
        raise ApiKeyError(f"The label must be 1 to {LABEL_MAX_LENGTH} characters, not all blank.")
    if session.scalar(select(ApiKey.id).where(ApiKey.label == label)) is not None:
        raise ApiKeyError(f"An API key labelled {label!r} already exists.")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiKey(label=label, key_hash=digest(key)))
    return key


def revoke_api_key(session: Session, label: str) -> bool:
    api_key = session.scalar(select(ApiKey).where(ApiKey.label == label))
    if api_key is None or api_key.revoked_at is not None:
        return False
    api_key.revoked_at = utcnow()
    return True

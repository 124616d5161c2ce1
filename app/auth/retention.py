"""Expired refresh tokens are deleted by ``flask --app app purge``: they can never be used
again, and nothing else removes them (the table would only grow)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from app.audit import utcnow
from app.auth.models import RefreshToken


def purge_expired_refresh_tokens(session: Session, now: datetime | None = None) -> int:
    """Delete refresh tokens past their expiry; returns how many (the caller commits)."""
    deleted = session.execute(
        delete(RefreshToken).where(RefreshToken.expires_at < (now or utcnow()))
    )
    return deleted.rowcount

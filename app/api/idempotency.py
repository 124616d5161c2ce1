"""``Idempotency-Key`` on batch requests (SPEC 4b): replay a stored answer instead of writing.

The key is claimed in its own short transaction before any work, so a concurrent request with
the same key sees the claim (409) and a later one the stored answer (replayed, or 422 when the
request differs). A request that dies releases its claim, so the client can retry.
Each step is a transaction of the request's own session: a second session would wait on
SQLite for the write lock that the request's session already holds.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from flask import Response, request
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from app.api.envelope import JSON_MIMETYPE, ApiError
from app.api.requests import Principal
from app.audit import utcnow
from app.idempotency.models import IdempotencyRecord
from app.tenancy import begin_write, request_session

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
RETENTION = timedelta(hours=24)


@dataclass
class IdempotentRequest:
    """What the view learns: a stored answer to replay, or a claim to complete."""

    replay: Response | None = None
    record_id: int | None = None
    database: str = ""

    def remember(self, response: Response) -> None:
        if self.record_id is None:
            return
        session = request_session(self.database)
        begin_write(session)
        session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.id == self.record_id)
            .values(status=response.status_code, response_body=response.get_data(as_text=True))
        )
        session.commit()
        self.record_id = None


def request_fingerprint() -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.full_path}\n".encode())
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


@contextmanager
def idempotency(principal: Principal) -> Iterator[IdempotentRequest]:
    """Claim the request's Idempotency-Key (if it has one) for the duration of the block."""
    key = request.headers.get(HEADER)
    if key is None:
        yield IdempotentRequest()
        return
    if not KEY_PATTERN.match(key):
        raise ApiError(
            400,
            f"The {HEADER} header must be 1 to 255 visible ASCII characters.",
            errors={HEADER: ["Must be 1 to 255 visible ASCII characters."]},
        )
    state = _claim(principal, key, request_fingerprint())
    try:
        yield state
    except BaseException:
        if state.record_id is not None:
            _release(principal.database, state.record_id)
        raise
    if state.record_id is not None:  # the view returned without remembering: do not pin it
        _release(principal.database, state.record_id)


def _claim(principal: Principal, key: str, fingerprint: str) -> IdempotentRequest:
    now = utcnow()
    session = request_session(principal.database)
    session.commit()  # the authentication read's transaction: the claim commits on its own
    begin_write(session)
    session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.api_key_id == principal.api_key_id,
            IdempotencyRecord.created_at < now - RETENTION,
        )
    )
    record = IdempotencyRecord(
        api_key_id=principal.api_key_id,
        idempotency_key=key,
        request_hash=fingerprint,
        created_at=now,
    )
    session.add(record)
    try:
        session.commit()
        return IdempotentRequest(record_id=record.id, database=principal.database)
    except IntegrityError:
        session.rollback()
    existing = session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.api_key_id == principal.api_key_id,
            IdempotencyRecord.idempotency_key == key,
        )
    )
    if existing is None:  # released between our insert and our read: the client may retry
        raise ApiError(409, f"A request with this {HEADER} is still being processed.")
    if existing.request_hash != fingerprint:
        raise ApiError(422, f"This {HEADER} was already used with a different request.")
    if existing.status is None:
        raise ApiError(409, f"A request with this {HEADER} is still being processed.")
    replay = Response(
        existing.response_body,
        status=existing.status,
        mimetype=JSON_MIMETYPE,
        headers={REPLAYED_HEADER: "true"},
    )
    return IdempotentRequest(replay=replay)


def _release(database: str, record_id: int) -> None:
    session = request_session(database)
    session.rollback()  # whatever the failed work left open
    begin_write(session)
    session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id))
    session.commit()


def respond_idempotently(principal: Principal, produce: Callable[[], Response]) -> Response:
    """``produce()`` the response, or replay the stored one for a repeated Idempotency-Key."""
    with idempotency(principal) as idempotent:
        if idempotent.replay is not None:
            return idempotent.replay
        response = produce()
        idempotent.remember(response)
        return response

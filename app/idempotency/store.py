"""Idempotency records: claim a key, store its answer, release it, purge expired ones.

Why a lease. The batch commits its writes in its own transaction, and the answer is stored
after it, in a second one. A worker killed before the batch commits leaves a claim and no
writes; one killed between the two commits leaves the writes and no answer. A claim therefore
carries an ``owner`` (random, per claim) and ``lease_expires_at``, set a little beyond the
longest a live worker can take (gunicorn kills a worker after 30 s; the database timeouts end
any wait after 10 s). Until then a retry is told the request is still running (409, with
``Retry-After``); after it, the retry takes the claim over and runs the batch. A batch is an
upsert of the items' values, so running it again after the rare second kind of death writes
the same values (its items answer 200 with no change instead of 201), never different data.

The answer is stored after the work committed, so losing it turns a done request into one a
retry runs again: ``store_answer`` stores it once more on a fresh connection when the first
attempt lost its connection (a restart, a terminated backend, an I/O error); the callers give
their answer even when it could not be stored.

Every write names the owner, so a worker that outlived its lease cannot overwrite the answer
or release the claim of the retry that took over. The functions take an explicit session and
commit (they are the idempotency service); they never read the request.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from app.audit import utcnow
from app.batch.write import key_in, key_set
from app.idempotency.models import IdempotencyRecord
from app.tenancy import begin_write

#: How long an answer is kept for replay (SPEC 4b).
RETENTION = timedelta(hours=24)
#: The staff UI has no API key: its claims (an import applied once, a grid Save written once)
#: are kept under this id, API keys being numbered from 1.
STAFF_UI_SCOPE_ID = 0


@dataclass(frozen=True)
class KeyScope:
    """Whose key it is: answers are replayed only to the same user of the same API key."""

    api_key_id: int
    username: str
    key: str


@dataclass(frozen=True)
class Claim:
    """This request owns the key until ``lease_expires_at``."""

    record_id: int
    owner: str


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: str


class KeyReused(Exception):
    """The key's stored request differs from this one."""


class KeyBusy(Exception):
    """Another request holds the key's lease; ``retry_after`` seconds until it ends."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


def claim_key(
    session: Session, scope: KeyScope, fingerprint: str, lease: timedelta
) -> Claim | StoredAnswer:
    """Claim ``scope``'s key for this request, or return the stored answer to replay.

    Raises ``KeyReused`` (the key answered a different request) or ``KeyBusy`` (a live lease).
    """
    now = utcnow()
    owner = secrets.token_hex(16)
    begin_write(session)
    record = IdempotencyRecord(
        api_key_id=scope.api_key_id,
        username=scope.username,
        idempotency_key=scope.key,
        request_hash=fingerprint,
        created_at=now,
        owner=owner,
        lease_expires_at=now + lease,
    )
    session.add(record)
    try:
        session.commit()
        return Claim(record.id, owner)
    except IntegrityError:
        session.rollback()
    begin_write(session)  # BEGIN IMMEDIATE on SQLite; the row lock below on PostgreSQL
    existing = stored_record(session, scope, for_update=True)
    if existing is None:  # released between our insert and our read: the client may retry
        session.rollback()
        raise KeyBusy(1)
    # Read before any rollback: a rollback expires the record, and reading it after would load
    # it again outside the lock, as the claimant may have changed it meanwhile (an answer
    # stored, its lease cleared).
    expired = existing.created_at < now - RETENTION
    status, body, lease_ends = existing.status, existing.response_body, existing.lease_expires_at
    if not expired and existing.request_hash != fingerprint:
        session.rollback()
        raise KeyReused
    if not expired and status is not None:
        session.rollback()
        return StoredAnswer(status, body or "")
    if not expired and lease_ends is not None and lease_ends > now:
        session.rollback()
        raise KeyBusy(_seconds_until(lease_ends, now))
    # Expired, or its claimant died: take it over as a fresh claim.
    existing.request_hash = fingerprint
    existing.created_at = now
    existing.status = None
    existing.response_body = None
    existing.owner = owner
    existing.lease_expires_at = now + lease
    session.commit()
    return Claim(existing.id, owner)


def stored_record(
    session: Session, scope: KeyScope, *, for_update: bool = False
) -> IdempotencyRecord | None:
    """The key's record as it stands: ``None`` when never claimed, given up or purged;
    ``status`` null while its request runs (or died), set once answered."""
    statement = select(IdempotencyRecord).where(
        IdempotencyRecord.api_key_id == scope.api_key_id,
        IdempotencyRecord.username == scope.username,
        IdempotencyRecord.idempotency_key == scope.key,
    )
    return session.scalar(statement.with_for_update() if for_update else statement)


def store_answer(session: Session, claim: Claim, status: int, body: str) -> bool:
    """Store the claim's answer; False when the claim was taken over meanwhile.

    Tried a second time, on a new connection, when the first attempt lost its connection;
    any other failure (a timeout, a held lock) is raised as it is."""
    try:
        return _store_answer(session, claim, status, body)
    except DBAPIError as error:
        if not error.connection_invalidated:
            raise
        session.rollback()
    return _store_answer(session, claim, status, body)


def _store_answer(session: Session, claim: Claim, status: int, body: str) -> bool:
    begin_write(session)
    stored = session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.id == claim.record_id, IdempotencyRecord.owner == claim.owner)
        .values(status=status, response_body=body, lease_expires_at=None)
    )
    session.commit()
    return bool(stored.rowcount)


def release_key(session: Session, claim: Claim) -> None:
    """Give the key up (the request failed), so the client can retry at once."""
    begin_write(session)
    session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.id == claim.record_id,
            IdempotencyRecord.owner == claim.owner,
            IdempotencyRecord.status.is_(None),
        )
    )
    session.commit()


#: Records ``purge_expired`` deletes per transaction. A busy day's answers (each batch's,
#: up to a few hundred KB) in one DELETE held SQLite's write lock throughout: 200,000 records
#: of 2 KB took 4.5 s, every API and grid write waiting (or failing, past the busy timeout).
PURGE_CHUNK = 1000


def purge_expired(session: Session, now: datetime | None = None) -> int:
    """Delete every record older than ``RETENTION`` (of every API key); returns how many.

    A claim whose lease is still running is kept (its request may still be answering).
    ``PURGE_CHUNK`` records per transaction, each committed: other writers wait for one chunk
    at most, and a purge stopped midway keeps what it deleted.

    Each chunk's ids are read first (the oldest, along the ``created_at`` index) and then
    deleted by key (``key_in``: one probe of the primary key per record). A single
    ``DELETE … WHERE id IN (SELECT … LIMIT)`` was planned by PostgreSQL as a hash join over a
    sequential scan of the whole table, once per chunk: at 200,000 records, 200 scans of every
    live record. The DELETE repeats the conditions, so a record taken over as a fresh claim
    between the two statements is kept.
    """
    now = now or utcnow()
    record = IdempotencyRecord
    expired = (
        record.created_at < now - RETENTION,
        or_(record.lease_expires_at.is_(None), record.lease_expires_at < now),
    )
    oldest = (
        select(record.id)
        .where(*expired)
        .order_by(record.created_at)  # the oldest first, along its index
        .limit(PURGE_CHUNK)
    )
    dialect_name = session.get_bind().dialect.name
    chunk = delete(record).where(key_in(record.id, "ids", dialect_name), *expired)
    total = 0
    while True:
        begin_write(session)
        ids = session.scalars(oldest).all()
        if ids:
            # (no session to synchronise: without this, SQLite's DELETE fetched each id deleted)
            total += session.execute(
                chunk.execution_options(synchronize_session=False),
                {"ids": key_set(dialect_name, ids)},
            ).rowcount
        session.commit()
        if len(ids) < PURGE_CHUNK:
            return total


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, int((moment - now).total_seconds() + 0.999))

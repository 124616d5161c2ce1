"""``Idempotency-Key`` on batch requests (SPEC 4b): replay a stored answer instead of writing.

The key is claimed in its own short transaction before any work, so a concurrent request with
the same key sees the claim (409) and a later one the stored answer (replayed, or 422 when the
request differs). A request that fails releases its claim, so the client can retry at once; a
request whose worker died leaves a lease that a retry takes over once it ends
(``app.idempotency.store`` says why). Answers are scoped to the API key and the user.
Each step is a transaction of the request's own session: a second session would wait on
SQLite for the write lock that the request's session holds from its authentication read.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlencode

from flask import Response, current_app, g, request
from sqlalchemy.exc import SQLAlchemyError

from app.api.envelope import JSON_MIMETYPE, ApiError
from app.api.paths import route_path
from app.api.requests import Principal, body_bytes
from app.db_errors import UNAVAILABLE_ERRORS, error_class, rollback_quietly
from app.idempotency.store import (
    Claim,
    KeyBusy,
    KeyReused,
    KeyScope,
    StoredAnswer,
    claim_key,
    release_key,
    store_answer,
)
from app.tenancy import request_session

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
#: Retry-After of a request whose key another request still holds (at most the lease's rest).
BUSY_RETRY_AFTER_SECONDS = 2
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")

log = logging.getLogger("credgrid.idempotency")


def request_fingerprint() -> str:
    """The request's method, route, query parameters and body; a route under ``/vbasoftware``
    or with a trailing slash is the same route as at the root, and the parameters' order does
    not matter (each is given once: ``app.api.query_check``)."""
    digest = hashlib.sha256()
    query = urlencode(sorted(request.args.items(multi=True)))
    digest.update(f"{request.method} {route_path(request.path)}?{query}\n".encode())
    digest.update(body_bytes())
    return digest.hexdigest()


def respond_idempotently(principal: Principal, produce: Callable[[], Response]) -> Response:
    """``produce()`` the response, or replay the stored one for a repeated Idempotency-Key."""
    key = request.headers.get(HEADER)
    if key is None:
        return produce()
    if not KEY_PATTERN.match(key):
        raise ApiError(
            400,
            f"The {HEADER} header must be 1 to 255 visible ASCII characters.",
            errors={HEADER: ["Must be 1 to 255 visible ASCII characters."]},
        )
    claim = _claim(principal, KeyScope(principal.api_key_id, principal.username, key))
    if isinstance(claim, StoredAnswer):
        return Response(
            claim.body,
            status=claim.status,
            mimetype=JSON_MIMETYPE,
            headers={REPLAYED_HEADER: "true"},
        )
    try:
        response = produce()
    except BaseException:
        _release(principal.database, claim)
        raise
    _store(principal.database, claim, response)
    return response


def _store(database: str, claim: Claim, response: Response) -> None:
    """Store the answer of work that is done: a failure here is logged, never answered as the
    request's (a 503 would tell the client that nothing was written). The claim then stays
    until its lease ends, and a retry after that runs the request again."""
    session = request_session(database)
    try:
        stored = store_answer(session, claim, response.status_code, response.get_data(as_text=True))
    except UNAVAILABLE_ERRORS as error:
        log.warning(
            "activity=%s idempotency answer not stored (%s); a retry with this key runs again "
            "once the claim's lease ends",
            g.activity_id,
            error_class(error),
        )
        rollback_quietly(session)
        return
    if not stored:
        log.warning("activity=%s idempotency claim taken over before its answer", g.activity_id)


def _claim(principal: Principal, scope: KeyScope) -> Claim | StoredAnswer:
    lease = timedelta(seconds=current_app.config["IDEMPOTENCY_LEASE_SECONDS"])
    try:
        session = request_session(principal.database)
        session.commit()  # the authentication read's transaction: the claim commits on its own
        return claim_key(session, scope, request_fingerprint(), lease)
    except KeyReused:
        raise ApiError(422, f"This {HEADER} was already used with a different request.") from None
    except KeyBusy as busy:
        # "Retry a moment later": a request still running answers within seconds; only a
        # worker that died holds the key for the lease's rest, and a retry then gets 409 again.
        retry_after = min(busy.retry_after, BUSY_RETRY_AFTER_SECONDS)
        raise ApiError(
            409,
            f"A request with this {HEADER} is still being processed.",
            headers={"Retry-After": str(retry_after)},
        ) from None


def _release(database: str, claim: Claim) -> None:
    """Release after a failure; if that fails too (the database is down), the lease ends."""
    try:
        session = request_session(database)
        session.rollback()  # whatever the failed work left open
        release_key(session, claim)
    except SQLAlchemyError as error:
        log.warning(
            "activity=%s idempotency claim not released (%s); its lease will end",
            g.get("activity_id", ""),
            type(error).__name__,
        )

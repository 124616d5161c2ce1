"""The HTTP floor of issue 12: the batch endpoint's work done by a hand-written Flask handler
on psycopg 3 alone (no SQLAlchemy, no schema, no batch engine), served by the benchmark's app
beside the real endpoint, so both pay the same framework, request hooks and gunicorn.

It writes what the real endpoint writes, to the same tables, in as few statements as a person
writing it by hand for PostgreSQL would:

1. the API key and the token's user in one statement, as ``app.api.requests.authenticate``
   reads them, after the JWT is checked by ``app.auth.tokens.verify_token`` (PyJWT);
2. the licenses in one ``INSERT … SELECT FROM unnest(…) ON CONFLICT DO UPDATE``
   (``bench.floors.PG_UNNEST``), inside a statement whose query also returns each key's
   stored values and newest history hash from before the write (a data-modifying ``WITH``
   and its query share one snapshot): what the history needs, without a round trip;
3. one history row per written license, ``changes`` as the application computes them,
   hash-chained with ``app.history.chain.seal``, together with the chain's heads in one
   statement; then the commit.

What it leaves out, and why it is a floor and not a rival: schema validation, the reference
and ownership checks, the per-key advisory locks (the benchmark never sends one key in two
requests at once), idempotency keys, the retry item by item. An item it cannot write fails
the whole request (400 or 500) instead of getting its own result.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
from flask import Blueprint, Flask, Response, current_app, g, request
from sqlalchemy.engine import make_url

from app.api.envelope import ApiError, json_response
from app.api.requests import BEARER_CHALLENGE, api_database, presented_api_key
from app.audit import AUDIT_USER_LENGTH, utcnow
from app.auth.keys import digest
from app.auth.tokens import InvalidToken, verify_token
from app.batch.plan import changes
from app.extensions import csrf
from app.history.chain import seal
from app.licenses.schemas import KEY_FIELD, WRITABLE_FIELDS
from app.licenses.service import LICENSE_SPEC
from app.timeouts import postgres_connect_args
from bench.floors import KEY, PG_HEADS_UNNEST, PG_SEALED_HISTORY_UNNEST, PG_UNNEST
from bench.workload import DB_COLUMNS

FLOOR_PREFIX = "/bench/floor"
FLOOR_RULE = f"{FLOOR_PREFIX}/provider-credentialing/<int:provider_cred_key>/licenses-batch"
EXTENSION_KEY = "bench_floor_connections"

#: The client's fields in the order of the floor's license columns (the stamps follow them).
FIELD_COLUMNS = DB_COLUMNS[: len(WRITABLE_FIELDS)]
FIELDS = tuple((column, WRITABLE_FIELDS[column]) for column in FIELD_COLUMNS)
DATE_COLUMNS = frozenset(c for c in FIELD_COLUMNS if c.endswith("_date"))

#: ``app.api.requests``'s authentication read, by hand: the active key's id and the role of
#: the token's user (enabled, with the stamp the token carries).
AUTH_READ = (
    "SELECT (SELECT id FROM api_key WHERE key_hash = %s AND revoked_at IS NULL), "
    "(SELECT role FROM staff_user WHERE id = %s AND token_stamp = %s AND NOT disabled)"
)
#: The upsert, and each key's row and history head as they were before it.
UPSERT_READING_BEFORE = (
    f"WITH written AS ({PG_UNNEST}) "
    f"SELECT k.key, h.row_hash, l.{KEY} IS NOT NULL, "
    + ", ".join(f"l.{c}" for c in FIELD_COLUMNS)
    + " FROM unnest(%s::int4[]) AS k(key)"
    f" LEFT JOIN provider_cred_license AS l ON l.{KEY} = k.key"
    f" LEFT JOIN license_history_head AS h ON h.{KEY} = k.key"
)
#: The sealed history rows and their licenses' new heads, one statement.
HISTORY_WITH_HEADS = f"WITH heads AS ({PG_HEADS_UNNEST}) {PG_SEALED_HISTORY_UNNEST}"
HISTORY_FIELDS = ("provider_cred_license_key", "provider_cred_key", "activity_id", "at", "user")

bp = Blueprint("bench_floor", __name__)


class WorkerConnections:
    """This process's psycopg connection to each database, opened on first use.

    Gunicorn forks its workers; a connection inherited from another process is never used.
    Opened with the application's own server timeouts (``app.timeouts``).
    """

    def __init__(self) -> None:
        self._pid = os.getpid()
        self._open: dict[str, psycopg.Connection[Any]] = {}

    def get(self, name: str, url: str, config: Mapping[str, Any]) -> psycopg.Connection[Any]:
        if self._pid != os.getpid():
            self._pid, self._open = os.getpid(), {}
        connection = self._open.get(name)
        if connection is None or connection.closed:
            conninfo = make_url(url).set(drivername="postgresql", query={})
            connection = psycopg.connect(
                conninfo.render_as_string(hide_password=False),
                **postgres_connect_args(url, dict(config)),
            )
            self._open[name] = connection
        return connection

    def close(self) -> None:
        for connection in self._open.values():
            connection.close()
        self._open.clear()


def init_app(app: Flask) -> None:
    """Register the handler; like the API's, it authenticates by header, not by session, so
    it takes no CSRF token."""
    app.extensions[EXTENSION_KEY] = WorkerConnections()
    csrf.exempt(bp)
    app.register_blueprint(bp)


def floor_path(provider_cred_key: int) -> str:
    return f"{FLOOR_PREFIX}/provider-credentialing/{provider_cred_key}/licenses-batch"


@bp.put(FLOOR_RULE)
def put_licenses_batch_floor(provider_cred_key: int) -> Response:
    """The batch endpoint's contract for well-formed batches: 207, one result per item."""
    database = api_database()
    url = current_app.config["DATABASES"][database]
    if not url.startswith("postgresql"):
        raise ApiError(400, "The floor handler writes to PostgreSQL only.")
    key = presented_api_key()
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "A bearer token is required.", headers=BEARER_CHALLENGE)
    try:
        claims = verify_token(current_app.config["SECRET_KEY"], token.strip(), database)
    except InvalidToken:
        raise ApiError(401, "The bearer token is not valid.", headers=BEARER_CHALLENGE) from None
    try:
        items = orjson.loads(request.get_data())
        values = [license_values(item, provider_cred_key) for item in items]
    except (orjson.JSONDecodeError, TypeError, ValueError, KeyError):
        raise ApiError(400, "Every item must be a well-formed license of this path.") from None
    keys = [v[KEY] for v in values]
    if len(set(keys)) != len(keys):
        raise ApiError(400, "A key occurs twice in this batch.")

    connections: WorkerConnections = current_app.extensions[EXTENSION_KEY]
    connection = connections.get(database, url, current_app.config)
    try:
        with connection.cursor() as cursor:
            key_id, role = cursor.execute(
                AUTH_READ, (digest(key), claims.user_id, claims.stamp)
            ).fetchone() or (None, None)
            if key_id is None or role is None:
                raise ApiError(401, "The API key or the token's user is not valid.")
            if role != "editor":
                raise ApiError(403, "The viewer role cannot write.")
            data = write(cursor, values, claims.username[:AUDIT_USER_LENGTH], g.activity_id)
        connection.commit()
    except BaseException:
        if not connection.closed:
            connection.rollback()
        raise
    return json_response(data, status=207)


def license_values(item: dict[str, Any], provider_cred_key: int) -> dict[str, Any]:
    """A wire item's column values (dates as naive UTC); raises on a malformed item."""
    values = {column: item.get(name) for column, name in FIELDS}
    if type(values[KEY]) is not int or values["provider_cred_key"] != provider_cred_key:
        raise ValueError("key or providerCred_Key")
    for column in DATE_COLUMNS:
        text = values[column]
        if text is not None:
            parsed = datetime.fromisoformat(text)
            if parsed.tzinfo is not None:
                parsed = parsed.astimezone(UTC).replace(tzinfo=None)
            values[column] = parsed
    return values


def write(
    cursor: psycopg.Cursor[Any], values: Sequence[dict[str, Any]], user: str, activity_id: str
) -> list[dict[str, Any]]:
    """Upsert the licenses, write their chained history; return the 207 entries."""
    if not values:
        return []
    now = utcnow()
    stamps = (now, user, now, user)
    columns = [
        list(c) for c in zip(*(tuple(v[c] for c in FIELD_COLUMNS) for v in values), strict=True)
    ]
    columns += [[stamp] * len(values) for stamp in stamps]
    keys = [v[KEY] for v in values]
    cursor.execute(UPSERT_READING_BEFORE, [*columns, keys], binary=True)
    before = {row[0]: row for row in cursor.fetchall()}

    entries, history, heads = [], [], {}
    for new in values:
        key = new[KEY]
        _, head, existed, *stored = before[key]
        old = dict(zip(FIELD_COLUMNS, stored, strict=True)) if existed else None
        found = changes(LICENSE_SPEC, old, new)
        if head is not None:
            heads[key] = head
        created = old is None
        entries.append(
            {
                "id": [{"key": KEY_FIELD, "value": str(key)}],
                "status": 201 if created else 200,
                "body": "Created" if created else "Updated",
            }
        )
        if found:
            stored_fields = (key, new["provider_cred_key"], activity_id, now, user)
            row = dict(zip(HISTORY_FIELDS, stored_fields, strict=True))
            history.append({**row, "action": "created" if created else "updated", "changes": found})
    if history:
        newest = seal(history, heads)
        cursor.execute(
            HISTORY_WITH_HEADS,
            [
                list(newest),
                list(newest.values()),
                *([row[f] for row in history] for f in HISTORY_FIELDS),
                [row["action"] for row in history],
                [orjson.dumps(row["changes"]).decode() for row in history],
                [row["row_hash"] for row in history],
            ],
            binary=True,
        )
    return entries

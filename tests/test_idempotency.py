"""Idempotency-Key on the batch endpoint (SPEC 4b)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select, update

from app.audit import utcnow
from app.auth.tokens import mint_token_for
from app.history.models import LicenseChange
from app.idempotency.models import IdempotencyRecord
from app.idempotency.store import (
    Claim,
    KeyBusy,
    KeyScope,
    StoredAnswer,
    claim_key,
    purge_expired,
    release_key,
    store_answer,
)
from app.licenses.models import ProviderCredLicense
from tests.conftest import TEST_SECRET
from tests.factories import license_item
from tests.fault_support import answer_store_fails
from tests.helpers import BATCH_URL, results


@pytest.fixture
def put_batch(client: Any, auth_headers: Any, make_cred: Any) -> Any:
    make_cred(1)
    headers = auth_headers()

    def _put(items: list[Any], key: str | None = "retry-1", cred: int = 1, **extra: str) -> Any:
        sent = {**headers, **extra}
        if key is not None:
            sent["Idempotency-Key"] = key
        return client.put(BATCH_URL.format(cred=cred), json=items, headers=sent)

    return _put


def history_count(session_for: Any) -> int:
    with session_for() as session:
        return session.scalar(select(func.count()).select_from(LicenseChange))


def test_same_key_same_body_replays_without_writing(put_batch: Any, session_for: Any) -> None:
    first = put_batch([license_item(1)])
    assert results(first) == [("1", 201, "Created")]
    assert "Idempotent-Replayed" not in first.headers
    put_batch([license_item(1, state="CA")], key=None)  # someone changes the row meanwhile
    count = history_count(session_for)

    replay = put_batch([license_item(1)])
    assert replay.status_code == 207
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == first.get_json()
    with session_for() as session:
        assert session.get(ProviderCredLicense, 1).state == "CA"
    assert history_count(session_for) == count


def test_a_retry_under_the_vbapi_prefix_is_the_same_request(
    client: Any, auth_headers: Any, make_cred: Any
) -> None:
    """``/vbasoftware/…`` is the same route as the root's, so a retry there replays."""
    make_cred(1)
    headers = {**auth_headers(), "Idempotency-Key": "prefixed-1"}
    url = BATCH_URL.format(cred=1)
    first = client.put(url, json=[license_item(1)], headers=headers)
    replay = client.put("/vbasoftware" + url, json=[license_item(1)], headers=headers)
    assert replay.status_code == 207, replay.get_json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == first.get_json()
    other = client.put(
        "/vbasoftware" + url + "?dryRun=true", json=[license_item(1)], headers=headers
    )
    assert other.status_code == 422


def test_a_retry_with_its_parameters_in_another_order_is_the_same_request(
    client: Any, auth_headers: Any, make_cred: Any
) -> None:
    make_cred(1)
    headers = {**auth_headers(), "Idempotency-Key": "reordered-1"}
    url = BATCH_URL.format(cred=1)
    first = client.put(url + "?atomic=true&dryRun=true", json=[license_item(1)], headers=headers)
    replay = client.put(url + "?dryRun=true&atomic=true", json=[license_item(1)], headers=headers)
    assert replay.status_code == 207, replay.get_json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == first.get_json()
    other = client.put(url + "?dryRun=true&atomic=false", json=[license_item(1)], headers=headers)
    assert other.status_code == 422


def test_same_key_different_body_is_422(put_batch: Any) -> None:
    put_batch([license_item(1)])
    response = put_batch([license_item(2)])
    assert response.status_code == 422
    assert response.get_json()["error"]["detail"] == (
        "This Idempotency-Key was already used with a different request."
    )


def look_unfinished(session_for: Any, lease_left: timedelta) -> None:
    """Make the stored answer look like a claim whose lease ends in ``lease_left``."""
    with session_for() as session:
        session.execute(
            update(IdempotencyRecord).values(
                status=None,
                response_body=None,
                owner="a-worker-that-died",
                lease_expires_at=utcnow() + lease_left,
            )
        )
        session.commit()


def test_key_still_running_is_409_until_its_lease_ends(put_batch: Any, session_for: Any) -> None:
    put_batch([license_item(1)])
    look_unfinished(session_for, timedelta(seconds=20))
    response = put_batch([license_item(1)])
    assert response.status_code == 409
    assert response.get_json()["error"]["detail"] == (
        "A request with this Idempotency-Key is still being processed."
    )
    # A moment, not the lease's rest (20 s here, 45 s by default): a request still running
    # answers within seconds; a retry then gets its stored answer.
    assert response.headers["Retry-After"] == "2"


def test_a_claim_whose_lease_ended_is_taken_over(put_batch: Any, session_for: Any) -> None:
    """A worker died holding the key: after the lease, the retry runs the batch and answers."""
    look_unfinished(session_for, timedelta(seconds=-1))
    with session_for() as session:
        session.query(ProviderCredLicense).delete()  # the dead worker wrote nothing
        session.commit()
    retry = put_batch([license_item(1)])
    assert results(retry) == [("1", 201, "Created")]
    assert "Idempotent-Replayed" not in retry.headers
    replay = put_batch([license_item(1)])
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == retry.get_json()
    with session_for() as session:
        record = session.scalar(select(IdempotencyRecord))
        assert record.status == 207 and record.lease_expires_at is None


def test_a_claim_without_a_lease_from_before_the_upgrade_is_taken_over(
    put_batch: Any, session_for: Any
) -> None:
    put_batch([license_item(1)])
    with session_for() as session:
        session.execute(
            update(IdempotencyRecord).values(status=None, owner=None, lease_expires_at=None)
        )
        session.commit()
    assert results(put_batch([license_item(1)])) == [("1", 200, "Updated")]


def test_a_worker_that_outlived_its_lease_cannot_overwrite(session_for: Any) -> None:
    scope = KeyScope(api_key_id=1, username="alice", key="k")
    with session_for() as session:
        first = claim_key(session, scope, "hash", timedelta(seconds=-1))  # already expired
    with session_for() as session:
        second = claim_key(session, scope, "hash", timedelta(seconds=30))
    assert isinstance(first, Claim) and isinstance(second, Claim)
    assert second.record_id == first.record_id and second.owner != first.owner
    with session_for() as session:
        assert store_answer(session, first, 207, "late") is False
        release_key(session, first)  # nor release it
        assert store_answer(session, second, 207, "on time") is True
    with session_for() as session:
        assert claim_key(session, scope, "hash", timedelta(seconds=30)) == StoredAnswer(
            207, "on time"
        )


def test_a_claim_that_finds_a_live_lease_answers_busy_though_the_answer_lands_meanwhile(
    session_for: Any,
) -> None:
    """A second request finds the first's live lease and gives the key up (rollback); the first
    stores its answer just then. The second must still say busy (409, retry), not read the
    record again after its rollback and find a lease that is no longer there (a 500)."""
    scope = KeyScope(api_key_id=1, username="alice", key="landing")
    with session_for() as session:
        first = claim_key(session, scope, "hash", timedelta(seconds=30))
    assert isinstance(first, Claim)
    rollbacks: list[int] = []

    def answer_lands(session: Any) -> None:
        rollbacks.append(1)
        if len(rollbacks) == 2:  # the second: after the locked read found the lease
            with session_for() as other:
                assert store_answer(other, first, 207, "done")

    with session_for() as session:
        event.listen(session, "after_rollback", answer_lands)
        with pytest.raises(KeyBusy) as busy:
            claim_key(session, scope, "hash", timedelta(seconds=30))
    assert len(rollbacks) >= 2 and 1 <= busy.value.retry_after <= 30
    with session_for() as session:
        assert claim_key(session, scope, "hash", timedelta(seconds=30)) == StoredAnswer(207, "done")


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "tab\there", "é"])
def test_malformed_key_is_400(put_batch: Any, key: str) -> None:
    response = put_batch([license_item(1)], key=key)
    assert response.status_code == 400
    assert response.get_json()["error"]["errors"] == {
        "Idempotency-Key": ["Must be 1 to 255 visible ASCII characters."]
    }


def test_keys_are_per_api_key(put_batch: Any, make_api_key: Any) -> None:
    put_batch([license_item(1)])
    other_key = make_api_key()
    response = put_batch([license_item(2)], **{"x-api-key": other_key})
    assert results(response) == [("2", 201, "Created")]
    assert "Idempotent-Replayed" not in response.headers


def test_keys_are_per_user_of_an_api_key(put_batch: Any, make_user: Any, session_for: Any) -> None:
    put_batch([license_item(1)])
    other_user = make_user("bob")
    with session_for() as session:
        token = mint_token_for(session, TEST_SECRET, other_user, "main", 3600, "id")
    response = put_batch([license_item(1)], Authorization=f"Bearer {token}")
    assert results(response) == [("1", 200, "Updated")]
    assert "Idempotent-Replayed" not in response.headers
    with session_for() as session:
        owners = session.scalars(select(IdempotencyRecord.username)).all()
    assert sorted(owners) == ["bob", "editor-main"]


def test_purge_removes_expired_records_of_every_key_and_keeps_live_leases(
    session_for: Any,
) -> None:
    now = utcnow()
    old = now - timedelta(hours=25)
    rows = {
        "old-answer": dict(created_at=old, status=207),
        "old-other-key": dict(created_at=old, status=207, api_key_id=2),
        "fresh": dict(created_at=now, status=207),
        "old-but-leased": dict(created_at=old, lease_expires_at=now + timedelta(seconds=30)),
        # a worker that died holding the key long ago: its lease is over, so it goes too
        "old-lease-ended": dict(created_at=old, lease_expires_at=now - timedelta(minutes=1)),
    }
    with session_for() as session:
        for key, values in rows.items():
            session.add(
                IdempotencyRecord(
                    **{"api_key_id": 1, "username": "u", "request_hash": "h", **values},
                    idempotency_key=key,
                )
            )
        session.commit()
    with session_for() as session:
        assert purge_expired(session, now) == 3
        kept = session.scalars(select(IdempotencyRecord.idempotency_key)).all()
    assert sorted(kept) == ["fresh", "old-but-leased"]


def test_purge_deletes_a_chunk_per_transaction(
    session_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A day's stored answers went in one DELETE, which on SQLite held the write lock
    throughout (200,000 records of 2 KB: 4.5 s of every other write waiting). Each statement
    now deletes at most ``PURGE_CHUNK`` records and is committed before the next."""
    from sqlalchemy.engine import Engine

    from app.idempotency import store

    monkeypatch.setattr(store, "PURGE_CHUNK", 2, raising=False)
    now = utcnow()
    with session_for() as session:
        for number in range(5):
            session.add(
                IdempotencyRecord(
                    api_key_id=1,
                    username="u",
                    request_hash="h",
                    idempotency_key=f"old-{number}",
                    status=207,
                    created_at=now - timedelta(hours=25, minutes=number),
                )
            )
        session.commit()
    statements: list[tuple[str, int]] = []

    def seen(_conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        words = statement.split()[:3]
        if words[:1] in (["DELETE"], ["COMMIT"]) or words == [
            "DELETE",
            "FROM",
            "idempotency_record",
        ]:
            statements.append((words[0], cursor.rowcount if words[0] == "DELETE" else 0))

    def committed(_conn: Any) -> None:
        statements.append(("COMMIT", 0))

    event.listen(Engine, "after_cursor_execute", seen)
    event.listen(Engine, "commit", committed)
    try:
        with session_for() as session:
            assert purge_expired(session, now) == 5
    finally:
        event.remove(Engine, "after_cursor_execute", seen)
        event.remove(Engine, "commit", committed)
    assert statements == [("DELETE", 2), ("COMMIT", 0)] * 2 + [("DELETE", 1), ("COMMIT", 0)]
    with session_for() as session:
        assert session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0


def test_busy_rounds_the_lease_left_up_to_whole_seconds(
    session_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that waits the seconds it is told finds the lease over: 1.5 s left is 2."""
    from app.idempotency import store

    start = datetime(2026, 1, 1, 12, 0, 0)
    scope = KeyScope(api_key_id=1, username="alice", key="k")
    monkeypatch.setattr(store, "utcnow", lambda: start)
    with session_for() as session:
        assert isinstance(claim_key(session, scope, "hash", timedelta(seconds=30)), Claim)
    for elapsed, told in ((0, 30), (28.5, 2), (29.999, 1)):
        monkeypatch.setattr(store, "utcnow", lambda e=elapsed: start + timedelta(seconds=e))
        with session_for() as session, pytest.raises(KeyBusy) as busy:
            claim_key(session, scope, "hash", timedelta(seconds=30))
        assert busy.value.retry_after == told, elapsed


def test_answers_expire_after_24_hours(put_batch: Any, session_for: Any) -> None:
    put_batch([license_item(1)])
    with session_for() as session:
        session.execute(update(IdempotencyRecord).values(created_at=utcnow() - timedelta(hours=25)))
        session.commit()
    response = put_batch([license_item(1, state="CA")])
    assert results(response) == [("1", 200, "Updated")]
    assert "Idempotent-Replayed" not in response.headers


def test_failed_request_releases_its_key(put_batch: Any, make_cred: Any) -> None:
    assert put_batch([license_item(1, cred=2)], cred=2).status_code == 404
    make_cred(2)
    response = put_batch([license_item(1, cred=2)], cred=2)
    assert results(response) == [("1", 201, "Created")]


def test_license_type_batch_is_idempotent_too(client: Any, auth_headers: Any) -> None:
    headers = {**auth_headers(), "Idempotency-Key": "types-1"}
    body = [{"credLicenseType_Key": 1, "display": "MD"}]
    first = client.put("/credentialing-license-types-batch", json=body, headers=headers)
    assert first.status_code == 207 and first.get_json()["data"][0]["status"] == 201
    replay = client.put("/credentialing-license-types-batch", json=body, headers=headers)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == first.get_json()
    other = client.put("/credentialing-license-types-batch", json=[], headers=headers)
    assert other.status_code == 422


ITEMS = [license_item(k) for k in range(1, 51)]


def test_a_connection_lost_before_the_answer_is_stored_is_replaced(
    app: Any, backend: str, put_batch: Any, session_for: Any
) -> None:
    """The batch committed, then its connection was lost: the answer is stored on a fresh one,
    the client gets it, and a retry replays it."""
    with answer_store_fails(app, backend, times=1) as failed:
        response = put_batch(ITEMS)
    assert {status for _, status, _ in results(response)} == {201}
    assert len(failed) == 1
    replay = put_batch(ITEMS)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == response.get_json()
    assert history_count(session_for) == len(ITEMS)


def test_an_answer_that_cannot_be_stored_is_still_given_and_a_retry_writes_nothing_twice(
    app: Any, backend: str, put_batch: Any, session_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The batch committed and storing its answer fails for good: the client is told what was
    written (never a 503 for a batch that went through); a retry waits for the claim's lease,
    then runs the batch again, which finds every value stored and writes no second history."""
    with answer_store_fails(app, backend, times=2) as failed:
        response = put_batch(ITEMS)
    assert {status for _, status, _ in results(response)} == {201}
    assert len(failed) == 2  # the answer and its one retry on a fresh connection
    activity = response.headers["X-Activity-ID"]
    assert any(
        f"activity={activity} idempotency answer not stored" in r.getMessage()
        for r in caplog.records
    )
    busy = put_batch(ITEMS)
    assert busy.status_code == 409 and busy.headers["Retry-After"] == "2"
    look_unfinished(session_for, timedelta(seconds=-1))  # the lease has ended
    retry = put_batch(ITEMS)
    assert {status for _, status, _ in results(retry)} == {200}
    assert history_count(session_for) == len(ITEMS)
    with session_for() as session:
        assert session.scalar(select(func.count()).select_from(ProviderCredLicense)) == len(ITEMS)

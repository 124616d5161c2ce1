"""Writers under different ProviderCreds that take the same key: the guarded upsert catches the
race, the engine plans again (then alone among the writers of new keys, so it cannot lose
again), and two advisory locks per batch replace one per key."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from app.batch import plan as planning
from app.batch import write
from app.batch.outcome import ConcurrentWrites
from app.history.models import LicenseChange
from app.licenses.models import ProviderCredLicense
from app.licenses.service import upsert_licenses
from tests.factories import license_item
from tests.helpers import BATCH_URL


@pytest.fixture
def two_creds(make_cred: Any, make_license_type: Any) -> None:
    make_cred(1)
    make_cred(2)
    make_license_type(1)


def upsert(session_for: Callable[..., Any], cred: int, items: list[Any]) -> list[Any]:
    with session_for() as session:
        return upsert_licenses(session, cred, items, actor="alice", activity_id=f"act-{cred}")


def stale_reads(monkeypatch: pytest.MonkeyPatch, key: int, times: int | None) -> list[int]:
    """``read_state`` misses ``key``'s stored row (as a read made just before another parent's
    writer created it would) the first ``times`` calls (every call when ``None``)."""
    real = write.read_state
    calls: list[int] = []

    def read_state(*args: Any, **kwargs: Any) -> write.StoredState:
        state = real(*args, **kwargs)
        calls.append(len(calls))
        if times is None or len(calls) <= times:
            state.rows.pop(key, None)
            state.heads.pop(key, None)
        return state

    monkeypatch.setattr(write, "read_state", read_state)
    return calls


@pytest.mark.usefixtures("two_creds")
def test_a_key_taken_under_another_cred_after_the_read_is_planned_again(
    session_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    upsert(session_for, 2, [license_item(7, cred=2, state="TX")])
    calls = stale_reads(monkeypatch, 7, times=1)

    outcomes = upsert(session_for, 1, [license_item(7, cred=1, state="NY"), license_item(8)])

    assert len(calls) == 2  # the race was caught and the batch read and planned again
    assert [o.status for o in outcomes] == [409, 201]
    with session_for() as session:
        row = session.get(ProviderCredLicense, 7)
        assert row is not None and (row.provider_cred_key, row.state) == (2, "TX")
        actions = session.scalars(
            select(LicenseChange.action).where(LicenseChange.provider_cred_license_key == 7)
        ).all()
        assert actions == ["created"]  # nothing of the lost attempt was kept


@pytest.mark.usefixtures("two_creds")
def test_a_race_lost_on_every_attempt_writes_nothing_and_answers_503(
    client: Any, auth_headers: Any, session_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    upsert(session_for, 2, [license_item(7, cred=2)])
    calls = stale_reads(monkeypatch, 7, times=None)
    with pytest.raises(ConcurrentWrites):
        upsert(session_for, 1, [license_item(7, cred=1), license_item(8)])
    assert len(calls) == 3

    response = client.put(
        BATCH_URL.format(cred=1),
        json=[license_item(7, cred=1), license_item(9)],
        headers=auth_headers(),
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    with session_for() as session:
        keys = session.scalars(select(ProviderCredLicense.provider_cred_license_key)).all()
        assert sorted(keys) == [7]


@pytest.mark.usefixtures("two_creds")
def test_a_batch_takes_one_advisory_lock_whatever_its_size(
    backend: str, session_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite's write lock serialises writers; no advisory locks")
    held: list[int] = []
    real = write.read_state

    def read_state(tx: write.Transaction, *args: Any, **kwargs: Any) -> write.StoredState:
        state = real(tx, *args, **kwargs)  # takes the lock, in the batch's transaction
        held.append(
            tx.connection.scalar(
                text(
                    "SELECT count(*) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
                )
            )
        )
        return state

    monkeypatch.setattr(write, "read_state", read_state)
    outcomes = upsert(session_for, 1, [license_item(k) for k in range(1, 2001)])
    assert {o.status for o in outcomes} == {201}
    assert held == [2]  # the ProviderCred's, and the licenses' new keys' (shared)


def competitor_on_each_plan(
    monkeypatch: pytest.MonkeyPatch, session_for: Callable[..., Any], keys: list[int]
) -> tuple[list[int], list[list[Any]], list[threading.Thread]]:
    """While ProviderCred 1's batch plans (after its read, before its write), a writer under
    ProviderCred 2 stores the next of ``keys``, given a second to do so before the batch goes
    on (it cannot while the batch holds what keeps other writers of new keys out)."""
    real = planning.plan_upserts
    attempts: list[int] = []
    answers: list[list[Any]] = []
    threads: list[threading.Thread] = []

    def plan_upserts(*args: Any, **kwargs: Any) -> Any:
        plan = real(*args, **kwargs)
        if kwargs["parent_key"] == 1:
            key = keys[len(attempts)]
            attempts.append(key)
            item = license_item(key, cred=2, state="TX")
            thread = threading.Thread(
                target=lambda: answers.append(upsert(session_for, 2, [item])), daemon=True
            )
            threads.append(thread)
            thread.start()
            thread.join(timeout=1.0)
        return plan

    monkeypatch.setattr(planning, "plan_upserts", plan_upserts)
    return attempts, answers, threads


@pytest.mark.usefixtures("two_creds")
def test_a_batch_planned_again_cannot_lose_the_race_again(
    backend: str, session_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Planned again after another ProviderCred's writer took one of its new keys, a batch
    waits for the batches in flight and reads while no other can store a key: a writer that
    keeps taking its keys (a reviewer's: three clients sending random keys under one
    ProviderCred while one batch creates all of them under another) made it lose every
    attempt, and answer 503, though nothing was wrong with it."""
    if backend != "postgresql":
        pytest.skip("SQLite's write lock keeps the other writer out from the first attempt")
    attempts, answers, threads = competitor_on_each_plan(monkeypatch, session_for, [7, 8, 9])

    outcomes = upsert(session_for, 1, [license_item(k, cred=1) for k in (7, 8, 9)])
    for thread in threads:
        thread.join(timeout=10)

    assert attempts == [7, 8]  # the first lost key 7; the second held the others off
    assert [(o.key, o.status) for o in outcomes] == [(7, 409), (8, 201), (9, 201)]
    assert sorted(a[0].status for a in answers) == [201, 409]  # 7 stored; 8 came too late
    with session_for() as session:
        owners = session.execute(
            select(
                ProviderCredLicense.provider_cred_license_key, ProviderCredLicense.provider_cred_key
            ).order_by(ProviderCredLicense.provider_cred_license_key)
        ).all()
    assert [tuple(r) for r in owners] == [(7, 2), (8, 1), (9, 1)]


@pytest.mark.usefixtures("two_creds")
def test_a_deadlock_between_writers_is_planned_again_not_a_503(
    session_for: Any, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    """Should the server break a cycle of waits by cancelling the batch's write, the batch is
    read and planned again like a lost race, not answered as an unavailable database."""
    if backend != "postgresql":
        pytest.skip("SQLite has one writer: no deadlocks")
    import psycopg

    real = write._write_postgres
    calls: list[int] = []

    def write_postgres(*args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            try:
                raise psycopg.errors.DeadlockDetected("deadlock detected")
            except psycopg.Error as error:
                raise OperationalError("INSERT …", {}, error) from error
        real(*args, **kwargs)

    monkeypatch.setattr(write, "_write_postgres", write_postgres)
    outcomes = upsert(session_for, 1, [license_item(7, cred=1)])
    assert len(calls) == 2 and [o.status for o in outcomes] == [201]


@pytest.mark.usefixtures("two_creds")
def test_new_rows_are_written_in_key_order(
    session_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two writers under different ProviderCreds that create some of the same new keys, one
    listing them ascending and the other descending, each waited for a key the other had
    inserted (a deadlock, 503, in 3 of 5 rounds of 1,500 keys). In key order, one waits for
    the other and then finds the key taken."""
    real = write.write_tables
    written: list[list[int]] = []

    def write_tables(tx: Any, writes: Any, **kwargs: Any) -> None:
        licenses = [w for w in writes if w.table is ProviderCredLicense.__table__]
        written.extend(
            [r["provider_cred_license_key"] for r in w.rows[: w.inserted]] for w in licenses
        )
        real(tx, writes, **kwargs)

    monkeypatch.setattr(write, "write_tables", write_tables)
    upsert(session_for, 1, [license_item(k, cred=1) for k in (5, 9, 1, 7, 3)])
    assert written == [[1, 3, 5, 7, 9]]


@pytest.mark.usefixtures("two_creds")
def test_overlapping_new_keys_in_opposite_orders_under_two_creds(
    backend: str, session_for: Any
) -> None:
    """The reviewer's race on a real server: both batches are answered 207, every key ends
    under exactly one ProviderCred, each answered 201 to its owner and 409 to the other."""
    if backend != "postgresql":
        pytest.skip("SQLite serialises the two writers")
    keys = list(range(1000, 1600))
    start = threading.Barrier(2)
    answers: dict[int, list[Any]] = {}

    def batch(cred: int, ordered: list[int]) -> None:
        start.wait()
        answers[cred] = upsert(session_for, cred, [license_item(k, cred=cred) for k in ordered])

    threads = [
        threading.Thread(target=batch, args=(1, keys[:450])),
        threading.Thread(target=batch, args=(2, keys[150:][::-1])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    with session_for() as session:
        owner = dict(
            session.execute(
                select(
                    ProviderCredLicense.provider_cred_license_key,
                    ProviderCredLicense.provider_cred_key,
                )
            ).all()
        )
    assert sorted(owner) == keys
    assert {cred: len(outcomes) for cred, outcomes in answers.items()} == {1: 450, 2: 450}
    for cred, outcomes in answers.items():
        for o in outcomes:
            assert o.status == (201 if owner[o.key] == cred else 409), (cred, o)
    assert sorted(answers) == [1, 2]

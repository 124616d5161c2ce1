"""Writers under different ProviderCreds that take the same key: the guarded upsert catches the
race, the engine plans again, and one advisory lock per batch replaces one per key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, text

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
    assert held == [1]

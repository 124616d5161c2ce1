"""Failure containment and concurrency of the batch write path."""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select, text

from app.history.models import LicenseChange
from app.licenses.models import ProviderCredLicense
from tests.factories import license_item
from tests.helpers import BATCH_URL, results

SQLITE_TRIGGERS = [
    "CREATE TRIGGER explode_insert BEFORE INSERT ON provider_cred_license "
    "WHEN NEW.license_number = 'EXPLODE' BEGIN SELECT RAISE(ABORT, 'boom'); END",
    "CREATE TRIGGER explode_update BEFORE UPDATE ON provider_cred_license "
    "WHEN NEW.license_number = 'EXPLODE' BEGIN SELECT RAISE(ABORT, 'boom'); END",
]
POSTGRES_TRIGGERS = [
    "CREATE FUNCTION explode() RETURNS trigger AS $$ BEGIN "
    "IF NEW.license_number = 'EXPLODE' THEN RAISE EXCEPTION 'boom'; END IF; "
    "RETURN NEW; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER explode BEFORE INSERT OR UPDATE ON provider_cred_license "
    "FOR EACH ROW EXECUTE FUNCTION explode()",
]


@pytest.fixture
def exploding_rows(session_for: Any, backend: str) -> Any:
    """A real database error for any row whose license_Number is EXPLODE."""
    with session_for() as session:
        for statement in SQLITE_TRIGGERS if backend == "sqlite" else POSTGRES_TRIGGERS:
            session.execute(text(statement))
        session.commit()
    yield
    with session_for() as session:
        if backend == "sqlite":
            session.execute(text("DROP TRIGGER explode_insert"))
            session.execute(text("DROP TRIGGER explode_update"))
        else:
            session.execute(text("DROP FUNCTION explode() CASCADE"))
        session.commit()


@pytest.fixture
def put_batch(client: Any, auth_headers: Any, make_cred: Any) -> Any:
    make_cred(1)
    make_cred(2)
    headers = auth_headers()

    def _put(items: list[Any], cred: int = 1, query: str = "") -> Any:
        return client.put(BATCH_URL.format(cred=cred) + query, json=items, headers=headers)

    return _put


def stored_keys(session_for: Any) -> dict[int, str | None]:
    with session_for() as session:
        rows = session.execute(
            select(ProviderCredLicense.provider_cred_license_key, ProviderCredLicense.state)
        )
        return dict(rows.all())


def history_keys(session_for: Any) -> set[int]:
    with session_for() as session:
        return set(session.scalars(select(LicenseChange.provider_cred_license_key)))


@pytest.mark.usefixtures("exploding_rows")
def test_database_failure_is_confined_to_its_item(put_batch: Any, session_for: Any) -> None:
    put_batch([license_item(2)])
    response = put_batch(
        [
            license_item(1),
            license_item(2, license_Number="EXPLODE"),
            license_item(3, license_Number="EXPLODE"),
            license_item(4),
        ]
    )
    activity = response.headers["X-Activity-ID"]
    assert results(response) == [
        ("1", 201, "Created"),
        ("2", 500, f"Internal error (activity {activity})"),
        ("3", 500, f"Internal error (activity {activity})"),
        ("4", 201, "Created"),
    ]
    assert stored_keys(session_for) == {1: "NY", 2: "NY", 4: "NY"}
    with session_for() as session:
        assert session.get(ProviderCredLicense, 2).license_number == "N-2"
    assert history_keys(session_for) == {1, 2, 4}  # 2: from its creation only


@pytest.mark.usefixtures("exploding_rows")
def test_database_failure_in_atomic_batch_writes_nothing(put_batch: Any, session_for: Any) -> None:
    response = put_batch(
        [license_item(1), license_item(2, license_Number="EXPLODE")], query="?atomic=true"
    )
    activity = response.headers["X-Activity-ID"]
    assert results(response) == [
        ("1", 424, "Not applied"),
        ("2", 500, f"Internal error (activity {activity})"),
    ]
    assert stored_keys(session_for) == {}
    assert history_keys(session_for) == set()


def test_failure_details_go_to_the_log_not_the_client(
    put_batch: Any, exploding_rows: Any, caplog: pytest.LogCaptureFixture
) -> None:
    response = put_batch([license_item(1, license_Number="EXPLODE")])
    body = response.get_json()["data"][0]["body"]
    assert "boom" not in body
    assert any("boom" in (r.exc_text or "") for r in caplog.records)


def run_concurrently(workers: int, work: Any) -> list[Any]:
    barrier = threading.Barrier(workers)
    outcomes: list[Any] = [None] * workers
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes[index] = work(index)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return outcomes


def test_concurrent_overlapping_batches(
    app: Any, auth_headers: Any, make_cred: Any, session_for: Any
) -> None:
    """Several writers upserting the same new keys at once: no 500, one row and one 201 each."""
    make_cred(1)
    headers = auth_headers()
    keys = list(range(1, 31))

    def work(worker: int) -> list[tuple[str | None, int, str]]:
        client = app.test_client()
        rng = random.Random(worker)
        seen: list[tuple[str | None, int, str]] = []
        for _ in range(4):
            batch = rng.sample(keys, len(keys))
            items = [license_item(k, state=rng.choice(["NY", "CA", "TX"])) for k in batch]
            response = client.put(BATCH_URL.format(cred=1), json=items, headers=headers)
            seen.extend(results(response))
        return seen

    everything = [r for per_worker in run_concurrently(6, work) for r in per_worker]
    assert {status for _, status, _ in everything} <= {200, 201}
    created = Counter(value for value, status, _ in everything if status == 201)
    assert created == Counter({str(k): 1 for k in keys})
    assert set(stored_keys(session_for)) == set(keys)


def test_concurrent_creation_under_two_provider_creds(
    app: Any, auth_headers: Any, make_cred: Any, session_for: Any
) -> None:
    """The same new key pushed under two ProviderCreds at once: one wins, the other gets 409."""
    make_cred(1)
    make_cred(2)
    headers = auth_headers()

    def work(worker: int) -> list[tuple[str | None, int, str]]:
        cred = 1 + worker % 2
        client = app.test_client()
        items = [license_item(k, cred=cred) for k in range(100, 110)]
        return results(client.put(BATCH_URL.format(cred=cred), json=items, headers=headers))

    everything = [r for per_worker in run_concurrently(4, work) for r in per_worker]
    assert {status for _, status, _ in everything} <= {200, 201, 409}
    assert Counter(v for v, s, _ in everything if s == 201) == Counter(
        {str(k): 1 for k in range(100, 110)}
    )
    # the two workers of the other ProviderCred are refused each key: none takes it over
    assert Counter(v for v, s, _ in everything if s == 409) == Counter(
        {str(k): 2 for k in range(100, 110)}
    )
    with session_for() as session:
        assert session.scalar(select(func.count()).select_from(ProviderCredLicense)) == 10

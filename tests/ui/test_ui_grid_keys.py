"""Server-assigned license keys: no key typed, no key offered twice, a typed key honoured."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from app.batch.outcome import CONFLICT, CREATED
from app.history.models import LicenseChange
from app.licenses import keys as license_keys
from app.licenses.keys import upsert_assigning_keys
from app.licenses.models import ProviderCredLicense
from app.licenses.service import delete_licenses
from app.tenancy import session_scope


@pytest.fixture
def cred(make_cred: Any, put_licenses: Any) -> int:
    make_cred(1)
    make_cred(2)
    put_licenses(1, {"providerCredLicense_Key": 40, "license_Name": "Existing"})
    return 1


def add(app: Any, *items: dict[str, Any], cred: int = 1, actor: str = "alice") -> list[Any]:
    with app.app_context(), session_scope("main") as session:
        return upsert_assigning_keys(
            session,
            cred,
            [{"providerCred_Key": cred, **item} for item in items],
            actor=actor,
            activity_id="keys-test",
        )


def keys_of(app: Any) -> list[int]:
    with app.app_context(), session_scope("main") as session:
        return list(
            session.scalars(
                select(ProviderCredLicense.provider_cred_license_key).order_by(
                    ProviderCredLicense.provider_cred_license_key
                )
            )
        )


def test_items_without_a_key_get_keys_past_every_key_in_use(app: Any, cred: int) -> None:
    outcomes = add(app, {"license_Name": "A"}, {"providerCredLicense_Key": 7, "license_Name": "B"})
    assert [(o.key, o.action) for o in outcomes] == [(41, CREATED), (7, CREATED)]
    assert [o.index for o in outcomes] == [0, 1]
    assert keys_of(app) == [7, 40, 41]


def test_a_deleted_key_is_not_handed_out_again(app: Any, cred: int, put_licenses: Any) -> None:
    put_licenses(1, {"providerCredLicense_Key": 90, "license_Name": "Soon gone"})
    with app.app_context(), session_scope("main") as session:
        delete_licenses(session, 1, [90], actor="bob", activity_id="x")
    (outcome,) = add(app, {"license_Name": "New"})
    assert outcome.key == 91  # 90's history stays under its key


def test_a_key_taken_between_allocation_and_write_is_replaced(
    app: Any, cred: int, put_licenses: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer (the API, another node) takes the allocated keys in between: the items
    get fresh keys, nobody's row is updated or stolen."""
    real = license_keys.highest_key
    calls = []

    def stale_then_real(session: Any) -> int:
        calls.append(1)
        if len(calls) == 1:
            put_licenses(1, {"providerCredLicense_Key": 41, "license_Name": "API 41"})
            put_licenses(2, {"providerCredLicense_Key": 42, "license_Name": "Other cred 42"})
            return 40  # what the allocation read before those two writes
        return real(session)

    monkeypatch.setattr(license_keys, "highest_key", stale_then_real)
    outcomes = add(app, {"license_Name": "Mine 1"}, {"license_Name": "Mine 2"})
    assert [(o.key, o.action) for o in outcomes] == [(43, CREATED), (44, CREATED)]
    with app.app_context(), session_scope("main") as session:
        names = dict(
            session.execute(
                select(
                    ProviderCredLicense.provider_cred_license_key, ProviderCredLicense.license_name
                )
            ).all()
        )
    assert names[41] == "API 41" and names[42] == "Other cred 42"  # untouched
    assert (names[43], names[44]) == ("Mine 1", "Mine 2")


def test_it_gives_up_after_a_few_rounds_with_a_message(
    app: Any, cred: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(license_keys, "highest_key", lambda session: 39)  # always stale: 40
    (outcome,) = add(app, {"license_Name": "Unlucky"})
    assert outcome.action == CONFLICT and outcome.key is None
    assert outcome.errors == {"providerCredLicense_Key": [license_keys.GAVE_UP]}
    assert keys_of(app) == [40]


def test_two_people_adding_at_the_same_moment_both_succeed(app: Any, cred: int) -> None:
    workers = 4
    barrier = threading.Barrier(workers)
    results: list[Any] = [None] * workers
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = add(
                app, *({"license_Name": f"W{index}-{n}"} for n in range(3)), actor=f"w{index}"
            )
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    outcomes = [o for batch in results for o in batch]
    assert all(o.action == CREATED for o in outcomes), outcomes
    assigned = sorted(o.key for o in outcomes)
    assert len(set(assigned)) == workers * 3
    with app.app_context(), session_scope("main") as session:
        count = session.scalar(select(func.count()).select_from(ProviderCredLicense))
        history = session.scalar(select(func.count()).select_from(LicenseChange))
    assert count == 1 + workers * 3
    assert history == 1 + workers * 3  # one "created" each, none overwritten


def test_two_grids_adding_at_once_both_save(
    app: Any, cred: int, login: Any, open_grid: Any, client: Any, make_user: Any
) -> None:
    """Two editors with the grid open each fill a blank row: both rows are created."""
    login()
    alice = open_grid(cred)
    other = app.test_client()
    make_user("bob", "correct horse", role="editor", database="main")
    assert (
        other.post(
            "/ui/login",
            data={"username": "bob", "password": "correct horse", "database": "main"},
        ).status_code
        == 302
    )
    bob = open_grid(cred, viewer=other)
    alice.set(alice.blank_rows()[0], license_Number="ALICE-1")
    bob.set(bob.blank_rows()[0], license_Number="BOB-1")
    assert alice.save().status_code == 200
    assert bob.save().status_code == 200
    with app.app_context(), session_scope("main") as session:
        numbers = dict(
            session.execute(
                select(
                    ProviderCredLicense.license_number,
                    ProviderCredLicense.provider_cred_license_key,
                ).where(ProviderCredLicense.license_number.in_(["ALICE-1", "BOB-1"]))
            ).all()
        )
    assert numbers == {"ALICE-1": 41, "BOB-1": 42}


def test_a_key_typed_in_the_same_batch_is_not_handed_out(app: Any, cred: int) -> None:
    outcomes = add(
        app, {"providerCredLicense_Key": 41, "license_Name": "Typed"}, {"license_Name": "Auto"}
    )
    assert [(o.key, o.action) for o in outcomes] == [(41, CREATED), (42, CREATED)]


def test_a_refused_item_keeps_no_key(app: Any, cred: int) -> None:
    (outcome,) = add(app, {"license_Name": "Bad", "state": "ZZ"})
    assert outcome.action == "invalid" and outcome.key is None
    assert keys_of(app) == [40]

"""Idempotency-Key on the batch endpoint (SPEC 4b)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from app.audit import utcnow
from app.history.models import LicenseChange
from app.idempotency.models import IdempotencyRecord
from app.licenses.models import ProviderCredLicense
from tests.factories import license_item
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


def test_same_key_different_body_is_422(put_batch: Any) -> None:
    put_batch([license_item(1)])
    response = put_batch([license_item(2)])
    assert response.status_code == 422
    assert response.get_json()["error"]["detail"] == (
        "This Idempotency-Key was already used with a different request."
    )


def test_key_still_running_is_409(put_batch: Any, session_for: Any, auth_headers: Any) -> None:
    put_batch([license_item(1)])
    with session_for() as session:  # make the stored answer look unfinished
        session.execute(update(IdempotencyRecord).values(status=None, response_body=None))
        session.commit()
    response = put_batch([license_item(1)])
    assert response.status_code == 409
    assert response.get_json()["error"]["detail"] == (
        "A request with this Idempotency-Key is still being processed."
    )


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

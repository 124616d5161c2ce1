"""Per-item results of the batch endpoint (SPEC section 4's table), over HTTP."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from app.audit import utcnow
from app.history.models import LicenseChange
from app.licenses.models import ProviderCredLicense
from tests.factories import license_item
from tests.helpers import BATCH_URL, results

URL = BATCH_URL.format(cred=1)


@pytest.fixture
def put_batch(client: Any, auth_headers: Any, make_cred: Any, make_license_type: Any) -> Any:
    make_cred(1)
    make_cred(2)
    make_license_type(1)
    headers = auth_headers()

    def _put(items: list[Any], cred: int = 1, query: str = "") -> Any:
        return client.put(BATCH_URL.format(cred=cred) + query, json=items, headers=headers)

    return _put


@pytest.fixture
def stored(session_for: Any) -> Any:
    def _stored(key: int) -> ProviderCredLicense | None:
        with session_for() as session:
            return session.get(ProviderCredLicense, key)

    return _stored


def history_count(session_for: Any) -> int:
    with session_for() as session:
        return session.scalar(select(func.count()).select_from(LicenseChange))


def test_created_then_updated(put_batch: Any, stored: Any) -> None:
    response = put_batch([license_item(5012, credLicenseType_Key=1)])
    assert results(response) == [("5012", 201, "Created")]
    assert response.get_json()["data"][0]["id"] == [
        {"key": "providerCredLicense_Key", "value": "5012"}
    ]
    assert stored(5012).license_number == "N-5012"
    response = put_batch([license_item(5012, license_Number="N-2")])
    assert results(response) == [("5012", 200, "Updated")]
    row = stored(5012)
    assert row.license_number == "N-2"
    assert row.cred_license_type_key is None  # omitted → null: writes replace the record


def test_values_are_normalised_and_audit_fields_stamped(put_batch: Any, stored: Any) -> None:
    item = license_item(
        1,
        license_Name="  Medical license  ",
        specialty_Code="",
        state="ny",
        effective_Date="2024-01-01 05:30:00 UTC",
        term_Date="2025-06-30",
        psV_Date="2024-02-01T10:00:00.123+02:00",
        entry_Date="not even a date",
        entry_User="mallory",
        update_Date=12345,
        update_User="mallory",
    )
    assert results(put_batch([item])) == [("1", 201, "Created")]
    row = stored(1)
    assert row.license_name == "Medical license"
    assert row.specialty_code is None
    assert row.state == "NY"
    assert row.effective_date == datetime(2024, 1, 1, 5, 30)
    assert row.term_date == datetime(2025, 6, 30)
    assert row.psv_date == datetime(2024, 2, 1, 8, 0)
    assert row.entry_user == row.update_user == "editor-main"
    assert row.entry_date.date() == row.update_date.date() == utcnow().date()


@pytest.mark.parametrize(
    "value",
    [
        "2024-01-01T00:00:00Z",
        "2024-01-01T00:00:00.000Z",
        "2024-01-01T02:00:00+02:00",
        "2024-01-01T00:00:00",
        "2024-01-01",
        "2024-01-01 00:00:00 UTC",
        "2024-01-01 00:00:00 +0000",
        "2023-12-31T19:00:00-05:00",
        "2024-01-01T00:00:00z",  # RFC 3339 allows a lower-case "z" and "t"
        "2024-01-01t00:00:00Z",
        "2024-01-01T00:00",
    ],
)
def test_date_time_forms(put_batch: Any, stored: Any, value: str) -> None:
    item = license_item(1, effective_Date=value, term_Date=None)
    assert results(put_batch([item])) == [("1", 201, "Created")]
    assert stored(1).effective_date == datetime(2024, 1, 1)


@pytest.mark.parametrize(
    "value",
    [
        "2024-01-01a00:00:00",  # fromisoformat takes any character between date and time
        "2024-01-01é00:00:00",
        "2024-01-01_00:00:00",
        "20240101",  # ISO 8601's basic and week forms: no client means these
        "2024-W01-1",
        "2024-01-01T00:00:00 EST",
        "٢٠٢٤-01-01",  # digits of another script
    ],
)
def test_date_time_forms_no_client_means_are_refused(put_batch: Any, value: str) -> None:
    item = license_item(1, effective_Date=value, term_Date=None)
    ((_, status, body),) = results(put_batch([item]))
    assert (status, body.split(";")[0]) == (400, "effective_Date: Not a valid date-time")


@pytest.mark.parametrize(
    "value",
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0001-01-01 00:30:00 +0100"],
)
def test_a_date_time_outside_the_utc_range_says_so(put_batch: Any, value: str) -> None:
    """A well-formed date-time whose instant falls before year 1 or after 9999 in UTC is told
    apart from one that is malformed: the client's format is right, its value is not."""
    item = license_item(1, effective_Date=value, term_Date=None)
    assert results(put_batch([item])) == [
        (
            "1",
            400,
            "effective_Date: Not a valid date-time: outside 0001-01-01T00:00:00Z to "
            "9999-12-31T23:59:59Z once converted to UTC.",
        )
    ]


TODAY = date.today().isoformat()


@pytest.mark.parametrize(
    ("change", "value", "body"),
    [
        ({"license_Number": "x" * 51}, "1", "license_Number: Longer than maximum length 50."),
        ({"license_Name": "x" * 513}, "1", "license_Name: Longer than maximum length 512."),
        ({"specialty_Code": "x" * 11}, "1", "specialty_Code: Longer than maximum length 10."),
        (
            {"state": "XX"},
            "1",
            "state: Not a valid USPS state code (50 states, DC, AS, GU, MP, PR, VI).",
        ),
        (
            {"state": "Texas"},
            "1",
            "state: Not a valid USPS state code (50 states, DC, AS, GU, MP, PR, VI).",
        ),
        ({"state": 36}, "1", "state: Not a valid string."),
        (
            {"state": "m\u017f"},  # long s: Python upper-cases it to S, and it was stored MS
            "1",
            "state: Not a valid USPS state code (50 states, DC, AS, GU, MP, PR, VI).",
        ),
        (
            {"state": "\u0131a"},  # dotless i: stored IA
            "1",
            "state: Not a valid USPS state code (50 states, DC, AS, GU, MP, PR, VI).",
        ),
        ({"license_Name": "a\x00b"}, "1", "license_Name: Must not contain NUL characters."),
        ({"license_Name": "a\ud800b"}, "1", "license_Name: Not valid Unicode text."),
        (
            {"providerCredLicense_Key": "5012"},
            None,
            "providerCredLicense_Key: Not a valid integer.",
        ),
        (
            {"providerCredLicense_Key": 5012.5},
            None,
            "providerCredLicense_Key: Not a valid integer.",
        ),
        ({"providerCredLicense_Key": True}, None, "providerCredLicense_Key: Not a valid integer."),
        (
            {"providerCredLicense_Key": 2**31},
            None,
            "providerCredLicense_Key: Must be a 32-bit integer (-2147483648 to 2147483647).",
        ),
        (
            {"providerCredLicense_Key": None},
            None,
            "providerCredLicense_Key: Field may not be null.",
        ),
        ({"providerCred_Key": None}, "1", "providerCred_Key: Field may not be null."),
        (
            {"providerCred_Key": 2},
            "1",
            "providerCred_Key: Does not match the providerCredKey in the path (1).",
        ),
        (
            {"credLicenseType_Key": 99},
            "1",
            "credLicenseType_Key: No license type 99 in this database.",
        ),
        ({"credLicenseType_Key": "1"}, "1", "credLicenseType_Key: Not a valid integer."),
        (
            {"effective_Date": "yesterday"},
            "1",
            "effective_Date: Not a valid date-time; use ISO 8601 (2024-01-01T00:00:00Z) "
            "or '2024-01-01 00:00:00 UTC'.",
        ),
        (
            {"effective_Date": 20240101},
            "1",
            "effective_Date: Not a valid date-time; use ISO 8601 (2024-01-01T00:00:00Z) "
            "or '2024-01-01 00:00:00 UTC'.",
        ),
        (
            {"effective_Date": "2024-02-30"},
            "1",
            "effective_Date: Not a valid date-time; use ISO 8601 (2024-01-01T00:00:00Z) "
            "or '2024-01-01 00:00:00 UTC'.",
        ),
        (
            {"term_Date": "2023-12-31T23:59:59Z"},
            "1",
            "term_Date: Must not be before effective_Date.",
        ),
        (
            {"psV_Date": "2999-01-01"},
            "1",
            "psV_Date: Must not be after the current UTC date ({today}).",
        ),
        ({"licence_Number": "typo"}, "1", "licence_Number: Unknown field."),
        (
            {"license_Number": "x" * 51, "state": "ZZ", "extra": 1},
            "1",
            "license_Number: Longer than maximum length 50. "
            "state: Not a valid USPS state code (50 states, DC, AS, GU, MP, PR, VI). "
            "extra: Unknown field.",
        ),
        (  # the unknown reference with the schema's errors, not on the next try
            {"state": "ZZ", "credLicenseType_Key": 99},
            "1",
            "state: Not a valid USPS state code (50 states, DC, AS, GU, MP, PR, VI). "
            "credLicenseType_Key: No license type 99 in this database.",
        ),
        (  # an existing type is no error; a parent mismatch keeps its own wording
            {"providerCred_Key": 2, "credLicenseType_Key": 1},
            "1",
            "providerCred_Key: Does not match the providerCredKey in the path (1).",
        ),
        (
            {"providerCred_Key": 2, "credLicenseType_Key": 99},
            "1",
            "providerCred_Key: Does not match the providerCredKey in the path (1). "
            "credLicenseType_Key: No license type 99 in this database.",
        ),
        (  # a parent mismatch with the schema's errors, not on the next try (it came alone
            # only once every field was valid, though docs/api.md lists it among them)
            {"providerCred_Key": 2, "state": "ZZ"},
            "1",
            "state: Not a valid USPS state code (50 states, DC, AS, GU, MP, PR, VI). "
            "providerCred_Key: Does not match the providerCredKey in the path (1).",
        ),
        (
            {"providerCred_Key": 2, "state": "ZZ", "credLicenseType_Key": 99},
            "1",
            "state: Not a valid USPS state code (50 states, DC, AS, GU, MP, PR, VI). "
            "providerCred_Key: Does not match the providerCredKey in the path (1). "
            "credLicenseType_Key: No license type 99 in this database.",
        ),
        (  # a parent that is no int32 is its own error, not also a mismatch
            {"providerCred_Key": "2", "state": "ZZ"},
            "1",
            "providerCred_Key: Not a valid integer. "
            "state: Not a valid USPS state code (50 states, DC, AS, GU, MP, PR, VI).",
        ),
    ],
)
def test_invalid_items_are_400_naming_each_field(
    put_batch: Any, stored: Any, change: dict[str, Any], value: str | None, body: str
) -> None:
    item = license_item(1)
    item.update(change)
    today = utcnow().date().isoformat()
    assert results(put_batch([item])) == [(value, 400, body.format(today=today))]
    assert stored(1) is None


def test_a_verification_dated_today_is_valid(put_batch: Any, stored: Any) -> None:
    """``psV_Date`` must not be after today: today itself is the day a PSV is usually done."""
    today = utcnow().date().isoformat()
    response = put_batch([license_item(1, psV_Date=f"{today}T00:00:00Z")])
    assert results(response) == [("1", 201, "Created")]
    assert stored(1).psv_date.date().isoformat() == today


def test_missing_required_keys(put_batch: Any) -> None:
    assert results(put_batch([{"license_Name": "x"}])) == [
        (
            None,
            400,
            "providerCredLicense_Key: Missing data for required field. "
            "providerCred_Key: Missing data for required field.",
        )
    ]


@pytest.mark.parametrize("item", [5, "x", None, [1], True])
def test_item_must_be_an_object(put_batch: Any, item: Any) -> None:
    assert results(put_batch([item])) == [(None, 400, "Must be a JSON object.")]


def test_key_owned_by_another_provider_cred_is_409(put_batch: Any, stored: Any) -> None:
    assert results(put_batch([license_item(7, cred=2)], cred=2)) == [("7", 201, "Created")]
    response = put_batch([license_item(7, license_Number="stolen")])
    assert results(response) == [
        ("7", 409, "providerCredLicense_Key 7 belongs to another provider credential.")
    ]
    assert stored(7).license_number == "N-7"
    assert stored(7).provider_cred_key == 2


def test_duplicate_keys_fail_every_occurrence(put_batch: Any, stored: Any) -> None:
    response = put_batch([license_item(1), license_item(2), license_item(1, state="CA")])
    body = (
        "providerCredLicense_Key 1 occurs 2 times in this batch; every occurrence is rejected "
        "because the intended values are ambiguous."
    )
    assert results(response) == [("1", 409, body), ("2", 201, "Created"), ("1", 409, body)]
    assert stored(1) is None
    assert stored(2) is not None


def test_mixed_batch_writes_good_items_only(put_batch: Any, stored: Any, session_for: Any) -> None:
    put_batch([license_item(10)])
    items = [
        license_item(10, state="CA"),  # update
        license_item(11, state="XX"),  # invalid
        license_item(12),  # create
        license_item(13, providerCred_Key=2),  # path mismatch
        license_item(14, credLicenseType_Key=1),  # create with type
    ]
    statuses = [status for _, status, _ in results(put_batch(items))]
    assert statuses == [200, 400, 201, 400, 201]
    assert stored(10).state == "CA"
    assert stored(11) is None and stored(13) is None
    assert stored(12) is not None and stored(14).cred_license_type_key == 1


def test_results_follow_request_order(put_batch: Any) -> None:
    keys = [9, 3, 7, 1, 8]
    assert [v for v, _, _ in results(put_batch([license_item(k) for k in keys]))] == [
        str(k) for k in keys
    ]


def test_unchanged_item_keeps_update_date_and_history(
    put_batch: Any, stored: Any, session_for: Any
) -> None:
    put_batch([license_item(1)])
    before = stored(1).update_date
    count = history_count(session_for)
    assert results(put_batch([license_item(1, state="ny", license_Name=" License 1 ")])) == [
        ("1", 200, "Updated")
    ]
    assert stored(1).update_date == before
    assert history_count(session_for) == count


def test_history_records_each_changed_field(put_batch: Any, session_for: Any) -> None:
    created = put_batch([license_item(1)])
    put_batch([license_item(1, state="CA", license_Number="N-2")])
    with session_for() as session:
        rows = session.scalars(select(LicenseChange).where(LicenseChange.action == "updated")).all()
    assert [r.changes for r in rows] == [{"license_Number": ["N-1", "N-2"], "state": ["NY", "CA"]}]
    assert {r.user for r in rows} == {"editor-main"}
    assert rows[0].activity_id != created.headers["X-Activity-ID"]


def test_atomic_failure_writes_nothing(put_batch: Any, stored: Any, session_for: Any) -> None:
    put_batch([license_item(1)])
    count = history_count(session_for)
    items = [license_item(1, state="CA"), license_item(2, state="XX"), license_item(3)]
    assert results(put_batch(items, query="?atomic=true")) == [
        ("1", 424, "Not applied"),
        ("2", 400, "state: Not a valid USPS state code (50 states, DC, AS, GU, MP, PR, VI)."),
        ("3", 424, "Not applied"),
    ]
    assert stored(1).state == "NY"
    assert stored(3) is None
    assert history_count(session_for) == count


def test_atomic_success_writes_all(put_batch: Any, stored: Any) -> None:
    response = put_batch([license_item(1), license_item(2)], query="?atomic=true")
    assert [s for _, s, _ in results(response)] == [201, 201]
    assert stored(1) and stored(2)


def test_dry_run_reports_changes_and_writes_nothing(
    put_batch: Any, stored: Any, session_for: Any
) -> None:
    put_batch([license_item(1)])
    count = history_count(session_for)
    response = put_batch(
        [
            license_item(1, state="CA"),
            license_item(1 + 1),
            license_item(3, state="XX"),
            license_item(4, state="NY", license_Name="License 4"),
        ],
        query="?dryRun=true",
    )
    data = response.get_json()["data"]
    assert [d["status"] for d in data] == [200, 201, 400, 201]
    assert data[0]["changes"] == {"state": ["NY", "CA"]}
    assert data[1]["changes"]["license_Number"] == [None, "N-2"]
    assert data[1]["changes"]["credLicenseType_Key"] == [None, None]
    assert data[2]["changes"] == {}
    assert stored(1).state == "NY" and stored(2) is None
    assert history_count(session_for) == count
    unchanged = put_batch([license_item(1)], query="?dryRun=true").get_json()["data"][0]
    assert unchanged["changes"] == {} and unchanged["status"] == 200


def test_statement_count_is_constant(put_batch: Any, count_statements: Any) -> None:
    def statements_for(items: list[Any]) -> int:
        with count_statements() as counter:
            response = put_batch(items)
        assert response.status_code == 207
        return counter.count

    # Half existing, half new, with license types, like real traffic.
    put_batch([license_item(k) for k in range(0, 2000, 2)])
    small = statements_for([license_item(0, state="CA"), license_item(1, credLicenseType_Key=1)])
    large = statements_for(
        [license_item(k, state="CA", credLicenseType_Key=1) for k in range(2, 2000)]
    )
    assert small == large
    # The request's auth lookup (SQLite: with its BEGIN) plus the service's at most 6.
    assert large <= 8


def test_date_rules_are_reported_with_other_field_errors(put_batch: Any) -> None:
    item = license_item(1, state="XX", effective_Date="2025-03-01", term_Date="2025-01-01")
    assert results(put_batch([item])) == [
        (
            "1",
            400,
            "state: Not a valid USPS state code (50 states, DC, AS, GU, MP, PR, VI). "
            "term_Date: Must not be before effective_Date.",
        )
    ]


def test_the_psv_rule_is_the_current_utc_date_and_reads_the_clock_only_for_a_psv_date(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A PSV date of the current UTC day is accepted, the next day's refused, whatever the
    hour; an item without a PSV date does not read the clock (it runs once per item)."""
    import app.licenses.schemas as schemas
    from app.licenses.service import LICENSE_SPEC

    reads: list[datetime] = []

    def clock_at(instant: datetime) -> type[datetime]:
        class Clock(datetime):
            @classmethod
            def now(cls, tz: Any = None) -> Clock:  # type: ignore[override]
                reads.append(instant)
                return instant.astimezone(tz)  # type: ignore[return-value]

        return Clock

    for instant in (
        datetime(2026, 3, 1, 0, 0, 1, tzinfo=UTC),
        datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC),
    ):
        monkeypatch.setattr(schemas, "datetime", clock_at(instant))
        data, errors = LICENSE_SPEC.validate(license_item(1, psV_Date="2026-03-01"))
        assert errors == {} and data is not None and data["psv_date"] == datetime(2026, 3, 1)
        data, errors = LICENSE_SPEC.validate(license_item(1, psV_Date="2026-03-02"))
        assert errors == {"psV_Date": ["Must not be after the current UTC date (2026-03-01)."]}
    reads.clear()
    data, errors = LICENSE_SPEC.validate(license_item(1))
    assert errors == {} and data is not None and data["psv_date"] is None
    assert reads == []

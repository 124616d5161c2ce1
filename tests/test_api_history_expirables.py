"""License history and the expirables report (SPEC section 4b)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import jsonschema_rs
import pytest
from sqlalchemy import select

from app.audit import utcnow
from app.history.models import LicenseChange
from app.licenses.expiry import (
    ExpiryClock,
    ExpiryFilter,
    bucket_counts,
    expirables_data,
    expiring_licenses,
    matching_total,
)
from app.licenses.models import ProviderCredLicense
from app.licenses.service import upsert_licenses
from app.wire.fields import format_wire_datetime
from tests.api_support import data, problem
from tests.factories import bare_license_item
from tests.history_support import (
    HAND_EDITED_CHANGES,
    UNREADABLE_TIMES,
    ZONED_TIMES,
    edit_changes_by_hand,
    edit_time_by_hand,
)

LICENSES = "/provider-credentialing/1/licenses"
#: As docs/api.md words it, for a body field and the query parameter alike.
STATE_MESSAGE = "Not a valid USPS state code (50 states, DC, AS, GU, MP, PR, VI)."


@pytest.fixture
def headers(auth_headers: Callable[..., dict[str, str]]) -> dict[str, str]:
    return auth_headers()


# ---------------------------------------------------------------------------------------------
# History


def test_history_groups_changes_newest_first(
    client: Any, headers: dict, make_cred: Callable, make_license_type: Callable
) -> None:
    make_cred(1)
    make_license_type(3)
    created = client.post(
        LICENSES, json=bare_license_item(5, state="CA", credLicenseType_Key=3), headers=headers
    )
    updated = client.put(
        f"{LICENSES}/5", json=bare_license_item(5, state="NY", license_Name="MD"), headers=headers
    )
    client.put(
        f"{LICENSES}/5", json=bare_license_item(5, state="NY", license_Name="MD"), headers=headers
    )
    deleted = client.delete(f"{LICENSES}/5", headers=headers)

    response = client.get(f"{LICENSES}/5/history", headers=headers)
    assert response.status_code == 200
    entries = data(response)
    assert [e["action"] for e in entries] == ["deleted", "updated", "created"]
    assert [e["activityID"] for e in entries] == [
        r.headers["X-Activity-ID"] for r in (deleted, updated, created)
    ]
    assert {e["user"] for e in entries} == {"editor-main"}
    assert entries[2]["changes"] == {  # a create lists every field it sets, as a dry run
        "providerCredLicense_Key": [None, 5],
        "providerCred_Key": [None, 1],
        "credLicenseType_Key": [None, 3],
        "license_Name": [None, None],
        "license_Number": [None, None],
        "state": [None, "CA"],
        "specialty_Code": [None, None],
        "effective_Date": [None, None],
        "term_Date": [None, None],
        "psV_Date": [None, None],
    }
    assert entries[1]["changes"] == {
        "credLicenseType_Key": [3, None],
        "license_Name": [None, "MD"],
        "state": ["CA", "NY"],
    }
    assert entries[0]["changes"] == {
        "providerCred_Key": [1, None],
        "license_Name": ["MD", None],
        "state": ["NY", None],
    }
    assert list(entries[0]) == ["activityID", "at", "user", "action", "changes"]
    assert entries[1]["at"] == data(updated)["update_Date"]


def test_history_is_paged_newest_first_or_oldest_first(
    client: Any, headers: dict, make_cred: Callable, count_statements: Callable
) -> None:
    """A license's history only grows: it is answered a page at a time, like every list."""
    make_cred(1)
    created = client.post(LICENSES, json=bare_license_item(5, state="AK"), headers=headers)
    assert created.status_code in (200, 201)
    for state in ("AL", "AR", "AZ", "CA"):
        sent = client.put(f"{LICENSES}/5", json=bare_license_item(5, state=state), headers=headers)
        assert sent.status_code == 200

    def states(query: str) -> tuple[list[str | None], dict[str, int]]:
        response = client.get(f"{LICENSES}/5/history?{query}", headers=headers)
        assert response.status_code == 200
        new = [entry["changes"]["state"][1] for entry in data(response)]
        return new, json.loads(response.headers["x-pagination"])

    newest, paging = states("pageSize=2")
    assert newest == ["CA", "AZ"]
    assert paging == {"TotalCount": 5, "TotalPages": 3, "CurrentPage": 1, "PageSize": 2}
    assert states("pageSize=2&page=3")[0] == ["AK"]
    assert states("pageSize=2&page=4")[0] == []
    assert states("pageSize=2&sortBy=at:asc")[0] == ["AK", "AL"]
    assert states("sortBy=at:desc")[0] == ["CA", "AZ", "AR", "AL", "AK"]
    for bad in ("pageSize=0", "pageSize=1001", "page=0", "sortBy=user"):
        response = client.get(f"{LICENSES}/5/history?{bad}", headers=headers)
        assert response.status_code == 400, bad
    with count_statements() as counted:  # the count and the page, whatever the history
        client.get(f"{LICENSES}/5/history?pageSize=1", headers=headers)
    history_reads = [s for s in counted.statements if "FROM license_change" in s]
    assert len(history_reads) == 2, history_reads


def test_changes_made_in_one_instant_keep_the_order_they_were_made_in(
    client: Any, headers: dict, make_cred: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clock that does not move between two writes (a coarse one, or one set back) still
    answers the last change first: the history's order is the order of writing."""
    import app.batch.engine

    make_cred(1)
    monkeypatch.setattr(app.batch.engine, "utcnow", lambda: datetime(2026, 1, 1, 12, 0, 0))
    client.post(LICENSES, json=bare_license_item(5, state="AK"), headers=headers)
    for state in ("AL", "AR"):
        client.put(f"{LICENSES}/5", json=bare_license_item(5, state=state), headers=headers)

    def states(query: str) -> list[str]:
        response = client.get(f"{LICENSES}/5/history{query}", headers=headers)
        return [entry["changes"]["state"][1] for entry in data(response)]

    assert states("") == ["AR", "AL", "AK"]
    assert states("?sortBy=at:asc") == ["AK", "AL", "AR"]


def test_history_is_in_the_order_it_was_written_whatever_the_clocks(
    client: Any, headers: dict, make_cred: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each change is stamped by its writer's clock; a node whose clock is behind (or a clock
    set back) must not put its change below the ones it followed."""
    make_cred(1)
    created = client.post(LICENSES, json=bare_license_item(5, state="AK"), headers=headers)
    assert created.status_code in (200, 201)
    behind = utcnow() - timedelta(hours=1)
    monkeypatch.setattr("app.batch.engine.utcnow", lambda: behind)
    sent = client.put(f"{LICENSES}/5", json=bare_license_item(5, state="AL"), headers=headers)
    assert sent.status_code == 200

    def states(query: str) -> list[str]:
        response = client.get(f"{LICENSES}/5/history?{query}", headers=headers)
        return [entry["changes"]["state"][1] for entry in data(response)]

    assert states("") == ["AL", "AK"]
    assert states("sortBy=at:asc") == ["AK", "AL"]


def test_history_of_a_license_without_changes_is_empty(
    client: Any, headers: dict, make_cred: Callable, session_for: Callable
) -> None:
    make_cred(1)
    with session_for() as session:
        session.add(ProviderCredLicense(provider_cred_license_key=5, provider_cred_key=1))
        session.commit()
    response = client.get(f"{LICENSES}/5/history", headers=headers)
    assert response.status_code == 200
    assert data(response) == []


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        (f"{LICENSES}/6/history", "No license 6 under providerCredKey 1."),
        ("/provider-credentialing/2/licenses/5/history", "No license 5 under providerCredKey 2."),
        (
            "/provider-credentialing/9/licenses/5/history",
            "No provider credential 9 in this database.",
        ),
    ],
)
def test_history_not_found(
    client: Any, headers: dict, make_cred: Callable, url: str, detail: str
) -> None:
    make_cred(1)
    make_cred(2)
    assert client.post(LICENSES, json=bare_license_item(5), headers=headers).status_code == 200
    response = client.get(url, headers=headers)
    assert response.status_code == 404
    assert problem(response)["detail"] == detail


def test_history_is_readable_by_viewers(
    client: Any, auth_headers: Callable, make_cred: Callable
) -> None:
    make_cred(1)
    client.post(LICENSES, json=bare_license_item(5), headers=auth_headers())
    response = client.get(f"{LICENSES}/5/history", headers=auth_headers(role="viewer"))
    assert response.status_code == 200
    assert [e["action"] for e in data(response)] == ["created"]


@pytest.mark.parametrize("shape", HAND_EDITED_CHANGES)
def test_history_answers_a_change_edited_by_hand_into_any_shape_as_stored(
    client: Any, headers: dict, make_cred: Callable, session_for: Callable, shape: str
) -> None:
    """Bad data never makes a 500: the edited change is answered with its stored value as the
    database's JSON text, as-is, in ``storedChanges``, and ``changes`` keeps its documented
    shape with whatever [old, new] pairs can still be read (a typed client still reads the
    page). The other changes are answered as ever, without ``storedChanges``."""
    make_cred(1)
    client.post(LICENSES, json=bare_license_item(5, state="CA"), headers=headers)
    client.put(f"{LICENSES}/5", json=bare_license_item(5, state="NY"), headers=headers)
    stored, pairs = HAND_EDITED_CHANGES[shape]
    with session_for() as session:
        as_stored = edit_changes_by_hand(session, 5, "updated", stored)

    response = client.get(f"{LICENSES}/5/history", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"data", "error", "debug"} and body["error"] is None
    edited, created = body["data"]
    assert edited["action"] == "updated"
    assert edited["changes"] == pairs
    assert edited["storedChanges"] == as_stored
    assert "storedChanges" not in created
    assert created["changes"]["state"] == [None, "CA"]
    document = client.get("/openapi.json").get_json()
    schema = {"$ref": "#/components/schemas/LicenseChange", "components": document["components"]}
    for entry in body["data"]:
        jsonschema_rs.Draft202012Validator(schema).validate(entry)


def updated_row(session_for: Callable) -> int:
    with session_for() as session:
        return session.scalar(
            select(LicenseChange.id).where(
                LicenseChange.provider_cred_license_key == 5, LicenseChange.action == "updated"
            )
        )


@pytest.mark.parametrize("spelling", [*UNREADABLE_TIMES, *ZONED_TIMES])
def test_history_answers_a_time_edited_by_hand_as_stored(
    client: Any, headers: dict, make_cred: Callable, session_for: Callable, spelling: str
) -> None:
    """Bad data never makes a 500: a time that is not one failed SQLAlchemy's SQLite reader
    (a 500); it is now answered as-is in ``storedAt``, and ``at`` keeps its documented shape:
    the start of the day the text still names, or the calendar's first instant. A time
    respelled with a zone is answered as its instant in UTC, as ever."""
    make_cred(1)
    client.post(LICENSES, json=bare_license_item(5, state="CA"), headers=headers)
    client.put(f"{LICENSES}/5", json=bare_license_item(5, state="NY"), headers=headers)
    before = data(client.get(f"{LICENSES}/5/history", headers=headers))
    zoned = spelling in ZONED_TIMES
    with session_for() as session:
        stored = edit_time_by_hand(
            session,
            updated_row(session_for),
            ZONED_TIMES[spelling] if zoned else UNREADABLE_TIMES[spelling][0],
            timestamp_holds=zoned,
        )

    response = client.get(f"{LICENSES}/5/history", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    edited, created = data(response)
    assert created == before[1]
    if zoned:
        assert edited == before[0]
    else:
        day = f"{before[0]['at'][:10]}T00:00:00Z" if UNREADABLE_TIMES[spelling][1] else None
        assert edited == {**before[0], "at": day or "0001-01-01T00:00:00Z", "storedAt": stored}
    document = client.get("/openapi.json").get_json()
    schema = {"$ref": "#/components/schemas/LicenseChange", "components": document["components"]}
    for entry in data(response):
        jsonschema_rs.Draft202012Validator(schema).validate(entry)


# ---------------------------------------------------------------------------------------------
# Expirables


def wire(moment: datetime | None) -> str | None:
    return format_wire_datetime(moment)


@pytest.fixture
def expiring(make_cred: Callable, session_for: Callable) -> dict[str, int]:
    """Licenses in every bucket, relative to now; returns name → license key."""
    make_cred(1, provider_id="PRV1")
    make_cred(2, provider_id="PRV2")
    now = utcnow()
    recent, old = now - timedelta(days=10), now - timedelta(days=200)
    layout = {
        "expired": (1, 1, now - timedelta(days=3), recent),
        "within30": (2, 1, now + timedelta(days=10), None),
        "within60": (3, 2, now + timedelta(days=45), old),
        "within90": (4, 2, now + timedelta(days=75), recent),
        "later": (5, 1, now + timedelta(days=200), old),
        "never": (6, 1, None, recent),
    }
    with session_for() as session:
        for key, cred, term, psv in layout.values():
            (outcome,) = upsert_licenses(
                session,
                cred,
                [bare_license_item(key, cred, term_Date=wire(term), psV_Date=wire(psv))],
                actor="seed",
                activity_id="setup",
            )
            assert outcome.status == 201
    return {name: spec[0] for name, spec in layout.items()}


def test_expirables_default_is_90_days(client: Any, headers: dict, expiring: dict) -> None:
    response = client.get("/licenses/expirables", headers=headers)
    assert response.status_code == 200
    report = data(response)
    assert report["counts"] == {
        "expired": 1,
        "within30": 1,
        "within60": 1,
        "within90": 1,
        "psvOverdue": 3,
        "noTermDate": 1,
    }
    rows = report["licenses"]
    assert [(r["providerCredLicense_Key"], r["expiryStatus"], r["psvOverdue"]) for r in rows] == [
        (1, "expired", False),
        (2, "within30", True),
        (3, "within60", True),
        (4, "within90", False),
    ]
    assert [r["provider_ID"] for r in rows] == ["PRV1", "PRV1", "PRV2", "PRV2"]
    assert rows[0]["term_Date"].endswith("Z")


@pytest.mark.parametrize(("within", "expected"), [("30", [1, 2]), ("60", [1, 2, 3])])
def test_expirables_within(
    client: Any, headers: dict, expiring: dict, within: str, expected: list[int]
) -> None:
    response = client.get(f"/licenses/expirables?within={within}", headers=headers)
    report = data(response)
    assert [r["providerCredLicense_Key"] for r in report["licenses"]] == expected
    assert report["counts"]["within90"] == 1


def test_expirables_psv_window_is_configurable(
    app: Any, client: Any, headers: dict, expiring: dict
) -> None:
    app.config["PSV_WINDOW_DAYS"] = 5
    report = data(client.get("/licenses/expirables", headers=headers))
    assert report["counts"]["psvOverdue"] == 6


@pytest.mark.parametrize("within", ["45", "x", "", "-30"])
def test_expirables_bad_within_is_400(client: Any, headers: dict, within: str) -> None:
    response = client.get(f"/licenses/expirables?within={within}", headers=headers)
    assert response.status_code == 400
    assert problem(response)["errors"] == {"within": ["Must be one of 30, 60, 90."]}


def test_expirables_refuses_within_beside_a_bucket(client: Any, headers: dict) -> None:
    """``within`` chooses licenses only without ``bucket``; beside one it was silently ignored."""
    response = client.get("/licenses/expirables?bucket=expired&within=30", headers=headers)
    assert response.status_code == 400
    assert problem(response)["errors"] == {
        "within": ["Not taken with bucket, which chooses the licenses itself; give one of them."]
    }


def test_expirables_needs_authentication(client: Any) -> None:
    response = client.get("/vbasoftware/licenses/expirables")
    assert response.status_code == 400
    assert problem(response)["detail"] == "The vbasoftware-database header is required."


def test_expiry_buckets_at_their_boundaries(make_cred: Callable, session_for: Callable) -> None:
    """``expired`` is ``term_Date < now``; ``withinN`` counts calendar days left (within30:
    0–30, within60: 31–60, within90: 61–90), so its bounds are midnights; no overlap. The
    days left of every date and time around them: tests/test_expiry_boundaries.py."""
    make_cred(1)
    now = datetime(2030, 6, 1, 12, 0, 0)
    today = datetime(2030, 6, 1)
    terms = {
        1: now - timedelta(seconds=1),
        2: now,
        3: today + timedelta(days=31) - timedelta(seconds=1),
        4: today + timedelta(days=31),
        5: today + timedelta(days=61),
        6: today + timedelta(days=91) - timedelta(seconds=1),
        7: today + timedelta(days=91),
    }
    # PSV age in calendar days: the day 120 days ago is not overdue, the day before it is.
    psv = {1: today - timedelta(days=120), 2: today - timedelta(days=120, seconds=1)}
    with session_for() as session:
        session.add_all(
            ProviderCredLicense(
                provider_cred_license_key=key,
                provider_cred_key=1,
                term_date=term,
                psv_date=psv.get(key, now),
            )
            for key, term in terms.items()
        )
        session.commit()
        clock, chosen = ExpiryClock(now, 120), ExpiryFilter()
        counts = bucket_counts(session, clock, chosen)
        total = matching_total(session, clock, chosen, counts)
        page = expiring_licenses(session, clock, chosen, page=1, size=100, total=total)
        report = expirables_data(clock, counts, page)
    statuses = {r["providerCredLicense_Key"]: r["expiryStatus"] for r in report["licenses"]}
    assert statuses == {
        1: "expired",
        2: "within30",
        3: "within30",
        4: "within60",
        5: "within90",
        6: "within90",
    }
    assert report["counts"] == {
        "expired": 1,
        "within30": 2,
        "within60": 1,
        "within90": 2,
        "psvOverdue": 1,
        "noTermDate": 0,
    }
    # Each license's flag agrees with the bucket's count: verified exactly 120 days ago is not
    # overdue yet, a second earlier is.
    flags = {r["providerCredLicense_Key"]: r["psvOverdue"] for r in report["licenses"]}
    assert flags == {1: False, 2: True, 3: False, 4: False, 5: False, 6: False}


# ---------------------------------------------------------------------------------------------
# Expirables: paged, sorted, filtered


def pagination(response: Any) -> dict[str, int]:
    return json.loads(response.headers["x-pagination"])


@pytest.mark.parametrize(
    ("bucket", "expected"),
    [
        ("expired", [1]),
        ("within30", [2]),
        ("within60", [3]),
        ("within90", [4]),
        ("psvOverdue", [2, 3, 5]),
        ("noTermDate", [6]),
    ],
)
def test_expirables_one_bucket(
    client: Any, headers: dict, expiring: dict, bucket: str, expected: list[int]
) -> None:
    response = client.get(f"/licenses/expirables?bucket={bucket}", headers=headers)
    assert response.status_code == 200
    report = data(response)
    assert [r["providerCredLicense_Key"] for r in report["licenses"]] == expected
    assert report["counts"]["noTermDate"] == 1  # counts stay those of the whole filter
    assert pagination(response) == {
        "TotalCount": len(expected),
        "TotalPages": 1,
        "CurrentPage": 1,
        "PageSize": 100,
    }


def test_expirables_no_term_date_is_its_own_status(
    client: Any, headers: dict, expiring: dict
) -> None:
    report = data(client.get("/licenses/expirables?bucket=noTermDate", headers=headers))
    (row,) = report["licenses"]
    assert (row["expiryStatus"], row["term_Date"]) == ("noTermDate", None)
    later = data(client.get("/licenses/expirables?bucket=psvOverdue", headers=headers))
    assert {r["providerCredLicense_Key"]: r["expiryStatus"] for r in later["licenses"]} == {
        2: "within30",
        3: "within60",
        5: None,  # more than 90 days away: no bucket, but not "no term date"
    }


def test_expirables_filter_by_state_and_type_narrows_counts_too(
    client: Any, headers: dict, make_cred: Callable, session_for: Callable, make_license_type: Any
) -> None:
    make_cred(1, provider_id="PRV1")
    make_license_type(7)
    now = utcnow()
    rows = [
        (1, "TX", 7, now - timedelta(days=1)),
        (2, "TX", None, now - timedelta(days=2)),
        (3, "CA", 7, now - timedelta(days=3)),
        (4, "TX", 7, now + timedelta(days=5)),
        (5, "TX", 7, None),
    ]
    with session_for() as session:
        upsert_licenses(
            session,
            1,
            [
                bare_license_item(k, 1, state=st, credLicenseType_Key=t, term_Date=wire(term))
                for k, st, t, term in rows
            ],
            actor="seed",
            activity_id="setup",
        )
    response = client.get(
        "/licenses/expirables?bucket=expired&state=tx&credLicenseType_Key=7", headers=headers
    )
    report = data(response)
    assert [r["providerCredLicense_Key"] for r in report["licenses"]] == [1]
    assert report["counts"] == {
        "expired": 1,
        "within30": 1,
        "within60": 0,
        "within90": 0,
        "psvOverdue": 3,
        "noTermDate": 1,
    }
    by_state = data(client.get("/licenses/expirables?state=TX", headers=headers))
    assert [r["providerCredLicense_Key"] for r in by_state["licenses"]] == [2, 1, 4]


def test_expirables_filter_by_a_zero_or_negative_license_type_key(
    client: Any, headers: dict, make_cred: Callable, session_for: Callable, make_license_type: Any
) -> None:
    """A license type's key is the client's to choose (any int32), so the filter takes any."""
    make_cred(1, provider_id="PRV1")
    for type_key in (-7, 0):
        make_license_type(type_key)
    expired = wire(utcnow() - timedelta(days=1))
    with session_for() as session:
        upsert_licenses(
            session,
            1,
            [
                bare_license_item(k, 1, credLicenseType_Key=t, term_Date=expired)
                for k, t in ((1, -7), (2, 0), (3, None))
            ],
            actor="seed",
            activity_id="setup",
        )
    for type_key, expected in ((-7, [1]), (0, [2]), (-2147483648, [])):
        report = data(
            client.get(f"/licenses/expirables?credLicenseType_Key={type_key}", headers=headers)
        )
        assert [r["providerCredLicense_Key"] for r in report["licenses"]] == expected
        assert report["counts"]["expired"] == len(expected)


def test_expirables_sort_a_missing_date_after_every_date(
    client: Any, headers: dict, make_cred: Callable, session_for: Callable
) -> None:
    make_cred(1, provider_id="PRV1")
    now = utcnow()
    psv = {1: wire(now - timedelta(days=400)), 2: None, 3: wire(now - timedelta(days=200))}
    with session_for() as session:
        upsert_licenses(
            session,
            1,
            [
                bare_license_item(k, 1, term_Date=wire(now - timedelta(days=k)), psV_Date=psv[k])
                for k in psv
            ],
            actor="seed",
            activity_id="setup",
        )

    def keys(order: str) -> list[int]:
        url = f"/licenses/expirables?bucket=psvOverdue&sortBy=psV_Date:{order}"
        return [
            r["providerCredLicense_Key"] for r in data(client.get(url, headers=headers))["licenses"]
        ]

    assert keys("asc") == [1, 3, 2]
    assert keys("desc") == [2, 3, 1]


@pytest.fixture
def many_expired(make_cred: Callable, session_for: Callable) -> list[int]:
    """25 expired licenses, term dates one day apart, keys in reverse order of term."""
    make_cred(1, provider_id="PRV1")
    now = utcnow()
    items = [
        bare_license_item(100 - n, 1, term_Date=wire(now - timedelta(days=n + 1)), state="TX")
        for n in range(25)
    ]
    with session_for() as session:
        upsert_licenses(session, 1, items, actor="seed", activity_id="setup")
    return [100 - n for n in reversed(range(25))]  # soonest term first = oldest first


@pytest.mark.parametrize("page", [1, 2, 3, 4, 5])
def test_expirables_pages_from_both_ends_agree(
    client: Any, headers: dict, many_expired: list[int], page: int
) -> None:
    """Pages past the middle are read from the far end: the same rows as a plain offset."""
    response = client.get(
        f"/licenses/expirables?bucket=expired&pageSize=6&page={page}", headers=headers
    )
    keys = [r["providerCredLicense_Key"] for r in data(response)["licenses"]]
    assert keys == many_expired[(page - 1) * 6 : page * 6]
    assert pagination(response) == {
        "TotalCount": 25,
        "TotalPages": 5,
        "CurrentPage": page,
        "PageSize": 6,
    }


def test_expirables_page_past_the_end_is_empty(
    client: Any, headers: dict, many_expired: list[int]
) -> None:
    response = client.get("/licenses/expirables?bucket=expired&page=9", headers=headers)
    assert data(response)["licenses"] == []
    assert pagination(response)["TotalCount"] == 25


@pytest.mark.parametrize(
    ("sort_by", "expected"),
    [
        ("term_Date:desc", "reversed"),
        ("TERM_DATE", "same"),
        ("providerCredLicense_Key", "keys"),
        ("providerCredLicense_Key:desc", "keys-desc"),
    ],
)
def test_expirables_sort(
    client: Any, headers: dict, many_expired: list[int], sort_by: str, expected: str
) -> None:
    response = client.get(
        f"/licenses/expirables?bucket=expired&pageSize=30&sortBy={sort_by}", headers=headers
    )
    keys = [r["providerCredLicense_Key"] for r in data(response)["licenses"]]
    want = {
        "same": many_expired,
        "reversed": many_expired[::-1],
        "keys": sorted(many_expired),
        "keys-desc": sorted(many_expired, reverse=True),
    }[expected]
    assert keys == want


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        (
            "bucket=soon",
            "bucket",
            "Must be one of expired, within30, within60, within90, psvOverdue, noTermDate.",
        ),
        (
            "bucket=",
            "bucket",
            "Must be one of expired, within30, within60, within90, psvOverdue, noTermDate.",
        ),
        ("state=Texas", "state", STATE_MESSAGE),
        ("state=ZZ", "state", STATE_MESSAGE),
        # Letters that Python upper-cases to ASCII: "mſ" became MS, "ıa" IA.
        ("state=m%C5%BF", "state", STATE_MESSAGE),
        ("state=%C4%B1a", "state", STATE_MESSAGE),
        (
            "credLicenseType_Key=x",
            "credLicenseType_Key",
            "Must be an integer from -2147483648 to 2147483647.",
        ),
        (
            "credLicenseType_Key=2147483648",
            "credLicenseType_Key",
            "Must be an integer from -2147483648 to 2147483647.",
        ),
        (
            "credLicenseType_Key=--1",
            "credLicenseType_Key",
            "Must be an integer from -2147483648 to 2147483647.",
        ),
        ("page=-1", "page", "Must be an integer from 1 to 2147483647."),
        ("page=0", "page", "Must be an integer from 1 to 2147483647."),
        ("pageSize=1001", "pageSize", "Must be an integer from 1 to 1000."),
        ("pageSize=0", "pageSize", "Must be an integer from 1 to 1000."),
    ],
)
def test_expirables_bad_parameters_are_400(
    client: Any, headers: dict, query: str, field: str, message: str
) -> None:
    response = client.get(f"/licenses/expirables?{query}", headers=headers)
    assert response.status_code == 400
    assert problem(response)["errors"] == {field: [message]}
    assert problem(response)["detail"] == f"Query parameter {field}: {message}"


def test_a_bad_state_reads_the_same_in_the_query_a_batch_item_and_a_single_put(
    client: Any, headers: dict, make_cred: Callable[..., int]
) -> None:
    """The same mistake, the same words: ``state=Texas`` as a filter, in a batch item and in a
    single PUT."""
    make_cred(1)
    query = problem(client.get("/licenses/expirables?state=Texas", headers=headers))
    item = bare_license_item(7, state="Texas")
    batch = client.put(f"{LICENSES}-batch", json=[item], headers=headers).get_json()["data"][0]
    single = problem(client.put(f"{LICENSES}/7", json=item, headers=headers))
    assert query["errors"] == {"state": [STATE_MESSAGE]}
    assert single["errors"] == {"state": [STATE_MESSAGE]}
    assert batch["body"] == f"state: {STATE_MESSAGE}"


def test_expirables_sort_by_an_unindexed_field_is_400(client: Any, headers: dict) -> None:
    response = client.get("/licenses/expirables?sortBy=licenseName", headers=headers)
    assert response.status_code == 400
    assert problem(response)["errors"] == {
        "sortBy": [
            "Unknown field 'licenseName'; sortable fields are term_Date, psV_Date, "
            "providerCredLicense_Key, providerCred_Key."
        ]
    }

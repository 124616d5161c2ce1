"""Provider-credential search, expiry buckets and the expiring-licenses page."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from gridpage import text_of

from app.audit import utcnow
from app.ui import expiry
from app.ui.expiry import ExpiryClock
from app.wire.fields import format_wire_datetime

NOW = datetime(2025, 6, 1, 12, 0, 0)
DAY = timedelta(days=1)


def wire(value: datetime | None) -> str | None:
    return format_wire_datetime(value)


@pytest.fixture
def bucketed(make_cred: Any, put_licenses: Any) -> None:
    """Licenses of ProviderCred 1 at each boundary around NOW (PSV window 120 days)."""
    make_cred(1)
    terms = {
        1: NOW - timedelta(seconds=1),  # expired
        2: NOW,  # within 30: now ≤ term
        3: NOW + 30 * DAY - timedelta(seconds=1),  # within 30
        4: NOW + 30 * DAY,  # within 60
        5: NOW + 60 * DAY,  # within 90
        6: NOW + 90 * DAY - timedelta(seconds=1),  # within 90
        7: NOW + 90 * DAY,  # none
        8: None,  # none
    }
    psv = {1: None, 2: NOW - 120 * DAY, 3: NOW - 120 * DAY - timedelta(seconds=1)}
    put_licenses(
        1,
        *(
            {
                "providerCredLicense_Key": key,
                "term_Date": wire(term),
                "psV_Date": wire(psv.get(key, NOW - DAY)),
            }
            for key, term in terms.items()
        ),
    )


def test_buckets_do_not_overlap_and_meet_at_their_boundaries(
    bucketed: None, app: Any, session_for: Any
) -> None:
    clock = ExpiryClock(NOW, 120)
    with session_for() as session:
        assert expiry.counts(session, clock) == {
            "expired": 1,
            "within30": 2,
            "within60": 1,
            "within90": 2,
            "psvOverdue": 2,  # null, and older than 120 days; exactly 120 days is not overdue
        }
        assert expiry.counts_by_cred(session, clock, [1, 2]) == {
            1: {
                "licenses": 8,
                "expired": 1,
                "within30": 2,
                "within60": 1,
                "within90": 2,
                "psvOverdue": 2,
            }
        }
        for name in expiry.BUCKETS:
            page = expiry.expiring_licenses(session, clock, name, 1, 50, 10)
            assert {clock.bucket(item.license.term_date) for item in page.items} == {name}


@pytest.mark.parametrize(
    ("term", "bucket"),
    [
        (NOW - timedelta(seconds=1), "expired"),
        (NOW, "within30"),
        (NOW + 30 * DAY, "within60"),
        (NOW + 89 * DAY, "within90"),
        (NOW + 90 * DAY, None),
        (None, None),
    ],
)
def test_bucket_of_one_license(term: datetime | None, bucket: str | None) -> None:
    assert ExpiryClock(NOW, 120).bucket(term) == bucket


def test_credential_list_searches_by_provider_id_or_key(
    make_cred: Any, login: Any, client: Any
) -> None:
    make_cred(1, provider_id="PRV-ALPHA")
    make_cred(2, provider_id="PRV-BETA")
    make_cred(31, provider_id="X_100%")
    make_cred(100, provider_id="OTHER")
    login()

    def found(query: str) -> list[str]:
        html = client.get("/ui/credentials", query_string={"q": query}).get_data(as_text=True)
        return [p for p in ("PRV-ALPHA", "PRV-BETA", "X_100%", "OTHER") if f">{p}</a>" in html]

    assert found("") == ["PRV-ALPHA", "PRV-BETA", "X_100%", "OTHER"]
    assert found("alpha") == ["PRV-ALPHA"]  # any case, any part
    assert found("PRV") == ["PRV-ALPHA", "PRV-BETA"]
    assert found("100") == ["X_100%", "OTHER"]  # key 100, or "100" in an ID
    assert found("2") == ["PRV-BETA"]
    assert found("%") == ["X_100%"]  # LIKE wild cards are literal
    assert found("_1") == ["X_100%"]
    assert found("99999999999") == []
    html = client.get("/ui/credentials?q=%3Cscript%3E").get_data(as_text=True)
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_credential_list_is_paged(make_cred: Any, login: Any, client: Any, app: Any) -> None:
    app.config["UI_PAGE_SIZE"] = 2
    for key in range(1, 6):
        make_cred(key, provider_id=f"P{key:02d}")
    login()
    first = text_of(client.get("/ui/credentials").get_data(as_text=True))
    assert "Showing 1–2 of 5." in first and "Page 1 of 3" in first
    last = client.get("/ui/credentials?page=3").get_data(as_text=True)
    assert ">P05</a>" in last and ">P04</a>" not in last
    assert "Showing 5–5 of 5." in text_of(last)
    beyond = client.get("/ui/credentials?page=99").get_data(as_text=True)
    assert ">P05</a>" in beyond  # past the end: the last page
    assert ">P01</a>" in client.get("/ui/credentials?page=abc").get_data(as_text=True)


def test_credential_list_shows_counts_and_flags_with_a_constant_number_of_queries(
    make_cred: Any, put_licenses: Any, login: Any, client: Any, count_statements: Any
) -> None:
    now = utcnow()
    make_cred(1, provider_id="ONE")
    put_licenses(
        1,
        {"providerCredLicense_Key": 1, "term_Date": wire(now - DAY)},
        {"providerCredLicense_Key": 2, "term_Date": wire(now + 10 * DAY)},
        {"providerCredLicense_Key": 3, "term_Date": wire(now + 45 * DAY)},
        {"providerCredLicense_Key": 4, "term_Date": wire(now + 400 * DAY), "psV_Date": wire(now)},
    )
    login()
    with count_statements() as few:
        html = client.get("/ui/credentials").get_data(as_text=True)
    row = text_of(html.split(">ONE</a>", 1)[1].split("</tr>", 1)[0])
    assert row.startswith("1 —")  # key 1, no status
    assert "4 Expired 1 ≤ 30 d 1 ≤ 60 d 1 PSV 3" in row

    for key in range(2, 30):
        make_cred(key)
    with count_statements() as many:
        client.get("/ui/credentials")
    assert many.count == few.count <= 6  # user; total, page, counts; BEGINs on SQLite


def test_expiring_page_lists_each_bucket_with_counts(
    make_cred: Any, put_licenses: Any, login: Any, client: Any
) -> None:
    now = utcnow()
    make_cred(1, provider_id="PRV-EXP")
    put_licenses(
        1,
        {"providerCredLicense_Key": 1, "license_Name": "Gone", "term_Date": wire(now - DAY)},
        {"providerCredLicense_Key": 2, "license_Name": "Soon", "term_Date": wire(now + 5 * DAY)},
        {"providerCredLicense_Key": 3, "license_Name": "Later", "term_Date": wire(now + 70 * DAY)},
        {
            "providerCredLicense_Key": 4,
            "license_Name": "Verified",
            "term_Date": wire(now + 365 * DAY),
            "psV_Date": wire(now - DAY),
        },
    )
    login()
    page = client.get("/ui/licenses/expiring").get_data(as_text=True)
    text = text_of(page)
    assert "Expired 1 Within 30 days 1 In 31–60 days 0 In 61–90 days 1 PSV overdue 3" in text
    assert "Gone" in text and "Soon" not in text and "PRV-EXP" in text
    assert "Soon" in text_of(client.get("/ui/licenses/expiring?show=within30").data.decode())
    later = text_of(client.get("/ui/licenses/expiring?show=within90").data.decode())
    assert "Later" in later and "Gone" not in later
    assert "No licenses here." in text_of(
        client.get("/ui/licenses/expiring?show=within60").data.decode()
    )
    psv = text_of(client.get("/ui/licenses/expiring?show=psvOverdue").data.decode())
    assert "Gone" in psv and "Verified" not in psv
    assert "last 120 days" in psv
    bogus = text_of(client.get("/ui/licenses/expiring?show=bogus").data.decode())
    assert "Gone" in bogus  # an unknown filter shows the expired ones


def test_expiring_counts_only_this_database(
    make_cred: Any, put_licenses: Any, login: Any, client: Any
) -> None:
    make_cred(1)
    put_licenses(1, {"providerCredLicense_Key": 1, "term_Date": wire(utcnow() - DAY)})
    login(database="other")
    text = text_of(client.get("/ui/licenses/expiring").get_data(as_text=True))
    assert "Expired 0" in text

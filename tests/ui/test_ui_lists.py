"""Provider-credential search, expiry buckets and the expiring-licenses page."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from gridpage import text_of

from app.audit import utcnow
from app.licenses.csv_io import CSV_COLUMNS
from app.licenses.expiry import TERM_BUCKETS, ExpiryFilter, bucket_counts
from app.licenses.expiry import ExpiryClock as SharedClock
from app.ui import expiry
from app.ui.expiry import ExpiryClock
from app.wire.fields import format_wire_datetime

NOW = datetime(2025, 6, 1, 12, 0, 0)
TODAY = datetime(2025, 6, 1)
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
        3: TODAY + 31 * DAY - timedelta(seconds=1),  # within 30: 30 days left
        4: TODAY + 31 * DAY,  # within 60: 31 days left
        5: TODAY + 61 * DAY,  # within 90: 61 days left
        6: TODAY + 91 * DAY - timedelta(seconds=1),  # within 90: 90 days left
        7: TODAY + 91 * DAY,  # none: 91 days left
        8: None,  # none
    }
    # PSV age in calendar days: 120 days ago (at its first instant) is not overdue, the last
    # instant of the day before is.
    psv = {1: None, 2: TODAY - 120 * DAY, 3: TODAY - 120 * DAY - timedelta(seconds=1)}
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
        assert bucket_counts(session, clock, ExpiryFilter()) == {
            "expired": 1,
            "within30": 2,
            "within60": 1,
            "within90": 2,
            "psvOverdue": 2,  # null, and older than 120 days; exactly 120 days is not overdue
            "noTermDate": 1,  # a bucket of its own, never "OK"
        }
        assert expiry.counts_by_cred(session, clock, [1, 2]) == {
            1: {
                "licenses": 8,
                "expired": 1,
                "within30": 2,
                "within60": 1,
                "within90": 2,
                "psvOverdue": 2,
                "noTermDate": 1,
            }
        }
        for name in TERM_BUCKETS:
            worklist = expiry.Worklist(show=name)
            _, page = expiry.worklist_page(session, clock, worklist, 1, 50)
            assert page.items
            assert {clock.bucket(item.license.term_date) for item in page.items} == {name}


@pytest.mark.parametrize(
    ("term", "bucket"),
    [
        (NOW - timedelta(seconds=1), "expired"),
        (NOW, "within30"),
        (NOW + 30 * DAY, "within30"),  # 30 days left, though past now + 30 days
        (TODAY + 31 * DAY, "within60"),
        (NOW + 60 * DAY, "within60"),
        (TODAY + 61 * DAY, "within90"),
        (NOW + 90 * DAY, "within90"),
        (TODAY + 91 * DAY, None),
        (None, "noTermDate"),
    ],
)
def test_bucket_of_one_license(term: datetime | None, bucket: str | None) -> None:
    assert ExpiryClock(NOW, 120).bucket(term) == bucket


def provider_ids_found(client: Any, query: str, provider_ids: tuple[str, ...]) -> list[str]:
    """Which of ``provider_ids`` the credential search for ``query`` lists, in that order."""
    response = client.get("/ui/credentials", query_string={"q": query})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    return [p for p in provider_ids if f">{p}</a>" in html]


def test_credential_list_searches_by_provider_id_or_key(
    make_cred: Any, login: Any, client: Any
) -> None:
    make_cred(1, provider_id="PRV-ALPHA")
    make_cred(2, provider_id="PRV-BETA")
    make_cred(31, provider_id="X_100%")
    make_cred(100, provider_id="OTHER")
    login()

    def found(query: str) -> list[str]:
        return provider_ids_found(client, query, ("PRV-ALPHA", "PRV-BETA", "X_100%", "OTHER"))

    assert found("") == ["PRV-ALPHA", "PRV-BETA", "X_100%", "OTHER"]
    assert found("alpha") == ["PRV-ALPHA"]  # any case, any part
    assert found("PRV") == ["PRV-ALPHA", "PRV-BETA"]
    assert found("100") == ["X_100%", "OTHER"]  # key 100, or "100" in an ID
    assert found("2") == ["PRV-BETA"]
    assert found("%") == ["X_100%"]  # LIKE wild cards are literal
    assert found("_1") == ["X_100%"]
    assert found("99999999999") == []
    assert found("9" * 5_000) == []  # more digits than int() takes: a search, not a 500
    html = client.get("/ui/credentials?q=%3Cscript%3E").get_data(as_text=True)
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_a_search_longer_than_any_searched_value_finds_nothing_on_either_database(
    make_cred: Any, login: Any, client: Any
) -> None:
    """No provider ID (20 characters) or license number (50) is longer than the search text:
    such a search finds nothing. On SQLite, from 49,999 characters it was a LIKE pattern
    longer than SQLite takes: "database unavailable" (503), or 500."""
    make_cred(1, provider_id="PRV-1")
    login()
    for length in (51, 49_999, 100_000):
        response = client.get("/ui/credentials", query_string={"q": "P" * length})
        assert response.status_code == 200
        assert ">PRV-1</a>" not in response.get_data(as_text=True)


def test_credential_list_finds_a_negative_or_zero_key(
    make_cred: Any, login: Any, client: Any
) -> None:
    """Keys are any int32 the client chose: a negative one was searched as provider ID text
    only, so "-7" found nothing."""
    make_cred(-7, provider_id="NEGATIVE")
    make_cred(0, provider_id="ZERO")
    make_cred(7, provider_id="SEVEN")
    login()

    def found(query: str) -> list[str]:
        return provider_ids_found(client, query, ("NEGATIVE", "ZERO", "SEVEN"))

    assert found("-7") == ["NEGATIVE"]
    assert found(" -7 ") == ["NEGATIVE"]
    assert found("0") == ["ZERO"]
    assert found("7") == ["SEVEN"]
    assert found("-2147483648") == []
    assert found("-2147483649") == []  # beyond int32: no key, and no error


def test_a_search_with_a_nul_character_says_why_on_the_page(
    make_cred: Any, login: Any, client: Any
) -> None:
    make_cred(1, provider_id="PRV-ABC")
    login()
    for query in ("\x00abc", "PRV\x00", "\x00"):
        response = client.get("/ui/credentials", query_string={"q": query, "page": "2"})
        assert response.status_code == 400  # on PostgreSQL it was a 500 (psycopg DataError)
        page = text_of(response.get_data(as_text=True))
        assert "The search text contains a NUL character" in page
        assert ">PRV-ABC</a>" not in response.get_data(as_text=True)
    assert client.get("/ui/credentials?q=abc").status_code == 200  # the next search works


@pytest.mark.parametrize(
    "url",
    [
        "/ui/credentials?q=P1&page=%00",
        "/ui/licenses/expiring?show=%00&state=%00&type=%00&sort=%00&page=%00",
        "/ui/licenses/expiring.csv?show=%00&state=%00&type=%00&sort=%00",
        "/ui/credentials/1/licenses?page=%00&license=%00",
        "/ui/monitoring?page=%00",
        "/ui/integrity?since=%00&until=%00",
    ],
)
def test_a_nul_character_in_another_query_parameter_is_never_a_server_error(
    make_cred: Any, login: Any, client: Any, url: str
) -> None:
    """These parameters are read against fixed choices or as numbers and dates before any
    query, so a NUL is a default or a message, never a database error."""
    make_cred(1)
    login()
    assert client.get(url).status_code in (200, 400)


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
    # Only ASCII digits make a page number (int() alone reads "0_3" and "٣" as 3).
    for odd in ("0_3", "%D9%A3"):
        assert ">P01</a>" in client.get(f"/ui/credentials?page={odd}").get_data(as_text=True)


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
    cells = html.split(">ONE</a>", 1)[1].split("</tr>", 1)[0]
    row = text_of(re.sub(r'<span class="visually-hidden">[^<]*</span>', " ", cells))  # as seen
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
    assert (
        "Expired 1 Within 30 days 1 In 31–60 days 0 In 61–90 days 1 PSV overdue 3 No term date 0"
        in text
    )
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


def test_the_ui_uses_the_licenses_packages_expiry_rule() -> None:
    assert ExpiryClock is SharedClock


@pytest.mark.parametrize(
    ("term", "days"),
    [
        (NOW - 3 * DAY, -3),
        (NOW.replace(hour=23), 0),
        (NOW + DAY, 1),
        (NOW + 45 * DAY, 45),
        (None, None),
    ],
)
def test_days_left_counts_calendar_days(term: datetime | None, days: int | None) -> None:
    assert ExpiryClock(NOW, 120).days_left(term) == days


def test_credential_list_flags_licenses_without_term_date_never_ok(
    make_cred: Any, put_licenses: Any, login: Any, client: Any
) -> None:
    now = utcnow()
    make_cred(1, provider_id="NOTERM")
    make_cred(2, provider_id="FINE")
    put_licenses(1, {"providerCredLicense_Key": 1, "psV_Date": wire(now)})
    put_licenses(
        2, {"providerCredLicense_Key": 2, "term_Date": wire(now + 400 * DAY), "psV_Date": wire(now)}
    )
    login()
    html = client.get("/ui/credentials").get_data(as_text=True)
    no_term = text_of(html.split(">NOTERM</a>", 1)[1].split("</tr>", 1)[0])
    fine = text_of(html.split(">FINE</a>", 1)[1].split("</tr>", 1)[0])
    assert "No term date 1" in no_term and "OK" not in no_term
    assert fine.endswith("OK")


def test_credential_search_finds_a_license_number(
    make_cred: Any, put_licenses: Any, login: Any, client: Any
) -> None:
    make_cred(1, provider_id="PRV-A")
    make_cred(2, provider_id="PRV-B")
    put_licenses(1, {"providerCredLicense_Key": 10, "license_Number": "MD-12345"})
    put_licenses(2, {"providerCredLicense_Key": 20, "license_Number": "RN-777"})
    login()

    def found(query: str) -> list[str]:
        response = client.get("/ui/credentials", query_string={"q": query})
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        return [p for p in ("PRV-A", "PRV-B") if f">{p}</a>" in html]

    assert found("MD-12345") == ["PRV-A"]
    assert found(" md-12345 ") == ["PRV-A"]  # any case, white space ignored
    assert found("rn-777") == ["PRV-B"]
    assert found("MD-1234") == []  # a license number matches whole
    assert found("PRV-B") == ["PRV-B"]


def test_credential_search_unites_its_ways_of_matching_each_credential_once(
    make_cred: Any, put_licenses: Any, login: Any, client: Any, app: Any
) -> None:
    """One query matching by key, by provider ID and by license number at once: each
    credential found once however many ways (or licenses) match it, in provider ID then key
    order, counted and paged as one list; near misses stay out."""
    app.config["UI_PAGE_SIZE"] = 3
    creds = {
        42: "KEY-ONLY",  # its key is the query
        5: "A-42-B",  # its provider ID contains the query
        50: "A-42-B",  # the same ID: key order breaks the tie
        6: "LIC-HOLDER",  # two licenses numbered "42"
        7: "B-420",  # contains "42" and holds a license numbered "42"
        8: "NOPE",  # a license numbered "420": license numbers match whole
        9: "X4-2",
        4200: "OTHER",  # a key containing, not equal to, the query
    }
    for key, provider_id in creds.items():
        make_cred(key, provider_id=provider_id)
    put_licenses(
        6,
        {"providerCredLicense_Key": 61, "license_Number": "42"},
        {"providerCredLicense_Key": 62, "license_Number": "42"},
    )
    put_licenses(7, {"providerCredLicense_Key": 71, "license_Number": "42"})
    put_licenses(8, {"providerCredLicense_Key": 81, "license_Number": "420"})
    login()

    def listed(page: int) -> tuple[list[tuple[str, int]], str]:
        html = client.get("/ui/credentials", query_string={"q": "42", "page": page}).get_data(
            as_text=True
        )
        rows = re.findall(r'<a href="/ui/credentials/(\d+)/licenses">([^<]+)</a>', html)
        return [(provider_id, int(key)) for key, provider_id in rows], text_of(html)

    first, first_text = listed(1)
    assert first == [("A-42-B", 5), ("A-42-B", 50), ("B-420", 7)]
    assert "Showing 1–3 of 5 matching “42”." in first_text
    second, second_text = listed(2)
    assert second == [("KEY-ONLY", 42), ("LIC-HOLDER", 6)]
    assert "Showing 4–5 of 5 matching “42”." in second_text


@pytest.fixture
def worklist(make_cred: Any, put_licenses: Any, make_license_type: Any) -> None:
    """Expired licenses in TX and CA, of two types, term dates 1–6 days ago."""
    now = utcnow()
    make_cred(1, provider_id="PRV-W")
    make_license_type(5, display="RN")
    make_license_type(6, display="MD")
    put_licenses(
        1,
        *(
            {
                "providerCredLicense_Key": key,
                "license_Name": f"Lic{key}",
                "state": "TX" if key % 2 else "CA",
                "credLicenseType_Key": 5 if key <= 3 else 6,
                "term_Date": wire(now - key * DAY),
                "psV_Date": wire(now - (10 - key) * DAY),
            }
            for key in range(1, 7)
        ),
    )


def test_expiring_csv_is_named_by_the_day_its_list_was_computed_for(
    worklist: None, login: Any, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The day in the name is the day (UTC) of the clock the list was read with, not another
    reading of the time: at 23:59:59 the file of the licenses expired by then names that day."""
    from app.ui import views

    clock = datetime.combine((utcnow() - 4 * DAY).date(), datetime.min.time()).replace(
        hour=23, minute=59, second=59
    )
    login()
    monkeypatch.setattr(views, "utcnow", lambda: clock)
    response = client.get("/ui/licenses/expiring.csv?show=expired")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert {row["providerCredLicense_Key"] for row in rows} == {"4", "5", "6"}
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="licenses-main-expired-{clock.date().isoformat()}.csv"'
    )


def test_expiring_page_filters_by_a_negative_license_type_key(
    worklist: None, login: Any, client: Any, make_license_type: Any, put_licenses: Any
) -> None:
    make_license_type(-7, display="NEG")
    put_licenses(
        1,
        {
            "providerCredLicense_Key": 7,
            "license_Name": "Lic7",
            "state": "TX",
            "credLicenseType_Key": -7,
            "term_Date": wire(utcnow() - DAY),
        },
    )
    login()
    html = client.get("/ui/licenses/expiring?type=-7").get_data(as_text=True)
    assert names_in(html) == ["Lic7"]
    assert 'option value="-7" selected' in html


def names_in(html: str) -> list[str]:
    return re.findall(r"<td class=\"wrap\">(Lic\d+)</td>", html)


def test_expiring_page_filters_by_state_and_type_and_counts_the_filter(
    worklist: None, login: Any, client: Any
) -> None:
    login()
    html = client.get("/ui/licenses/expiring?state=TX").get_data(as_text=True)
    assert names_in(html) == ["Lic5", "Lic3", "Lic1"]  # soonest term first: oldest expiry
    assert "Expired 3" in text_of(html)
    both = client.get("/ui/licenses/expiring?state=TX&type=6").get_data(as_text=True)
    assert names_in(both) == ["Lic5"]
    assert "Expired 1" in text_of(both)
    assert 'option value="TX" selected' in both and 'option value="6" selected' in both
    typed = client.get("/ui/licenses/expiring?state=%20tx%20").get_data(as_text=True)
    assert names_in(typed) == ["Lic5", "Lic3", "Lic1"]  # a code typed in the URL, any case
    ignored = client.get("/ui/licenses/expiring?state=Texas&type=99").get_data(as_text=True)
    assert len(names_in(ignored)) == 6  # unknown filters show everything, never an error
    for odd in ("²", "①", "6" * 5_000, "-", "--6", "-²"):  # digits to str.isdigit, not int()
        for path in ("/ui/licenses/expiring", "/ui/licenses/expiring.csv"):
            assert client.get(path, query_string={"type": odd}).status_code == 200


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("term", ["Lic6", "Lic5", "Lic4", "Lic3", "Lic2", "Lic1"]),
        ("-term", ["Lic1", "Lic2", "Lic3", "Lic4", "Lic5", "Lic6"]),
        ("psv", ["Lic1", "Lic2", "Lic3", "Lic4", "Lic5", "Lic6"]),
        ("-psv", ["Lic6", "Lic5", "Lic4", "Lic3", "Lic2", "Lic1"]),
        ("key", ["Lic1", "Lic2", "Lic3", "Lic4", "Lic5", "Lic6"]),
        ("nonsense", ["Lic6", "Lic5", "Lic4", "Lic3", "Lic2", "Lic1"]),
    ],
)
def test_expiring_page_sorts(
    worklist: None, login: Any, client: Any, sort: str, expected: list[str]
) -> None:
    login()
    html = client.get(f"/ui/licenses/expiring?sort={sort}").get_data(as_text=True)
    assert names_in(html) == expected


def test_expiring_page_pages_keep_the_filters_and_show_days_left(
    worklist: None, login: Any, client: Any, app: Any
) -> None:
    app.config["UI_PAGE_SIZE"] = 2
    login()
    first = client.get("/ui/licenses/expiring?state=TX&sort=-term").get_data(as_text=True)
    assert names_in(first) == ["Lic1", "Lic3"]
    assert "Page 1 of 2" in text_of(first)
    next_link = re.search(r'rel="next" href="/ui/licenses/expiring\?([^"]+)"', first)
    assert next_link is not None
    assert set(next_link.group(1).split("&amp;")) == {
        "page=2",
        "show=expired",
        "state=TX",
        "sort=-term",
    }
    second_url = "/ui/licenses/expiring?" + next_link.group(1).replace("&amp;", "&")
    second = client.get(second_url).get_data(as_text=True)
    assert names_in(second) == ["Lic5"]
    assert "5 days ago" in text_of(second)
    last = client.get("/ui/licenses/expiring?state=TX&sort=-term&page=9").get_data(as_text=True)
    assert names_in(last) == ["Lic5"]  # past the end: the last page


def test_expiring_entries_link_to_their_row_in_the_grid(
    worklist: None, login: Any, client: Any
) -> None:
    login()
    html = client.get("/ui/licenses/expiring?state=TX&type=6").get_data(as_text=True)
    assert 'href="/ui/credentials/1/licenses?license=5#license-5"' in html
    grid = client.get("/ui/credentials/1/licenses?license=5").get_data(as_text=True)
    assert 'data-license-key="5"' in grid
    assert "row_target.js" in grid


def test_expiring_csv_holds_exactly_what_the_filters_show(
    worklist: None, login: Any, client: Any
) -> None:
    login()
    response = client.get("/ui/licenses/expiring.csv?state=TX&sort=-term")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert list(rows[0]) == CSV_COLUMNS  # the CLI export's columns
    assert [r["license_Name"] for r in rows] == ["Lic1", "Lic3", "Lic5"]
    assert rows[0]["state"] == "TX" and rows[0]["term_Date"].endswith("Z")
    page = client.get("/ui/licenses/expiring?state=TX&sort=-term").get_data(as_text=True)
    assert 'href="/ui/licenses/expiring.csv?show=expired&amp;state=TX&amp;sort=-term"' in page
    empty = client.get("/ui/licenses/expiring.csv?show=within60")
    assert empty.get_data(as_text=True).splitlines() == [",".join(CSV_COLUMNS)]


def test_expiring_csv_is_named_by_its_database_list_and_day(
    worklist: None, login: Any, client: Any
) -> None:
    """The list is what it was on the day it was downloaded, in one database: a month's
    downloads of the same list, or of two databases, were all ``licenses-expired.csv``."""
    login()
    before = utcnow().date().isoformat()
    response = client.get("/ui/licenses/expiring.csv?show=psvOverdue&state=TX")
    names = {
        f'attachment; filename="licenses-main-psvOverdue-{day}.csv"'
        for day in (before, utcnow().date().isoformat())
    }
    assert response.headers["Content-Disposition"] in names
    response.close()


def test_expiring_csv_needs_a_login(client: Any) -> None:
    response = client.get("/ui/licenses/expiring.csv")
    assert response.status_code in (302, 303)

"""A license's history page: who, when, old → new per field, activity id."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from gridpage import text_of
from sqlalchemy import text

from app.audit import utcnow
from app.licenses.service import delete_licenses
from app.tenancy import session_scope
from tests.history_support import (
    HAND_EDITED_CHANGES,
    UNREADABLE_TIMES,
    ZONED_TIMES,
    edit_changes_by_hand,
    edit_time_by_hand,
)


def test_history_shows_each_change_newest_first(
    app: Any,
    make_cred: Any,
    make_license_type: Any,
    put_licenses: Any,
    login: Any,
    client: Any,
) -> None:
    make_license_type(1, display="MD")
    make_cred(1)
    put_licenses(
        1,
        {"providerCredLicense_Key": 5, "license_Name": "First", "credLicenseType_Key": 1},
        actor="bob",
        activity_id="activity-create",
    )
    put_licenses(
        1,
        {
            "providerCredLicense_Key": 5,
            "license_Name": "Second",
            "state": "CA",
            "effective_Date": "2029-01-01",
            "term_Date": "2030-01-01",
        },
        actor="carol",
        activity_id="activity-update",
    )
    login()
    html = client.get("/ui/licenses/5/history").get_data(as_text=True)
    text = text_of(html)
    update, create = text.index("Updated by carol"), text.index("Created by bob")
    assert update < create
    assert "Activity activity-update" in text and "Activity activity-create" in text
    changed = text[update:create]
    assert "Type MD (1) —" in changed
    assert "License name First Second" in changed
    assert "State — CA" in changed
    assert "Term — 01/01/2030" in changed
    assert "UTC" in changed
    # in the grid's column order (not the fields' alphabetical one, where Effective is second)
    shown = ["Type MD (1)", "License name First", "State —", "Effective —", "Term —"]
    positions = [changed.index(words) for words in shown]
    assert positions == sorted(positions), changed
    assert 'href="/ui/credentials/1/licenses"' in html


def test_history_is_in_the_order_it_was_written_whatever_the_clocks(
    make_cred: Any, put_licenses: Any, login: Any, client: Any, monkeypatch: Any
) -> None:
    """A change stamped by a clock that is behind still shows above the one it followed."""
    make_cred(1)
    put_licenses(1, {"providerCredLicense_Key": 5, "license_Name": "N"}, actor="bob")
    behind = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=1)
    monkeypatch.setattr("app.batch.engine.utcnow", lambda: behind)
    put_licenses(1, {"providerCredLicense_Key": 5, "license_Name": "M"}, actor="carol")
    login()
    text = text_of(client.get("/ui/licenses/5/history").get_data(as_text=True))
    assert 0 <= text.index("Updated by carol") < text.index("Created by bob")


def test_history_of_a_deleted_license_stays_readable(
    app: Any, make_cred: Any, put_licenses: Any, login: Any, client: Any
) -> None:
    make_cred(1)
    put_licenses(1, {"providerCredLicense_Key": 5, "license_Name": "Short-lived"})
    with app.app_context(), session_scope("main") as session:
        delete_licenses(session, 1, [5], actor="dave", activity_id="activity-delete")
    login()
    response = client.get("/ui/licenses/5/history")
    assert response.status_code == 200
    text = text_of(response.get_data(as_text=True))
    assert "This license has been deleted; its history remains." in text
    assert "Deleted by dave" in text and "License name Short-lived —" in text


@pytest.mark.parametrize("shape", HAND_EDITED_CHANGES)
def test_history_shows_a_change_edited_by_hand_into_any_shape_as_stored(
    make_cred: Any,
    put_licenses: Any,
    session_for: Any,
    login: Any,
    client: Any,
    shape: str,
) -> None:
    """Bad data never makes a 500: the edited change shows the fields that still read as
    before → after, says it is not in the shape the service writes, shows what is stored and
    leads to the integrity review of its day; the other changes show as ever."""
    make_cred(1)
    put_licenses(1, {"providerCredLicense_Key": 5, "state": "CA"}, actor="bob")
    put_licenses(1, {"providerCredLicense_Key": 5, "state": "NY"}, actor="carol")
    stored, pairs = HAND_EDITED_CHANGES[shape]
    with session_for() as session:
        as_stored = edit_changes_by_hand(session, 5, "updated", stored)
    login()
    response = client.get("/ui/licenses/5/history")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    text = html.unescape(text_of(page))
    update, create = text.index("Updated by carol"), text.index("Created by bob")
    edited, created = text[update:create], text[create:]
    assert "This change is not stored in the shape the license service writes" in edited
    assert f"As stored: {as_stored}" in edited
    assert ("State CA NY" in edited) == bool(pairs)
    assert "not stored in the shape" not in created and "State — CA" in created
    day = f"{utcnow():%Y-%m-%d}"
    assert f'href="/ui/integrity?since={day}&amp;until={day}"' in page


#: The logout form's CSRF token: signed with the time, so two renderings a second apart differ.
CSRF_TOKEN = re.compile(r'(name="csrf_token" value=")[^"]*(")')


def without_csrf_token(page: str) -> str:
    return CSRF_TOKEN.sub(r"\1…\2", page)


@pytest.mark.parametrize("spelling", [*UNREADABLE_TIMES, *ZONED_TIMES])
def test_history_shows_a_time_edited_by_hand_as_stored(
    make_cred: Any,
    put_licenses: Any,
    session_for: Any,
    login: Any,
    client: Any,
    spelling: str,
) -> None:
    """Bad data never makes a 500: a time that is not one failed SQLAlchemy's SQLite reader
    (a 500); the page now shows it as stored, says it was edited by hand and leads to the
    integrity review of the day it still names (or to verify-history). A time respelled with
    a zone, read aware of it, was shown in its zone and spelled "+00:00Z" in the page's
    markup; it is now shown as its instant in UTC, as before the edit."""
    make_cred(1)
    put_licenses(1, {"providerCredLicense_Key": 5, "state": "CA"}, actor="bob")
    put_licenses(1, {"providerCredLicense_Key": 5, "state": "NY"}, actor="carol")
    login()
    before = client.get("/ui/licenses/5/history").get_data(as_text=True)
    zoned = spelling in ZONED_TIMES
    with session_for() as session:
        row_id = session.scalar(
            text("SELECT max(id) FROM license_change WHERE provider_cred_license_key = 5")
        )
        stored = edit_time_by_hand(
            session,
            row_id,
            ZONED_TIMES[spelling] if zoned else UNREADABLE_TIMES[spelling][0],
            timestamp_holds=zoned,
        )
    response = client.get("/ui/licenses/5/history")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    if zoned:  # the same page but for the CSRF token, which is timed to the second
        assert without_csrf_token(page) == without_csrf_token(before)
        return
    words = html.unescape(text_of(page))
    update, create = words.index("Updated by carol"), words.index("Created by bob")
    edited, created = words[update:create], words[create:]
    shown = stored or "empty text"
    assert f"Updated by carol at {shown} " in edited
    assert "This change's time is not stored as a time the license service writes" in edited
    assert f"As stored: {shown}" in edited and "State CA NY" in edited
    assert "not stored as a time" not in created and "UTC" in created
    day = f"{utcnow():%Y-%m-%d}"
    if UNREADABLE_TIMES[spelling][1]:
        assert f'href="/ui/integrity?since={day}&amp;until={day}"' in page
        shown_day = f'<time datetime="{day}">{utcnow():%m/%d/%Y}</time>'
        assert f"review</a> of {shown_day}, the day it still names" in page
    else:
        assert "flask verify-history reports it" in edited


@pytest.mark.parametrize("key", [2**31, 2**63, 2**64 - 1])
def test_history_shows_a_type_key_edited_by_hand_beyond_any_type_as_its_number(
    make_cred: Any,
    make_license_type: Any,
    put_licenses: Any,
    session_for: Any,
    login: Any,
    client: Any,
    key: int,
) -> None:
    """A type key no license type can have (beyond 32 bits: PostgreSQL's ``integer`` refused
    it, SQLite's driver could not send it) was looked up with the others: a 500. It shows as
    its number; a type that exists still shows by its name."""
    make_license_type(1, display="MD")
    make_cred(1)
    put_licenses(1, {"providerCredLicense_Key": 5, "credLicenseType_Key": 1}, actor="bob")
    put_licenses(1, {"providerCredLicense_Key": 5, "state": "NY"}, actor="carol")
    with session_for() as session:
        edit_changes_by_hand(
            session, 5, "updated", f'{{"credLicenseType_Key": [1, {key}], "state": [null, "NY"]}}'
        )
    login()
    response = client.get("/ui/licenses/5/history")
    assert response.status_code == 200
    text = text_of(response.get_data(as_text=True))
    edited = text[text.index("Updated by carol") : text.index("Created by bob")]
    assert f"Type MD (1) {key}" in edited and "State — NY" in edited


def test_history_is_paged_newest_first(
    make_cred: Any,
    put_licenses: Any,
    login: Any,
    client: Any,
    monkeypatch: Any,
) -> None:
    """A license's history only grows: its page shows HISTORY_PAGE_SIZE changes at a time."""
    from app.ui import views

    monkeypatch.setattr(views, "HISTORY_PAGE_SIZE", 2)
    make_cred(1)
    for n in range(5):
        put_licenses(1, {"providerCredLicense_Key": 5, "license_Name": f"Name {n}"})
    login()

    def names(query: str = "") -> list[str]:
        """The license name each change on the page set, in the page's order."""
        page = text_of(client.get(f"/ui/licenses/5/history{query}").get_data(as_text=True))
        return re.findall(r"License name (?:—|Name \d) (Name \d)", page)

    first = text_of(client.get("/ui/licenses/5/history").get_data(as_text=True))
    assert "Page 1 of 3" in first
    assert names() == ["Name 4", "Name 3"]
    assert names("?page=3") == ["Name 0"]
    assert names("?page=99") == ["Name 0"]  # past the end: the last page


def test_history_of_an_unknown_license_is_404(login: Any, client: Any) -> None:
    login()
    assert client.get("/ui/licenses/404/history").status_code == 404


def test_history_is_per_database(
    make_cred: Any, put_licenses: Any, login: Any, client: Any
) -> None:
    make_cred(1)
    put_licenses(1, {"providerCredLicense_Key": 5})
    login(database="other")
    assert client.get("/ui/licenses/5/history").status_code == 404

"""Bounded UI saves: at most BATCH_MAX_ITEMS rows, and /ui bodies have their own size limit."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from gridpage import text_of
from sqlalchemy import func, select

from app.licenses.models import ProviderCredLicense
from app.ui.save_limit import submitted_row_count


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "BATCH_MAX_ITEMS": 3, "UI_MAX_CONTENT_LENGTH": 20_000}


def rows_form(count: int) -> dict[str, str]:
    form: dict[str, str] = {}
    for index in range(count):
        form[f"rows-{index}-providerCredLicense_Key"] = str(index + 1)
        form[f"rows-{index}-license_Number"] = f"N-{index + 1}"
        form[f"rows-{index}-state"] = "CA"
    return form


def stored(session_for: Any) -> int:
    with session_for() as session:
        return session.scalar(select(func.count()).select_from(ProviderCredLicense))


def test_a_save_of_more_rows_than_a_batch_is_refused_whole(
    login: Any, client: Any, make_cred: Any, session_for: Any
) -> None:
    make_cred(1)
    login()
    response = client.post("/ui/credentials/1/licenses", data=rows_form(4))
    assert response.status_code == 413
    assert "This Save has 4 rows; at most 3 can be saved at once." in text_of(
        response.get_data(as_text=True)
    )
    assert stored(session_for) == 0
    accepted = client.post("/ui/credentials/1/licenses", data=rows_form(3))
    assert accepted.status_code in (200, 303)
    assert stored(session_for) == 3


def test_ui_form_bodies_have_their_own_smaller_limit(
    login: Any, client: Any, make_cred: Any, app: Any
) -> None:
    make_cred(1)
    login()
    big = {"rows-0-license_Name": "x" * 30_000}
    assert client.post("/ui/credentials/1/licenses", data=big).status_code == 413
    assert app.config["UI_MAX_CONTENT_LENGTH"] < app.config["MAX_CONTENT_LENGTH"]


def test_the_ui_limit_holds_with_csrf_protection_on(
    fresh_app: Any, make_user: Any, make_cred: Any
) -> None:
    """CSRFProtect reads every POST's form in a hook of its own, before the blueprint's: the
    UI's limit must be set by then, or the form was read under the API's larger limit (what
    production, with CSRF on, did; the tests above run with it off)."""
    app = fresh_app(WTF_CSRF_ENABLED=True)
    make_user("alice", "correct horse")
    make_cred(1)
    client = app.test_client()
    big = {"rows-0-license_Name": "x" * 30_000}
    assert client.post("/ui/login", data=big).status_code == 413  # anonymous, too
    token = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/ui/login").text
    )
    assert token is not None
    credentials = {"username": "alice", "password": "correct horse", "database": "main"}
    assert client.post("/ui/login", data={**credentials, "csrf_token": token[1]}).status_code == 302
    page = client.get("/ui/credentials/1/licenses").text
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    assert token is not None
    saved = client.post("/ui/credentials/1/licenses", data={**big, "csrf_token": token[1]})
    assert saved.status_code == 413


def test_rows_are_counted_by_index() -> None:
    names = ["csrf_token", "rows-0-state", "rows-0-term_Date", "rows-7-state", "rowsx-9-a"]
    assert submitted_row_count(names) == 2


def test_only_the_rows_a_save_sends_count(
    login: Any, make_cred: Any, put_licenses: Any, open_grid: Any, session_for: Any
) -> None:
    """The grid posts every row of the page (3 stored, 5 blank), but sends only the changed ones."""
    make_cred(1)
    put_licenses(
        1, *({"providerCredLicense_Key": key, "license_Number": f"N-{key}"} for key in (1, 2, 3))
    )
    login()
    grid = open_grid(1)
    assert len(grid.prefixes) == 8
    grid.set(grid.row(2), state="NY")
    first, second, _third, *_ = grid.blank_rows()
    grid.set(first, providerCredLicense_Key="4", license_Number="N-4")
    grid.set(second, providerCredLicense_Key="5", license_Number="N-5")
    response = grid.save()
    assert response.status_code == 200, text_of(response.get_data(as_text=True))
    assert stored(session_for) == 5

    grid = open_grid(1)
    for key in (1, 2, 3, 4):
        grid.set(grid.row(key), state="TX")
    response = grid.save()
    assert response.status_code == 413
    assert "This Save has 4 rows; at most 3 can be saved at once." in text_of(
        response.get_data(as_text=True)
    )


def test_what_a_save_may_post_is_bounded_before_the_form_is_read(
    login: Any, client: Any, make_cred: Any, app: Any
) -> None:
    """Rows that send nothing (here new rows ticked for deletion) cost the form's parsing."""
    make_cred(1)
    login()
    bound = 3 + app.config.get("GRID_PAGE_SIZE", 50) + app.config["GRID_BLANK_ROWS"]
    ticked = {f"rows-{index}-delete": "y" for index in range(bound)}
    assert client.post("/ui/credentials/1/licenses", data=ticked).status_code in (200, 303)
    response = client.post(
        "/ui/credentials/1/licenses", data={**ticked, f"rows-{bound}-delete": "y"}
    )
    assert response.status_code == 413
    assert f"This Save posted {bound + 1} rows; a grid can post at most {bound}." in text_of(
        response.get_data(as_text=True)
    )


def test_a_body_over_the_ui_limit_says_what_was_too_large_and_leads_back(
    login: Any, client: Any, make_cred: Any
) -> None:
    """Not werkzeug's "The data value transmitted exceeds the capacity limit": the page names
    the Save or the file, the limit and what to do, with a link back to where it was sent from."""
    make_cred(1)
    login()
    saved = client.post("/ui/credentials/1/licenses", data={"rows-0-license_Name": "x" * 30_000})
    assert saved.status_code == 413
    text = text_of(saved.get_data(as_text=True))
    assert "This Save is larger than the 19.5 KiB this server accepts" in text
    assert "capacity limit" not in text
    assert 'href="/ui/credentials/1/licenses"' in saved.get_data(as_text=True)

    upload = client.post(
        "/ui/credentials/1/licenses/import",
        data={"file": (io.BytesIO(b"x" * 30_000), "big.csv")},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 413
    text = text_of(upload.get_data(as_text=True))
    assert "This file is larger than the 19.5 KiB this server accepts" in text
    assert 'href="/ui/credentials/1/licenses/import"' in upload.get_data(as_text=True)

"""Only licenses added after the page was loaded are reported as "Added … meanwhile"; a license
that moved onto the page (one before it was deleted) is shown as stored, without that claim."""

from __future__ import annotations

import re
from typing import Any

import pytest
from gridpage import GridPage, text_of

from app.licenses.service import delete_licenses
from app.tenancy import session_scope


@pytest.fixture
def cred(app: Any, make_cred: Any, put_licenses: Any) -> int:
    """Nine licenses (keys 10, 20, … 90), three a page."""
    app.config["GRID_PAGE_SIZE"] = 3
    make_cred(1)
    put_licenses(
        1, *({"providerCredLicense_Key": k, "license_Name": f"L{k}"} for k in range(10, 100, 10))
    )
    return 1


def open_page_two(client: Any) -> GridPage:
    response = client.get("/ui/credentials/1/licenses?page=2")
    assert response.status_code == 200
    return GridPage(client, 1, response.get_data(as_text=True))


def save_page_two(page: GridPage) -> str:
    """Save with one invalid cell, so the grid is rendered with every row's outcome."""
    page.set(page.row(40), state="QQ")
    response = page.client.post("/ui/credentials/1/licenses?page=2", data=page.fields)
    assert response.status_code == 422
    return response.get_data(as_text=True)


def row_html(html: str, key: int) -> str:
    found = re.search(rf'<tr[^>]*data-license-key="{key}".*?</tr>', html, re.S)
    assert found, key
    return found.group(0)


def test_a_license_moved_onto_the_page_is_not_reported_as_added(
    app: Any, cred: int, login: Any, client: Any
) -> None:
    login()
    page = open_page_two(client)
    assert [page.fields[f"{p}-providerCredLicense_Key"] for p in page.prefixes[:3]] == [
        "40",
        "50",
        "60",
    ]
    with app.app_context(), session_scope("main") as session:
        delete_licenses(session, 1, [10], actor="bob", activity_id="x")
    html = save_page_two(page)
    assert "meanwhile" not in text_of(html)
    assert 'value="L70"' in row_html(html, 70)  # shown as stored, on the page it is on now
    assert "badge" not in row_html(html, 70)


def test_a_license_added_meanwhile_is_still_reported(
    cred: int, login: Any, client: Any, put_licenses: Any
) -> None:
    login()
    page = open_page_two(client)
    put_licenses(1, {"providerCredLicense_Key": 45, "license_Name": "Bob's new"}, actor="bob")
    html = save_page_two(page)
    assert "Added by bob meanwhile." in text_of(html)
    assert "Refreshed" in row_html(html, 45)

"""UI paths answer with HTML pages (never JSON or a stack trace); API paths stay JSON."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from app.ui import views


def test_unknown_ui_page_is_an_html_404(client: Any) -> None:
    response = client.get("/ui/no/such/page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Not found" in response.get_data(as_text=True)
    assert response.headers["X-Activity-ID"] in response.get_data(as_text=True)


def test_api_paths_still_answer_json(client: Any) -> None:
    response = client.get("/no/such/api")
    assert response.status_code == 404
    assert response.mimetype == "application/json"


def test_method_not_allowed_keeps_its_allow_header(client: Any) -> None:
    response = client.get("/ui/logout")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"] and "GET" not in response.headers["Allow"]
    assert response.mimetype == "text/html"


def test_an_unexpected_error_is_an_html_page_with_the_activity_id(
    login: Any, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(views, "search_creds", broken)
    login()
    response = client.get("/ui/credentials")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "Something went wrong" in html
    assert response.headers["X-Activity-ID"] in html
    assert "secret detail" not in html and "Traceback" not in html


def test_ui_pages_send_security_headers(login: Any, client: Any) -> None:
    login()
    response = client.get("/ui/credentials")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_static_files_are_served(client: Any) -> None:
    with client.get("/static/ui/ui.css") as style:
        assert style.status_code == 200
    with client.get("/static/ui/grid.js") as script:
        assert script.status_code == 200 and b"parseTsv" in script.data
    assert client.get("/static/ui/missing.js").mimetype == "text/html"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/ui/credentials/99999999999/licenses", 404),
        ("post", "/ui/credentials/99999999999/licenses", 404),
        ("get", "/ui/credentials/-1/licenses", 404),
        ("get", "/ui/licenses/99999999999/history", 404),
        ("get", "/ui/licenses/-99999999999/history", 404),
    ],
)
def test_keys_beyond_int32_match_no_route_instead_of_failing_in_the_database(
    login: Any, client: Any, method: str, path: str, status: int
) -> None:
    login()
    response = getattr(client, method)(path, data={"rows-0-license_Name": "x"})
    assert response.status_code == status


@pytest.mark.parametrize(
    ("fault", "status"),
    [(RuntimeError("secret detail"), 500), (sqlite3.OperationalError("database is locked"), 503)],
)
def test_a_save_that_fails_leads_back_to_its_page_of_the_grid(
    login: Any,
    client: Any,
    make_cred: Any,
    monkeypatch: pytest.MonkeyPatch,
    fault: Exception,
    status: int,
) -> None:
    """The tab keeps the rows a Save sent, under its page of the grid, and that page tells what
    became of them: the error page says so and links to it (not only to the credential list)."""

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise fault

    monkeypatch.setattr(views, "save_grid", broken)
    make_cred(1)
    login()
    form = {"rows-0-license_Number": "N-1", "save_id": "ab" * 16}
    response = client.post("/ui/credentials/1/licenses?page=2", data=form)
    assert response.status_code == status
    html = response.get_data(as_text=True)
    assert '<a href="/ui/credentials/1/licenses?page=2">open the grid again</a>' in html
    assert "This tab keeps the rows this Save sent" in html

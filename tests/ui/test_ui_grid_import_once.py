"""A previewed import is applied once: a reload, a second click or a replayed POST writes
nothing more (rows without a key would otherwise be created again under new keys)."""

from __future__ import annotations

import io
import re
from html import unescape
from typing import Any

import pytest
from gridpage import text_of
from sqlalchemy import func, select

from app.licenses.models import ProviderCredLicense
from app.tenancy import session_scope
from app.ui.grid_import import carried_csv, read_carried_csv

URL = "/ui/credentials/1/licenses/import"
CSV = (
    "providerCredLicense_Key,providerCred_Key,license_Name,license_Number,state\n,1,New,NEW-1,NY\n"
)


@pytest.fixture
def cred(make_cred: Any) -> int:
    make_cred(1)
    return 1


def new_licenses(app: Any) -> int:
    with app.app_context(), session_scope("main") as session:
        return (
            session.scalar(
                select(func.count()).where(ProviderCredLicense.license_number == "NEW-1")
            )
            or 0
        )


def preview(client: Any, text: str = CSV) -> dict[str, str]:
    """Upload ``text``; the fields of the preview's Apply form."""
    response = client.post(
        URL,
        data={"file": (io.BytesIO(text.encode()), "licenses.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    form = re.search(
        r'<form[^>]*class="import-apply">(.*?)</form>', response.get_data(as_text=True), re.S
    )
    assert form, "no Apply form"
    return {
        name: unescape(value)
        for name, value in re.findall(
            r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form.group(1)
        )
    }


def test_apply_redirects_to_a_result_page_that_can_be_reloaded(
    app: Any, cred: int, login: Any, client: Any
) -> None:
    login()
    response = client.post(URL + "/apply", data=preview(client))
    assert response.status_code == 303
    result_url = response.headers["Location"]
    assert new_licenses(app) == 1
    for _ in range(2):  # the result, and a reload of it
        page = client.get(result_url)
        assert page.status_code == 200
        assert "Imported" in text_of(page.get_data(as_text=True))
        assert "1 created" in text_of(page.get_data(as_text=True))
    assert new_licenses(app) == 1


def test_a_second_apply_of_one_preview_writes_nothing_and_says_so(
    app: Any, cred: int, login: Any, client: Any
) -> None:
    login()
    fields = preview(client)
    assert client.post(URL + "/apply", data=fields).status_code == 303
    again = client.post(URL + "/apply", data=fields, follow_redirects=True)
    assert again.status_code == 200
    assert "This import was already applied; nothing was written again." in text_of(
        again.get_data(as_text=True)
    )
    assert new_licenses(app) == 1


def test_a_new_preview_of_the_same_file_can_be_applied(
    app: Any, cred: int, login: Any, client: Any
) -> None:
    login()
    client.post(URL + "/apply", data=preview(client))
    client.post(URL + "/apply", data=preview(client))
    assert new_licenses(app) == 2  # two previews, two deliberate applies


@pytest.mark.parametrize("token", ["", "forged", None])
def test_an_apply_without_a_valid_token_writes_nothing(
    app: Any, cred: int, login: Any, client: Any, token: str | None
) -> None:
    login()
    fields = preview(client)
    if token is None:
        del fields["token"]
    else:
        fields["token"] = token
    response = client.post(URL + "/apply", data=fields)
    assert response.status_code == 400
    assert "preview the file again" in text_of(response.get_data(as_text=True))
    assert new_licenses(app) == 0


def test_a_token_cannot_apply_another_file(app: Any, cred: int, login: Any, client: Any) -> None:
    login()
    fields = preview(client)
    assert client.post(URL + "/apply", data=fields).status_code == 303
    fields["csv"] = carried_csv(CSV.replace("NEW-1", "OTHER-1"))
    response = client.post(URL + "/apply", data=fields)
    assert response.status_code == 409
    assert new_licenses(app) == 1


@pytest.mark.parametrize("carried", [CSV, "123", '"\\ud800"', "_w==", "TmV3="])
def test_an_apply_whose_file_is_not_as_the_preview_carries_it_writes_nothing(
    app: Any, cred: int, login: Any, client: Any, carried: str
) -> None:
    """The preview carries the file in URL-safe base64 (``carried_csv``): raw CSV, what is
    not base64 (or wrongly padded), bytes that are not UTF-8 (``_w==`` is FF) or the JSON
    string it was carried as before (a preview served before an upgrade) is refused with a
    page that says to preview the file again."""
    login()
    fields = preview(client)
    fields["csv"] = carried
    response = client.post(URL + "/apply", data=fields)
    assert response.status_code == 400
    assert "preview the file again" in text_of(response.get_data(as_text=True))
    assert new_licenses(app) == 0
    assert client.post(URL + "/apply", data=preview(client)).status_code == 303
    assert new_licenses(app) == 1


def test_the_result_page_is_only_its_users(app: Any, cred: int, login: Any, client: Any) -> None:
    login()
    result_url = client.post(URL + "/apply", data=preview(client)).headers["Location"]
    client.post("/ui/logout", data={})
    login("carol")
    assert '<span class="who">carol ' in client.get("/ui/credentials").get_data(as_text=True)
    assert client.get(result_url).status_code == 404


@pytest.mark.parametrize("nonce", ["%00abc", "x" * 24 + "%00", "not-a-nonce"])
def test_a_result_page_of_a_malformed_nonce_is_not_found(
    cred: int, login: Any, client: Any, nonce: str
) -> None:
    login()
    # A NUL reached the query on PostgreSQL as a 500 (psycopg DataError).
    assert client.get(f"{URL}/applied/{nonce}").status_code == 404


def test_a_failure_after_the_write_keeps_the_claim(
    app: Any, cred: int, login: Any, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error that may come after the service's commit (here: building the stored result)
    must not free the preview for a second apply: it would create the keyless rows again."""
    from app.ui import grid_import

    login()
    fields = preview(client)

    def broken(*_args: Any) -> str:
        raise RuntimeError("the result could not be kept")

    monkeypatch.setattr(grid_import, "_result_json", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert client.post(URL + "/apply", data=fields).status_code == 500
    monkeypatch.undo()
    again = client.post(URL + "/apply", data=fields)
    assert again.status_code == 409
    assert "already being applied" in text_of(again.get_data(as_text=True))
    assert new_licenses(app) == 1


def test_a_file_with_lone_cr_line_ends_is_previewed(cred: int, login: Any, client: Any) -> None:
    """Excel's "CSV (Macintosh)" ends lines with a CR alone."""
    login()
    fields = preview(client, CSV.replace("\n", "\r"))
    assert read_carried_csv(fields["csv"]) == CSV.replace("\n", "\r")

"""An import's Apply accepts every file its preview accepted, however large and whatever it holds.

The preview's Apply form carries the file back. Carried as a JSON string in a urlencoded form,
each comma, quote and non-ASCII byte was percent-encoded to three bytes (six for a quote, its
backslash too): a file well under the upload limit made an Apply of two to three times its size,
refused 413 after the preview had shown every row importable.
"""

from __future__ import annotations

import io
import re
from html import unescape
from typing import Any
from urllib.parse import urlencode

import pytest
from gridpage import text_of
from sqlalchemy import func, select

from app.licenses.models import ProviderCredLicense
from app.tenancy import session_scope
from app.ui.form_limits import VERSION_BYTES, apply_body_limit
from app.ui.grid_import import carried_csv, versions_text

URL = "/ui/credentials/1/licenses/import"
LIMIT = 40_000
HEADER = "providerCredLicense_Key,providerCred_Key,license_Name,license_Number,state\n"
#: A cell a spreadsheet quotes: commas, quotes, a line break, accents, CJK and an emoji.
NAME = '"Médecin, ""Chef"" de clinique\nZürich — 東京 🩺"'


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    """``MAX_FORM_MEMORY_SIZE`` as small: Werkzeug bounds multipart text fields by it, not a
    urlencoded form such as the Apply's (were it to, the Apply could not carry the file)."""
    return {
        **app_config,
        "UI_MAX_CONTENT_LENGTH": LIMIT,
        "MAX_FORM_MEMORY_SIZE": LIMIT,
        "BATCH_MAX_ITEMS": 1000,
    }


def largest_file(limit: int) -> str:
    """A CSV as large as an upload under ``limit`` can be (its form's own bytes left over)."""
    lines = [HEADER, f"11,1,{NAME},MD-999,CA\n"]
    size = len("".join(lines).encode())
    number = 0
    while True:
        number += 1
        line = f",1,{NAME},N-{number},TX\n"
        if size + len(line.encode()) > limit - 1000:
            return "".join(lines)
        lines.append(line)
        size += len(line.encode())


def stored(app: Any) -> int:
    with app.app_context(), session_scope("main") as session:
        return session.scalar(select(func.count()).select_from(ProviderCredLicense)) or 0


def apply_fields(html: str) -> dict[str, str]:
    form = re.search(r'<form[^>]*class="import-apply">(.*?)</form>', html, re.S)
    assert form, "no Apply form"
    return {
        name: unescape(value)
        for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form[1])
    }


@pytest.fixture
def cred(make_cred: Any, put_licenses: Any) -> int:
    make_cred(1)
    put_licenses(1, {"providerCredLicense_Key": 11, "license_Number": "MD-111", "state": "CA"})
    return 1


def test_the_largest_file_a_preview_accepts_is_applied(
    app: Any, cred: int, login: Any, client: Any
) -> None:
    login()
    text = largest_file(LIMIT)
    rows = text.count("\n,1,")
    preview = client.post(
        URL,
        data={"file": (io.BytesIO(text.encode()), "licenses.csv")},
        content_type="multipart/form-data",
    )
    assert preview.status_code == 200
    assert f"{rows} to create · 1 to update" in text_of(preview.get_data(as_text=True))
    fields = apply_fields(preview.get_data(as_text=True))
    # What a browser posts: every byte of the form percent-encoded where it must be.
    assert len(urlencode(fields)) > LIMIT  # larger than the upload: a limit of its own
    response = client.post(URL + "/apply", data=fields, follow_redirects=True)
    assert response.status_code == 200, text_of(response.get_data(as_text=True))[:300]
    assert f"{rows} created · 1 updated" in text_of(response.get_data(as_text=True))
    assert stored(app) == rows + 1
    with app.app_context(), session_scope("main") as session:
        names = set(session.scalars(select(ProviderCredLicense.license_name)))
    assert names == {NAME[1:-1].replace('""', '"')}  # as the file held it, line break too


def test_the_carried_file_grows_by_a_third_whatever_it_holds() -> None:
    """URL-safe base64 is never percent-encoded: 4 bytes a form posts for 3 of the file."""
    for text in ("plain,ascii\n" * 300, '"""",,,\r\n' * 300, "🩺é,東京\n" * 300):
        size = len(text.encode())
        assert len(urlencode({"csv": carried_csv(text)})) == len("csv=") + -(-size // 3) * 4


def test_a_version_takes_at_most_its_share_of_the_apply_limit() -> None:
    widest = {-(2**31): "9999-12-31T23:59:59.999999+00:00", 2**31 - 1: None}
    encoded = urlencode({"versions": versions_text(widest)})
    assert len(encoded) - len("versions=") <= 2 * VERSION_BYTES


def test_only_the_apply_has_the_larger_limit(cred: int, login: Any, client: Any) -> None:
    login()
    big = {"rows-0-license_Name": "x" * (LIMIT + 10)}
    assert client.post("/ui/credentials/1/licenses", data=big).status_code == 413
    assert apply_body_limit(LIMIT, 1000) > LIMIT * 4 // 3


def test_an_apply_over_its_limit_names_the_import_and_leads_back(
    app: Any, cred: int, login: Any, client: Any
) -> None:
    """Only a forged form (or a limit lowered since the preview) gets here."""
    login()
    fields = {"csv": "A" * apply_body_limit(LIMIT, 1000), "versions": "{}", "token": "x"}
    response = client.post(URL + "/apply", data=fields)
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "This import is larger than the" in text_of(page)
    assert "nothing was imported" in text_of(page)
    assert f'href="{URL}"' in page
    assert stored(app) == 1


def test_a_file_of_too_many_rows_says_how_to_split_it(
    app: Any, cred: int, login: Any, client: Any
) -> None:
    login()
    text = HEADER + ",1,,N,TX\n" * 1001
    response = client.post(
        URL,
        data={"file": (io.BytesIO(text.encode()), "licenses.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert (
        "This file has 1,001 rows; import at most 1,000. Split it into files of 1,000 rows or "
        "fewer and import each of them."
    ) in text_of(response.get_data(as_text=True))
    assert stored(app) == 1

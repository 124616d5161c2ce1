"""Importing a CSV into a grid: a dry-run preview that writes nothing, then Apply."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from gridpage import text_of, title_of
from sqlalchemy import func, select

from app.history.models import LicenseChange
from app.licenses.csv_io import export_licenses
from app.licenses.models import ProviderCredLicense
from app.tenancy import session_scope

HEADER = (
    "providerCredLicense_Key,providerCred_Key,credLicenseType_Key,license_Name,license_Number,"
    "state,specialty_Code,effective_Date,term_Date,psV_Date,entry_Date,entry_User,update_Date,"
    "update_User\n"
)
URL = "/ui/credentials/1/licenses/import"


@pytest.fixture
def cred(make_cred: Any, make_license_type: Any, put_licenses: Any) -> int:
    make_license_type(1, display="MD")
    make_cred(1, provider_id="P1")
    make_cred(2, provider_id="P2")
    put_licenses(
        1,
        {
            "providerCredLicense_Key": 11,
            "license_Name": "Medical license",
            "license_Number": "MD-111",
            "state": "CA",
            "term_Date": "2027-02-12",
        },
    )
    return 1


def counts(app: Any) -> tuple[int, int]:
    with app.app_context(), session_scope("main") as session:
        licenses = session.scalar(select(func.count()).select_from(ProviderCredLicense))
        history = session.scalar(select(func.count()).select_from(LicenseChange))
    return licenses or 0, history or 0


def upload(client: Any, text: str) -> Any:
    return client.post(
        URL,
        data={"file": (io.BytesIO(text.encode()), "licenses.csv")},
        content_type="multipart/form-data",
    )


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html) or re.search(
        rf'value="([^"]*)"[^>]*name="{name}"', html
    )
    assert match, name
    import html as html_module

    return html_module.unescape(match.group(1))


def apply(client: Any, preview: str) -> Any:
    """Press "Apply this import" on ``preview``, following the redirect to the result page."""
    fields = {name: hidden(preview, name) for name in ("csv", "versions", "token")}
    return client.post(URL + "/apply", data=fields, follow_redirects=True)


CSV = (
    HEADER
    + "11,1,,Medical license,MD-999,CA,,,2027-03-31T00:00:00Z,,,,,\n"
    + ",,1,New from CSV,N-1,TX,,,,,,,,\n"
    + ",1,,Bad state,N-2,ZZ,,,,,,,,\n"
    + ",2,,Other cred,N-3,NY,,,,,,,,\n"
)


def test_preview_shows_what_would_change_and_writes_nothing(
    app: Any, cred: int, login: Any, client: Any
) -> None:
    login()
    before = counts(app)
    response = upload(client, CSV)
    assert response.status_code == 200
    assert counts(app) == before  # the dry run wrote nothing
    page = text_of(response.get_data(as_text=True))
    assert "Preview: nothing is saved yet" in page
    assert "1 to create · 1 to update · 0 unchanged · 2 with errors" in page
    assert "Number: MD-111 → MD-999" in page
    assert "Term: 02/12/2027 → 03/31/2027" in page
    assert "State: Enter a state as its 2-letter code or full name" in page
    assert "This row belongs to provider credential 2; import it on that grid." in page
    assert "License name: — → New from CSV" in page
    assert "Type: — → MD" in page  # the type's name, as the grid shows it, not its key
    assert "Specialty: — → —" not in page  # a create lists what it sets
    assert "_Date" not in page.split("Preview")[1].split("Apply this import")[0]


def test_a_cut_off_line_is_refused_not_read_as_clearing_its_cells(
    app: Any, cred: int, login: Any, client: Any
) -> None:
    login()
    page = text_of(upload(client, HEADER + "11,1,,Medical license\n").get_data(as_text=True))
    assert "This line has 4 cells and the header 14: is it cut off? Not imported." in page
    assert "0 to create · 0 to update · 0 unchanged · 1 with errors" in page
    assert "MD-111 → —" not in page


def test_apply_writes_through_the_service(app: Any, cred: int, login: Any, client: Any) -> None:
    login()
    preview = upload(client, CSV).get_data(as_text=True)
    response = apply(client, preview)
    assert response.status_code == 200  # the result page (two rows had errors)
    page = text_of(response.get_data(as_text=True))
    assert "Imported" in page and "1 created · 1 updated" in page
    with app.app_context(), session_scope("main") as session:
        numbers = dict(
            session.execute(
                select(ProviderCredLicense.license_number, ProviderCredLicense.provider_cred_key)
            ).all()
        )
    assert numbers == {"MD-999": 1, "N-1": 1}


def test_an_exports_formula_escape_is_removed_on_import(
    app: Any, cred: int, login: Any, client: Any
) -> None:
    """The export writes ``'`` before a formula, its full-width forms included; the grid's
    import removes it again, as the CLI's does."""
    login()
    preview = upload(client, HEADER + "11,1,,'\uff1dHYPERLINK(),'\uff0d5,CA,,,,,,,,\n")
    assert "1 to update" in text_of(preview.get_data(as_text=True))
    apply(client, preview.get_data(as_text=True))
    with app.app_context(), session_scope("main") as session:
        stored = session.execute(
            select(ProviderCredLicense.license_name, ProviderCredLicense.license_number)
        ).one()
    assert tuple(stored) == ("\uff1dHYPERLINK()", "\uff0d5")


def test_apply_refuses_a_row_changed_after_the_preview(
    app: Any, cred: int, login: Any, client: Any, put_licenses: Any
) -> None:
    login()
    preview = upload(client, HEADER + "11,1,,Medical license,MD-999,CA,,,,,,,,\n").get_data(
        as_text=True
    )
    put_licenses(1, {"providerCredLicense_Key": 11, "license_Number": "BOB"}, actor="bob")
    response = apply(client, preview)
    assert "Changed by someone else after the preview" in text_of(response.get_data(as_text=True))
    with app.app_context(), session_scope("main") as session:
        assert session.get(ProviderCredLicense, 11).license_number == "BOB"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe\x00bad", "save it as"),
        (b"just,some,words\n1,2,3\n", "no header row with the export"),
        (HEADER.encode(), "no rows to import"),
    ],
)
def test_an_unreadable_file_is_a_clear_error(
    cred: int, login: Any, client: Any, content: bytes, message: str
) -> None:
    login()
    response = client.post(
        URL,
        data={"file": (io.BytesIO(content), "x.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert message in text_of(response.get_data(as_text=True))


def test_a_file_of_more_rows_than_a_batch_is_refused_whole(
    app: Any, cred: int, login: Any, client: Any
) -> None:
    app.config["BATCH_MAX_ITEMS"] = 2
    login()
    rows = [f",1,,License {n},N-{n},TX,,,,,,,,\n" for n in range(1, 4)]
    at_the_limit = upload(client, HEADER + "".join(rows[:2]))
    assert at_the_limit.status_code == 200
    assert "2 to create" in text_of(at_the_limit.get_data(as_text=True))
    before = counts(app)
    over = upload(client, HEADER + "".join(rows))
    assert over.status_code == 422
    assert "This file has 3 rows; import at most 2." in text_of(over.get_data(as_text=True))
    assert counts(app) == before


def test_viewers_cannot_import(cred: int, login: Any, client: Any) -> None:
    login(role="viewer")
    assert upload(client, CSV).status_code == 403


def test_columns_the_file_lacks_keep_their_stored_values(
    app: Any, cred: int, login: Any, client: Any
) -> None:
    """A file of keys and states changes states only, in the preview and when applied."""
    login()
    preview = upload(client, "providerCredLicense_Key,state\n11,NY\n")
    page = text_of(preview.get_data(as_text=True))
    assert "0 to create · 1 to update" in page
    assert "State: CA → NY" in page
    assert "MD-111 → —" not in page and "Medical license → —" not in page
    assert "Imported" in text_of(
        apply(client, preview.get_data(as_text=True)).get_data(as_text=True)
    )
    with app.app_context(), session_scope("main") as session:
        stored = session.get(ProviderCredLicense, 11)
        assert stored is not None
        assert (stored.state, stored.license_number, stored.license_name) == (
            "NY",
            "MD-111",
            "Medical license",
        )


def test_a_repeated_or_unknown_column_is_named(cred: int, login: Any, client: Any) -> None:
    import html as html_module

    login()
    repeated = upload(client, "providerCredLicense_Key,license_Name,license_Name\n970021,x,y\n")
    assert repeated.status_code == 422
    assert "column 'license_Name' appears 2 times in the header" in html_module.unescape(
        text_of(repeated.get_data(as_text=True))
    )
    unknown = upload(client, "providerCredLicense_Key,license_Name,foo\n970020,x,y\n")
    assert "unknown column" in text_of(unknown.get_data(as_text=True)).lower()


def test_a_key_repeated_in_the_file_says_so(cred: int, login: Any, client: Any) -> None:
    """It said "This key belongs to another license" of a key no license had."""
    login()
    page = text_of(
        upload(client, HEADER_KEYS_NAMES + "888001,A\n888001,B\n").get_data(as_text=True)
    )
    assert page.count("This key is on 2 rows of this file, so none of them is imported") == 2
    assert "belongs to another license" not in page


HEADER_KEYS_NAMES = "providerCredLicense_Key,license_Name\n"


def test_a_state_by_its_name_is_read_as_the_grid_reads_it(
    cred: int, login: Any, client: Any
) -> None:
    """The refusal's own words say a full name is accepted; the import refused every one."""
    login()
    rows = "Texas,A\ndistrict  of columbia,B\n NY ,C\nTexass,D\n"
    page = text_of(upload(client, "state,license_Name\n" + rows).get_data(as_text=True))
    assert "3 to create · 0 to update · 0 unchanged · 1 with errors" in page
    for code in ("State: — → TX", "State: — → DC", "State: — → NY"):
        assert code in page
    assert "State: Enter a state as its 2-letter code or full name" in page


def test_an_unreadable_date_is_answered_with_the_files_date_form(
    cred: int, login: Any, client: Any
) -> None:
    """The message's example was the grid's 03/31/2027 (which the import reads since, as a
    spreadsheet writes it); a day-first date is not read, and answered with the file's form."""
    login()
    page = text_of(
        upload(client, "providerCredLicense_Key,effective_Date\n,31/01/2025\n").get_data(
            as_text=True
        )
    )
    assert "Effective: Enter a real date, e.g. 2027-03-31." in page


def test_a_key_outside_int32_in_a_file_of_some_columns_is_refused_on_its_row(
    cred: int, login: Any, client: Any
) -> None:
    """Reading the stored values of the absent columns put every key in one query: on
    PostgreSQL a key beyond int32 failed it, and the preview was a 500."""
    login()
    response = upload(client, "providerCredLicense_Key,state\n2147483648,TX\n11,NY\n")
    assert response.status_code == 200
    page = text_of(response.get_data(as_text=True))
    assert "State: CA → NY" in page
    assert "0 to create · 1 to update · 0 unchanged · 1 with errors" in page


def test_a_preview_or_result_with_rows_not_imported_says_error_first_in_its_title(
    cred: int, login: Any, client: Any
) -> None:
    """WCAG 3.3.1, as a grid Save with rows not saved: the title is read first."""
    login()
    good = HEADER + ",,1,New from CSV,N-1,TX,,,,,,,,\n"
    assert title_of(upload(client, good)) == "Import licenses into P1 · credgrid"
    preview = upload(client, CSV)
    assert title_of(preview) == "Error: Import licenses into P1 · credgrid"
    result = apply(client, preview.get_data(as_text=True))
    assert "with errors" in text_of(result.get_data(as_text=True))
    assert title_of(result) == "Error: Import licenses into P1 · credgrid"


@pytest.mark.parametrize("empty", ["", ",,"], ids=["cleared rows", "and cleared columns"])
def test_a_spreadsheets_cleared_rows_and_columns_create_nothing(
    app: Any, cred: int, login: Any, client: Any, empty: str
) -> None:
    """A row Excel leaves as commas only (",,") was a keyless row of this grid: the preview
    offered to create an empty license per cleared row, and Apply created them. Empty columns
    that end each line (a column once filled, then cleared) refused the whole file."""
    login()
    saved = (
        f"providerCredLicense_Key,license_Name,term_Date{empty}\r\n"
        f",New from Excel,2028-01-02{empty}\r\n"
        f",,{empty}\r\n"
        f",,{empty}\r\n"
    )
    before = counts(app)
    response = upload(client, saved)
    page = text_of(response.get_data(as_text=True))
    assert "1 to create · 0 to update · 0 unchanged · 0 with errors" in page, page
    assert "Term: — → 01/02/2028" in page
    applied = apply(client, response.get_data(as_text=True))
    assert applied.status_code == 200
    assert counts(app)[0] == before[0] + 1


def test_a_column_in_another_letter_case_is_that_column(
    app: Any, cred: int, login: Any, client: Any
) -> None:
    """ "License_Number" was refused as an unknown column; and once the reader took it, the
    grid's import still counted the column absent and kept the stored number over the file's."""
    login()
    response = upload(client, "ProviderCredLicense_Key,state, License_Number \n11,CA,MD-999\n")
    page = text_of(response.get_data(as_text=True))
    assert "0 to create · 1 to update · 0 unchanged · 0 with errors" in page, page
    assert "Number: MD-111 → MD-999" in page


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
def test_a_file_not_utf8_is_refused_naming_its_first_line_that_is_not(
    app: Any, cred: int, login: Any, client: Any, end: str
) -> None:
    """Excel's plain "CSV" is Windows-1252: the refusal did not say where (a long file's one
    "Café" is hard to find)."""
    login()
    text = f"providerCredLicense_Key,license_Name{end},Plain{end},Café{end}"
    before = counts(app)
    response = client.post(
        URL,
        data={"file": (io.BytesIO(text.encode("cp1252")), "licenses.csv")},
        content_type="multipart/form-data",
    )
    page = text_of(response.get_data(as_text=True))
    assert "This file is not a CSV saved as UTF-8 text (line 3 is not)" in page, page
    assert counts(app) == before


def test_a_file_whose_header_follows_blank_lines_is_read(
    app: Any, cred: int, login: Any, client: Any
) -> None:
    """The grid's import looked for the header on the first line only: a file that starts with
    an empty line or a cleared row (",,") was "no header row", which the CLI imports."""
    login()
    response = upload(client, "\r\n,,\r\nproviderCredLicense_Key,license_Number\r\n11,MD-999\r\n")
    page = text_of(response.get_data(as_text=True))
    assert "0 to create · 1 to update · 0 unchanged · 0 with errors" in page, page


def as_a_browser_posts(value: str) -> str:
    """A hidden input's value as a browser posts it back: the page's parser reads each CR and
    CRLF of the page as LF, and the form's submission sends each LF as CRLF (HTML: "normalize
    newlines"). ``tests/browser/test_browser_grid_import_round_trip.py`` shows it in Chromium."""
    return value.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")


def test_an_export_previewed_unchanged_is_applied_unchanged(
    app: Any, cred: int, login: Any, client: Any, put_licenses: Any
) -> None:
    """A cell's line break reached Apply as the browser sends it: "Line1\\nLine2", "unchanged"
    in the preview, was written as "Line1\\r\\nLine2", a change and a history row. (A lone CR
    and a license number such as 1.5E+10 did not survive the export: tests/test_csv_round_trip.py.)
    """
    put_licenses(
        1,
        {"providerCredLicense_Key": 12, "license_Name": "Line1\nLine2", "license_Number": "N12"},
        {"providerCredLicense_Key": 13, "license_Name": "Line1\r\nLine2", "license_Number": "N"},
        {"providerCredLicense_Key": 14, "license_Name": "Line1\rLine2", "license_Number": "N14"},
        {"providerCredLicense_Key": 15, "license_Number": "1.5E+10", "specialty_Code": "-1E+10"},
    )
    login()
    exported = io.StringIO()
    with app.app_context(), session_scope("main") as session:
        export_licenses(session, exported)
    before = counts(app)
    preview = upload(client, exported.getvalue()).get_data(as_text=True)
    assert "0 to create · 0 to update · 5 unchanged · 0 with errors" in text_of(preview)
    fields = {name: hidden(preview, name) for name in ("csv", "versions", "token")}
    fields["csv"] = as_a_browser_posts(fields["csv"])
    result = client.post(URL + "/apply", data=fields, follow_redirects=True)
    assert "0 created · 0 updated · 5 unchanged" in text_of(result.get_data(as_text=True))
    assert counts(app) == before
    with app.app_context(), session_scope("main") as session:
        names = session.scalars(
            select(ProviderCredLicense.license_name).order_by(
                ProviderCredLicense.provider_cred_license_key
            )
        ).all()
    assert names == ["Medical license", "Line1\nLine2", "Line1\r\nLine2", "Line1\rLine2", None]

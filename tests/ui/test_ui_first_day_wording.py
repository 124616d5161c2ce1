"""A clerk's first day: the grid and history name things as the rest of the UI does.

The grid's cells show dates as mm/dd/yyyy, so the credential's Effective date above them must
too (it showed ``2024-01-01``); the history page's breadcrumb back to the grid named the
credential by its key while the grid and the search name it by its provider ID.
"""

from __future__ import annotations

from typing import Any

from gridpage import text_of


def test_the_grid_header_shows_the_effective_date_as_the_cells_do(
    make_cred: Any, login: Any, open_grid: Any
) -> None:
    make_cred(1)  # effective 2024-01-01
    login()
    page = open_grid(1)
    header = text_of(page.html.split("<dl", 1)[1].split("</dl>", 1)[0])
    assert "Effective 01/01/2024" in header
    assert "2024-01-01" not in header


def test_the_history_breadcrumb_names_the_provider_id_as_the_grid_does(
    make_cred: Any, make_license_type: Any, put_licenses: Any, login: Any, client: Any
) -> None:
    make_license_type(1)
    make_cred(7, provider_id="PRV00007")
    put_licenses(
        7, {"providerCredLicense_Key": 70, "license_Number": "N-1", "credLicenseType_Key": 1}
    )
    login()
    html = client.get("/ui/licenses/70/history").get_data(as_text=True)
    crumbs = html.split('aria-label="Breadcrumb"', 1)[1].split("</nav>", 1)[0]
    assert 'href="/ui/credentials/7/licenses">PRV00007</a>' in crumbs


def test_the_expiring_page_without_a_monitoring_run_tells_staff_what_it_means(
    login: Any, client: Any
) -> None:
    login()
    html = client.get("/ui/licenses/expiring").get_data(as_text=True)
    alert = text_of(html.split('monitoring-status"', 1)[1].split("</p>", 1)[0])
    assert "No expiry monitoring run is on record" in alert
    # A clerk cannot run a server command: say the lists are current and whom to ask.
    assert "The lists below are current" in alert
    assert "ask your administrator" in alert


def test_the_import_page_says_where_a_file_with_the_right_columns_comes_from(
    make_cred: Any, login: Any, client: Any
) -> None:
    make_cred(1)
    login()
    html = client.get("/ui/credentials/1/licenses/import").get_data(as_text=True)
    help_text = html.split('id="import-help"', 1)[1].split("</p>", 1)[0]
    assert "the export command" not in help_text
    assert 'href="/ui/licenses/expiring"' in help_text
    assert "Download CSV" in text_of(help_text)

"""The grid of a large ProviderCred comes in pages; each row says its expiry state in words."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from gridpage import GridPage, text_of

from app.audit import utcnow
from app.ui.expiry import ExpiryClock
from app.ui.grid_expiry import expiry_state


def day(offset: int) -> str:
    return (utcnow() + timedelta(days=offset)).strftime("%Y-%m-%d")


def expiry_cell(html: str, key: int) -> str:
    row = re.search(
        rf'<tr data-row[^>]*>(?:(?!</tr>).)*?value="{key}"(?:(?!</tr>).)*?</tr>', html, re.S
    )
    assert row, key
    cell = re.search(r'<td class="col-expiry">(.*?)</td>', row.group(0), re.S)
    assert cell
    return text_of(cell.group(1))


def test_each_row_states_its_expiry_in_words(
    app: Any, make_cred: Any, put_licenses: Any, login: Any, open_grid: Any
) -> None:
    make_cred(1)
    recent = day(-10)
    put_licenses(
        1,
        {"providerCredLicense_Key": 1, "license_Name": "Gone", "term_Date": day(-3)},
        {"providerCredLicense_Key": 2, "license_Name": "Soon", "term_Date": day(12)},
        {"providerCredLicense_Key": 3, "license_Name": "Later", "term_Date": day(45)},
        {"providerCredLicense_Key": 4, "license_Name": "Later still", "term_Date": day(75)},
        {"providerCredLicense_Key": 5, "license_Name": "Fine", "term_Date": day(400)},
        {"providerCredLicense_Key": 6, "license_Name": "Open-ended", "psV_Date": recent},
        {"providerCredLicense_Key": 7, "license_Name": "Verified", "term_Date": day(12)},
    )
    put_licenses(1, {"providerCredLicense_Key": 7, "license_Name": "V", "psV_Date": recent})
    login()
    html = open_grid(1).html
    assert expiry_cell(html, 1) == "Expired 3 days ago PSV overdue"
    assert expiry_cell(html, 2) == "≤ 30 days (12 days left) PSV overdue"
    assert expiry_cell(html, 3) == "≤ 60 days (45 days left) PSV overdue"
    assert expiry_cell(html, 4) == "≤ 90 days (75 days left) PSV overdue"
    assert expiry_cell(html, 5).startswith("Current (400 days left)")
    assert expiry_cell(html, 6) == "No term date"  # a flag of its own, never "OK"
    assert expiry_cell(html, 7) == "No term date"
    assert '<th scope="col" class="col-expiry">Expiry</th>' in html


def test_viewers_see_the_expiry_state_too(
    make_cred: Any, put_licenses: Any, login: Any, client: Any
) -> None:
    make_cred(1)
    put_licenses(1, {"providerCredLicense_Key": 1, "license_Name": "Gone", "term_Date": day(-1)})
    login(role="viewer")
    html = client.get("/ui/credentials/1/licenses").get_data(as_text=True)
    assert "Expired 1 day ago" in text_of(html)


@pytest.mark.parametrize(
    ("term", "psv", "text", "overdue"),
    [
        (None, None, "No term date", True),
        (datetime(2027, 1, 1), datetime(2026, 11, 1), "Expired 1 day ago", False),
        (datetime(2027, 1, 2, 18), None, "Expired today", True),
        (datetime(2027, 1, 3), None, "≤ 30 days (1 day left)", True),
        (datetime(2027, 1, 31), None, "≤ 30 days (29 days left)", True),
        (datetime(2027, 2, 2), None, "≤ 60 days (31 days left)", True),
        (datetime(2027, 5, 1), None, "Current (119 days left)", True),
    ],
)
def test_expiry_state_rule(
    term: datetime | None, psv: datetime | None, text: str, overdue: bool
) -> None:
    clock = ExpiryClock(datetime(2027, 1, 2, 20, 0), 120)
    state = expiry_state(clock, term, psv)
    assert (state.text, state.psv_overdue) == (text, overdue)


def test_a_large_credential_is_paged(
    app: Any, make_cred: Any, put_licenses: Any, login: Any, open_grid: Any, client: Any
) -> None:
    app.config["GRID_PAGE_SIZE"] = 4
    make_cred(1)
    put_licenses(
        1, *({"providerCredLicense_Key": k, "license_Name": f"L{k}"} for k in range(1, 11))
    )
    login()
    first = open_grid(1)
    assert [first.fields[f"{p}-providerCredLicense_Key"] for p in first.prefixes[:4]] == [
        "1",
        "2",
        "3",
        "4",
    ]
    assert len([p for p in first.prefixes if first.fields[f"{p}-version"]]) == 4
    assert "Licenses 1–4 of 10." in text_of(first.html)
    assert "Page 1 of 3" in text_of(first.html)

    response = client.get("/ui/credentials/1/licenses?page=3")
    last = GridPage(client, 1, response.get_data(as_text=True))
    shown = [
        last.fields[f"{p}-providerCredLicense_Key"]
        for p in last.prefixes
        if last.fields[f"{p}-version"]
    ]
    assert shown == ["9", "10"]
    beyond = client.get("/ui/credentials/1/licenses?page=99").get_data(as_text=True)
    assert "Page 3 of 3" in text_of(beyond)

    # Saving a page stays on that page, and rows of other pages are neither sent nor shown.
    second_html = client.get("/ui/credentials/1/licenses?page=2").get_data(as_text=True)
    assert 'action="/ui/credentials/1/licenses?page=2"' in second_html
    second = GridPage(client, 1, second_html)
    second.set(second.row(6), license_Name="Six")
    posted = client.post("/ui/credentials/1/licenses?page=2", data=second.fields)
    assert posted.status_code == 303
    assert posted.location == "/ui/credentials/1/licenses?page=2"
    after = client.get(posted.location).get_data(as_text=True)
    keys = re.findall(r'data-kind="key" value="(\d+)"', after)
    assert keys == ["5", "6", "7", "8"]


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_the_pager_is_also_after_the_grid(
    app: Any, make_cred: Any, put_licenses: Any, login: Any, client: Any, role: str
) -> None:
    """A keyboard user at Save (or at the end of a viewer's table) reaches the next page
    without going back up past every row."""
    app.config["GRID_PAGE_SIZE"] = 2
    make_cred(1)
    put_licenses(1, *({"providerCredLicense_Key": k} for k in range(1, 6)))
    login(role=role)
    html = client.get("/ui/credentials/1/licenses?page=2").get_data(as_text=True)
    pagers = [m.start() for m in re.finditer(r'<nav class="pager"', html)]
    assert len(pagers) == 2
    table_end = html.rindex("</table>")
    assert pagers[0] < html.index("<table") and pagers[1] > table_end
    after = html[pagers[1] :]
    assert 'aria-label="Pages of licenses, after the grid"' in after
    assert 'href="/ui/credentials/1/licenses?page=3"' in after
    assert 'href="/ui/credentials/1/licenses?page=1"' in after


def test_a_link_to_one_license_opens_the_page_that_shows_it(
    app: Any, make_cred: Any, put_licenses: Any, login: Any, client: Any
) -> None:
    """The worklist links to ``?license=KEY``: the grid opens on that license's page."""
    app.config["GRID_PAGE_SIZE"] = 4
    make_cred(1)
    put_licenses(1, *({"providerCredLicense_Key": k} for k in (2, 4, 6, 8, 10, 12, 14, 16, 18)))
    login()

    def shown(query: str) -> list[str]:
        html = client.get(f"/ui/credentials/1/licenses?{query}").get_data(as_text=True)
        return re.findall(r'data-kind="key" value="(\d+)"', html)

    assert shown("license=12") == ["10", "12", "14", "16"]
    assert shown("license=18") == ["18"]
    assert shown("license=8") == ["2", "4", "6", "8"]
    assert shown("license=9") == ["10", "12", "14", "16"]  # where it would be
    assert shown("license=12&page=1") == ["2", "4", "6", "8"]  # an explicit page wins
    assert shown("license=x") == ["2", "4", "6", "8"]


def test_a_link_to_a_license_of_any_int32_key_opens_its_page(
    app: Any, make_cred: Any, put_licenses: Any, login: Any, client: Any
) -> None:
    """Keys are any int32: a negative key or one of ten digits was not read as a key, and its
    link opened the first page, without the license."""
    app.config["GRID_PAGE_SIZE"] = 2
    make_cred(1)
    keys = (-2147483648, -100, -7, 0, 1, 5, 1_000_000_000, 2147483647)
    put_licenses(1, *({"providerCredLicense_Key": k} for k in keys))
    login()

    def shown(query: str) -> list[str]:
        html = client.get(f"/ui/credentials/1/licenses?{query}").get_data(as_text=True)
        return re.findall(r'data-kind="key" value="(-?\d+)"', html)

    assert shown("license=-2147483648") == ["-2147483648", "-100"]
    assert shown("license=-7") == ["-7", "0"]
    assert shown("license=0") == ["-7", "0"]
    assert shown("license=1000000000") == ["1000000000", "2147483647"]
    assert shown("license=2147483648") == ["-2147483648", "-100"]  # no key: the first page


def test_rows_added_meanwhile_show_only_on_their_page(
    app: Any, make_cred: Any, put_licenses: Any, login: Any, open_grid: Any
) -> None:
    app.config["GRID_PAGE_SIZE"] = 3
    make_cred(1)
    put_licenses(1, *({"providerCredLicense_Key": k, "license_Name": f"L{k}"} for k in (1, 2, 9)))
    login()
    page = open_grid(1)
    put_licenses(1, {"providerCredLicense_Key": 20, "license_Name": "Far away"}, actor="bob")
    page.set(page.row(2), license_Name="Two")
    page.set(page.row(9), license_Name="X" * 600)  # fails, so the grid is rendered directly
    html = page.save().get_data(as_text=True)
    assert "Far away" not in html  # key 20 is on page 2 now


def test_rows_a_save_puts_on_another_page_are_not_reported_deleted(
    app: Any, make_cred: Any, put_licenses: Any, login: Any, open_grid: Any
) -> None:
    """New rows whose keys sort after a full page are on the next page after the Save: the
    summary counts them as created and links them, never as deleted."""
    app.config["GRID_PAGE_SIZE"] = 3
    make_cred(1)
    put_licenses(1, *({"providerCredLicense_Key": k, "license_Name": f"L{k}"} for k in (1, 2)))
    login()
    page = open_grid(1)
    for number, prefix in enumerate(page.blank_rows()[:3], start=1):
        page.set(prefix, license_Name=f"New {number}", state="TX")
    page.tick(page.row(2), "delete")
    html = page.save().get_data(as_text=True)
    text = text_of(html)
    assert "3 created · 1 deleted." in text
    deleted = re.search(r"Deleted:(.*?)\.", text)
    assert deleted and deleted.group(1).strip() == "license 2 ( History of license 2 )"
    elsewhere = re.search(r"On other pages of this grid:(.*?)\.", text)
    assert elsewhere and re.fullmatch(r"license \d+ \(created\)", elsewhere.group(1).strip())
    moved = re.search(r"On other pages of this grid: license (\d+)", text)
    assert moved and f'href="/ui/credentials/1/licenses?license={moved.group(1)}"' in html


def test_a_row_a_save_could_not_write_keeps_its_stored_expiry_state(
    make_cred: Any, put_licenses: Any, login: Any, open_grid: Any
) -> None:
    """A row given back in error (or in conflict) said "No term date" in its Expiry cell,
    whatever its license's term date, also in the answer to a reload of that Save: that cell
    tells the stored license's state, as on the rows around it and on the expiring list."""
    make_cred(1)
    put_licenses(
        1,
        {"providerCredLicense_Key": 1, "license_Name": "Soon", "term_Date": day(12)},
        {"providerCredLicense_Key": 2, "license_Name": "Gone", "term_Date": day(-3)},
    )
    login()
    page = open_grid(1)
    page.set(page.row(1), state="ZZ")
    page.set(page.row(2), license_Name="Renamed")
    response = page.save(follow_redirects=False)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert expiry_cell(html, 1) == "≤ 30 days (12 days left) PSV overdue"
    assert expiry_cell(html, 2) == "Expired 3 days ago PSV overdue"  # saved: as before
    again = page.save(follow_redirects=False)  # a reload of that answer: shown from the page
    assert again.status_code == 422
    assert "nothing was written again" in text_of(again.get_data(as_text=True))
    assert expiry_cell(again.get_data(as_text=True), 1) == "≤ 30 days (12 days left) PSV overdue"

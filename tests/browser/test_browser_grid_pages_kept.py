"""In Chromium: edits kept for one page of a large grid while the clerk works on another are
not forgotten: every page of the grid says which pages hold changes not saved, and closing the
tab (which drops what the tab keeps) asks first."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser_support import NOTICE, stored_names

ELSEWHERE = ".kept-elsewhere"


@pytest.fixture
def paged_grid(app: Any, make_cred: Any, put_licenses: Any, logged_in: Any) -> Any:
    """ProviderCred 1 with licenses 20 to 25, three to a page; the page is on page 1."""
    app.config["GRID_PAGE_SIZE"] = 3
    make_cred(1)
    put_licenses(
        1, *({"providerCredLicense_Key": k, "license_Name": f"L{k}"} for k in range(20, 26))
    )
    page = logged_in()
    page.goto("/ui/credentials/1/licenses")
    return page


def test_changes_kept_for_another_page_are_named_and_leaving_the_tab_asks(
    app: Any, paged_grid: Any
) -> None:
    page = paged_grid
    dialogs: list[str] = []

    def leave(dialog: Any) -> None:
        dialogs.append(dialog.type)
        dialog.accept()

    page.on("dialog", leave)
    page.get_by_label("License name, license 20").fill("Edited on page 1")
    page.get_by_label("License name, license 20").click()
    page.get_by_role("link", name="Next →").first.click()  # "leave the page?": yes, kept
    page.wait_for_url("**/licenses?page=2")
    assert dialogs == ["beforeunload"]
    page.get_by_label("License name, license 23").fill("Edited on page 2")
    page.locator("#save").click()
    expect(page.locator("#save-summary")).to_contain_text("1 updated")

    note = page.locator(ELSEWHERE)
    expect(note).to_contain_text("not saved yet on page 1 of this grid")
    page.locator("#rows-0-license_Name").click()  # Chromium asks only after a user gesture
    page.close(run_before_unload=True)  # the tab's keeping goes with it: asked first
    page.wait_for_event("close")
    assert dialogs == ["beforeunload", "beforeunload"]


def test_the_note_leads_to_the_page_that_offers_them_back(app: Any, paged_grid: Any) -> None:
    page = paged_grid
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_label("License name, license 20").fill("Edited on page 1")
    page.goto("/ui/credentials/1/licenses?page=2")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.type))
    page.locator(ELSEWHERE).get_by_role("link", name="page 1").click()
    page.wait_for_url("**/ui/credentials/1/licenses")
    assert dialogs == []  # going where the changes are kept does not ask
    page.get_by_role("button", name="Put my changes back").click()
    expect(page.locator(ELSEWHERE)).to_have_count(0)
    page.locator("#save").click()
    expect(page.locator("#save-summary")).to_contain_text("1 updated")
    assert stored_names(app)[20] == "Edited on page 1"


def test_changes_kept_for_a_page_that_no_longer_exists_are_offered_on_the_last_one(
    app: Any, paged_grid: Any
) -> None:
    """Licenses deleted meanwhile leave the grid a page shorter: page 2 is served as page 1,
    where the changes kept for page 2 were never asked for."""
    from app.licenses.service import delete_licenses
    from app.tenancy import session_scope

    page = paged_grid
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto("/ui/credentials/1/licenses?page=2")
    page.get_by_label("License name, license 23").fill("Edited on page 2")
    page.goto("/ui/credentials/1/licenses")
    with app.app_context(), session_scope("main") as session:
        delete_licenses(session, 1, [20, 21, 22], actor="bob", activity_id="browser-test")

    page.goto("/ui/credentials/1/licenses?page=2")  # one page now: page 1
    expect(page.locator(NOTICE)).to_contain_text("You changed 1 row(s) here")
    expect(page.locator(ELSEWHERE)).to_have_count(0)
    page.get_by_role("button", name="Put my changes back").click()
    page.locator("#save").click()
    expect(page.locator("#save-summary")).to_contain_text("1 updated")
    assert stored_names(app)[23] == "Edited on page 2"


def test_a_link_opened_in_another_tab_does_not_stop_closing_this_one_from_asking(
    app: Any, paged_grid: Any
) -> None:
    """Ctrl+click on the note's link opens that page in a new tab and leaves this one: closing
    this tab afterwards drops what it keeps for page 1, so it must still ask. The click had
    marked the tab as leaving within the grid, and closing it asked nothing."""
    page = paged_grid
    dialogs: list[str] = []

    def leave(dialog: Any) -> None:
        dialogs.append(dialog.type)
        dialog.accept()

    page.on("dialog", leave)
    page.get_by_label("License name, license 20").fill("Edited on page 1")
    page.goto("/ui/credentials/1/licenses?page=2")
    assert dialogs == ["beforeunload"]
    with page.context.expect_page():
        page.locator(ELSEWHERE).get_by_role("link", name="page 1").click(modifiers=["Control"])
    page.close(run_before_unload=True)
    page.wait_for_event("close")
    assert dialogs == ["beforeunload", "beforeunload"]

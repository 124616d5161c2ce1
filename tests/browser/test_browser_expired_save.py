"""In Chromium, with CSRF protection on as in production: a grid Save refused because the
session ended in another tab says what to do in this tab, and its link leads back to the grid,
which offers what was typed."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD
from tests.browser_support import NOTICE


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "WTF_CSRF_ENABLED": True}


def test_the_refused_save_leads_back_to_the_grid_that_offers_the_rows(
    app: Any,
    grid: Any,
) -> None:
    """The page a Save gets after a log-out in another tab says what to do in this tab, and
    its link (through the login) reaches the grid, which offers the rows back."""
    page = grid
    page.locator("#rows-0-license_Name").fill("Typed by me")
    other_tab = page.context.new_page()
    other_tab.goto("/ui/credentials")
    other_tab.get_by_role("button", name="Log out").click()
    other_tab.wait_for_url("**/ui/login**")
    other_tab.close()
    page.locator("#save").click()
    page.wait_for_load_state()
    expect(page.locator("main")).to_contain_text("Nothing you typed is lost either")
    page.get_by_role("link", name="Open the grid again").click()
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Database").select_option("main")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/ui/credentials/1/licenses")
    expect(page.locator(NOTICE)).to_contain_text("Changes to 1 row(s)")
    page.get_by_role("button", name="Put my changes back").click()
    assert page.locator("#rows-0-license_Name").input_value() == "Typed by me"

"""In Chromium: a Save interrupted after part of it was written (its deletions committed, then
the database failed) loses nothing typed. The tab cannot know which of its rows were written,
so the grid offers back the changes to stored licenses (their versions make a change already
written save as unchanged, never twice) and, apart, the new rows (which may have been created)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser_support import NOTICE, stored_names


@pytest.fixture
def grid(make_cred: Any, put_licenses: Any, logged_in: Any) -> Any:
    """The grid of ProviderCred 1 (licenses 11 and 12) in a logged-in page, errors as pages."""
    make_cred(1)
    put_licenses(
        1,
        {"providerCredLicense_Key": 11, "license_Name": "Eleven"},
        {"providerCredLicense_Key": 12, "license_Name": "Twelve"},
    )
    page = logged_in()
    page.goto("/ui/credentials/1/licenses")
    return page


@pytest.fixture
def writes_fail_after_the_deletions(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Save's deletions are committed; then its creates and updates fail."""
    from app.ui import grid_save

    def fail(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(grid_save, "upsert_assigning_keys", fail)
    app.config["PROPAGATE_EXCEPTIONS"] = False


def interrupted_save(page: Any, app: Any) -> None:
    page.get_by_label("Delete license 11").check()
    page.get_by_label("License name, license 12").fill("Twelve, edited")
    page.get_by_label("License name, new row 3").fill("A new one")
    page.get_by_label("State, new row 3").fill("TX")
    page.locator("#save").click()
    expect(page.locator("h1")).to_have_text("Something went wrong")
    assert stored_names(app) == {12: "Twelve"}  # the deletion went through, nothing else


def test_an_interrupted_saves_changes_are_offered_back_new_rows_apart(
    app: Any, grid: Any, writes_fail_after_the_deletions: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = grid
    interrupted_save(page, app)
    monkeypatch.undo()
    page.get_by_role("link", name="open the grid again").click()
    expect(page.locator(NOTICE).first).to_contain_text("was interrupted")
    expect(page.locator(NOTICE).last).to_contain_text("Its 1 new row(s) may have been created")
    page.get_by_role("button", name="Put my changes back").click()
    expect(page.get_by_label("License name, license 12")).to_have_value("Twelve, edited")
    # The new row waits for its own answer: it may have been created.
    assert page.get_by_label("License name, new row 2").input_value() == ""
    page.get_by_role("button", name="Put the new rows back").click()
    expect(page.get_by_label("License name, new row 2")).to_have_value("A new one")
    expect(page.get_by_label("State, new row 2")).to_have_value("TX")
    page.locator("#save").click()
    expect(page.locator("#save-summary")).to_contain_text("1 created · 1 updated")
    assert sorted(stored_names(app).values()) == ["A new one", "Twelve, edited"]


def test_an_interrupted_saves_new_rows_can_be_discarded_apart(
    app: Any, grid: Any, writes_fail_after_the_deletions: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = grid
    interrupted_save(page, app)
    monkeypatch.undo()
    page.goto("/ui/credentials/1/licenses")
    page.get_by_role("button", name="Put my changes back").click()
    page.get_by_role("button", name="Discard the new rows").click()
    expect(page.locator(NOTICE)).to_have_count(0)
    page.locator("#save").click()
    expect(page.locator("#save-summary")).to_contain_text("1 updated")
    assert stored_names(app) == {12: "Twelve, edited"}
    page.goto("/ui/credentials/1/licenses")
    page.wait_for_load_state("networkidle")
    assert page.locator(NOTICE).count() == 0

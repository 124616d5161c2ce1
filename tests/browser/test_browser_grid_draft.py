"""In Chromium: a Save that never reaches the grid (the session ended meanwhile) loses nothing:
the grid offers the rows back the next time it is opened."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD
from tests.browser_support import NOTICE, stored_names


def save_after_the_session_ended(page: Any) -> None:
    """The session ends while the user types; then they press Save."""
    page.context.clear_cookies()
    page.locator("#save").click()
    page.wait_for_load_state()


def log_in_again(page: Any, database: str = "main") -> None:
    page.goto("/ui/login")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Database").select_option(database)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/ui/credentials")


def test_a_save_lost_to_an_ended_session_is_offered_back(app: Any, grid: Any) -> None:
    page = grid
    page.locator("#rows-0-license_Name").fill("Typed by me")
    page.locator("#rows-1-license_Name").fill("A new one")
    page.locator("#rows-1-state").fill("TX")

    save_after_the_session_ended(page)
    assert stored_names(app) == {11: "Stored"}  # nothing reached the database

    log_in_again(page)
    page.goto("/ui/credentials/1/licenses")
    expect(page.locator(NOTICE)).to_contain_text("Changes to 2 row(s)")
    page.get_by_role("button", name="Put my changes back").click()
    assert page.locator(NOTICE).count() == 0
    assert page.locator("#rows-0-license_Name").input_value() == "Typed by me"
    assert page.locator("#rows-1-state").input_value() == "TX"
    page.locator("#save").click()
    page.wait_for_load_state()
    names = stored_names(app)
    assert names[11] == "Typed by me" and "A new one" in names.values()

    page.goto("/ui/credentials/1/licenses")  # saved: nothing more is offered
    page.wait_for_load_state("networkidle")  # the draft check has answered
    assert page.locator(NOTICE).count() == 0


def test_a_save_made_while_a_draft_is_offered_keeps_the_drafts_rows(app: Any, grid: Any) -> None:
    """The draft's offer is left unanswered and another row is saved: the draft's rows are
    not overwritten by that Save's; the grid it answers with offers them back."""
    page = grid
    page.locator("#rows-0-license_Name").fill("Typed in a lost Save")
    save_after_the_session_ended(page)
    log_in_again(page)
    page.goto("/ui/credentials/1/licenses")
    expect(page.locator(NOTICE)).to_contain_text("Changes to 1 row(s)")
    page.locator("#rows-1-license_Name").fill("Saved while the draft waited")
    page.locator("#rows-1-state").fill("TX")
    page.locator("#save").click()
    expect(page.locator("#save-summary")).to_contain_text("1 created")
    assert stored_names(app)[11] == "Stored"

    expect(page.locator(NOTICE)).to_contain_text("You changed 1 row(s) here")
    page.get_by_role("button", name="Put my changes back").click()
    assert page.locator("#rows-0-license_Name").input_value() == "Typed in a lost Save"
    page.locator("#save").click()
    expect(page.locator("#save-summary")).to_contain_text("1 updated")
    assert stored_names(app)[11] == "Typed in a lost Save"


def test_a_draft_can_be_discarded(app: Any, grid: Any) -> None:
    page = grid
    page.locator("#rows-0-license_Name").fill("Typed by me")
    save_after_the_session_ended(page)
    log_in_again(page)
    page.goto("/ui/credentials/1/licenses")
    page.get_by_role("button", name="Discard them").click()
    expect(page.locator(NOTICE)).to_have_count(0)
    assert page.locator("#rows-0-license_Name").input_value() == "Stored"
    page.reload()
    assert page.locator(NOTICE).count() == 0


def test_a_save_that_reached_the_server_is_not_written_twice_from_its_draft(
    app: Any, make_cred: Any, logged_in: Any
) -> None:
    """The answer is lost on the way back (the server did save): the grid asks the server what
    became of that Save and says it was saved, instead of offering rows that would be created
    a second time."""
    make_cred(1)
    page = logged_in()
    page.goto("/ui/credentials/1/licenses")
    page.locator("#rows-0-license_Name").fill("Keyless")
    page.locator("#rows-0-state").fill("TX")

    def lose_the_answer(route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        route.fetch()  # the server receives the Save and commits it...
        route.abort()  # ...and the browser never sees the answer

    page.route("**/ui/credentials/1/licenses", lose_the_answer)
    page.locator("#save").click()
    page.wait_for_timeout(300)
    page.unroute("**/ui/credentials/1/licenses")
    assert list(stored_names(app).values()) == ["Keyless"]

    page.goto("/ui/credentials/1/licenses")
    expect(page.locator(NOTICE)).to_contain_text("did reach the server and was saved")
    assert page.get_by_role("button", name="Put my changes back").count() == 0
    page.get_by_role("button", name="OK").click()
    page.reload()
    page.wait_for_load_state("networkidle")  # the draft check has answered
    assert page.locator(NOTICE).count() == 0  # said once, then forgotten
    assert list(stored_names(app).values()) == ["Keyless"]


def test_a_draft_is_only_offered_to_its_database_and_user(
    app: Any, make_cred: Any, make_user: Any, put_licenses: Any, logged_in: Any
) -> None:
    make_cred(1)
    make_cred(1, database="other")
    put_licenses(1, {"providerCredLicense_Key": 11, "license_Name": "Stored"})
    make_user("alice", PASSWORD, database="other")
    page = logged_in()
    page.goto("/ui/credentials/1/licenses")
    page.locator("#rows-0-license_Name").fill("Typed in main")
    save_after_the_session_ended(page)

    log_in_again(page, "other")  # the same tab, the other database: the same credential key
    page.goto("/ui/credentials/1/licenses")
    page.wait_for_load_state("networkidle")  # the draft check has answered
    assert page.locator(NOTICE).count() == 0


def test_edits_not_yet_saved_survive_a_reload(app: Any, grid: Any) -> None:
    page = grid
    page.on("dialog", lambda dialog: dialog.accept())  # "leave the page?": yes
    page.locator("#rows-1-license_Name").fill("Typed, not saved")
    page.locator("#rows-1-state").fill("TX")
    page.reload()
    expect(page.locator(NOTICE)).to_contain_text("You changed 1 row(s) here")
    page.get_by_role("button", name="Put my changes back").click()
    assert page.locator("#rows-1-license_Name").input_value() == "Typed, not saved"
    page.locator("#save").click()
    page.wait_for_load_state()
    assert "Typed, not saved" in stored_names(app).values()
    page.goto("/ui/credentials/1/licenses")  # saved: nothing more is offered
    page.wait_for_load_state("networkidle")
    assert page.locator(NOTICE).count() == 0


def test_rows_a_save_could_not_write_are_kept_when_the_page_is_left(app: Any, grid: Any) -> None:
    page = grid
    page.locator("#rows-1-license_Number").fill("KEEPME-1")
    page.locator("#rows-1-effective_Date").fill("01/01/2026")
    page.locator("#rows-1-term_Date").fill("01/01/2025")  # before the effective date: refused
    page.locator("#save").click()
    expect(page.locator("#save-summary")).to_contain_text("1 row not saved")
    dialogs: list[str] = []

    def leave(dialog: Any) -> None:
        dialogs.append(dialog.type)
        dialog.accept()

    page.on("dialog", leave)
    # Away from the grid by its link, the refused row still unsaved. (Chromium asks before
    # leaving only a page the user has interacted with: a click on a cell, then the link.)
    page.locator("#rows-1-license_Number").click()
    page.get_by_role("link", name="Provider credentials").first.click()
    page.wait_for_url("**/ui/credentials")
    assert dialogs == ["beforeunload"]  # leaving warned
    page.goto("/ui/credentials/1/licenses")
    expect(page.locator(NOTICE)).to_contain_text("You changed 1 row(s) here")
    page.get_by_role("button", name="Put my changes back").click()
    assert page.locator("#rows-1-license_Number").input_value() == "KEEPME-1"
    assert page.locator("#rows-1-term_Date").input_value() == "01/01/2025"
    assert "KEEPME-1" not in str(stored_names(app))


def test_edits_made_while_an_offer_waits_are_kept_too(app: Any, grid: Any) -> None:
    page = grid
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator("#rows-0-license_Name").fill("First edit")
    page.reload()
    expect(page.locator(NOTICE)).to_contain_text("You changed 1 row(s) here")
    page.locator("#rows-1-license_Name").fill("Typed while the offer waited")
    page.locator("#rows-1-state").fill("TX")
    page.reload()  # the offer was not answered
    expect(page.locator(NOTICE)).to_contain_text("You changed 2 row(s) here")
    page.get_by_role("button", name="Put my changes back").click()
    assert page.locator("#rows-0-license_Name").input_value() == "First edit"
    assert page.locator("#rows-1-license_Name").input_value() == "Typed while the offer waited"


def test_a_save_made_while_an_offer_waits_keeps_the_offered_rows(app: Any, grid: Any) -> None:
    """The offer is left unanswered and another row is edited and saved: the offered row is
    neither sent nor forgotten; the grid the Save answers with offers it again."""
    page = grid
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator("#rows-0-license_Name").fill("First edit")
    page.reload()
    expect(page.locator(NOTICE)).to_contain_text("You changed 1 row(s) here")
    page.locator("#rows-1-license_Name").fill("Saved while the offer waited")
    page.locator("#rows-1-state").fill("TX")
    page.locator("#save").click()
    expect(page.locator("#save-summary")).to_contain_text("1 created")
    assert set(stored_names(app).values()) == {"Stored", "Saved while the offer waited"}

    expect(page.locator(NOTICE)).to_contain_text("You changed 1 row(s) here")
    page.get_by_role("button", name="Put my changes back").click()
    assert page.locator("#rows-0-license_Name").input_value() == "First edit"
    page.locator("#save").click()
    expect(page.locator("#save-summary")).to_contain_text("1 updated")
    assert stored_names(app)[11] == "First edit"
    page.goto("/ui/credentials/1/licenses")  # saved: nothing more is offered
    page.wait_for_load_state("networkidle")
    assert page.locator(NOTICE).count() == 0


@pytest.mark.parametrize(("choice", "kept"), [("My values", "Mine"), ("Their values", "Theirs")])
def test_a_conflict_choice_survives_a_reload(
    app: Any, grid: Any, put_licenses: Any, choice: str, kept: str
) -> None:
    """A reopened page shows no conflict (only a Save's answer does): the row comes back as
    the choice makes it, and the next Save writes it without asking again."""
    page = grid
    page.on("dialog", lambda dialog: dialog.accept())
    put_licenses(1, {"providerCredLicense_Key": 11, "license_Name": "Theirs"})
    page.get_by_label("License name, license 11").fill("Mine")
    page.get_by_label("Number, license 11").fill("N-1")  # a cell only I changed
    page.locator("#save").click()
    expect(page.locator("#save-summary")).to_contain_text("1 row not saved")
    page.get_by_label(re.compile("^" + choice)).check()

    page.goto("/ui/credentials/1/licenses")
    expect(page.locator(NOTICE)).to_contain_text("You changed 1 row(s) here")
    page.get_by_role("button", name="Put my changes back").click()
    expect(page.get_by_label("License name, license 11")).to_have_value(kept)
    expect(page.get_by_label("Number, license 11")).to_have_value("N-1")
    page.locator("#save").click()
    expect(page.locator("#save-summary")).to_contain_text("1 updated")
    assert stored_names(app) == {11: kept}


def test_a_reloaded_answer_shows_the_row_in_error_once(app: Any, grid: Any) -> None:
    """Reloading the grid a Save answered with (a row in error) sends that Save again, which
    writes nothing and shows the row as typed; the tab, which kept it too, does not offer it
    a second time (put back, it filled another blank row)."""
    page = grid
    page.on("dialog", lambda dialog: dialog.accept())  # reload: leave, and send the form again
    page.get_by_label("License name, new row 2").fill("Bad")
    page.get_by_label("State, new row 2").fill("ZZ")
    page.locator("#save").click()
    expect(page.locator("#save-summary")).to_contain_text("1 row not saved")
    page.reload()
    expect(page.locator("main")).to_contain_text("This Save was processed before")
    expect(page.locator("#save-summary")).to_contain_text("1 row not saved")
    page.wait_for_load_state("networkidle")
    assert page.locator(NOTICE).count() == 0
    names = page.locator('input[id$="-license_Name"]')
    assert [names.nth(i).input_value() for i in range(names.count())].count("Bad") == 1

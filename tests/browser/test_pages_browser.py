"""Every page in Chromium with the demo data: it renders, every control has a label, and the
login error does not say which of username or password was wrong."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from app.demo.seed import seed_demo_data
from app.tenancy import session_scope

UNLABELLED_CONTROLS = """() => Array.from(
        document.querySelectorAll("input, select, textarea, button"))
    .filter(el => el.type !== "hidden" && !el.closest("template"))
    .filter(el => el.tagName === "BUTTON" ? !el.textContent.trim() : el.labels.length === 0)
    .map(el => el.outerHTML)"""


@pytest.fixture
def demo(app: Any) -> None:
    with app.app_context(), session_scope("main") as session:
        seed_demo_data(session, providers=30)


def test_login_error_is_the_same_for_a_wrong_user_or_password(
    new_page: Any, make_user: Any, screenshot: Any, axe_clean: Any
) -> None:
    make_user("alice", "correct horse")
    page = new_page()
    page.goto("/ui/credentials/1001/licenses")
    expect(page).to_have_url(re.compile(r"/ui/login\?next=/ui/credentials/1001/licenses"))
    messages = []
    for username, password in (("alice", "wrong password"), ("nobody", "correct horse")):
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        messages.append(page.get_by_role("alert").inner_text())
    assert (
        messages[0] == messages[1] == ("The username or password is not correct for this database.")
    )
    assert page.evaluate(UNLABELLED_CONTROLS) == []
    screenshot(page, "login-error")
    axe_clean(page, "the login page with an error")


def test_the_login_form_is_sent_once(new_page: Any) -> None:
    """A second submission of the login form (a double-click) while the first is on its way is
    cancelled in the page: the server would refuse it while the first login is checked."""
    page = new_page()
    page.goto("/ui/login")
    prevented = page.evaluate(
        """() => {
            const form = document.querySelector("form[data-submit-once]");
            const send = () => {
                const event = new Event("submit", {cancelable: true});
                form.dispatchEvent(event);
                return event.defaultPrevented;
            };
            return [send(), send()];
        }"""
    )
    assert prevented == [False, True]


def test_pages_render_with_labels_at_1280px(
    demo: None, logged_in: Any, screenshot: Any, axe_clean: Any
) -> None:
    page = logged_in()
    expect(page.get_by_role("heading", name="Provider credentials")).to_be_visible()
    expect(page.locator("table.data tbody tr")).to_have_count(25)  # one page
    expect(page.locator(".flag-expired").first).to_be_visible()
    assert page.evaluate(UNLABELLED_CONTROLS) == []
    screenshot(page, "credentials")
    axe_clean(page, "credentials")

    page.get_by_label("Provider ID, credential key or license number").fill("prv0102")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("table.data tbody tr")).to_have_count(10)  # PRV01020 … PRV01029
    page.get_by_role("link", name="PRV01021").click()
    expect(page.get_by_role("heading", name="Licenses of PRV01021")).to_be_visible()
    assert page.evaluate(UNLABELLED_CONTROLS) == []
    no_overflow = page.evaluate(
        "() => document.querySelector('.grid-scroll').scrollWidth"
        " <= document.querySelector('.grid-scroll').clientWidth"
    )
    assert no_overflow, "the grid needs a horizontal scrollbar at 1280 px"
    screenshot(page, "grid-demo")
    axe_clean(page, "grid-demo")

    page.get_by_role("link", name="History").first.click()
    expect(page.get_by_role("heading", name=re.compile("^History"))).to_be_visible()
    expect(page.locator(".history-entry").first).to_contain_text("Created")
    expect(page.locator(".history-entry").first).to_contain_text("seed")
    screenshot(page, "history")
    axe_clean(page, "history")

    page.get_by_role("link", name="Expiring licenses").click()
    expect(page.get_by_role("link", name=re.compile("^Expired"))).to_have_attribute(
        "aria-current", "page"
    )
    page.get_by_role("link", name=re.compile("^Within 30 days")).click()
    expect(page.locator("table.data tbody tr").first).to_contain_text("≤ 30 d")
    screenshot(page, "expiring")
    axe_clean(page, "expiring")


def test_keyboard_focus_is_visible(logged_in: Any, demo: None) -> None:
    page = logged_in()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    page.goto("/ui/credentials/1001/licenses")
    page.locator('[data-col="2"]').first.focus()
    width = page.evaluate("() => getComputedStyle(document.activeElement).outlineWidth")
    assert width == "3px"

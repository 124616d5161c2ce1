"""Browser tests: Playwright for Python driving Debian's Chromium, never a downloaded browser.

Without /usr/bin/chromium they are skipped, unless ``CREDGRID_REQUIRE_BROWSER=1`` (CI sets it):
then they fail. The app is served from a thread by werkzeug; each test gets fresh databases
(the ``app`` fixture) and closes its browser contexts. Select them with ``-m browser`` or by
path (``tests/browser``); screenshots go to ``tests/artifacts/`` (git-ignored).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from werkzeug.serving import make_server

from app.auth import passwords

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
PASSWORD = "correct horse"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives Debian's Chromium through Playwright")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.browser)


def browser_unavailable(reason: str) -> None:
    if os.environ.get("CREDGRID_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and CREDGRID_REQUIRE_BROWSER=1 requires the browser tests to run")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        browser_unavailable(f"{CHROMIUM} is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        browser_unavailable("Playwright for Python is not installed")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 with minimal cost: these tests are about pages, not hashing."""
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))


@pytest.fixture
def live_server(app: Any) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def new_page(browser: Any, live_server: str) -> Iterator[Callable[..., Any]]:
    """``new_page()``: a page in a fresh browser context (its own cookies), 1280 px wide."""
    contexts: list[Any] = []

    def _new() -> Any:
        context = browser.new_context(
            base_url=live_server, viewport={"width": 1280, "height": 800}, locale="en-US"
        )
        context.set_default_timeout(5000)
        contexts.append(context)
        return context.new_page()

    yield _new
    for context in contexts:
        context.close()


@pytest.fixture
def logged_in(new_page: Callable[..., Any], make_user: Callable[..., str]) -> Callable[..., Any]:
    """``logged_in("alice")``: a page of a new context, logged in through the login form."""

    def _login(username: str = "alice", role: str = "editor", database: str = "main") -> Any:
        make_user(username, PASSWORD, role=role, database=database)
        page = new_page()
        page.goto("/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_label("Database").select_option(database)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/ui/credentials")
        return page

    return _login


@pytest.fixture
def screenshot() -> Callable[[Any, str], Path]:
    def _shot(page: Any, name: str, full_page: bool = False) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return _shot


@pytest.fixture
def put_licenses(app: Any) -> Callable[..., None]:
    """Write licenses through the service, as another user or the API would."""
    from app.licenses.service import upsert_licenses
    from app.tenancy import session_scope

    def _put(provider_cred_key: int, *items: dict[str, Any], actor: str = "bob") -> None:
        full = [{"providerCred_Key": provider_cred_key, **item} for item in items]
        with app.app_context(), session_scope("main") as session:
            outcomes = upsert_licenses(
                session, provider_cred_key, full, actor=actor, activity_id="browser-test"
            )
        assert all(o.ok for o in outcomes), outcomes

    return _put


@pytest.fixture
def axe_clean() -> Callable[[Any, str], None]:
    """``axe_clean(page, "what is shown")``: axe-core (shipped by axe-playwright-python) finds
    no violation on the page as it is now."""
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        browser_unavailable("axe-playwright-python is not installed")
    axe = Axe()

    def _check(page: Any, state: str) -> None:
        results = axe.run(page)
        if results.violations_count:
            found = [
                f"{v['id']}: {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
                for v in results.response["violations"]
            ]
            pytest.fail(f"axe-core violations on {state}: " + "; ".join(found))

    return _check


@pytest.fixture
def grid(make_cred: Any, put_licenses: Any, logged_in: Any) -> Any:
    """A logged-in page on the grid of ProviderCred 1, which holds license 11 ("Stored")."""
    make_cred(1)
    put_licenses(1, {"providerCredLicense_Key": 11, "license_Name": "Stored"})
    page = logged_in()
    page.goto("/ui/credentials/1/licenses")
    return page

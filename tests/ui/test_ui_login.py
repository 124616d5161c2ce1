"""Logging in and out of the staff UI; every other page needs a logged-in user."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from gridpage import text_of
from sqlalchemy import delete

from app.auth.models import StaffUser
from app.auth.throttle import EXTENSION_KEY, Attempt
from app.auth.users import set_disabled, set_password, set_role
from tests.test_healthz import closed_port

CREDENTIALS = {"username": "alice", "password": "correct horse", "database": "main"}
LOGIN_FAILED = "The username or password is not correct for this database."


@pytest.fixture
def alice(make_user: Any) -> str:
    return make_user("alice", "correct horse")


def test_root_redirects_to_the_ui(client: Any) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response.location == "/ui/"
    assert client.get("/ui/").location == "/ui/login?next=/ui/"


@pytest.mark.parametrize(
    "path",
    [
        "/ui/",
        "/ui/credentials",
        "/ui/credentials?q=P1",
        "/ui/credentials/1/licenses",
        "/ui/licenses/expiring",
        "/ui/licenses/5/history",
    ],
)
def test_every_page_needs_a_login(client: Any, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response.location.startswith("/ui/login?next=")
    assert "PRV" not in response.get_data(as_text=True)


def test_an_anonymous_save_writes_nothing(client: Any, make_cred: Any, session_for: Any) -> None:
    from app.licenses.models import ProviderCredLicense

    make_cred(1)
    response = client.post(
        "/ui/credentials/1/licenses",
        data={"rows-0-providerCredLicense_Key": "5", "rows-0-license_Name": "x"},
    )
    assert response.status_code == 302
    # After logging in, back to the grid (where the rows sent are offered back), as a GET.
    assert response.location == "/ui/login?next=/ui/credentials/1/licenses"
    with session_for() as session:
        assert session.query(ProviderCredLicense).count() == 0
    logout = client.post("/ui/logout")  # any other POST: back to nothing in particular
    assert logout.status_code == 302 and "next=" not in logout.location


def test_login_page_offers_the_configured_databases(client: Any) -> None:
    html = client.get("/ui/login").get_data(as_text=True)
    assert '<option value="main">main</option>' in html
    assert '<option value="other">other</option>' in html
    assert 'autocomplete="current-password"' in html
    assert '<label for="username">Username</label>' in html


def test_login_then_back_to_the_page_asked_for(alice: str, client: Any) -> None:
    response = client.post("/ui/login?next=/ui/licenses/expiring", data=CREDENTIALS)
    assert response.status_code == 302
    assert response.location == "/ui/licenses/expiring"
    page = client.get("/ui/credentials").get_data(as_text=True)
    assert "alice" in page and "Database <strong>main</strong>" in page


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example/", "//evil.example/ui/", "/api/x", "/ui\\@evil", "javascript:alert(1)"],
)
def test_login_never_redirects_off_the_ui(alice: str, client: Any, next_url: str) -> None:
    response = client.post("/ui/login", query_string={"next": next_url}, data=CREDENTIALS)
    assert response.location == "/ui/credentials"


@pytest.mark.parametrize("next_url", ["/ui/\r\nX-Injected: 1", "/ui/credentials\n", "/ui/\x00"])
def test_a_next_with_a_control_character_is_not_followed(
    alice: str, client: Any, next_url: str
) -> None:
    """A CR or LF cannot be sent in a Location header: such a ``next`` made the redirect after
    a successful login (or a signed-in visit to the login page) fail with a 500."""
    response = client.post("/ui/login", query_string={"next": next_url}, data=CREDENTIALS)
    assert response.status_code == 302 and response.location == "/ui/credentials"
    again = client.get("/ui/login", query_string={"next": next_url})
    assert again.status_code == 302 and again.location == "/ui/credentials"


def test_a_page_path_with_a_newline_is_not_carried_to_the_login(client: Any) -> None:
    response = client.get("/ui/saves/a%0Ab")
    assert response.status_code == 302 and response.location == "/ui/login"


def test_session_cookie_is_httponly_and_samesite_lax_and_secure_over_https(
    alice: str, app: Any
) -> None:
    plain = app.test_client().post("/ui/login", data=CREDENTIALS)
    cookie = plain.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie
    secure = app.test_client().post(
        "/ui/login", data=CREDENTIALS, base_url="https://credgrid.example"
    )
    assert "Secure" in secure.headers["Set-Cookie"]


@pytest.mark.parametrize(
    "form",
    [
        {**CREDENTIALS, "password": "wrong password"},
        {**CREDENTIALS, "username": "mallory"},
        {**CREDENTIALS, "database": "other"},  # alice exists only in "main"
    ],
    ids=["wrong-password", "unknown-user", "user-of-another-database"],
)
def test_a_failed_login_never_says_what_was_wrong(
    alice: str, client: Any, form: dict[str, str]
) -> None:
    response = client.post("/ui/login", data=form)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert LOGIN_FAILED in html
    assert "Log out" not in html
    assert client.get("/ui/credentials").status_code == 302


def test_an_unconfigured_database_is_refused(alice: str, client: Any) -> None:
    response = client.post("/ui/login", data={**CREDENTIALS, "database": "../../etc/passwd"})
    assert response.status_code == 400
    assert "choose a database" in text_of(response.get_data(as_text=True))
    assert client.get("/ui/credentials").status_code == 302


def test_logout_is_a_post_and_ends_the_session(alice: str, client: Any) -> None:
    client.post("/ui/login", data=CREDENTIALS)
    assert client.get("/ui/logout").status_code == 405
    assert client.get("/ui/credentials").status_code == 200
    response = client.post("/ui/logout")
    assert response.status_code == 302 and response.location == "/ui/login"
    assert "You have logged out." in client.get("/ui/login").get_data(as_text=True)
    assert client.get("/ui/credentials").status_code == 302


def test_a_deleted_user_is_logged_out(alice: str, client: Any, session_for: Any) -> None:
    client.post("/ui/login", data=CREDENTIALS)
    with session_for() as session:
        session.execute(delete(StaffUser))
        session.commit()
    assert client.get("/ui/credentials").status_code == 302


def test_a_database_removed_from_the_configuration_ends_the_session(
    alice: str, app: Any, client: Any
) -> None:
    client.post("/ui/login", data=CREDENTIALS)
    with client.session_transaction() as cookie:
        cookie["staff_database"] = "gone"
    assert client.get("/ui/credentials").status_code == 302


# ---------------------------------------------------------------------------------------------
# Repeated failures


def let_the_waits_pass(app: Any, username: str = "alice") -> None:
    """What time does to the throttle: the account's and the address's waits expire."""
    throttle = app.extensions[EXTENSION_KEY]
    attempt = Attempt("main", username, "127.0.0.1")
    for key in (attempt.account_key(), attempt.address_key()):
        throttle.counters.clear(f"{key}:wait")


@pytest.fixture
def throttled(app: Any) -> Any:
    throttle = app.extensions[EXTENSION_KEY]
    throttle.base_delay, throttle.max_delay, throttle.address_free_failures = 2.0, 60.0, 100
    return throttle


def test_repeated_failures_make_the_user_wait(
    alice: str, app: Any, client: Any, throttled: Any
) -> None:
    wrong = {**CREDENTIALS, "password": "wrong password"}
    assert LOGIN_FAILED in client.post("/ui/login", data=wrong).get_data(as_text=True)

    # Within the 2 s after one failure even the right password is not checked.
    refused = client.post("/ui/login", data=CREDENTIALS)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "2"  # what the page says
    assert "Too many failed attempts. Try again in 2 seconds." in refused.get_data(as_text=True)

    let_the_waits_pass(app)
    assert client.post("/ui/login", data=wrong).status_code == 200  # second failure
    refused = client.post("/ui/login", data=CREDENTIALS)
    assert "Try again in 4 seconds." in refused.get_data(as_text=True)
    let_the_waits_pass(app)
    assert client.post("/ui/login", data=CREDENTIALS).status_code == 302
    assert client.post("/ui/logout").status_code == 302

    # Success cleared the slate: one new failure costs 2 s again, not 8.
    client.post("/ui/login", data=wrong)
    assert "Try again in 2 seconds." in client.post("/ui/login", data=CREDENTIALS).get_data(
        as_text=True
    )


def test_a_login_while_the_same_account_is_being_checked_says_so(
    alice: str, app: Any, client: Any, throttled: Any
) -> None:
    """A second click on Log in, once the account has a recent failure, is refused while the
    first is checked: the page says that, not "too many failed attempts"."""
    wrong = {**CREDENTIALS, "password": "wrong password"}
    client.post("/ui/login", data=wrong)
    let_the_waits_pass(app)
    attempt = Attempt("main", "alice", "127.0.0.1")
    checking = f"{attempt.account_key()}:checking"
    throttled.counters.incr(checking, 10)  # the first click's check, in progress
    refused = client.post("/ui/login", data=CREDENTIALS)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    page = refused.get_data(as_text=True)
    assert "Another login to this account is being checked. Try again in a second." in page
    assert "Too many failed" not in page
    throttled.counters.clear(checking)
    assert client.post("/ui/login", data=CREDENTIALS).status_code == 302


def test_the_wait_is_per_username_and_does_not_reveal_existence(
    alice: str, make_user: Any, client: Any, throttled: Any
) -> None:
    make_user("bob", "correct horse")
    client.post("/ui/login", data={**CREDENTIALS, "username": "nobody", "password": "x" * 9})
    locked = client.post("/ui/login", data={**CREDENTIALS, "username": "nobody"})
    assert locked.status_code == 429  # same answer as for an existing user
    client.post("/ui/login", data={**CREDENTIALS, "username": "ALICE", "password": "x" * 9})
    assert client.post("/ui/login", data=CREDENTIALS).status_code == 429  # case-insensitive
    bob = client.post("/ui/login", data={**CREDENTIALS, "username": "bob"})
    assert bob.status_code == 302


def test_the_account_wait_is_capped(alice: str, app: Any, client: Any, throttled: Any) -> None:
    """However many failures, the real user waits at most the stated maximum."""
    throttled.max_delay = 5.0
    for _ in range(12):
        client.post("/ui/login", data={**CREDENTIALS, "password": "wrong password"})
        let_the_waits_pass(app)
    client.post("/ui/login", data={**CREDENTIALS, "password": "wrong password"})
    refused = client.post("/ui/login", data=CREDENTIALS)
    assert "Try again in 5 seconds." in refused.get_data(as_text=True)


# ---------------------------------------------------------------------------------------------
# Sessions that end


def test_logout_ends_a_copied_session_cookie(alice: str, app: Any, client: Any) -> None:
    client.post("/ui/login", data=CREDENTIALS)
    copy = app.test_client()
    with client.session_transaction() as original, copy.session_transaction() as stolen:
        stolen.update(dict(original))
    assert copy.get("/ui/credentials").status_code == 200
    client.post("/ui/logout")
    assert copy.get("/ui/credentials").status_code == 302


def test_logout_ends_every_session_of_the_user(alice: str, app: Any, client: Any) -> None:
    other_browser = app.test_client()
    client.post("/ui/login", data=CREDENTIALS)
    other_browser.post("/ui/login", data=CREDENTIALS)
    client.post("/ui/logout")
    assert other_browser.get("/ui/credentials").status_code == 302


def test_a_disabled_user_cannot_log_in_with_the_right_password(
    alice: str, client: Any, session_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Refused at the check itself, like a wrong password: not let in for one redirect, and
    not logged as a login that succeeded."""
    with session_for() as session:
        set_disabled(session, "alice", True)
        session.commit()
    caplog.set_level(logging.INFO, logger="credgrid")
    response = client.post("/ui/login", data=CREDENTIALS)
    assert response.status_code == 200
    assert LOGIN_FAILED in response.get_data(as_text=True)
    assert client.get("/ui/credentials").status_code == 302
    assert not any("login succeeded" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(
    "change",
    [
        lambda s: set_role(s, "alice", "viewer"),
        lambda s: set_password(s, "alice", "a new password"),
        lambda s: set_disabled(s, "alice", True),
    ],
    ids=["role", "password", "disable"],
)
def test_a_user_change_ends_their_sessions(
    alice: str, client: Any, session_for: Any, change: Any
) -> None:
    client.post("/ui/login", data=CREDENTIALS)
    with session_for() as session:
        change(session)
        session.commit()
    assert client.get("/ui/credentials").status_code == 302


def test_a_session_ends_at_its_absolute_lifetime_however_active(
    alice: str, app: Any, client: Any
) -> None:
    client.post("/ui/login", data=CREDENTIALS)
    assert client.get("/ui/credentials").status_code == 200
    lifetime = int(app.permanent_session_lifetime.total_seconds())
    with client.session_transaction() as cookie:
        cookie["staff_login_at"] -= lifetime - 60  # logged in 11 h 59 min ago
    response = client.get("/ui/credentials")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers  # activity does not extend it
    with client.session_transaction() as cookie:
        cookie["staff_login_at"] -= 61
    assert client.get("/ui/credentials").status_code == 302


def test_login_starts_a_fresh_session(alice: str, client: Any) -> None:
    with client.session_transaction() as cookie:
        cookie["planted"] = "by an attacker"
        cookie["sid"] = "chosen by an attacker"
    client.post("/ui/login", data=CREDENTIALS)
    with client.session_transaction() as cookie:
        after = dict(cookie)
    assert "planted" not in after
    assert after["sid"] != "chosen by an attacker" and len(after["sid"]) >= 20


def test_a_database_that_cannot_be_reached_is_named_on_the_login_form(
    fresh_app: Any, app_config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Not the error page, which lost the username and said only "the database": the form
    again, with the username and the database kept, naming the one that is down."""
    down = f"postgresql://postgres@127.0.0.1:{closed_port()}/nowhere"
    application = fresh_app(DATABASES={**app_config["DATABASES"], "down": down})
    client = application.test_client()
    response = client.post(
        "/ui/login", data={"username": "carol", "password": "secret", "database": "down"}
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(
        application.config["DATABASE_RETRY_AFTER_SECONDS"]
    )
    html = response.get_data(as_text=True)
    assert "The database down cannot be reached just now" in text_of(html)
    assert 'value="carol"' in html
    assert '<option selected value="down">' in html
    # The same one warning line as any request answered 503 for its database (app.errors).
    warnings = [r.getMessage() for r in caplog.records if r.name == "credgrid.errors"]
    assert len(warnings) == 1
    assert " database unavailable on POST /ui/login: " in warnings[0]

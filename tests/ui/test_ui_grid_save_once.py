"""A grid Save is written once: its id (served with the grid, or made by the page's script)
sent again writes nothing (a draft offered back after its Save did reach the server, a reloaded
answer, a replayed request)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from gridpage import GridPage, text_of
from sqlalchemy import func, select

from app.licenses.models import ProviderCredLicense
from app.tenancy import session_scope
from tests.api_support import seed_editor_and_cred
from tests.fault_support import answer_store_fails, app_losing_a_commit

SAVE_ID = "0123456789abcdef0123456789abcdef"
SAVE_ID_SHAPE = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def cred(make_cred: Any) -> int:
    make_cred(1)
    return 1


def keyless_row(page: Any, save_id: str) -> Any:
    """``page`` with a new row of no key typed in, to be saved under ``save_id``."""
    page.set(page.blank_rows()[0], license_Name="Keyless", state="TX")
    page.fields["save_id"] = save_id
    return page


def named(app: Any, name: str) -> int:
    with app.app_context(), session_scope("main") as session:
        query = select(func.count()).where(ProviderCredLicense.license_name == name)
        return session.scalar(query) or 0


def test_a_save_sent_again_with_its_id_writes_nothing(
    app: Any, cred: int, login: Any, open_grid: Any
) -> None:
    login()
    page = keyless_row(open_grid(cred), SAVE_ID)
    first = page.save()
    assert first.status_code == 200 and named(app, "Keyless") == 1
    again = page.save()  # the same Save once more: its keyless row would get a second key
    assert again.status_code == 200
    assert "This Save was processed before, so nothing was written again." in text_of(
        again.get_data(as_text=True)
    )
    assert named(app, "Keyless") == 1


def test_each_save_of_its_own_and_a_page_without_script_still_saves(
    app: Any, cred: int, login: Any, open_grid: Any
) -> None:
    login()
    for save_id in ("", "not-an-id", SAVE_ID.replace("0", "f")):
        page = keyless_row(open_grid(cred), save_id)
        assert page.save().status_code == 200
    assert named(app, "Keyless") == 3


def test_another_user_can_use_the_same_id(
    app: Any, cred: int, login: Any, open_grid: Any, client: Any
) -> None:
    """Ids are claimed per user: one person's Save never blocks another's."""
    login()
    page = keyless_row(open_grid(cred), SAVE_ID)
    page.save()
    client.post("/ui/logout")
    login(username="bob")
    page = keyless_row(open_grid(cred), SAVE_ID)
    page.save()
    assert named(app, "Keyless") == 2


def state(client: Any, save_id: str = SAVE_ID) -> str:
    response = client.get(f"/ui/saves/{save_id}")
    assert response.status_code == 200
    return str(response.get_json()["state"])


def test_the_grid_can_ask_what_became_of_a_save(
    app: Any, cred: int, login: Any, open_grid: Any, client: Any
) -> None:
    login()
    assert state(client) == "unknown"
    assert state(client, "not-an-id") == "unknown"
    page = keyless_row(open_grid(cred), SAVE_ID)
    page.save()
    assert state(client) == "done"
    client.post("/ui/logout")
    login(username="bob")
    assert state(client) == "unknown"  # another user's Save is not Bob's to know


def failing_save(monkeypatch: pytest.MonkeyPatch, app: Any, commit_first: bool) -> None:
    """The grid's save fails, after committing something or before."""
    from app.ui import views

    real = views.save_grid

    def save_grid(session: Any, *args: Any, **kwargs: Any) -> Any:
        if commit_first:
            real(session, *args, **kwargs)
        raise RuntimeError("the database went away")

    monkeypatch.setattr(views, "save_grid", save_grid)
    app.config["PROPAGATE_EXCEPTIONS"] = False


def test_a_save_that_failed_before_writing_can_be_sent_again(
    app: Any, cred: int, login: Any, open_grid: Any, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    login()
    page = keyless_row(open_grid(cred), SAVE_ID)
    failing_save(monkeypatch, app, commit_first=False)
    assert page.save().status_code == 500
    assert state(client) == "unknown"  # its claim was given up
    monkeypatch.undo()
    assert page.save().status_code == 200
    assert named(app, "Keyless") == 1


def test_a_save_interrupted_after_writing_is_never_run_again(
    app: Any, cred: int, login: Any, open_grid: Any, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    login()
    page = keyless_row(open_grid(cred), SAVE_ID)
    failing_save(monkeypatch, app, commit_first=True)
    assert page.save().status_code == 500
    assert named(app, "Keyless") == 1
    assert state(client) == "interrupted"
    monkeypatch.undo()
    again = page.save()
    assert again.status_code == 409
    assert "If this message comes back, the Save was interrupted" in text_of(
        again.get_data(as_text=True)
    )
    assert named(app, "Keyless") == 1  # not created a second time


def test_a_save_answered_with_rows_in_error_and_posted_again_writes_nothing_more(
    app: Any, cred: int, login: Any, open_grid: Any
) -> None:
    """Without the page's script: a Save with a row in error is answered with the grid (422),
    not a redirect, so reloading that answer posts the same form again. Its new row was
    created under a second key; the grid as served carries a Save id of its own."""
    login()
    page = open_grid(cred)
    new, bad = page.blank_rows()[:2]
    page.set(new, license_Name="Keyless", state="TX").set(bad, license_Name="Bad", state="ZZ")
    assert page.save().status_code == 422
    assert named(app, "Keyless") == 1
    again = page.save()  # the browser's reload of that answer
    assert "This Save was processed before, so nothing was written again." in text_of(
        again.get_data(as_text=True)
    )
    assert named(app, "Keyless") == 1


def test_each_serving_of_the_grid_carries_a_save_id_of_its_own(
    cred: int, login: Any, open_grid: Any
) -> None:
    """A Save from the grid it answered with (its row in error fixed) is a new Save."""
    login()
    page = open_grid(cred)
    page.set(page.blank_rows()[0], license_Name="Bad", state="ZZ")
    answer = page.save()
    assert answer.status_code == 422
    fixed = GridPage(page.client, cred, answer.get_data(as_text=True))
    assert SAVE_ID_SHAPE.fullmatch(page.fields["save_id"])
    assert SAVE_ID_SHAPE.fullmatch(fixed.fields["save_id"])
    assert fixed.fields["save_id"] != page.fields["save_id"]
    (row,) = [p for p in fixed.blank_rows() if fixed.fields[f"{p}-license_Name"] == "Bad"]
    assert fixed.set(row, state="TX").save().status_code == 200


def test_a_reloaded_answer_shows_the_rows_its_save_could_not_write_as_typed(
    app: Any, cred: int, login: Any, open_grid: Any
) -> None:
    """Without the page's script nothing but the page kept the row in error: the Save sent
    again by a reload writes nothing, and answers with that row as typed, to be saved."""
    login()
    page = open_grid(cred)
    new, bad = page.blank_rows()[:2]
    page.set(new, license_Name="Keyless", state="TX").set(bad, license_Name="Bad", state="ZZ")
    assert page.save().status_code == 422
    again = page.save()  # the browser's reload of that answer
    assert again.status_code == 422
    html = again.get_data(as_text=True)
    assert "This Save was processed before, so nothing was written again." in text_of(html)
    assert "That Save could not write this row" in text_of(html)
    shown = GridPage(page.client, cred, html)
    (row,) = [p for p in shown.blank_rows() if shown.fields[f"{p}-license_Name"] == "Bad"]
    assert shown.fields[f"{row}-state"] == "ZZ"
    assert named(app, "Keyless") == 1
    assert shown.set(row, state="TX").save().status_code == 200
    assert (named(app, "Keyless"), named(app, "Bad")) == (1, 1)


def test_a_page_shown_again_by_back_and_changed_keeps_what_was_typed(
    app: Any, cred: int, login: Any, open_grid: Any
) -> None:
    """Without the page's script, Back shows the saved page again with its Save id, the
    person changes it and saves: nothing is written (the id was saved before), and what they
    typed comes back as typed, to be saved, except the new rows that first Save created
    (saving those again would create them twice). It was refused and redirected to the stored
    grid: every change typed after Back was lost."""
    login()
    page = open_grid(cred)
    new, bad = page.blank_rows()[:2]
    page.set(new, license_Name="Keyless", state="TX").set(bad, license_Name="Bad", state="ZZ")
    assert page.save().status_code == 422
    page.set(bad, license_Name="Changed after", state="TX")
    again = page.save()
    assert again.status_code == 422
    html = again.get_data(as_text=True)
    assert "This page had been saved before you came back to it, so nothing was written." in (
        text_of(html)
    )
    assert "That Save could not write this row" not in text_of(html)
    assert (named(app, "Keyless"), named(app, "Changed after")) == (1, 0)
    shown = GridPage(page.client, cred, html)
    typed = [p for p in shown.blank_rows() if shown.fields[f"{p}-license_Name"]]
    assert [shown.fields[f"{p}-license_Name"] for p in typed] == ["Changed after"]
    assert shown.save().status_code == 200
    assert (named(app, "Keyless"), named(app, "Changed after")) == (1, 1)


def test_a_stored_license_changed_after_back_is_kept_as_typed_and_saved_safely(
    app: Any, cred: int, login: Any, open_grid: Any
) -> None:
    """A change to a stored license typed after Back comes back as typed; saved, it meets the
    first Save's own change of that license as a conflict, never overwrites it unseen."""
    login()
    page = open_grid(cred)
    (new,) = page.blank_rows()[:1]
    page.set(new, license_Name="First", state="TX")
    assert page.save(follow_redirects=False).status_code == 303
    served = open_grid(cred)
    (stored,) = [p for p in served.prefixes if served.fields[f"{p}-license_Name"] == "First"]
    served.set(stored, license_Name="Second")
    assert served.save(follow_redirects=False).status_code == 303
    served.set(stored, license_Name="Third")  # Back to the page saved, changed again
    again = served.save()
    assert again.status_code == 422
    html = again.get_data(as_text=True)
    assert "Not saved: this page had been saved before you came back to it." in text_of(html)
    assert (named(app, "Second"), named(app, "Third")) == (1, 0)
    shown = GridPage(page.client, cred, html)
    (row,) = [p for p in shown.prefixes if shown.fields[f"{p}-license_Name"] == "Third"]
    conflict = shown.save()  # the row was changed (to Second) since its version was loaded
    assert conflict.status_code == 422
    assert (named(app, "Second"), named(app, "Third")) == (1, 0)
    asked = GridPage(page.client, cred, conflict.get_data(as_text=True))
    (mine,) = [p for p in asked.prefixes if asked.fields[f"{p}-license_Name"] == "Third"]
    assert asked.set(mine, resolve="mine").save().status_code == 200
    assert (named(app, "Second"), named(app, "Third")) == (0, 1)


def test_a_save_sent_while_it_is_being_written_says_to_reload_and_the_reload_shows_it(
    app: Any, cred: int, login: Any, open_grid: Any
) -> None:
    """A double click on Save without the script: the second sending finds the first still
    being written. It writes nothing and is answered in place (not redirected), so that a
    reload, once the first is done, shows what became of it."""
    from app.ui.save_once import claim_save, form_digest, run_once

    login()
    page = open_grid(cred)
    new, bad = page.blank_rows()[:2]
    page.set(new, license_Name="Keyless", state="TX").set(bad, license_Name="Bad", state="ZZ")
    with app.app_context(), session_scope("main") as session:
        first = claim_save(session, "alice", page.fields["save_id"])  # being written
    second = page.save()
    assert second.status_code == 409
    assert "This Save is still being written, or was interrupted" in text_of(
        second.get_data(as_text=True)
    )
    assert named(app, "Keyless") == 0

    with app.app_context(), session_scope("main") as session:
        # The first one ends (here: writing nothing), its form's digest kept as the view keeps it.
        run_once(session, first, lambda: [], digest=form_digest(page.fields.items()))
    assert "This Save was processed before" in text_of(page.save().get_data(as_text=True))


def test_a_save_whose_commit_answer_was_lost_is_never_run_again(
    app_config: dict[str, Any], backend: str, database_urls: dict[str, str]
) -> None:
    """PostgreSQL committed the Save's rows and the connection was lost before the answer
    came back. Its claim was given up as if nothing had been written: the Save was then
    "unknown", so the page's script offered its rows back as never processed, and a reload
    (or that offer) created its keyless row a second time. It must stay interrupted."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL's connection")
    with app_losing_a_commit(app_config, database_urls["main"]) as (application, proxy):
        application.config["PROPAGATE_EXCEPTIONS"] = False
        seed_editor_and_cred(application, "main", "alice")
        client = application.test_client()
        form = {"username": "alice", "password": "correct horse", "database": "main"}
        assert client.post("/ui/login", data=form).status_code == 302
        served = client.get("/ui/credentials/1/licenses").get_data(as_text=True)
        page = keyless_row(GridPage(client, 1, served), SAVE_ID)
        proxy.armed = True
        lost = page.save()
        assert proxy.cut and lost.status_code == 503
        assert "so they may have been saved. Open the grid again" in text_of(
            lost.get_data(as_text=True)
        )
        assert named(application, "Keyless") == 1  # PostgreSQL did commit
        assert state(client) == "interrupted"
        again = page.save()  # a reload of that answer
        assert again.status_code == 409
        assert named(application, "Keyless") == 1  # not created a second time


def test_a_save_whose_outcome_could_not_be_stored_is_answered_and_never_run_again(
    app: Any, backend: str, cred: int, login: Any, open_grid: Any, client: Any
) -> None:
    """The Save's rows were committed, then storing that it was done lost its connection, on a
    fresh one too. It was answered 503, "nothing was changed by this request", though its row
    was written. It is answered with what it wrote; sent again, it writes nothing."""
    login()
    page = keyless_row(open_grid(cred), SAVE_ID)
    with answer_store_fails(app, backend, times=2) as failed:
        answer = page.save()
    assert len(failed) == 2
    assert answer.status_code == 200
    assert "nothing was changed" not in text_of(answer.get_data(as_text=True))
    assert named(app, "Keyless") == 1
    assert page.save().status_code == 409  # its claim stays: never run a second time
    assert named(app, "Keyless") == 1


def test_a_save_with_a_refused_row_whose_outcome_could_not_be_stored_shows_its_page(
    app: Any, backend: str, cred: int, login: Any, open_grid: Any
) -> None:
    """As above, with a row the Save refused: its page is shown again (422, the row as typed),
    read on a session the failed store left usable, not a 500 or 503 after the rows were
    written."""
    login()
    page = keyless_row(open_grid(cred), SAVE_ID)
    page.set(page.blank_rows()[1], license_Name="Refused", term_Date="02/30/2027")
    with answer_store_fails(app, backend, times=2) as failed:
        answer = page.save()
    assert len(failed) == 2
    assert answer.status_code == 422, answer.status_code
    assert "02/30/2027" in answer.get_data(as_text=True)
    assert named(app, "Keyless") == 1
    assert named(app, "Refused") == 0

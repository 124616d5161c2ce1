"""A grid Save is written at most once, whatever the browser sends again.

Each Save carries an id (``save_id``). The grid is served with one of its own
(:func:`new_save_id`), so that a browser reloading the answer to a Save (a grid with rows in
error, or one whose report is too large for the redirect) posts it again under the same id,
with or without the page's script; the script makes a new one for each Save it sends. The id
is claimed in the idempotency store (the database: every worker and host sees it) before
anything is written:

- done: the Save's rows were written and the claim says so; the same id again writes nothing;
- interrupted: it failed after something was committed (the service commits its deletes, its
  writes and its merges apart); the same id again writes nothing either, since rows without a
  key would be created a second time under new keys;
- a Save that failed before committing anything gives its claim up.

A tab keeps the rows of a Save whose answer never came back (``static/ui/grid.js``) and asks
:func:`save_state` what became of it before offering them back: a Save the server never
processed is offered again, under a new id; of an interrupted one, the changes to stored
licenses (their versions make one already written come back Unchanged) and, apart, the new
rows, which may have been created already.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from flask import g
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.db_errors import (
    UNAVAILABLE_ERRORS,
    commit_outcome_unknown,
    error_class,
    rollback_quietly,
)
from app.idempotency.store import (
    RETENTION,
    STAFF_UI_SCOPE_ID,
    Claim,
    KeyBusy,
    KeyReused,
    KeyScope,
    StoredAnswer,
    claim_key,
    release_key,
    store_answer,
    stored_record,
)

T = TypeVar("T")
log = logging.getLogger("credgrid.idempotency")

#: What the page's script makes: 128 random bits as hex.
SAVE_ID = re.compile(r"[0-9a-f]{32}")
#: A claim is never taken over while it lasts: an interrupted Save is not run again.
LEASE = RETENTION
ALREADY_SAVED = (
    "This Save was processed before, so nothing was written again. The grid shows what is "
    "stored now, with any row that Save could not write as you typed it."
)
#: The page shown again by Back, changed and saved: its Save id is the one saved before.
SAVED_BEFORE = (
    "This page had been saved before you came back to it, so nothing was written. The grid "
    "shows what is stored now, with the rows you changed as you typed them: check them, then "
    "Save."
)
#: Running and interrupted cannot be told apart (a lease is never taken over), so the answer
#: is given in place, not by a redirect: a reload sends the Save again, and once it is done
#: that shows what it did (a double click on Save without the page's script).
NOT_DONE = (
    "This Save is still being written, or was interrupted; nothing was written again. Reload "
    "this page in a moment to see what became of it (a reload writes nothing more). If this "
    "message comes back, the Save was interrupted and may have been written in part: check "
    "the grid, then make any change that is missing."
)
DONE, UNFINISHED, UNKNOWN = "done", "interrupted", "unknown"


def new_save_id() -> str:
    """An id for the Saves of one serving of the grid."""
    return secrets.token_hex(16)


class SaveRefused(Exception):
    """The Save's id was claimed before: nothing is written (``str``: what to tell).

    ``unwritten``: the rows of the form that the Save, done before, did not write (the
    indexes its first sending stored), to be shown again as typed; ``done``: ``False`` while
    it runs, or after it was interrupted; ``same_form``: the form is the one sent first (a
    reload), not the page shown again by Back and changed; ``created``: the ``row_digest`` of
    each new row the first sending created."""

    def __init__(
        self,
        message: str,
        unwritten: Sequence[int] = (),
        done: bool = True,
        same_form: bool = True,
        created: Iterable[str] = (),
    ) -> None:
        super().__init__(message)
        self.unwritten = tuple(unwritten)
        self.done = done
        self.same_form = same_form
        self.created = frozenset(created)


def _scope(username: str, save_id: str) -> KeyScope:
    return KeyScope(STAFF_UI_SCOPE_ID, username, f"ui-save:{save_id}")


def form_digest(fields: Iterable[tuple[str, str]]) -> str:
    """What a Save's form held, in short: the same Save sent again holds the same."""
    return hashlib.sha256(json.dumps(sorted(fields)).encode()).hexdigest()


def claim_save(session: Session, username: str, save_id: str, digest: str = "") -> Claim | None:
    """Claim ``save_id`` for this request; ``None`` when the form sent none. ``digest``
    (:func:`form_digest`): a Save done before shows its unwritten rows again only to the same
    form (the page shown again by Back and changed holds other rows under the same indexes)."""
    if not SAVE_ID.fullmatch(save_id):
        return None
    session.rollback()  # end the request's reads: the claim is a write of its own
    try:
        claimed = claim_key(session, _scope(username, save_id), save_id, lease=LEASE)
    except (KeyBusy, KeyReused):  # running, or interrupted (a lease never taken over)
        raise SaveRefused(NOT_DONE, done=False) from None
    if isinstance(claimed, StoredAnswer):
        raise _done_before(claimed.body, digest)
    return claimed


def _done_before(body: str, digest: str) -> SaveRefused:
    """The refusal of a Save done before, from its stored answer (``run_once``'s; empty
    before the answer held anything)."""
    try:
        stored = json.loads(body) if body else {}
    except ValueError:
        stored = {}
    if not isinstance(stored, dict):
        stored = {}
    created = [d for d in stored.get("created", []) if isinstance(d, str)]
    if not digest or stored.get("form") != digest:
        return SaveRefused(SAVED_BEFORE, same_form=False, created=created)
    indexes = stored.get("unwritten", [])
    unwritten = [i for i in indexes if isinstance(i, int) and not isinstance(i, bool)]
    return SaveRefused(ALREADY_SAVED, unwritten, created=created)


def run_once(
    session: Session,
    claim: Claim | None,
    save: Callable[[], T],
    unwritten: Callable[[T], Sequence[int]] = lambda _result: (),
    digest: str = "",
    created: Callable[[T], Sequence[str]] = lambda _result: (),
) -> T:
    """``save()``, then the claim marked done, with ``unwritten(result)``: the rows it did not
    write, which a Save sent again shows again; when it fails, the claim is given up if
    ``save`` committed nothing, else kept (also when its ``COMMIT`` was sent and the answer
    lost): an interrupted Save is never run again. ``digest``: the form's
    (:func:`form_digest`), kept with the answer, as is ``created(result)``: the digests of the
    new rows it created."""
    if claim is None:
        return save()
    with counting_commits(session) as commits:
        try:
            result = save()
        except BaseException as error:
            session.rollback()
            # A COMMIT whose answer was lost (PostgreSQL) may have saved the rows: kept too.
            if not commits and not commit_outcome_unknown(error):
                release_key(session, claim)
            raise
    session.rollback()
    answer = {
        "unwritten": list(unwritten(result)),
        "form": digest,
        "created": list(created(result)),
    }
    try:
        store_answer(session, claim, 200, json.dumps(answer))
    except UNAVAILABLE_ERRORS as error:
        # The rows are written: answered as such (a 503 would say nothing was). The claim
        # stays unfinished, so the Save sent again is refused as interrupted, never run again.
        log.warning(
            "activity=%s grid Save written but not marked done (%s); sent again, it is "
            "refused as interrupted",
            g.get("activity_id", ""),
            error_class(error),
        )
        rollback_quietly(session)
    return result


@contextmanager
def counting_commits(session: Session) -> Iterator[list[None]]:
    """A list that grows by one at each commit of ``session`` while the block runs."""
    commits: list[None] = []

    def committed(_session: Session) -> None:
        commits.append(None)

    event.listen(session, "after_commit", committed)
    try:
        yield commits
    finally:
        event.remove(session, "after_commit", committed)


def save_state(session: Session, username: str, save_id: str) -> str:
    """What became of this user's Save ``save_id``: done, interrupted, or unknown (never
    processed, or so long ago that its record is gone)."""
    if not SAVE_ID.fullmatch(save_id):
        return UNKNOWN
    record = stored_record(session, _scope(username, save_id))
    if record is None:
        return UNKNOWN
    return DONE if record.status is not None else UNFINISHED

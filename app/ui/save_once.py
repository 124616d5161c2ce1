"""A grid Save is written once, whatever the browser sends again.

Each Save carries an id the page makes (``save_id``). The id is claimed in the idempotency
store (the database: every worker and host sees it) before anything is written, and marked
done after. The same id again (a draft the grid kept and offered back, whose first Save did
reach the server after all; a replayed request) writes nothing: without this, its rows without
a key would be created a second time under new keys.
"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy.orm import Session

from app.idempotency.store import (
    Claim,
    KeyBusy,
    KeyReused,
    KeyScope,
    StoredAnswer,
    claim_key,
    store_answer,
)
from app.ui.grid_import import UI_SCOPE_ID

#: What the page's script makes: 128 random bits as hex.
SAVE_ID = re.compile(r"[0-9a-f]{32}")
#: How long a Save may run before the same id may run again (a Save that died meanwhile).
LEASE = timedelta(minutes=2)
ALREADY_SAVED = "These changes were saved already; nothing was written again."
BEING_SAVED = "These changes are being saved right now; open the grid again in a minute."


class SaveRefused(Exception):
    """The Save's id was claimed before: nothing is written (``str``: what to tell)."""


def claim_save(session: Session, username: str, save_id: str) -> Claim | None:
    """Claim ``save_id`` for this request; ``None`` when the page sent none (no script)."""
    if not SAVE_ID.fullmatch(save_id):
        return None
    session.rollback()  # end the request's reads: the claim is a write of its own
    scope = KeyScope(UI_SCOPE_ID, username, f"ui-save:{save_id}")
    try:
        claimed = claim_key(session, scope, save_id, lease=LEASE)
    except KeyBusy:
        raise SaveRefused(BEING_SAVED) from None
    except KeyReused:  # the fingerprint is the id itself: never, unless forged
        raise SaveRefused(BEING_SAVED) from None
    if isinstance(claimed, StoredAnswer):
        raise SaveRefused(ALREADY_SAVED)
    return claimed


def finish_save(session: Session, claim: Claim | None) -> None:
    """Mark the Save done: its id never writes again."""
    if claim is not None:
        session.rollback()
        store_answer(session, claim, 200, "")

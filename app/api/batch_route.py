"""A batch route's request and answer (SPEC section 4), the same for every entity: a JSON
array of at most ``BATCH_MAX_ITEMS`` items, the ``atomic`` and ``dryRun`` flags, an optional
``Idempotency-Key``, and a 207 with one result per item, in request order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app

from app.api.envelope import json_response
from app.api.idempotency import respond_idempotently
from app.api.requests import authenticate_writer, flag, json_array_body
from app.batch.outcome import ItemOutcome


@dataclass(frozen=True)
class BatchRequest:
    """What a batch route hands its entity's upsert service."""

    items: list[Any]
    actor: str
    atomic: bool
    dry_run: bool


def answer_batch(
    key_field: str, write: Callable[[BatchRequest], Sequence[ItemOutcome]]
) -> Response:
    """Authenticate a writer, read the batch, ``write`` it (once per Idempotency-Key) and
    answer 207 with each item's result under ``key_field``, with its changes on a dry run."""
    principal = authenticate_writer()
    batch = BatchRequest(
        items=json_array_body(current_app.config["BATCH_MAX_ITEMS"]),
        actor=principal.username,
        atomic=flag("atomic"),
        dry_run=flag("dryRun"),
    )

    def apply() -> Response:
        outcomes = write(batch)
        return json_response(
            [o.to_wire(key_field, with_changes=batch.dry_run) for o in outcomes], 207
        )

    return respond_idempotently(principal, apply)

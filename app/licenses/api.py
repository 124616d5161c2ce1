"""VBAPI license routes: the batch upsert (SPEC section 4)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g

from app.api.envelope import ApiError, json_response
from app.api.requests import authenticate_writer, db_session, flag, json_array_body
from app.batch.outcome import ParentNotFound
from app.idempotency.guard import idempotency
from app.licenses.schemas import KEY_FIELD
from app.licenses.service import upsert_licenses

bp = Blueprint("licenses_api", __name__)


def unknown_provider_cred(key: int) -> ApiError:
    return ApiError(404, f"No provider credential {key} in this database.")


@bp.put("/provider-credentialing/<int32:provider_cred_key>/licenses-batch")
def put_licenses_batch(provider_cred_key: int) -> Response:
    """Create or update many licenses; 207 with one result per item, in request order."""
    principal = authenticate_writer()
    items = json_array_body(current_app.config["BATCH_MAX_ITEMS"])
    atomic, dry_run = flag("atomic"), flag("dryRun")
    with idempotency(principal) as idempotent:
        if idempotent.replay is not None:
            return idempotent.replay
        try:
            outcomes = upsert_licenses(
                db_session(),
                provider_cred_key,
                items,
                actor=principal.username,
                activity_id=g.activity_id,
                atomic=atomic,
                dry_run=dry_run,
            )
        except ParentNotFound:
            raise unknown_provider_cred(provider_cred_key) from None
        data = [o.to_wire(KEY_FIELD, with_changes=dry_run) for o in outcomes]
        response = json_response(data, status=207)
        idempotent.remember(response)
        return response

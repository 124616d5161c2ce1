"""VBAPI license-type routes under ``/credentialing-license-types`` (SPEC section 3)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g

from app.api.batch_route import BatchRequest, answer_batch
from app.api.envelope import ApiError, json_response
from app.api.operations import documented
from app.api.paging import fetch_page, page_request, sortable_columns
from app.api.requests import authenticate, authenticate_writer, db_session, json_object_body
from app.api.single import no_content, require_ok, require_path_key
from app.api.wire_schemas import BatchItemResultSchema
from app.batch.outcome import ItemOutcome
from app.license_types.models import CredLicenseType
from app.license_types.schemas import (
    KEY_FIELD,
    LICENSE_TYPE_OUT_SCHEMA,
    LicenseTypeOutSchema,
    LicenseTypeSchema,
)
from app.license_types.service import (
    LICENSE_TYPE_SPEC,
    delete_license_types,
    get_license_type,
    license_types,
    upsert_license_types,
)

bp = Blueprint("license_types_api", __name__)

TYPES = "/credentialing-license-types"
TYPE = f"{TYPES}/<int32:cred_license_type_key>"
SORTABLE = sortable_columns(LICENSE_TYPE_OUT_SCHEMA, CredLicenseType)
TAG = "Credentialing License Types"


@bp.get(TYPES)
@documented(
    summary="List license types",
    tag=TAG,
    status=200,
    shape="many",
    schema=LicenseTypeOutSchema,
    paged=True,
)
def list_license_types() -> Response:
    authenticate()
    paging = page_request(SORTABLE, CredLicenseType.cred_license_type_key)
    page = fetch_page(db_session(), license_types(), paging)
    return json_response(LICENSE_TYPE_OUT_SCHEMA.dump(page.items, many=True), headers=page.headers)


@bp.post(TYPES)
@documented(
    summary="Create a license type",
    description="`credLicenseType_Key` is client-assigned; an existing key is a 409.",
    tag=TAG,
    status=200,
    shape="one",
    schema=LicenseTypeOutSchema,
    writes=True,
    body=LicenseTypeSchema,
    errors=(409,),
)
def create_license_type() -> Response:
    principal = authenticate_writer()
    item = json_object_body()
    outcome = _write_one(item, "create", principal.username)
    return json_response(_stored(outcome.key))


@bp.get(TYPE)
@documented(
    summary="Get one license type",
    tag=TAG,
    status=200,
    shape="one",
    schema=LicenseTypeOutSchema,
    errors=(404,),
)
def get_one_license_type(cred_license_type_key: int) -> Response:
    authenticate()
    return json_response(_stored(cred_license_type_key))


@bp.put(TYPE)
@documented(
    summary="Update one license type",
    description="Replaces the whole record (omitted fields become null); not an upsert. "
    "The body's `credLicenseType_Key` must match the path.",
    tag=TAG,
    status=200,
    shape="one",
    schema=LicenseTypeOutSchema,
    writes=True,
    body=LicenseTypeSchema,
    errors=(404,),
)
def update_license_type(cred_license_type_key: int) -> Response:
    principal = authenticate_writer()
    item = json_object_body()
    require_path_key(LICENSE_TYPE_SPEC, item, "credLicenseTypeKey", cred_license_type_key)
    _write_one(item, "update", principal.username)
    return json_response(_stored(cred_license_type_key))


@bp.delete(TYPE)
@documented(
    summary="Delete one license type",
    description="A type that licenses still use is not deleted (409).",
    tag=TAG,
    status=204,
    shape="empty",
    writes=True,
    errors=(404, 409),
)
def delete_license_type(cred_license_type_key: int) -> Response:
    principal = authenticate_writer()
    (outcome,) = delete_license_types(
        db_session(),
        [cred_license_type_key],
        actor=principal.username,
        activity_id=g.activity_id,
    )
    require_ok(outcome)
    return no_content()


@bp.put(f"{TYPES}-batch")
@documented(
    summary="Create or update many license types",
    description="The batch of SPEC section 4 with `id` key `credLicenseType_Key`: one result "
    "per item, in request order. `atomic=true`: all or nothing. `dryRun=true`: check only.",
    tag=TAG,
    status=207,
    shape="batch",
    schema=BatchItemResultSchema,
    writes=True,
    body=LicenseTypeSchema,
    body_is_array=True,
    query=("atomic", "dryRun"),
)
def put_license_types_batch() -> Response:
    def write(batch: BatchRequest) -> list[ItemOutcome]:
        return upsert_license_types(
            db_session(),
            batch.items,
            actor=batch.actor,
            activity_id=g.activity_id,
            atomic=batch.atomic,
            dry_run=batch.dry_run,
        )

    return answer_batch(KEY_FIELD, write)


def _write_one(item: Any, mode: str, actor: str) -> ItemOutcome:
    (outcome,) = upsert_license_types(
        db_session(), [item], actor=actor, activity_id=g.activity_id, mode=mode
    )
    return require_ok(outcome)


def _stored(key: int | None) -> dict[str, Any]:
    found = None if key is None else get_license_type(db_session(), key)
    if found is None:
        raise ApiError(404, f"No license type {key} in this database.")
    return LICENSE_TYPE_OUT_SCHEMA.dump(found)

"""VBAPI license routes: the batch upsert (SPEC section 4), single-license CRUD, history and
expirables (SPEC sections 3 and 4b). Every write goes through the license service."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, request

from app.api.batch_route import BatchRequest, answer_batch
from app.api.envelope import ApiError, json_response
from app.api.operations import documented
from app.api.paging import (
    Page,
    PageRequest,
    fetch_page,
    int_arg,
    page_and_size,
    page_request,
    requested_sort,
    sortable_columns,
)
from app.api.requests import (
    Principal,
    authenticate,
    authenticate_writer,
    db_session,
    json_object_body,
)
from app.api.single import no_content, put_body_errors, require_ok
from app.api.wire_schemas import BatchItemResultSchema
from app.audit import utcnow
from app.batch.outcome import ItemOutcome, ParentNotFound
from app.history.service import LicenseChangeSchema
from app.licenses.expiry import (
    BUCKETS,
    EXPIRY_WINDOWS,
    SORT_COLUMNS,
    ExpirablesSchema,
    ExpiryClock,
    ExpiryFilter,
    SortKey,
    bucket_counts,
    expirables_data,
    expiring_licenses,
    matching_total,
)
from app.licenses.history import license_history
from app.licenses.models import ProviderCredLicense
from app.licenses.queries import get_license, licenses_of, provider_cred_exists
from app.licenses.schemas import KEY_FIELD, LICENSE_OUT_SCHEMA, LicenseOutSchema, LicenseSchema
from app.licenses.service import LICENSE_SPEC, delete_licenses, upsert_licenses
from app.psv_window import psv_window_days
from app.wire.fields import INT32_MAX, INT32_MIN, STATE_CODE_MESSAGE, USPS_STATE_CODES
from app.wire.validation import describe_errors

bp = Blueprint("licenses_api", __name__)

LICENSES = "/provider-credentialing/<int32:provider_cred_key>/licenses"
LICENSE = f"{LICENSES}/<int32:provider_cred_license_key>"
LICENSE_SORTABLE = sortable_columns(LICENSE_OUT_SCHEMA, ProviderCredLicense)
TAG = "Provider Credentialing Licenses"


def unknown_provider_cred(key: int) -> ApiError:
    return ApiError(404, f"No provider credential {key} in this database.")


def unknown_license(provider_cred_key: int, key: int) -> ApiError:
    return ApiError(404, f"No license {key} under providerCredKey {provider_cred_key}.")


@bp.put("/provider-credentialing/<int32:provider_cred_key>/licenses-batch")
@documented(
    summary="Create or update many licenses",
    description="One result per item, in request order (`data[i]` answers item `i`). "
    "`atomic=true`: all or nothing. `dryRun=true`: check only, with each item's `changes`.",
    tag=TAG,
    status=207,
    shape="batch",
    schema=BatchItemResultSchema,
    writes=True,
    body=LicenseSchema,
    body_is_array=True,
    query=("atomic", "dryRun"),
    errors=(404,),
)
def put_licenses_batch(provider_cred_key: int) -> Response:
    """Create or update many licenses; 207 with one result per item, in request order."""

    def write(batch: BatchRequest) -> list[ItemOutcome]:
        try:
            return upsert_licenses(
                db_session(),
                provider_cred_key,
                batch.items,
                actor=batch.actor,
                activity_id=g.activity_id,
                atomic=batch.atomic,
                dry_run=batch.dry_run,
            )
        except ParentNotFound:
            raise unknown_provider_cred(provider_cred_key) from None

    return answer_batch(KEY_FIELD, write)


@bp.get(LICENSES)
@documented(
    summary="List a ProviderCred's licenses",
    tag=TAG,
    status=200,
    shape="many",
    schema=LicenseOutSchema,
    paged=True,
    errors=(404,),
)
def list_licenses(provider_cred_key: int) -> Response:
    authenticate()
    paging = page_request(LICENSE_SORTABLE, ProviderCredLicense.provider_cred_license_key)
    session = db_session()
    if not provider_cred_exists(session, provider_cred_key):
        raise unknown_provider_cred(provider_cred_key)
    page = fetch_page(session, licenses_of(provider_cred_key), paging)
    return json_response(LICENSE_OUT_SCHEMA.dump(page.items, many=True), headers=page.headers)


@bp.get(LICENSE)
@documented(
    summary="Get one license",
    tag=TAG,
    status=200,
    shape="one",
    schema=LicenseOutSchema,
    errors=(404,),
)
def get_one_license(provider_cred_key: int, provider_cred_license_key: int) -> Response:
    authenticate()
    return json_response(_stored_license(provider_cred_key, provider_cred_license_key))


@bp.post(LICENSES)
@documented(
    summary="Create one license",
    description="An existing `providerCredLicense_Key`, under any ProviderCred, is a 409. "
    "Answers 200 (as VBAPI documents) with the stored license.",
    tag=TAG,
    status=200,
    shape="one",
    schema=LicenseOutSchema,
    writes=True,
    body=LicenseSchema,
    errors=(404, 409),
)
def create_license(provider_cred_key: int) -> Response:
    principal = authenticate_writer()
    item = json_object_body()
    outcome = _write_license(provider_cred_key, item, "create", principal)
    return json_response(_stored_license(provider_cred_key, outcome.key))


@bp.put(LICENSE)
@documented(
    summary="Update one license",
    description="Replaces the whole record (omitted fields become null); not an upsert. "
    "The body's keys must match the path.",
    tag=TAG,
    status=200,
    shape="one",
    schema=LicenseOutSchema,
    writes=True,
    body=LicenseSchema,
    errors=(404,),
)
def update_license(provider_cred_key: int, provider_cred_license_key: int) -> Response:
    principal = authenticate_writer()
    item = json_object_body()
    errors = put_body_errors(
        LICENSE_SPEC,
        item,
        "providerCredLicenseKey",
        provider_cred_license_key,
        provider_cred_key,
        db_session(),
    )
    if errors:
        if not provider_cred_exists(db_session(), provider_cred_key):
            raise unknown_provider_cred(provider_cred_key)
        raise ApiError(400, describe_errors(errors), errors=errors)
    _write_license(provider_cred_key, item, "update", principal)
    return json_response(_stored_license(provider_cred_key, provider_cred_license_key))


@bp.delete(LICENSE)
@documented(
    summary="Delete one license",
    description="Its history stays readable.",
    tag=TAG,
    status=204,
    shape="empty",
    writes=True,
    errors=(404,),
)
def delete_license(provider_cred_key: int, provider_cred_license_key: int) -> Response:
    principal = authenticate_writer()
    try:
        (outcome,) = delete_licenses(
            db_session(),
            provider_cred_key,
            [provider_cred_license_key],
            actor=principal.username,
            activity_id=g.activity_id,
        )
    except ParentNotFound:
        raise unknown_provider_cred(provider_cred_key) from None
    require_ok(outcome)
    return no_content()


@bp.get(f"{LICENSE}/history")
@documented(
    summary="A license's change history",
    description="Newest first (`sortBy=at:asc` for oldest first), a page at a time; each "
    "change with its activity id, time, user, action and `{field: [old, new]}`. Still "
    "readable after the license is deleted. A change edited in the database by hand out of "
    "that shape is answered too, its stored value as-is in `storedChanges`.",
    tag=TAG,
    status=200,
    shape="many",
    schema=LicenseChangeSchema,
    paged=True,
    sortable=("at",),
    errors=(404,),
)
def get_license_history(provider_cred_key: int, provider_cred_license_key: int) -> Response:
    authenticate()
    page, page_size = page_and_size()
    oldest_first = requested_sort({"at": "at"}) == [("at", False)]
    session = db_session()
    if not provider_cred_exists(session, provider_cred_key):
        raise unknown_provider_cred(provider_cred_key)
    found = license_history(
        session,
        provider_cred_key,
        provider_cred_license_key,
        page=page,
        size=page_size,
        oldest_first=oldest_first,
    )
    if not found.total and not get_license(session, provider_cred_key, provider_cred_license_key):
        raise unknown_license(provider_cred_key, provider_cred_license_key)
    headers = Page(found.entries, found.total, PageRequest(page, page_size, ())).headers
    return json_response(found.entries, headers=headers)


@bp.get("/licenses/expirables")
@documented(
    summary="Expired and expiring licenses, and overdue PSV",
    description="`counts`: licenses per bucket among those of the `state` and "
    "`credLicenseType_Key` asked for (every license without them); `licenses`: one page of "
    "those in `bucket` (without one: expired or expiring within `within` days), sorted by "
    "`term_Date` ascending unless `sortBy` says otherwise (a missing date sorts after every "
    "date: last ascending, first descending). Buckets do not overlap: `within60` means 31 "
    "to 60 days left, counted in calendar days (UTC) from today to the term date's day; "
    "`noTermDate` holds the licenses without a term date. PSV is overdue "
    "when `psV_Date` is null or older than the configured window (default 120 days).",
    tag=TAG,
    status=200,
    shape="one",
    schema=ExpirablesSchema,
    paged=True,
    sortable=tuple(SORT_COLUMNS),
    query=("within", "bucket", "state", "credLicenseType_Key"),
)
def get_expirables() -> Response:
    principal = authenticate()
    page, page_size = page_and_size()
    order = [SortKey(column, descending) for column, descending in requested_sort(SORT_COLUMNS)]
    chosen = ExpiryFilter(
        bucket=_choice("bucket", BUCKETS),
        state=_state(),
        license_type_key=_license_type_key(),
        within_days=_within_days(),
    )
    session = db_session()
    clock = ExpiryClock(utcnow(), psv_window_days(principal.database))
    counts = bucket_counts(session, clock, chosen)
    total = matching_total(session, clock, chosen, counts)
    licenses = expiring_licenses(
        session, clock, chosen, page=page, size=page_size, total=total, order=order
    )
    headers = Page(licenses, total, PageRequest(page, page_size, ())).headers
    return json_response(expirables_data(clock, counts, licenses), headers=headers)


def _write_license(
    provider_cred_key: int, item: Any, mode: str, principal: Principal
) -> ItemOutcome:
    try:
        (outcome,) = upsert_licenses(
            db_session(),
            provider_cred_key,
            [item],
            actor=principal.username,
            activity_id=g.activity_id,
            mode=mode,
        )
    except ParentNotFound:
        raise unknown_provider_cred(provider_cred_key) from None
    return require_ok(outcome)


def _stored_license(provider_cred_key: int, key: int | None) -> dict[str, Any]:
    session = db_session()
    found = None if key is None else get_license(session, provider_cred_key, key)
    if found is None:
        if not provider_cred_exists(session, provider_cred_key):
            raise unknown_provider_cred(provider_cred_key)
        raise unknown_license(provider_cred_key, key or 0)
    return LICENSE_OUT_SCHEMA.dump(found)


def _within_days() -> int:
    raw = request.args.get("within")
    if raw is None:
        return EXPIRY_WINDOWS[-1]
    if "bucket" in request.args:  # it would be ignored: the bucket chooses the licenses
        message = "Not taken with bucket, which chooses the licenses itself; give one of them."
        raise ApiError(400, f"Query parameter within: {message}", errors={"within": [message]})
    return int(_choice("within", tuple(str(days) for days in EXPIRY_WINDOWS)) or 0)


def _choice(name: str, choices: tuple[str, ...]) -> str | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    if raw.strip() not in choices:
        message = f"Must be one of {', '.join(choices)}."
        raise ApiError(400, f"Query parameter {name}: {message}", errors={name: [message]})
    return raw.strip()


def _state() -> str | None:
    raw = request.args.get("state")
    if raw is None:
        return None
    text = raw.strip()
    code = text.upper()
    if code not in USPS_STATE_CODES or not text.isascii():  # "mſ".upper() == "MS"
        raise ApiError(
            400,
            f"Query parameter state: {STATE_CODE_MESSAGE}",
            errors={"state": [STATE_CODE_MESSAGE]},
        )
    return code


def _license_type_key() -> int | None:
    if request.args.get("credLicenseType_Key") is None:
        return None
    # Any int32: a license type's key is the client's to choose, negative or zero included.
    return int_arg("credLicenseType_Key", 0, INT32_MIN, INT32_MAX)

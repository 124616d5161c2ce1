"""VBAPI ProviderCred routes under ``/providers/{providerID}/credentialing`` (SPEC section 3)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

from flask import Blueprint, Response, g, request
from marshmallow import ValidationError

from app.api.envelope import ApiError, json_response
from app.api.operations import documented
from app.api.paging import fetch_page, page_request, sortable_columns
from app.api.requests import authenticate, authenticate_writer, db_session, json_object_body
from app.api.single import require_ok, require_path_key
from app.batch.outcome import ItemOutcome
from app.credentials.models import ProviderCred
from app.credentials.schemas import (
    PROVIDER_CRED_OUT_SCHEMA,
    PROVIDER_CRED_SCHEMA,
    ProviderCredOutSchema,
    ProviderCredSchema,
)
from app.credentials.service import (
    PROVIDER_CRED_SPEC,
    get_provider_cred,
    provider_creds_of,
    write_provider_cred,
)

bp = Blueprint("credentials_api", __name__)

CREDENTIALS = "/providers/<provider_id>/credentialing"
CREDENTIAL = f"{CREDENTIALS}/<int32:provider_cred_key>"
SORTABLE = sortable_columns(PROVIDER_CRED_OUT_SCHEMA, ProviderCred)
TAG = "Provider Credentialing"


@bp.get(CREDENTIALS)
@documented(
    summary="List a provider's credentialing records",
    tag=TAG,
    status=200,
    shape="many",
    schema=ProviderCredOutSchema,
    paged=True,
)
def list_provider_creds(provider_id: str) -> Response:
    authenticate()
    provider_id = _path_provider_id(provider_id)
    paging = page_request(SORTABLE, ProviderCred.provider_cred_key)
    page = fetch_page(db_session(), provider_creds_of(provider_id), paging)
    return json_response(PROVIDER_CRED_OUT_SCHEMA.dump(page.items, many=True), headers=page.headers)


@bp.post(CREDENTIALS)
@documented(
    summary="Create a provider's credentialing record",
    description="`providerCred_Key` is client-assigned; an existing key is a 409. "
    "`provider_ID` must match the path.",
    tag=TAG,
    status=200,
    shape="one",
    schema=ProviderCredOutSchema,
    writes=True,
    body=ProviderCredSchema,
    errors=(409,),
)
def create_provider_cred(provider_id: str) -> Response:
    principal = authenticate_writer()
    item = json_object_body()
    provider_id = _path_provider_id(provider_id)
    outcome = _write_one(provider_id, item, "create", principal.username)
    return json_response(_stored(provider_id, outcome.key))


@bp.get(CREDENTIAL)
@documented(
    summary="Get one credentialing record of a provider",
    tag=TAG,
    status=200,
    shape="one",
    schema=ProviderCredOutSchema,
    errors=(404,),
)
def get_one_provider_cred(provider_id: str, provider_cred_key: int) -> Response:
    authenticate()
    return json_response(_stored(_path_provider_id(provider_id), provider_cred_key))


@bp.put(CREDENTIAL)
@documented(
    summary="Update one credentialing record of a provider",
    description="Replaces the whole record (omitted optional fields become null); not an "
    "upsert. The body's `providerCred_Key` and `provider_ID` must match the path.",
    tag=TAG,
    status=200,
    shape="one",
    schema=ProviderCredOutSchema,
    writes=True,
    body=ProviderCredSchema,
    errors=(404,),
)
def update_provider_cred(provider_id: str, provider_cred_key: int) -> Response:
    principal = authenticate_writer()
    item = json_object_body()
    provider_id = _path_provider_id(provider_id)
    require_path_key(PROVIDER_CRED_SPEC, item, "providerCredKey", provider_cred_key, provider_id)
    _write_one(provider_id, item, "update", principal.username)
    return json_response(_stored(provider_id, provider_cred_key))


def _write_one(provider_id: str, item: Any, mode: str, actor: str) -> ItemOutcome:
    outcome = write_provider_cred(
        db_session(), provider_id, item, mode=mode, actor=actor, activity_id=g.activity_id
    )
    return require_ok(outcome)


def _path_provider_id(raw: str) -> str:
    """The path's providerID, held to the same rules as the body's ``provider_ID``."""
    if not _path_bytes_are_utf8():
        message = "Not valid UTF-8; percent-encode the UTF-8 bytes of the ID."
        raise ApiError(400, f"providerID: {message}", errors={"providerID": [message]})
    try:
        provider_id = PROVIDER_CRED_SCHEMA.fields["provider_id"].deserialize(raw)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, list) else [str(exc.messages)]
        errors = {"providerID": [str(m) for m in messages]}
        raise ApiError(
            400, f"providerID: {' '.join(errors['providerID'])}", errors=errors
        ) from None
    assert isinstance(provider_id, str)
    return provider_id


def _path_bytes_are_utf8() -> bool:
    """Whether the path's bytes are UTF-8. Flask reads an invalid byte as U+FFFD, which would
    name another provider.

    Servers differ in what they pass: gunicorn's PATH_INFO holds the percent-decoded bytes as
    they came (WSGI: one character per byte), while werkzeug's own server (``flask run``)
    has already replaced an invalid byte with U+FFFD there. Both also pass the request target
    as sent, still percent-encoded (``RAW_URI``, ``REQUEST_URI``), which is read too."""
    environ = request.environ
    targets = [environ.get(name) for name in ("RAW_URI", "REQUEST_URI")]
    raw = next((target for target in targets if isinstance(target, str) and target), None)
    if raw is not None and not _utf8(unquote_to_bytes(_latin1(urlsplit(raw).path))):
        return False
    path = environ.get("PATH_INFO", "")
    try:
        return _utf8(path.encode("latin-1"))
    except UnicodeEncodeError:  # not bytes as characters: the server decoded the path itself
        return True


def _latin1(text: str) -> bytes:
    """A WSGI string back to the bytes it stands for (those of a non-WSGI string as UTF-8)."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _stored(provider_id: str, key: int | None) -> dict[str, Any]:
    found = None if key is None else get_provider_cred(db_session(), provider_id, key)
    if found is None:
        raise ApiError(404, f"No provider credential {key} under providerID {provider_id}.")
    return PROVIDER_CRED_OUT_SCHEMA.dump(found)

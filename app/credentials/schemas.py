"""What a valid ProviderCred is (SPEC section 1), in and out."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validates_schema

from app.wire.fields import Int32, Text, WireDateTime
from app.wire.records import ClientRecordSchema, client_fields, term_date_errors

KEY_FIELD = "providerCred_Key"
PROVIDER_ID_FIELD = "provider_ID"
PROVIDER_ID_MAX_LENGTH = 20


class ProviderCredSchema(ClientRecordSchema):
    """One ProviderCred as clients send it. Omitted optional fields load as null."""

    provider_cred_key = Int32(data_key=KEY_FIELD, required=True)
    provider_id = Text(
        PROVIDER_ID_MAX_LENGTH, data_key=PROVIDER_ID_FIELD, required=True, blank_is_null=False
    )
    cred_type_key = Int32(data_key="credType_Key", required=True)
    effective_date = WireDateTime(data_key="effective_Date", required=True)
    term_date = WireDateTime(data_key="term_Date", allow_none=True, load_default=None)
    cred_status = Text(16, data_key="cred_Status", allow_none=True, load_default=None)
    cred_organization = Text(512, data_key="cred_Organization", allow_none=True, load_default=None)
    specialty_code = Text(10, data_key="specialty_Code", allow_none=True, load_default=None)
    application_start_date = WireDateTime(
        data_key="application_Start_Date", allow_none=True, load_default=None
    )
    committee_date = WireDateTime(data_key="committee_Date", allow_none=True, load_default=None)

    @validates_schema(skip_on_field_errors=False)
    def check_dates(self, data: dict[str, Any], **_kwargs: Any) -> None:
        errors = term_date_errors(data)
        if errors:
            raise ValidationError(errors)


class ProviderCredOutSchema(Schema):
    """A stored ProviderCred as the API writes it."""

    providerCred_Key = fields.Integer(attribute="provider_cred_key")
    provider_ID = fields.String(attribute="provider_id")
    credType_Key = fields.Integer(attribute="cred_type_key")
    effective_Date = WireDateTime(attribute="effective_date")
    term_Date = WireDateTime(attribute="term_date", allow_none=True)
    cred_Status = fields.String(attribute="cred_status", allow_none=True)
    cred_Organization = fields.String(attribute="cred_organization", allow_none=True)
    specialty_Code = fields.String(attribute="specialty_code", allow_none=True)
    application_Start_Date = WireDateTime(attribute="application_start_date", allow_none=True)
    committee_Date = WireDateTime(attribute="committee_date", allow_none=True)
    entry_Date = WireDateTime(attribute="entry_date")
    entry_User = fields.String(attribute="entry_user", allow_none=True)
    update_Date = WireDateTime(attribute="update_date")
    update_User = fields.String(attribute="update_user", allow_none=True)


PROVIDER_CRED_SCHEMA = ProviderCredSchema()
PROVIDER_CRED_OUT_SCHEMA = ProviderCredOutSchema()
WRITABLE_FIELDS = client_fields(PROVIDER_CRED_SCHEMA)

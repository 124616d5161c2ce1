"""What a valid license is (SPEC section 1): the single source of validity for API, UI and CSV."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validates_schema

from app.wire.fields import Int32, StateCode, Text, WireDateTime
from app.wire.records import ClientRecordSchema, client_fields, term_date_errors

KEY_FIELD = "providerCredLicense_Key"


class LicenseSchema(ClientRecordSchema):
    """One ProviderCredLicense as clients send it. Omitted optional fields load as null."""

    provider_cred_license_key = Int32(data_key=KEY_FIELD, required=True)
    provider_cred_key = Int32(data_key="providerCred_Key", required=True)
    cred_license_type_key = Int32(
        data_key="credLicenseType_Key", allow_none=True, load_default=None
    )
    license_name = Text(512, data_key="license_Name", allow_none=True, load_default=None)
    license_number = Text(50, data_key="license_Number", allow_none=True, load_default=None)
    state = StateCode(data_key="state", allow_none=True, load_default=None)
    specialty_code = Text(10, data_key="specialty_Code", allow_none=True, load_default=None)
    effective_date = WireDateTime(data_key="effective_Date", allow_none=True, load_default=None)
    term_date = WireDateTime(data_key="term_Date", allow_none=True, load_default=None)
    psv_date = WireDateTime(data_key="psV_Date", allow_none=True, load_default=None)

    @validates_schema(skip_on_field_errors=False)
    def check_dates(self, data: dict[str, Any], **_kwargs: Any) -> None:
        """Runs even when other fields failed, so one answer names every failing field."""
        errors = date_rule_errors(data)
        if errors:
            raise ValidationError(errors)


def date_rule_errors(data: dict[str, Any]) -> dict[str, list[str]]:
    """The cross-field date rules, on loaded (attribute-named) data.

    The clock is read only for a PSV date, and only for its date: this runs once per item of a
    batch, and a naive ``utcnow()`` (``replace(tzinfo=None)``) took four times as long."""
    errors = term_date_errors(data)
    psv = data.get("psv_date")
    if psv is not None:
        today = datetime.now(UTC).date()
        if psv.date() > today:
            errors["psV_Date"] = [f"Must not be after the current UTC date ({today})."]
    return errors


class LicenseOutSchema(Schema):
    """A stored license as the API writes it."""

    providerCredLicense_Key = fields.Integer(attribute="provider_cred_license_key")
    providerCred_Key = fields.Integer(attribute="provider_cred_key")
    credLicenseType_Key = fields.Integer(attribute="cred_license_type_key", allow_none=True)
    license_Name = fields.String(attribute="license_name", allow_none=True)
    license_Number = fields.String(attribute="license_number", allow_none=True)
    state = fields.String(attribute="state", allow_none=True)
    specialty_Code = fields.String(attribute="specialty_code", allow_none=True)
    effective_Date = WireDateTime(attribute="effective_date", allow_none=True)
    term_Date = WireDateTime(attribute="term_date", allow_none=True)
    psV_Date = WireDateTime(attribute="psv_date", allow_none=True)
    entry_Date = WireDateTime(attribute="entry_date")
    entry_User = fields.String(attribute="entry_user", allow_none=True)
    update_Date = WireDateTime(attribute="update_date")
    update_User = fields.String(attribute="update_user", allow_none=True)


LICENSE_SCHEMA = LicenseSchema()
LICENSE_OUT_SCHEMA = LicenseOutSchema()

#: attribute name → JSON name, in SPEC order, for the fields a client writes.
WRITABLE_FIELDS: dict[str, str] = client_fields(LICENSE_SCHEMA)

"""What a valid CredLicenseType is (SPEC section 1), in and out."""

from __future__ import annotations

from marshmallow import Schema, fields

from app.wire.fields import Int32, Text, WireDateTime
from app.wire.records import ClientRecordSchema, client_fields

KEY_FIELD = "credLicenseType_Key"


class LicenseTypeSchema(ClientRecordSchema):
    """One license type as clients send it. Omitted optional fields load as null."""

    cred_license_type_key = Int32(data_key=KEY_FIELD, required=True)
    display = Text(128, data_key="display", allow_none=True, load_default=None)
    description = Text(512, data_key="description", allow_none=True, load_default=None)


class LicenseTypeOutSchema(Schema):
    """A stored license type as the API writes it."""

    credLicenseType_Key = fields.Integer(attribute="cred_license_type_key")
    display = fields.String(attribute="display", allow_none=True)
    description = fields.String(attribute="description", allow_none=True)
    entry_Date = WireDateTime(attribute="entry_date")
    entry_User = fields.String(attribute="entry_user", allow_none=True)
    update_Date = WireDateTime(attribute="update_date")
    update_User = fields.String(attribute="update_user", allow_none=True)


LICENSE_TYPE_SCHEMA = LicenseTypeSchema()
LICENSE_TYPE_OUT_SCHEMA = LicenseTypeOutSchema()
WRITABLE_FIELDS = client_fields(LICENSE_TYPE_SCHEMA)

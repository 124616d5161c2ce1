"""How the API writes one history entry of a license."""

from __future__ import annotations

from marshmallow import Schema, fields

from app.wire.fields import WireDateTime


class LicenseChangeSchema(Schema):
    """One change of one license: who, when, which activity, and ``{field: [old, new]}``."""

    activityID = fields.String(attribute="activity_id")
    at = WireDateTime()
    user = fields.String(allow_none=True)
    action = fields.String(metadata={"enum": ["created", "updated", "deleted"]})
    changes = fields.Dict(keys=fields.String(), values=fields.List(fields.Raw(allow_none=True)))


LICENSE_CHANGE_SCHEMA = LicenseChangeSchema()

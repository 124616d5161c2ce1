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
    storedAt = fields.String(
        attribute="stored_at",
        metadata={
            "description": "Only on a change whose stored time is not a time (edited in the "
            "database by hand; the integrity review reports it as history altered): the "
            "stored text as-is. `at` is then the start of the day it still names, or "
            "0001-01-01T00:00:00Z when it names none."
        },
    )
    storedChanges = fields.String(
        attribute="stored_changes",
        allow_none=True,
        metadata={
            "description": "Only on a change whose stored `changes` is not an object of "
            "[old, new] pairs (edited in the database by hand; the integrity review reports "
            "it as history altered): the stored value as-is, as the database's JSON text "
            "(null: SQL NULL). `changes` then holds the [old, new] pairs that can still be "
            "read from it, if any."
        },
    )


LICENSE_CHANGE_SCHEMA = LicenseChangeSchema()

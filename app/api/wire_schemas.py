"""Marshmallow descriptions of wire shapes that the code builds without a schema.

The envelope, the problem object, the 207 item and the login result are assembled directly
(``app.api.envelope``, ``ItemOutcome.to_wire``, ``app.auth.tokens``); these schemas describe them
for the OpenAPI document, and the contract tests check the two agree.
"""

from __future__ import annotations

from marshmallow import Schema, fields


class DebugSchema(Schema):
    activityID = fields.String(
        required=True, metadata={"description": "This request's id, also in X-Activity-ID."}
    )


class ProblemSchema(Schema):
    """RFC 9457 problem details; ``errors`` lists the messages of each invalid field."""

    type = fields.String(required=True, metadata={"example": "about:blank"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    instance = fields.String(required=True, allow_none=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class BatchItemIdSchema(Schema):
    key = fields.String(required=True, metadata={"description": "The key field's JSON name."})
    value = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The item's key as a decimal string; null if not an int32."},
    )


class BatchItemResultSchema(Schema):
    """The answer to one batch item; ``data[i]`` answers item ``i``."""

    id = fields.List(fields.Nested(BatchItemIdSchema), required=True)
    status = fields.Integer(
        required=True,
        metadata={
            "enum": [200, 201, 400, 409, 424, 500],
            "description": "201 Created, 200 Updated, 400 invalid, 409 conflict, "
            "424 not applied (atomic batch), 500 internal error on this item.",
        },
    )
    body = fields.String(required=True, metadata={"description": "Created, Updated or why not."})
    changes = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.Raw(allow_none=True)),
        metadata={"description": "Only with dryRun=true: {field: [old, new]}."},
    )


class AuthenticationResultSchema(Schema):
    idToken = fields.String(required=True)
    accessToken = fields.String(required=True)
    refreshToken = fields.String(required=True)
    expiresIn = fields.Integer(required=True, metadata={"description": "Seconds."})
    tokenType = fields.String(required=True, metadata={"enum": ["Bearer"]})


class AuthenticationSchema(Schema):
    authenticationResult = fields.Nested(AuthenticationResultSchema, required=True)


class HealthSchema(Schema):
    databases = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={"description": 'Database name → "ok" or what failed.'},
    )
    rateLimitStorage = fields.String(
        required=True,
        metadata={
            "description": 'The rate-limit and login-throttle storage: "ok", or why it is not '
            "answering (limits then count per process; the service stays up, so this alone "
            "never makes the status 503)."
        },
    )

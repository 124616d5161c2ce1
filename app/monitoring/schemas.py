"""Monitoring runs on the wire: a run, its counts, and the licenses it found."""

from __future__ import annotations

from marshmallow import Schema, fields

from app.licenses.expiry import TERM_BUCKETS
from app.wire.fields import WireDateTime


class RunCountsSchema(Schema):
    """How many licenses were in each bucket, and how many had PSV overdue, at the run."""

    expired = fields.Integer(required=True)
    within30 = fields.Integer(required=True)
    within60 = fields.Integer(required=True)
    within90 = fields.Integer(required=True)
    noTermDate = fields.Integer(required=True, attribute="no_term_date")
    psvOverdue = fields.Integer(required=True, attribute="psv_overdue")


class MonitoringRunSchema(Schema):
    """One run: when, by whom or what, the PSV window in force, the counts."""

    id = fields.Integer(required=True)
    ranAt = WireDateTime(attribute="ran_at", required=True)
    ranBy = fields.String(attribute="ran_by", required=True)
    psvWindowDays = fields.Integer(attribute="psv_window_days", required=True)
    counts = fields.Nested(RunCountsSchema, required=True)


class RunLicenseSchema(Schema):
    """A license as it stood at the run."""

    providerCredLicense_Key = fields.Integer(attribute="provider_cred_license_key")
    providerCred_Key = fields.Integer(attribute="provider_cred_key")
    provider_ID = fields.String(attribute="provider_id")
    license_Name = fields.String(attribute="license_name", allow_none=True)
    license_Number = fields.String(attribute="license_number", allow_none=True)
    state = fields.String(allow_none=True)
    term_Date = WireDateTime(attribute="term_date", allow_none=True)
    psV_Date = WireDateTime(attribute="psv_date", allow_none=True)
    expiryStatus = fields.String(
        attribute="expiry_status", allow_none=True, metadata={"enum": [*TERM_BUCKETS, None]}
    )
    psvOverdue = fields.Boolean(attribute="psv_overdue")


class MonitoringRunDetailSchema(MonitoringRunSchema):
    """A run with every license it found."""

    licenses = fields.List(fields.Nested(RunLicenseSchema), required=True)


MONITORING_RUN_SCHEMA = MonitoringRunSchema()
RUN_LICENSE_SCHEMA = RunLicenseSchema()

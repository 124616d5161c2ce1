"""A monitoring run as CSV: one line per license it found."""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO

from app.licenses.csv_io import LineEndSafeWriter, escape_formula
from app.monitoring.models import MonitoringRun, MonitoringRunLicense
from app.wire.fields import format_wire_datetime

RUN_HEADER = ("monitoringRun", "ranAt", "ranBy", "psvWindowDays")
LICENSE_HEADER = (
    "providerCredLicense_Key",
    "providerCred_Key",
    "provider_ID",
    "license_Name",
    "license_Number",
    "state",
    "term_Date",
    "psV_Date",
    "expiryStatus",
    "psvOverdue",
)


def write_run_csv(
    stream: IO[str], run: MonitoringRun, licenses: Iterable[MonitoringRunLicense]
) -> None:
    """One line per license of the run, each with the run's id, time, author and window
    (a plain table a spreadsheet opens as is; the counts are its ``expiryStatus`` and
    ``psvOverdue`` columns counted). Text a spreadsheet would run as a formula gets a
    leading ``'``, as in every CSV export."""
    facts = (
        run.id,
        format_wire_datetime(run.ran_at),
        escape_formula(run.ran_by),
        run.psv_window_days,
    )
    writer = LineEndSafeWriter(stream)
    writer.writerow(RUN_HEADER + LICENSE_HEADER)
    for item in licenses:
        writer.writerow(
            (
                *facts,
                item.provider_cred_license_key,
                item.provider_cred_key,
                escape_formula(item.provider_id),
                escape_formula(item.license_name or ""),
                escape_formula(item.license_number or ""),
                escape_formula(item.state or ""),
                format_wire_datetime(item.term_date) or "",
                format_wire_datetime(item.psv_date) or "",
                item.expiry_status or "",
                "true" if item.psv_overdue else "false",
            )
        )

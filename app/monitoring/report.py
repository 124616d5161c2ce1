"""A monitoring run as CSV: one line per license it found."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import datetime
from typing import IO

from app.licenses.csv_io import escape_formula
from app.monitoring.models import MonitoringRun, MonitoringRunLicense

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


def _wire(value: datetime | None) -> str:
    # isoformat, not "%Y", which writes the year 1 as "1".
    return "" if value is None else value.isoformat(timespec="seconds") + "Z"


def write_run_csv(
    stream: IO[str], run: MonitoringRun, licenses: Iterable[MonitoringRunLicense]
) -> None:
    """One line per license of the run, each with the run's id, time, author and window
    (a plain table a spreadsheet opens as is; the counts are its ``expiryStatus`` and
    ``psvOverdue`` columns counted). Text a spreadsheet would run as a formula gets a
    leading ``'``, as in every CSV export."""
    facts = (run.id, _wire(run.ran_at), escape_formula(run.ran_by), run.psv_window_days)
    writer = csv.writer(stream, lineterminator="\n")
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
                _wire(item.term_date),
                _wire(item.psv_date),
                item.expiry_status or "",
                "true" if item.psv_overdue else "false",
            )
        )

"""``GET /licenses/monitoring-runs`` (paged) and ``GET /licenses/monitoring-runs/{id}``."""

from __future__ import annotations

from flask import Blueprint, Response

from app.api.envelope import ApiError, json_response
from app.api.operations import documented
from app.api.paging import Page, PageRequest, fetch_page, page_and_size, page_request
from app.api.requests import authenticate, db_session
from app.monitoring.models import MonitoringRun
from app.monitoring.schemas import (
    MONITORING_RUN_SCHEMA,
    RUN_LICENSE_SCHEMA,
    MonitoringRunDetailSchema,
    MonitoringRunSchema,
)
from app.monitoring.service import get_run, runs_newest_first

bp = Blueprint("monitoring_api", __name__)

TAG = "Expiry monitoring"
SORTABLE = {
    "id": MonitoringRun.id,
    "ranAt": MonitoringRun.ran_at,
    "ranBy": MonitoringRun.ran_by,
    "psvWindowDays": MonitoringRun.psv_window_days,
}


@bp.get("/licenses/monitoring-runs")
@documented(
    summary="List the expiry monitoring runs",
    description="Newest first unless `sortBy` says otherwise (`id`, `ranAt`, `ranBy`, "
    "`psvWindowDays`). Each run: when, by whom or what, the PSV window in force, and the "
    "count of each bucket.",
    tag=TAG,
    status=200,
    shape="many",
    schema=MonitoringRunSchema,
    paged=True,
)
def list_monitoring_runs() -> Response:
    authenticate()
    # The key is the last sort column, ascending: its negation lists the newest run first.
    paging = page_request(SORTABLE, -MonitoringRun.id)
    page = fetch_page(db_session(), runs_newest_first(), paging)
    return json_response(MONITORING_RUN_SCHEMA.dump(page.items, many=True), headers=page.headers)


@bp.get("/licenses/monitoring-runs/<int32:monitoring_run_id>")
@documented(
    summary="One expiry monitoring run, with the licenses in each bucket at that moment",
    description="`licenses` is the snapshot taken by the run, a page at a time (expired "
    "first, then by term date and key; `x-pagination` counts the run's licenses): later "
    "changes to the licenses do not show here. `expiryStatus` is null for a license listed "
    "for its overdue PSV alone.",
    tag=TAG,
    status=200,
    shape="one",
    schema=MonitoringRunDetailSchema,
    paged=True,
    sort_by=False,
    errors=(404,),
)
def get_monitoring_run(monitoring_run_id: int) -> Response:
    authenticate()
    page, page_size = page_and_size()
    report = get_run(db_session(), monitoring_run_id, page=page, size=page_size)
    if report is None:
        raise ApiError(404, f"No monitoring run {monitoring_run_id} in this database.")
    data = MONITORING_RUN_SCHEMA.dump(report.run)
    data["licenses"] = RUN_LICENSE_SCHEMA.dump(report.licenses, many=True)
    headers = Page(report.licenses, report.total, PageRequest(page, page_size, ())).headers
    return json_response(data, headers=headers)

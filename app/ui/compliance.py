"""Compliance pages of the staff UI: monitoring runs (list, one run, CSV, printable report)
and the integrity review. Thin views over ``app.monitoring`` and ``app.integrity``."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import Response, abort, current_app, g, redirect, render_template, request, url_for

from app.audit import utcnow
from app.integrity.report import history_links, write_csv
from app.integrity.rules import RULES
from app.integrity.service import (
    ReviewPart,
    day_after,
    findings_by_time,
    holds_at_most,
    part_starts,
    review_part,
)
from app.monitoring.report import write_run_csv
from app.monitoring.service import (
    MONITORING_OVERDUE_DAYS,
    find_run,
    get_run,
    list_runs,
    run_licenses,
)
from app.public_url import public_link
from app.ui.downloads import csv_download
from app.ui.finding_text import finding_detail
from app.ui.paging import Page, clamp, page_number
from app.ui.views import bp, db

bp.add_app_template_filter(finding_detail, "finding_detail")

#: The integrity review's default range: the last 31 days (a month's review).
DEFAULT_REVIEW_DAYS = 31


@bp.get("/monitoring")
def monitoring_runs() -> str:
    session, size = db(), current_app.config["UI_PAGE_SIZE"]
    number = page_number(request.args.get("page"))
    runs, total = list_runs(session, number, size)
    if not runs and total:
        number = clamp(number, total, size)
        runs, total = list_runs(session, number, size)
    return render_template(
        "ui/monitoring_runs.html",
        results=Page(runs, number, size, total),
        overdue_days=MONITORING_OVERDUE_DAYS,
    )


#: Licenses per page of a run (a run holds every license found, thousands in a large plan).
RUN_PAGE_SIZE = 100
#: The most licenses a printed report lists; the CSV download holds every one.
PRINT_LIMIT = 1000


@bp.get("/monitoring/<int32:run_id>")
def monitoring_run(run_id: int) -> str:
    session = db()
    number = page_number(request.args.get("page"))
    report = get_run(session, run_id, page=number, size=RUN_PAGE_SIZE) or abort(404)
    if not report.licenses and report.total:  # past the end: the last page
        number = clamp(number, report.total, RUN_PAGE_SIZE)
        report = get_run(session, run_id, page=number, size=RUN_PAGE_SIZE) or abort(404)
    results = Page(list(report.licenses), number, RUN_PAGE_SIZE, report.total)
    return render_template("ui/monitoring_run.html", report=report, results=results)


@bp.get("/monitoring/<int32:run_id>/print")
def monitoring_run_print(run_id: int) -> str:
    report = get_run(db(), run_id, size=PRINT_LIMIT) or abort(404)
    return render_template("ui/monitoring_run_print.html", report=report, now=utcnow())


@bp.get("/monitoring/<int32:run_id>/csv")
def monitoring_run_csv(run_id: int) -> Response:
    """Every license of the run: read a chunk at a time into a spooled file, then streamed
    (``csv_download``), so neither the licenses nor the CSV sit whole in memory, and the
    request's transaction ends before the body is sent, whatever the client's pace."""
    session = db()
    run = find_run(session, run_id) or abort(404)
    # Named by its database too: each numbers its runs from 1, and the rows do not name it.
    name = f"monitoring-run-{g.staff.database}-{run_id}.csv"  # a name of DATABASE_NAME_PATTERN
    return csv_download(lambda out: write_run_csv(out, run, run_licenses(session, run_id)), name)


#: Findings the page lists; the CSV download has every one (a page never grows with a range).
FINDINGS_SHOWN = 500
#: History rows a page of the review checks: a range holding more is reviewed in parts, each
#: starting where the one before ended (``?from=``), so that no page's work grows with the
#: range (a month at a million licenses is some 28,000 rows, 0.3 s and more in one page).
CHANGES_PER_PART = 5000


@bp.get("/integrity")
def integrity_review() -> str | tuple[str, int]:
    since, until, error = _review_range()
    end, part = day_after(until), None
    if not error:
        start, error = _part_start(since, end)
    if not error:
        part = review_part(db(), start, end, CHANGES_PER_PART)
    findings = part.findings if part else []
    return render_template(
        "ui/integrity.html",
        since=since,
        until=until,
        error=error,
        part=part,
        part_size=CHANGES_PER_PART,
        next_part_url=_next_part_url(since, until, part),
        findings=findings[:FINDINGS_SHOWN],
        total=len(findings),
        rules=RULES,
    ), (400 if error else 200)


#: History rows one CSV download reviews: a range holding more is downloaded in parts (a bulk
#: change of 300,000 licenses is 600,000 rows and as many findings: about a minute, past
#: gunicorn's 30 s worker timeout, which killed the download half-written). A part of this many
#: takes a few seconds; twice as many took 31 s on a busy 2-core node, past that timeout
#: (docs/compliance.md).
CSV_CHANGES_PER_PART = 50_000
#: Parts the CSV parts page lists at once (each a walk of the history's time index).
CSV_PARTS_LISTED = 20


@bp.get("/integrity/csv")
def integrity_review_csv() -> Response:
    """The findings of the range, or of one part of it (``from``, ``to``: where it starts and
    ends, as the CSV parts page links it). Streamed from a spooled file, the findings sorted a
    run at a time (``findings_by_time``). Never more than ``CSV_CHANGES_PER_PART`` history
    rows: what holds more (a bulk change; a part that grew since it was listed) is answered
    with the list of its parts instead, never with a download cut short."""
    since, until, error = _review_range()
    end = day_after(until)
    start, stop = since, end
    if not error:
        start, error = _part_start(since, end)
    if not error:
        stop, error = _part_stop(start, end)
    if error:
        abort(400, error)  # the field and why ("Since: not a date."), not werkzeug's generic text
    session = db()
    if not holds_at_most(session, start, stop, CSV_CHANGES_PER_PART):
        # Listed from this part on: the parts before it are as they were (a link's ``to`` is
        # fixed), and the list from the range's start was 20 parts a page back from here.
        at = {} if start == since else {"from": start.isoformat()}
        parts_url = url_for("ui.integrity_csv_parts", **_range_query(since, until), **at)
        return redirect(parts_url, 303)
    link = history_links(lambda key: public_link(url_for("ui.history", license_key=key)))
    days = f"{since.date().isoformat()}-to-{until.date().isoformat()}"
    name = f"integrity-review-{g.staff.database}-{days}"  # the rows do not name the database
    if (start, stop) != (since, end):  # a part: named by its first instant (no ':' in a name)
        name += f"-from-{start.isoformat(timespec='microseconds').replace(':', '')}"
    with findings_by_time(session, start, stop) as findings:
        return csv_download(lambda out: write_csv(out, findings, link), f"{name}.csv")


@bp.get("/integrity/csv-parts")
def integrity_csv_parts() -> str:
    """The CSV downloads of a range that holds more history rows than one download reviews:
    ``CSV_PARTS_LISTED`` at a time (``from``: where the first listed starts), each from where
    the one before ends, and the command that writes the whole range."""
    since, until, error = _review_range()
    end = day_after(until)
    start = since
    if not error:
        start, error = _part_start(since, end)
    if error:
        abort(400, error)  # the field and why, as the review page says it
    starts, following = part_starts(db(), start, end, CSV_CHANGES_PER_PART, CSV_PARTS_LISTED)
    ends: list[datetime | None] = [*starts[1:], following]
    query = _range_query(since, until)
    parts = [
        (
            first,
            last,
            url_for(
                "ui.integrity_review_csv",
                **query,
                **{"from": first.isoformat()},
                **({} if last is None else {"to": last.isoformat()}),
            ),
        )
        for first, last in zip(starts, ends, strict=True)
    ]
    more_url = None
    if following is not None:
        more_url = url_for("ui.integrity_csv_parts", **query, **{"from": following.isoformat()})
    return render_template(
        "ui/integrity_csv_parts.html",
        since=since,
        until=until,
        parts=parts,
        part_size=CSV_CHANGES_PER_PART,
        more_url=more_url,
        review_url=url_for("ui.integrity_review", **query),
    )


def _range_query(since: datetime, until: datetime) -> dict[str, str]:
    # isoformat: strftime's %Y writes the year 1 as "1", which is not a date
    return {"since": since.date().isoformat(), "until": until.date().isoformat()}


def _review_range() -> tuple[datetime, datetime, str | None]:
    """``since`` and ``until`` (days, both included) from the query; the last 31 days by
    default. The error, if any, names the field."""
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    values: dict[str, datetime] = {}
    defaults = {"since": today - timedelta(days=DEFAULT_REVIEW_DAYS - 1), "until": today}
    for name, default in defaults.items():
        raw = (request.args.get(name) or "").strip()
        if not raw:
            values[name] = default
            continue
        try:
            values[name] = datetime.combine(date.fromisoformat(raw), datetime.min.time())
        except ValueError:
            return defaults["since"], defaults["until"], f"{name.capitalize()}: not a date."
    if values["until"] < values["since"]:
        return values["since"], values["until"], "Until: must not be before Since."
    return values["since"], values["until"], None


def _next_part_url(since: datetime, until: datetime, part: ReviewPart | None) -> str | None:
    if part is None or part.next_start is None:
        return None
    return url_for(  # isoformat: strftime's %Y writes the year 1 as "1", which is not a date
        "ui.integrity_review",
        since=since.date().isoformat(),
        until=until.date().isoformat(),
        **{"from": part.next_start.isoformat()},
    )


def _part_stop(start: datetime, end: datetime | None) -> tuple[datetime | None, str | None]:
    """Where the part asked for (``?to=``, an instant a part starts at) ends: the range's
    ``end`` when none is asked for. The error, if any, names the field."""
    stop, error = _instant_arg("to", "To")
    if stop is None or error:
        return end, error
    if stop <= start or (end is not None and stop > end):
        return end, "To: not a time after From and not after Until (UTC)."
    return stop, None


def _part_start(since: datetime, end: datetime | None) -> tuple[datetime, str | None]:
    """Where the part asked for (``?from=``, an instant a part ended at) starts: ``since`` when
    none is asked for. The error, if any, names the field."""
    start, error = _instant_arg("from", "From")
    if start is None or error:
        return since, error
    if start < since or (end is not None and start >= end):
        return since, "From: not a time between Since and Until (UTC)."
    return start, None


def _instant_arg(name: str, label: str) -> tuple[datetime | None, str | None]:
    """The query's naive UTC instant ``name`` (``None`` when not given), or the error naming
    the field (``label``): a time zone is refused rather than read, since within the range
    or not, "between" would not say why."""
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None, None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        return None, f"{label}: not a time."
    if value.tzinfo is not None:
        return None, f"{label}: must not have a time zone (it is in UTC)."
    return value, None

"""Staff UI pages (SPEC section 5). Views parse the request, call one helper, render."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from app.api.rate_limit import login_rate_limit
from app.audit import utcnow
from app.batch.outcome import ParentNotFound
from app.credentials.models import ProviderCred
from app.licenses.models import ProviderCredLicense
from app.tenancy import database_names, request_session
from app.ui import expiry
from app.ui.credential_list import search_creds
from app.ui.expiry import ExpiryClock
from app.ui.forms import LicenseGridForm, LoginForm, LogoutForm, SearchForm, prototype_row
from app.ui.grid import (
    COLUMNS,
    OUTCOME_LABELS,
    GridLine,
    blank_lines,
    blank_values,
    date_input_type,
    next_suggestion,
    outcome_counts,
    stored_line,
)
from app.ui.grid_data import (
    STATE_CODES,
    first_free_license_key,
    license_types,
    load_cred,
    load_licenses,
)
from app.ui.grid_save import SubmittedRow, save_grid
from app.ui.history import license_history
from app.ui.login import editor_required, log_out, require_login, safe_next, sign_in
from app.ui.paging import page_number
from app.ui.save_limit import too_many_rows_message
from app.ui.save_report import recall_save, remember_save

bp = Blueprint("ui", __name__, url_prefix="/ui")
bp.before_request(require_login)


@bp.context_processor
def grid_vocabulary() -> dict[str, Any]:
    return {
        "columns": COLUMNS,
        "outcome_labels": OUTCOME_LABELS,
        "date_input_type": date_input_type,
        "expiry_labels": expiry.LABELS,
        "expiry_short_labels": expiry.SHORT_LABELS,
        "column_labels": {column.name: column.label for column in COLUMNS},
        "utc": format_utc,
    }


def format_utc(value: datetime | None) -> str:
    return "—" if value is None else f"{value:%Y-%m-%d %H:%M:%S} UTC"


def db() -> Session:
    return request_session(g.staff.database)


def expiry_clock() -> ExpiryClock:
    return ExpiryClock(utcnow(), current_app.config["PSV_WINDOW_DAYS"])


# ---------------------------------------------------------------------------------------------
# Logging in and out


@bp.route("/login", methods=["GET", "POST"])
@login_rate_limit
def login() -> Any:
    target = safe_next(request.args.get("next")) or url_for("ui.credentials")
    if g.staff is not None:
        return redirect(target)
    form = LoginForm(database_names())
    error, status, headers = None, 200, {}
    if form.validate_on_submit():
        result = sign_in(form.database.data, form.username.data, form.password.data)
        if result.ok:
            return redirect(target)
        error, status = result.message, result.status
        if result.retry_after:
            headers["Retry-After"] = str(result.retry_after)
    elif form.is_submitted():
        error, status = "Enter your username and password, and choose a database.", 400
    return render_template("ui/login.html", form=form, error=error), status, headers


@bp.post("/logout")
def logout() -> Response:
    if not LogoutForm().validate_on_submit():
        abort(400)
    log_out(g.staff)
    flash("You have logged out.", "info")
    return redirect(url_for("ui.login"))


# ---------------------------------------------------------------------------------------------
# Provider credentials


@bp.get("/")
def home() -> Response:
    return redirect(url_for("ui.credentials"))


@bp.get("/credentials")
def credentials() -> str:
    form = SearchForm(formdata=request.args)
    query = (form.q.data or "").strip()
    results = search_creds(
        db(),
        query,
        page_number(request.args.get("page")),
        current_app.config["UI_PAGE_SIZE"],
        expiry_clock(),
    )
    return render_template("ui/credentials.html", form=form, query=query, results=results)


# ---------------------------------------------------------------------------------------------
# The license grid


@bp.get("/credentials/<int32:provider_cred_key>/licenses")
def grid(provider_cred_key: int) -> str:
    session = db()
    cred = load_cred(session, provider_cred_key) or abort(404)
    stored = load_licenses(session, provider_cred_key)
    lines = [stored_line(license) for license in stored.values()]
    report = recall_save(provider_cred_key, g.staff.database)
    if report is None:
        return render_grid(session, cred, lines)
    gone = report.apply(lines)
    return render_grid(session, cred, lines, saved=True, deleted=gone)


@bp.post("/credentials/<int32:provider_cred_key>/licenses")
@editor_required
def save(provider_cred_key: int) -> Response | tuple[str, int]:
    """Save; all rows through → redirect to the grid, else the grid with what was typed."""
    refused = too_many_rows_message(request.form.keys(), current_app.config["BATCH_MAX_ITEMS"])
    if refused:
        abort(413, refused)
    form = LicenseGridForm()
    if not form.validate_on_submit():
        abort(400)
    rows = [SubmittedRow.from_form_data(entry.data) for entry in form.rows]
    session = db()
    try:
        lines = save_grid(
            session, provider_cred_key, rows, actor=g.staff.username, activity_id=g.activity_id
        )
    except ParentNotFound:
        abort(404)
    failed = any(line.failed for line in lines)
    if not failed and remember_save(provider_cred_key, g.staff.database, lines):
        return redirect(url_for("ui.grid", provider_cred_key=provider_cred_key), code=303)
    cred = load_cred(session, provider_cred_key) or abort(404)
    return render_grid(session, cred, lines, saved=True), 422 if failed else 200


def render_grid(
    session: Session,
    cred: ProviderCred,
    lines: list[GridLine],
    saved: bool = False,
    deleted: Sequence[tuple[int, str | None]] = (),
) -> str:
    can_write = g.staff.can_write
    form = None
    if can_write:
        shown = [key for line in lines if (key := line.license_key) is not None]
        lines = lines + blank_lines(
            current_app.config["GRID_BLANK_ROWS"], first_free_license_key(session), shown
        )
        editable = [line for line in lines if line.editable]
        form = LicenseGridForm(formdata=None, data={"rows": [ln.form_data() for ln in editable]})
        for line, entry in zip(editable, form.rows, strict=True):
            line.form = entry
    types = license_types(session)
    return render_template(
        "ui/grid.html",
        cred=cred,
        lines=lines,
        form=form,
        can_write=can_write,
        summary=outcome_counts(lines, extra_deleted=len(deleted)) if saved else None,
        deleted=deleted,
        types=types,
        type_labels={str(t.key): t.label for t in types},
        states=STATE_CODES,
        template_line=GridLine(values=blank_values(), form=prototype_row()),
        next_index=len(form.rows) if form is not None else 0,
        next_key=next_suggestion(lines),
    )


# ---------------------------------------------------------------------------------------------
# Expiring licenses and history


@bp.get("/licenses/expiring")
def expiring() -> str:
    show = request.args.get("show", expiry.EXPIRED)
    if show not in expiry.FILTERS:
        show = expiry.EXPIRED
    session, clock = db(), expiry_clock()
    counts = expiry.counts(session, clock)
    results = expiry.expiring_licenses(
        session,
        clock,
        show,
        page_number(request.args.get("page")),
        current_app.config["UI_PAGE_SIZE"],
        counts[show],
    )
    return render_template(
        "ui/expiring.html",
        show=show,
        counts=counts,
        results=results,
        clock=clock,
        filters=expiry.FILTERS,
    )


@bp.get("/licenses/<int32:license_key>/history")
def history(license_key: int) -> str:
    session = db()
    entries = license_history(session, license_key)
    license = session.get(ProviderCredLicense, license_key)
    if license is None and not entries:
        abort(404)
    cred_key = license.provider_cred_key if license is not None else entries[0].provider_cred_key
    return render_template(
        "ui/history.html",
        license_key=license_key,
        license=license,
        cred_key=cred_key,
        entries=entries,
    )

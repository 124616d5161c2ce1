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
    jsonify,
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
from app.history.pages import history_count
from app.licenses.csv_io import export_licenses
from app.licenses.models import ProviderCredLicense
from app.monitoring.service import monitoring_status
from app.psv_window import psv_window_days
from app.tenancy import database_names, request_session
from app.ui import expiry
from app.ui.credential_list import search_creds, search_problem
from app.ui.downloads import csv_download
from app.ui.expiry import ExpiryClock
from app.ui.forms import (
    ImportApplyForm,
    ImportUploadForm,
    LicenseGridForm,
    LoginForm,
    LogoutForm,
    SearchForm,
    prototype_row,
)
from app.ui.grid import (
    COLUMNS,
    DELETED,
    OUTCOME_LABELS,
    GridLine,
    blank_lines,
    blank_values,
    outcome_counts,
    parse_loaded_at,
    stored_line,
)
from app.ui.grid_data import STATE_CODES, license_types, load_cred, load_page, page_of_license
from app.ui.grid_expiry import expiry_state
from app.ui.grid_import import (
    NO_TOKEN,
    ImportFileError,
    ImportNotApplied,
    ImportResult,
    applied_result,
    apply_once,
    carried_csv,
    decode_upload,
    issue_token,
    parse_versions,
    read_carried_csv,
    read_token,
    run_import,
    versions_text,
)
from app.ui.grid_save import (
    NOT_SAVED_AGAIN,
    NOT_WRITTEN,
    SubmittedRow,
    created_rows,
    rows_sent_again,
    save_grid,
    unwritten_rows,
    with_unwritten_rows,
)
from app.ui.history import HISTORY_PAGE_SIZE, license_history
from app.ui.login import (
    editor_required,
    identify_staff,
    log_out,
    require_login,
    safe_next,
    sign_in_or_unavailable,
)
from app.ui.paging import Page, clamp, page_number
from app.ui.save_limit import too_many_posted_rows_message, too_many_rows_message
from app.ui.save_once import (
    SaveRefused,
    claim_save,
    form_digest,
    new_save_id,
    run_once,
    save_state,
)
from app.ui.save_report import ReportedRow, recall_save, remember_save
from app.ui.shown_dates import register_date_filters
from app.ui.type_options import TypeOptions
from app.wire.fields import query_int32

bp = Blueprint("ui", __name__, url_prefix="/ui")
bp.url_value_preprocessor(identify_staff)  # before every before_request: CSRF's too
bp.before_request(require_login)
register_date_filters(bp)


@bp.context_processor
def grid_vocabulary() -> dict[str, Any]:
    return {
        "columns": COLUMNS,
        "outcome_labels": OUTCOME_LABELS,
        "expiry_labels": expiry.LABELS,
        "expiry_short_labels": expiry.SHORT_LABELS,
        "column_labels": {column.name: column.label for column in COLUMNS},
    }


def db() -> Session:
    return request_session(g.staff.database)


def expiry_clock() -> ExpiryClock:
    return ExpiryClock(utcnow(), psv_window_days(g.staff.database))


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
        result = sign_in_or_unavailable(form.database.data, form.username.data, form.password.data)
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
def credentials() -> tuple[str, int]:
    """The search page; a search text that cannot be searched is a 400 saying why."""
    form = SearchForm(formdata=request.args)
    query = (form.q.data or "").strip()
    size = current_app.config["UI_PAGE_SIZE"]
    problem = search_problem(query)
    if problem:
        results: Page[Any] = Page(items=[], number=1, size=size, total=0)
    else:
        results = search_creds(
            db(), query, page_number(request.args.get("page")), size, expiry_clock()
        )
    page = render_template(
        "ui/credentials.html", form=form, query=query, results=results, error=problem
    )
    return page, (400 if problem else 200)


# ---------------------------------------------------------------------------------------------
# The license grid


#: Licenses per grid page: a ProviderCred may hold thousands, a page never more than this.
def grid_page_size() -> int:
    return current_app.config["GRID_PAGE_SIZE"]


def grid_page(session: Session, provider_cred_key: int, requested: int) -> Page[Any]:
    size = grid_page_size()
    licenses, total = load_page(session, provider_cred_key, requested, size)
    number = clamp(requested, total, size)
    if number != requested:
        licenses, total = load_page(session, provider_cred_key, number, size)
    return Page(items=licenses, number=number, size=size, total=total)


@bp.get("/credentials/<int32:provider_cred_key>/licenses")
def grid(provider_cred_key: int) -> str:
    loaded_at = utcnow()  # before the page is read: a license read is never "added since"
    session = db()
    cred = load_cred(session, provider_cred_key) or abort(404)
    number = page_number(request.args.get("page"))
    wanted = query_int32(request.args.get("license"))  # any int32 key, negative ones too
    if "page" not in request.args and wanted is not None:
        number = page_of_license(session, provider_cred_key, wanted, grid_page_size())
    page = grid_page(session, provider_cred_key, number)
    lines = [stored_line(license) for license in page.items]
    report = recall_save(provider_cred_key, g.staff.database)
    if report is None:
        return render_grid(session, cred, lines, page, loaded_at)
    elsewhere = report.apply(lines)
    return render_grid(session, cred, lines, page, loaded_at, saved=True, elsewhere=elsewhere)


@bp.post("/credentials/<int32:provider_cred_key>/licenses")
@editor_required
def save(provider_cred_key: int) -> Response | tuple[str, int]:
    """Save; all rows through → redirect to the grid, else the grid with what was typed."""
    max_rows = current_app.config["BATCH_MAX_ITEMS"]
    max_posted = max_rows + grid_page_size() + current_app.config["GRID_BLANK_ROWS"]
    refused = too_many_posted_rows_message(request.form.keys(), max_posted)
    if refused:
        abort(413, refused)
    form = LicenseGridForm()
    if not form.validate_on_submit():
        abort(400)
    rows = [SubmittedRow.from_form_data(entry.data) for entry in form.rows]
    refused = too_many_rows_message(sum(row.sent for row in rows), max_rows)
    if refused:
        abort(413, refused)
    reloaded_at = utcnow()  # before the page is read again, as when the grid is loaded
    session = db()
    number = page_number(request.args.get("page"))
    size = grid_page_size()

    def keys_on_page() -> list[int]:
        licenses, _ = load_page(session, provider_cred_key, number, size)
        return [license.provider_cred_license_key for license in licenses]

    grid_url = url_for(
        "ui.grid", provider_cred_key=provider_cred_key, page=number if number > 1 else None
    )
    digest = form_digest(request.form.items(multi=True))
    try:
        claim = claim_save(session, g.staff.username, request.form.get("save_id", ""), digest)
    except SaveRefused as refused_again:
        flash(str(refused_again), "info")
        shown, message = (
            (refused_again.unwritten, NOT_WRITTEN)
            if refused_again.same_form
            else (rows_sent_again(rows, refused_again.created), NOT_SAVED_AGAIN)
        )
        if refused_again.done and not shown:
            return redirect(grid_url, code=303)
        cred = load_cred(session, provider_cred_key) or abort(404)
        page = grid_page(session, provider_cred_key, number)
        stored = [stored_line(license) for license in page.items]
        if not refused_again.done:  # answered in place: a reload asks again
            return render_grid(session, cred, stored, page, reloaded_at), 409
        lines = with_unwritten_rows(stored, rows, shown, message)
        return render_grid(session, cred, lines, page, reloaded_at, saved=True), 422
    try:
        lines = run_once(
            session,
            claim,
            lambda: save_grid(
                session,
                provider_cred_key,
                rows,
                actor=g.staff.username,
                activity_id=g.activity_id,
                page_keys=keys_on_page,
                loaded_at=parse_loaded_at(request.form.get("loaded_at", "")),
            ),
            unwritten_rows,
            digest,
            lambda lines: created_rows(lines, rows),
        )
    except ParentNotFound:
        abort(404)
    failed = any(line.failed for line in lines)
    if not failed and remember_save(provider_cred_key, g.staff.database, lines):
        return redirect(grid_url, code=303)
    cred = load_cred(session, provider_cred_key) or abort(404)
    page = grid_page(session, provider_cred_key, number)
    return render_grid(session, cred, lines, page, reloaded_at, saved=True), (
        422 if failed else 200
    )


@bp.get("/saves/<save_id>")
def save_status(save_id: str) -> Response:
    """What became of one of this user's grid Saves (``app/ui/save_once.py``), for the grid's
    script deciding whether to offer a kept draft back: ``{"state": "done" | "interrupted" |
    "unknown"}``."""
    state = save_state(db(), g.staff.username, save_id)
    return jsonify(state=state)


def render_grid(
    session: Session,
    cred: ProviderCred,
    lines: list[GridLine],
    page: Page[Any],
    loaded_at: datetime,
    saved: bool = False,
    elsewhere: Sequence[ReportedRow] = (),
) -> str:
    can_write = g.staff.can_write
    form = None
    if can_write:
        lines = lines + blank_lines(current_app.config["GRID_BLANK_ROWS"])
        editable = [line for line in lines if line.editable]
        form = LicenseGridForm(formdata=None, data={"rows": [ln.form_data() for ln in editable]})
        for line, entry in zip(editable, form.rows, strict=True):
            line.form = entry
    types = license_types(session)
    clock = expiry_clock()
    return render_template(
        "ui/grid.html",
        cred=cred,
        lines=lines,
        page=page,
        form=form,
        loaded_at=loaded_at.isoformat(),
        save_id=new_save_id(),
        can_write=can_write,
        summary=outcome_counts(lines, [row.outcome for row in elsewhere]) if saved else None,
        rows_failed=any(line.failed for line in lines),  # "Error:" in the title
        deleted=[row for row in elsewhere if row.outcome == DELETED],
        elsewhere=[row for row in elsewhere if row.outcome != DELETED],
        types=types,
        type_options=TypeOptions(types),
        type_labels={str(t.key): t.label for t in types},
        states=STATE_CODES,
        template_line=GridLine(values=blank_values(), form=prototype_row()),
        next_index=len(form.rows) if form is not None else 0,
        expiry_of=lambda line: (
            None if line.is_new else expiry_state(clock, line.term_date, line.psv_date)
        ),
    )


@bp.route("/credentials/<int32:provider_cred_key>/licenses/import", methods=["GET", "POST"])
@editor_required
def import_csv(provider_cred_key: int) -> tuple[str, int]:
    """Upload a CSV and see the dry run of what it would change; nothing is written here."""
    session = db()
    form = ImportUploadForm()
    result, error, text, status = None, None, "", 200
    if form.validate_on_submit():
        try:
            text = decode_upload(form.file.data.read())
            result = run_import(
                session,
                provider_cred_key,
                text,
                actor=g.staff.username,
                activity_id=g.activity_id,
                dry_run=True,
                max_rows=current_app.config["BATCH_MAX_ITEMS"],
            )
        except ParentNotFound:
            abort(404)
        except ImportFileError as exc:
            error, status = str(exc), 422
    elif form.is_submitted():
        error, status = "Choose a CSV file to preview.", 400
    cred = load_cred(session, provider_cred_key) or abort(404)
    apply_form, token = None, None
    if result is not None:
        apply_form = ImportApplyForm(
            formdata=None,
            data={"csv": carried_csv(text), "versions": versions_text(result.versions)},
        )
        token = issue_token(current_app.secret_key)
    page = render_import(cred, result, error, form=form, apply_form=apply_form, token=token)
    return page, status


@bp.post("/credentials/<int32:provider_cred_key>/licenses/import/apply")
@editor_required
def apply_import(provider_cred_key: int) -> Response | tuple[str, int]:
    """Write the previewed CSV through the license service, once per preview; the result is
    shown on its own page (Post/Redirect/Get), so a reload does not post it again."""
    form = ImportApplyForm()
    if not form.validate_on_submit():
        abort(400)
    versions = parse_versions(form.versions.data or "")
    if versions is None:
        abort(400)
    session = db()
    cred = load_cred(session, provider_cred_key) or abort(404)
    nonce = read_token(current_app.secret_key, request.form.get("token", ""))
    if nonce is None:
        return render_import(cred, None, NO_TOKEN), 400
    text = read_carried_csv(form.csv.data or "")
    if text is None:  # forged, or a preview served before an upgrade carried it otherwise
        return render_import(cred, None, NO_TOKEN), 400
    try:
        apply_once(
            session,
            provider_cred_key,
            nonce,
            text,
            versions,
            actor=g.staff.username,
            activity_id=g.activity_id,
            max_rows=current_app.config["BATCH_MAX_ITEMS"],
        )
    except ParentNotFound:
        abort(404)
    except ImportFileError as exc:
        return render_import(cred, None, str(exc)), 422
    except ImportNotApplied as exc:
        if not exc.done:
            return render_import(cred, None, str(exc)), 409
        flash(str(exc), "info")
    target = url_for("ui.import_applied", provider_cred_key=provider_cred_key, nonce=nonce)
    return redirect(target, code=303)


@bp.get("/credentials/<int32:provider_cred_key>/licenses/import/applied/<nonce>")
@editor_required
def import_applied(provider_cred_key: int, nonce: str) -> str:
    """What an applied import did (kept as long as the idempotency store keeps answers)."""
    session = db()
    cred = load_cred(session, provider_cred_key) or abort(404)
    result = applied_result(session, provider_cred_key, g.staff.username, nonce) or abort(404)
    return render_import(cred, result, None, applied=True)


def render_import(
    cred: ProviderCred,
    result: ImportResult | None,
    error: str | None,
    *,
    applied: bool = False,
    form: ImportUploadForm | None = None,
    apply_form: ImportApplyForm | None = None,
    token: str | None = None,
) -> str:
    """The import page: the upload form, and a preview (with its Apply form) or a result."""
    return render_template(
        "ui/grid_import.html",
        cred=cred,
        form=form or ImportUploadForm(formdata=None),
        apply_form=apply_form,
        apply_token=token,
        result=result,
        error=error,
        rows_failed=result is not None and result.failed > 0,  # "Error:" in the title
        applied=applied,
    )


# ---------------------------------------------------------------------------------------------
# Expiring licenses and history


@bp.get("/licenses/expiring")
def expiring() -> str:
    session, clock = db(), expiry_clock()
    types = license_types(session)
    worklist = expiry_worklist(types)
    counts, results = expiry.worklist_page(
        session,
        clock,
        worklist,
        page_number(request.args.get("page")),
        current_app.config["UI_PAGE_SIZE"],
    )
    return render_template(
        "ui/expiring.html",
        worklist=worklist,
        show=worklist.show,
        counts=counts,
        results=results,
        clock=clock,
        filters=expiry.FILTERS,
        monitoring=monitoring_status(session, clock.now),
        sorts=expiry.SORTS,
        types=types,
        states=STATE_CODES,
    )


@bp.get("/licenses/expiring.csv")
def expiring_csv() -> Response:
    """Every license the worklist's filters show, in its order, as the CLI exports them."""
    session = db()
    worklist = expiry_worklist(license_types(session))
    clock = expiry_clock()
    statement = expiry.worklist_statement(clock, worklist)
    # The list of one database on one day (UTC): a month's downloads are told apart by name.
    filename = f"licenses-{g.staff.database}-{worklist.show}-{clock.now.date().isoformat()}.csv"
    return csv_download(lambda out: export_licenses(session, out, statement=statement), filename)


def expiry_worklist(types: Sequence[Any]) -> expiry.Worklist:
    return expiry.Worklist.from_args(
        request.args, set(STATE_CODES), {choice.key for choice in types}
    )


@bp.get("/licenses/<int32:license_key>/history")
def history(license_key: int) -> str:
    session = db()
    total = history_count(session, license_key)
    number = clamp(page_number(request.args.get("page")), total, HISTORY_PAGE_SIZE)
    entries = license_history(session, license_key, number, HISTORY_PAGE_SIZE)
    license = session.get(ProviderCredLicense, license_key)
    if license is None and not entries:
        abort(404)
    cred_key = license.provider_cred_key if license is not None else entries[0].provider_cred_key
    # The breadcrumb names the credential by its provider ID, as the grid and the search do.
    cred = session.get(ProviderCred, cred_key)
    return render_template(
        "ui/history.html",
        license_key=license_key,
        license=license,
        cred_key=cred_key,
        provider_id=cred.provider_id if cred is not None else None,
        entries=entries,
        results=Page(entries, number, HISTORY_PAGE_SIZE, total),
    )

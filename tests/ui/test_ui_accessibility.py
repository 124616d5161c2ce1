"""Accessibility of the staff UI as a keyboard or screen-reader user meets it (WCAG 2.1 AA),
checked on the stylesheet and the rendered HTML; what needs script is in tests/browser/."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from gridpage import title_of

from tests.factories import grid_license

UI_CSS = Path(__file__).resolve().parents[2] / "static" / "ui" / "ui.css"
#: The backgrounds the focus ring and the inputs are drawn on: white, the page, the dark
#: header, the tables' heads, a row in error, a saved row, a new row, the error summary.
BACKGROUNDS = (
    "#ffffff",
    "#f4f6f9",
    "#14213d",
    "#eaeef4",
    "#fff7f6",
    "#f3faf6",
    "#fafbfc",
    "#fdecea",
)


def luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def css_variables(css: str) -> dict[str, str]:
    root = re.search(r":root\s*{(.*?)}", css, re.S)
    assert root
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", root.group(1)))


def test_the_focus_ring_stands_out_3_to_1_on_every_background() -> None:
    """WCAG 1.4.11: the focus indicator (an outline in --focus) at 3:1 or more against what
    is beside it. The old amber #f5a623 was 2.0:1 on white and 1.7:1 on the tables' heads."""
    focus = css_variables(UI_CSS.read_text())["focus"]
    weak = {bg: round(contrast(focus, bg), 2) for bg in BACKGROUNDS if contrast(focus, bg) < 3}
    assert not weak, f"--focus {focus} is under 3:1 on {weak}"


def test_every_input_edge_is_3_to_1_against_white() -> None:
    """WCAG 1.4.11: a text input or select is seen by its border. Every border given to an
    input or a select (but a read-only cell's transparent one) is 3:1 or more against white."""
    css = re.sub(r"/\*.*?\*/", "", UI_CSS.read_text(), flags=re.S)
    variables = css_variables(css)
    found = []
    for selectors, body in re.findall(r"([^{}]+){([^{}]*)}", css):
        if not re.search(r"\b(input|select)\b", selectors) or "checkbox" in selectors:
            continue
        for value in re.findall(r"border(?:-color)?:\s*([^;]+)", body):
            if "transparent" in value:
                continue
            colour = re.search(r"#[0-9a-fA-F]{6}|var\(--([\w-]+)\)", value)
            assert colour, f"{selectors.strip()}: {value}"
            hex_colour = variables[colour.group(1)] if colour.group(1) else colour.group(0)
            found.append((selectors.strip(), hex_colour, contrast(hex_colour, "#ffffff")))
    assert len(found) >= 4  # the grid's cells, the login fields, the search box, the filters
    weak = [f"{sel} ({colour}: {ratio:.2f})" for sel, colour, ratio in found if ratio < 3]
    assert not weak, "input borders under 3:1: " + "; ".join(weak)


# ---------------------------------------------------------------------------------------------
# The rendered HTML: what a screen reader reads of an element and what it says about it

VOID = {"input", "br", "img", "meta", "link", "hr", "col", "source", "wbr"}


class Elements(HTMLParser):
    """Every element with an id: its attributes and its text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.attrs: dict[str, dict[str, str]] = {}
        self.text: dict[str, str] = {}
        self._open: list[str | None] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.attrs[a["id"]] = a
            self.text.setdefault(a["id"], "")
        if tag not in VOID:
            self._open.append(a.get("id"))

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID and self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for element in self._open:
            if element:
                self.text[element] += data

    def description(self, element_id: str) -> str:
        """What aria-describedby makes a screen reader say after the element's name."""
        ids = self.attrs[element_id].get("aria-describedby", "").split()
        missing = [i for i in ids if i not in self.text]
        assert not missing, f"{element_id} is described by missing {missing}"
        return " ".join(" ".join(self.text[i].split()) for i in ids)


def test_a_conflict_is_read_out_on_the_cells_it_concerns(
    one_license_cred: int, login: Any, open_grid: Any, put_licenses: Any
) -> None:
    """Both changed Specialty: its cell says what is stored there (the stored row's cell was
    only shown under it, marked by colour), the row's first cell says what the conflict is, and
    the summary's link takes the keyboard to the cell to decide on, not to the key."""
    login()
    page = open_grid(one_license_cred)
    put_licenses(1, grid_license(specialty_Code="AAA"), actor="bob")
    row = page.row(11)
    page.set(row, specialty_Code="BBB", license_Name="Alice's name")
    html = page.save().get_data(as_text=True)
    seen = Elements(html)

    assert seen.description(f"{row}-specialty_Code") == "Stored Specialty: AAA"
    said = seen.description(f"{row}-providerCredLicense_Key")
    assert said.startswith("Conflict bob changed the marked cells too")
    assert seen.description(f"{row}-license_Name") == ""  # a cell only she changed: no conflict
    assert f'<a href="#{row}-specialty_Code">License 11</a>' in html


def test_a_row_deleted_meanwhile_says_so_on_its_first_cell(
    app: Any, one_license_cred: int, login: Any, open_grid: Any
) -> None:
    """A message about the whole row (here: deleted by someone else) is read with the row's
    first cell, where the summary's link puts the keyboard."""
    from app.licenses.service import delete_licenses
    from app.tenancy import session_scope

    login()
    page = open_grid(one_license_cred)
    row = page.row(11)
    with app.app_context(), session_scope("main") as session:
        delete_licenses(session, 1, [11], actor="bob", activity_id="x")
    page.set(row, license_Name="Still needed")
    html = page.save().get_data(as_text=True)
    seen = Elements(html)
    first = f"{row}-providerCredLicense_Key"
    assert "Deleted by someone else since you loaded it." in seen.description(first)
    assert f'<a href="#{first}">' in html


def test_each_row_s_result_is_read_with_its_first_cell(
    one_license_cred: int, login: Any, open_grid: Any
) -> None:
    """After a Save, moving down the Key column tells each row's result (it was only a badge
    at the row's end, in a column no key reaches)."""
    login()
    page = open_grid(one_license_cred)
    page.set(page.row(11), license_Name="Renamed")
    page.set(page.blank_rows()[0], license_Name="A new one")
    html = page.save().get_data(as_text=True)
    seen = Elements(html)
    assert seen.description("rows-0-providerCredLicense_Key") == "Updated"
    assert seen.description("rows-1-providerCredLicense_Key") == "Created"
    assert seen.description("rows-2-providerCredLicense_Key") == ""  # a blank row: no result


# ---------------------------------------------------------------------------------------------
# A page's error is tied to the field it is about


def test_a_search_refused_marks_the_search_box_and_is_read_with_it(
    one_license_cred: int, login: Any, client: Any
) -> None:
    login()
    response = client.get("/ui/credentials", query_string={"q": "PRV\x00"})
    assert response.status_code == 400
    seen = Elements(response.get_data(as_text=True))
    assert seen.attrs["q"].get("aria-invalid") == "true"
    assert "NUL character" in seen.description("q")
    clean = Elements(client.get("/ui/credentials?q=PRV").get_data(as_text=True))
    assert "aria-invalid" not in clean.attrs["q"] and "aria-describedby" not in clean.attrs["q"]


def test_a_csv_file_refused_marks_the_file_input_and_is_read_with_it(
    one_license_cred: int, login: Any, client: Any
) -> None:
    import io

    login()
    response = client.post(
        "/ui/credentials/1/licenses/import",
        data={"file": (io.BytesIO(b"nonsense,columns\n1,2\n"), "licenses.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    seen = Elements(response.get_data(as_text=True))
    assert seen.attrs["file"].get("aria-invalid") == "true"
    said = seen.description("file")
    assert said.startswith(seen.text["import-error"].strip())
    # Shown as the other pages' errors are (its class had no style: an information notice).
    assert "alert-error" in seen.attrs["import-error"]["class"].split()
    assert "A CSV file with the columns of a license export" in said  # the help stays
    fresh = Elements(client.get("/ui/credentials/1/licenses/import").get_data(as_text=True))
    assert "aria-invalid" not in fresh.attrs["file"]
    assert fresh.description("file").startswith("A CSV file with the columns")


@pytest.mark.parametrize(
    ("query", "bad", "good"),
    [
        ("since=2026-13-01", "since", "until"),
        ("since=2026-03-02&until=2026-03-01", "until", "since"),
    ],
)
def test_a_review_range_refused_marks_the_day_it_names(
    login: Any, client: Any, query: str, bad: str, good: str
) -> None:
    login()
    response = client.get(f"/ui/integrity?{query}")
    assert response.status_code == 400
    seen = Elements(response.get_data(as_text=True))
    assert seen.attrs[bad].get("aria-invalid") == "true"
    assert seen.description(bad).startswith(f"{bad.capitalize()}: ")
    assert "aria-invalid" not in seen.attrs[good] and seen.description(good) == ""


# ---------------------------------------------------------------------------------------------
# A page that reports an error says so in its title, the first thing a screen reader reads


WRONG_PASSWORD = {"username": "alice", "password": "not it", "database": "main"}
IMPORT = "/ui/credentials/1/licenses/import"


@pytest.mark.parametrize(
    ("who", "method", "url", "data", "status", "title"),
    [
        (None, "get", "/ui/no/such/page", None, 404, "404 Not Found"),
        (None, "post", "/ui/login", WRONG_PASSWORD, 200, "Log in"),
        (None, "post", "/ui/login", {"username": "alice"}, 400, "Log in"),
        ("viewer", "get", IMPORT, None, 403, "403 Forbidden"),
        ("editor", "get", "/ui/credentials?q=P%00", None, 400, "Provider credentials"),
        ("editor", "post", IMPORT, {}, 400, "Import licenses into P1"),
        ("editor", "post", IMPORT, {"file": "nonsense\n1\n"}, 422, "Import licenses into P1"),
        (
            "editor",
            "post",
            IMPORT + "/apply",
            {"csv": "x", "versions": "{}", "token": "forged"},
            400,
            "Import licenses into P1",
        ),
        ("editor", "get", "/ui/integrity?since=2026-13-01", None, 400, "Integrity review"),
    ],
    ids=[
        "not-found",
        "login-failed",
        "login-incomplete",
        "not-allowed",
        "search-refused",
        "import-without-file",
        "import-file-refused",
        "import-token-refused",
        "review-range-refused",
    ],
)
def test_a_page_answered_with_an_error_says_so_first_in_its_title(
    one_license_cred: int,
    make_user: Any,
    login: Any,
    client: Any,
    who: str | None,
    method: str,
    url: str,
    data: dict[str, str] | None,
    status: int,
    title: str,
) -> None:
    """WCAG 3.3.1: the title is read first when a page loads, so it says "Error:" when the page
    refused what was sent (a failed login is given back with status 200, and says so too)."""
    if who is None:
        make_user("alice", "correct horse")
    else:
        login(role=who)
    if data and "file" in data:
        data = {"file": (io.BytesIO(data["file"].encode()), "licenses.csv")}
    response = getattr(client, method)(url, data=data)
    assert response.status_code == status
    assert title_of(response) == f"Error: {title} · credgrid"


def test_an_unexpected_error_says_so_in_its_title(
    login: Any, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.ui import views

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("broken")

    monkeypatch.setattr(views, "search_creds", broken)
    login()
    response = client.get("/ui/credentials")
    assert response.status_code == 500
    assert title_of(response) == "Error: 500 Internal Server Error · credgrid"


def test_a_save_with_rows_not_saved_says_so_in_its_title(
    one_license_cred: int, login: Any, open_grid: Any
) -> None:
    login()
    page = open_grid(one_license_cred)
    page.set(page.blank_rows()[0], state="ZZ", license_Name="Kept")
    response = page.save(follow_redirects=False)
    assert response.status_code == 422
    assert title_of(response) == "Error: Licenses of P1 · credgrid"


@pytest.mark.parametrize(
    ("url", "title"),
    [
        ("/ui/credentials?q=P", "Provider credentials"),
        ("/ui/credentials/1/licenses", "Licenses of P1"),
        (IMPORT, "Import licenses into P1"),
        ("/ui/integrity?since=2026-03-01", "Integrity review"),
    ],
)
def test_a_page_without_an_error_has_its_plain_title(
    one_license_cred: int, login: Any, client: Any, url: str, title: str
) -> None:
    login()
    response = client.get(url)
    assert response.status_code == 200
    assert title_of(response) == f"{title} · credgrid"


def test_a_saved_grid_and_the_login_page_have_their_plain_titles(
    one_license_cred: int, make_user: Any, client: Any, login: Any, open_grid: Any
) -> None:
    assert title_of(client.get("/ui/login")) == "Log in · credgrid"
    login()
    page = open_grid(one_license_cred)
    page.set(page.row(11), license_Name="Renamed")
    response = page.save()
    assert response.status_code == 200 and 'id="save-summary"' in response.get_data(as_text=True)
    assert title_of(response) == "Licenses of P1 · credgrid"


# ---------------------------------------------------------------------------------------------
# The credential list's expiry flags


def spoken(html: str) -> str:
    """The text a screen reader reads of ``html``: without what is aria-hidden, or tags."""
    html = re.sub(r'<span aria-hidden="true">[^<]*</span>', "", html)
    return " ".join(re.sub(r"<[^>]+>", "", html).split())


def test_the_expiry_flags_are_read_in_words_not_as_their_short_signs(
    make_cred: Any, put_licenses: Any, login: Any, client: Any
) -> None:
    """ "≤ 30 d 1" was read "less than or equal to 30 d 1" and "PSV 2" lost its "overdue" (the
    full label was only a title, which a screen reader does not read on a span)."""
    from datetime import UTC, datetime, timedelta

    def day(offset: int) -> str:
        return (datetime.now(UTC) + timedelta(days=offset)).strftime("%Y-%m-%d")

    make_cred(1)
    put_licenses(
        1,
        {"providerCredLicense_Key": 11, "term_Date": day(-3), "psV_Date": day(-1)},
        {"providerCredLicense_Key": 12, "term_Date": day(10)},
        {"providerCredLicense_Key": 13, "term_Date": day(50), "psV_Date": day(-1)},
    )
    login()
    html = client.get("/ui/credentials").get_data(as_text=True)
    flags = re.findall(r'<span class="flag flag-[^"]*"[^>]*>.*?</strong></span>', html)
    assert [spoken(flag) for flag in flags] == [
        "Expired: 1",
        "Within 30 days: 1",
        "In 31–60 days: 1",
        "PSV overdue: 1",
    ]


# ---------------------------------------------------------------------------------------------
# Every table is named (a caption, or a label) and its header cells say what they head


class Tables(HTMLParser):
    """Each ``<table>``: its name (caption text, aria-label, or the text of aria-labelledby's
    elements) and its ``<th>`` cells without a scope."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[dict[str, Any]] = []
        self._in_caption = False
        self.feed(html)
        ids = Elements(html).text
        for table in self.tables:
            labelled = [" ".join(ids.get(i, "").split()) for i in table["labelledby"].split()]
            table["name"] = " ".join([table["caption"].strip(), table["label"], *labelled]).strip()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "table":
            self.tables.append(
                {
                    "label": a.get("aria-label", ""),
                    "labelledby": a.get("aria-labelledby", ""),
                    "caption": "",
                    "unscoped": 0,
                }
            )
        elif tag == "caption":
            self._in_caption = True
        elif tag == "th" and "scope" not in a:
            self.tables[-1]["unscoped"] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption":
            self._in_caption = False

    def handle_data(self, data: str) -> None:
        if self._in_caption:
            self.tables[-1]["caption"] += data


def test_every_table_has_a_name_and_scoped_headers(
    app: Any, one_license_cred: int, put_licenses: Any, login: Any, client: Any
) -> None:
    """A screen reader lists a page's tables by their names and reads a cell with its headers.
    The history page's tables of changes had no name: each is named by its change's heading
    ("Updated by bob …"), so moving from table to table says which change it is."""
    from app.monitoring.service import record_run
    from app.tenancy import session_scope

    put_licenses(1, grid_license(license_Name="Renamed"), actor="carol")
    with app.app_context(), session_scope("main") as session:
        run = record_run(session, now=datetime.now(UTC), ran_by="cron", psv_window_days=120)
    login()
    pages = [
        "/ui/credentials",
        "/ui/credentials/1/licenses",
        "/ui/licenses/11/history",
        "/ui/licenses/expiring?show=psvOverdue",
        "/ui/integrity",
        "/ui/monitoring",
        f"/ui/monitoring/{run}",
        f"/ui/monitoring/{run}/print",
    ]
    found = {}
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        found[url] = Tables(response.get_data(as_text=True)).tables
    assert all(found.values()), {url: len(tables) for url, tables in found.items()}
    unnamed = {url: sum(not t["name"] for t in tables) for url, tables in found.items()}
    assert not any(unnamed.values()), f"tables without a name: {unnamed}"
    unscoped = {url: sum(t["unscoped"] for t in tables) for url, tables in found.items()}
    assert not any(unscoped.values()), f"<th> without a scope: {unscoped}"
    names = [t["name"] for t in found["/ui/licenses/11/history"]]
    assert len(names) == 2
    assert names[0].startswith("Updated by carol") and names[1].startswith("Created by bob")


def test_every_history_link_says_whose_history_it_opens(
    app: Any, one_license_cred: int, put_licenses: Any, login: Any, client: Any
) -> None:
    """A screen reader's list of links read the integrity review's and a monitoring run's
    links to a license's history as bare numbers ("11"; a title is not its name). Each says
    "History of license 11", as the grid's and the expiring list's do."""
    from app.monitoring.service import record_run
    from app.tenancy import session_scope

    put_licenses(
        1, grid_license(effective_Date="2019-01-01", term_Date="2020-01-01"), actor="carol"
    )
    with app.app_context(), session_scope("main") as session:
        run = record_run(session, now=datetime.now(UTC), ran_by="cron", psv_window_days=120)
    login()
    for url in ("/ui/integrity", f"/ui/monitoring/{run}", "/ui/credentials/1/licenses"):
        html = client.get(url).get_data(as_text=True)
        links = re.findall(
            r'<a ([^>]*href="/ui/licenses/(\d+)/history"[^>]*)>(.*?)</a>', html, re.S
        )
        assert links, url
        names = {link_name(attrs, text) for attrs, _key, text in links}
        assert names == {f"History of license {key}" for _attrs, key, _text in links}, url


def link_name(attrs: str, text: str) -> str:
    """A link's accessible name: its aria-label, else the text a screen reader reads of it."""
    label = re.search(r'aria-label="([^"]*)"', attrs)
    return label.group(1) if label else spoken(text)

"""The integrity review's "What" shows the dates it quotes as every staff page does
(mm/dd/yyyy, in ``<time>`` with the ISO value), as the license's history page shows the same
change; its CSV download and ``integrity-report`` keep the stored ISO text."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from gridpage import text_of

from app.audit import utcnow
from app.integrity.rules import PSV_BACKWARDS, Finding
from app.ui.finding_text import finding_detail


def text_inline(html: str) -> str:
    """``text_of`` without a space for a ``<time>`` element's tags: its text runs on."""
    return text_of(re.sub(r"</?time\b[^>]*>", "", html))


def test_the_review_page_shows_the_dates_it_quotes_as_mm_dd_yyyy(
    make_cred: Any, put_licenses: Callable[..., Any], login: Any, client: Any, runner: Any
) -> None:
    make_cred(1)
    put_licenses(1, {"providerCredLicense_Key": 5, "psV_Date": "2025-06-01"}, actor="bob")
    put_licenses(1, {"providerCredLicense_Key": 5, "psV_Date": "2025-01-01"}, actor="bob")
    put_licenses(1, {"providerCredLicense_Key": 6, "term_Date": "2027-01-01"}, actor="bob")
    put_licenses(1, {"providerCredLicense_Key": 6, "term_Date": "2028-06-30T12:30:00Z"})
    login(role="viewer")
    html = client.get("/ui/integrity").get_data(as_text=True)
    shown = text_inline(html)
    assert "psV_Date 06/01/2025 → 01/01/2025" in shown
    assert "term_Date 01/01/2027 → 06/30/2028 12:30, psV_Date not renewed" in shown
    assert '<time datetime="2025-06-01">06/01/2025</time>' in html
    assert '<time datetime="2028-06-30T12:30:00Z">06/30/2028 12:30</time>' in html
    assert "2025-06-01T00:00:00Z →" not in shown and "T00:00:00Z" not in shown

    today = utcnow().date().isoformat()
    download = client.get(f"/ui/integrity/csv?since={today}&until={today}")
    details = {row["detail"] for row in csv.DictReader(io.StringIO(download.get_data(True)))}
    assert "psV_Date 2025-06-01T00:00:00Z → 2025-01-01T00:00:00Z" in details
    assert "term_Date 2027-01-01T00:00:00Z → 2028-06-30T12:30:00Z, psV_Date not renewed" in details
    report = runner.invoke(args=["integrity-report", "--since", today, "--database", "main"])
    assert "psV_Date 2025-06-01T00:00:00Z → 2025-01-01T00:00:00Z" in report.output


def test_a_quoted_value_that_is_not_a_date_is_shown_as_stored() -> None:
    finding = Finding(
        PSV_BACKWARDS,
        5,
        1,
        datetime(2026, 12, 1),
        "bob",
        7,
        "psV_Date garbage <b> → 2025-01-01T00:00:00Z",
        ("psV_Date ", "garbage <b>", " → ", "2025-01-01T00:00:00Z"),
    )
    shown = str(finding_detail(finding))
    assert shown == ('psV_Date garbage &lt;b&gt; → <time datetime="2025-01-01">01/01/2025</time>')


def test_a_detail_quoting_no_value_is_shown_as_it_is() -> None:
    finding = Finding(PSV_BACKWARDS, 5, 1, None, None, 7, "row 7 stored as '2026-12-06T09:00Z'")
    assert str(finding_detail(finding)) == "row 7 stored as &#39;2026-12-06T09:00Z&#39;"

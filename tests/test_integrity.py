"""The integrity review: each rule fires on what it describes and not on its near miss; the
report (CLI and service) over real history, including rows altered by SQL."""

from __future__ import annotations

import csv
import io
import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from app.audit import utcnow
from app.integrity.rules import (
    HISTORY_ALTERED,
    LICENSE_DELETED,
    PSV_BACKWARDS,
    RULES,
    SEVERAL_EDITORS,
    TERM_EXTENDED,
    Entry,
    review_license,
    several_editors_within_an_hour,
)
from app.integrity.service import integrity_findings, review_part
from app.licenses.service import delete_licenses, upsert_licenses
from tests.factories import license_item
from tests.history_support import (
    UNREADABLE_TIMES,
    ZONED_TIMES,
    edit_time_by_hand,
    most_findings_alive_per_row,
)

T0 = datetime(2026, 3, 1, 9, 0)


def entry(
    changes: dict[str, list[Any]],
    *,
    action: str = "updated",
    user: str | None = "alice",
    at: datetime = T0,
    number: int = 1,
) -> Entry:
    return Entry(number, 7, 1, f"act-{number}", at, user, action, changes)


def fired(*entries: Entry) -> list[str]:
    return [f.rule.name for f in review_license(list(entries))]


TERM_OLD, TERM_NEW = "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"
PSV_OLD, PSV_NEW = "2025-01-01T00:00:00Z", "2025-06-01T00:00:00Z"

RULE_CASES = [
    # (rule, entries that fire it, entries that do not)
    (
        TERM_EXTENDED,
        [entry({"term_Date": [TERM_OLD, TERM_NEW]})],
        [entry({"term_Date": [TERM_OLD, TERM_NEW], "psV_Date": [PSV_OLD, PSV_NEW]})],
    ),
    (
        TERM_EXTENDED,
        [entry({"term_Date": [TERM_OLD, TERM_NEW], "psV_Date": [PSV_NEW, PSV_OLD]})],
        [  # shortened, or the same date again: not extended
            entry({"term_Date": [TERM_NEW, TERM_OLD]}),
            entry({"term_Date": [TERM_OLD, TERM_OLD]}, number=2),
        ],
    ),
    (
        TERM_EXTENDED,
        [entry({"term_Date": [TERM_OLD, TERM_NEW], "psV_Date": [PSV_OLD, None]})],
        [entry({"term_Date": [None, TERM_NEW]}, action="created")],  # set, not extended
    ),
    (  # removed: the license no longer expires (an expired one leaves the expired bucket)
        TERM_EXTENDED,
        [entry({"term_Date": [TERM_OLD, None]})],
        [  # set from none: it expires now; a deletion clears every field (its own rule)
            entry({"term_Date": [None, TERM_OLD]}),
            entry({"term_Date": [TERM_OLD, None]}, action="deleted", number=2),
        ],
    ),
    (
        TERM_EXTENDED,
        [entry({"term_Date": [TERM_OLD, None], "psV_Date": [PSV_NEW, PSV_NEW]})],
        [entry({"term_Date": [TERM_OLD, None], "psV_Date": [None, PSV_OLD]})],
    ),
    (
        PSV_BACKWARDS,
        [entry({"psV_Date": [PSV_NEW, PSV_OLD]})],
        [  # later, or the same date again
            entry({"psV_Date": [PSV_OLD, PSV_NEW]}),
            entry({"psV_Date": [PSV_OLD, PSV_OLD]}, number=2),
        ],
    ),
    (
        PSV_BACKWARDS,
        [entry({"psV_Date": [PSV_NEW, "2024-12-31T23:59:59Z"], "state": ["NY", "CA"]})],
        [entry({"psV_Date": [None, PSV_OLD]}, action="created")],
    ),
    (
        LICENSE_DELETED,
        [entry({"state": ["NY", None]}, action="deleted")],
        [entry({"state": ["NY", "CA"]})],
    ),
    (
        SEVERAL_EDITORS,
        [
            entry({"state": [None, "NY"]}, user="alice", at=T0, number=1),
            entry({"state": ["NY", "CA"]}, user="bob", at=T0 + timedelta(minutes=59), number=2),
        ],
        [
            entry({"state": [None, "NY"]}, user="alice", at=T0, number=1),
            entry({"state": ["NY", "CA"]}, user="bob", at=T0 + timedelta(minutes=61), number=2),
        ],
    ),
    (
        SEVERAL_EDITORS,
        [
            entry({"state": [None, "NY"]}, user="alice", at=T0, number=1),
            entry({"state": ["NY", "WA"]}, user="alice", at=T0 + timedelta(minutes=5), number=2),
            entry({"state": ["WA", "CA"]}, user="carol", at=T0 + timedelta(minutes=30), number=3),
        ],
        [  # one person, several times; or a change without a user
            entry({"state": [None, "NY"]}, user="alice", at=T0, number=1),
            entry({"state": ["NY", "CA"]}, user="alice", at=T0 + timedelta(minutes=5), number=2),
            entry({"state": ["CA", "TX"]}, user=None, at=T0 + timedelta(minutes=6), number=3),
        ],
    ),
]


@pytest.mark.parametrize(
    ("rule", "fires", "misses"),
    RULE_CASES,
    ids=[f"{c[0].name}-{i}" for i, c in enumerate(RULE_CASES)],
)
def test_each_rule_fires_on_what_it_describes_and_not_on_the_near_miss(
    rule: Any, fires: list[Entry], misses: list[Entry]
) -> None:
    assert rule.name in fired(*fires)
    assert rule.name not in fired(*misses)


def test_several_editors_reads_an_hour_back_not_the_whole_history() -> None:
    """A license changed every minute for a month by two integrations (43,200 changes): each
    change was compared with every one before it, some 10^9 comparisons, so the review's CSV
    and ``integrity-report`` took minutes; only the hour before each change counts."""
    minute = timedelta(minutes=1)
    busy = [
        entry({}, user=("sync", "bot")[n % 2], at=T0 + n * minute, number=n)
        for n in range(30 * 24 * 60)
    ]
    started = time.monotonic()
    found = list(several_editors_within_an_hour(busy))
    assert time.monotonic() - started < 5
    assert len(found) == len(busy) - 1
    assert found[-1].detail == "bot after sync within the hour before"


def test_several_editors_counts_a_user_stored_under_an_older_form_of_the_name_once() -> None:
    """History rows keep the name as it was stored when they were written (they are hashed);
    migration 0012 rewrote the user's name in NFKC. Her change after the upgrade, within the
    hour of hers before it under the decomposed name, was "éva after éva"."""
    decomposed, composed = "e\u0301va", "\u00e9va"
    assert (
        fired(
            entry({"state": [None, "NY"]}, user=decomposed, at=T0, number=1),
            entry({"state": ["NY", "CA"]}, user=composed, at=T0 + timedelta(minutes=5), number=2),
        )
        == []
    )
    found = several_editors_within_an_hour(
        [
            entry({}, user=decomposed, at=T0, number=1),
            entry({}, user="bob", at=T0 + timedelta(minutes=1), number=2),
            entry({}, user=composed, at=T0 + timedelta(minutes=2), number=3),
        ]
    )
    assert [f.detail for f in found] == [
        f"bob after {composed} within the hour before",
        f"{composed} after bob within the hour before",
    ]


@pytest.mark.parametrize("seed", range(20))
def test_several_editors_finds_what_comparing_every_pair_finds(seed: int) -> None:
    """Changes at random gaps (none, exactly an hour, just under and over): the hour's count
    finds what comparing each change with every earlier one (the rule before) found."""
    rng = random.Random(seed)
    at, entries = T0, []
    for n in range(60):
        at += timedelta(minutes=rng.choice((0, 1, 20, 59, 60, 61, 200)))
        user = rng.choice(("alice", "bob", "carol", None))
        entries.append(entry({}, user=user, at=at, number=n))
    expected = [
        (
            e.id,
            sorted(
                {
                    o.user
                    for o in entries[:i]
                    if o.user not in (None, e.user) and e.at - o.at < timedelta(hours=1)
                }
            ),
        )
        for i, e in enumerate(entries)
        if e.user is not None
    ]
    expected = [(number, users) for number, users in expected if users]
    found = [
        (f.history_id, f.detail.split(" after ")[1].split(" within")[0].split(", "))
        for f in several_editors_within_an_hour(entries)
    ]
    assert found == expected


def test_a_finding_says_what_happened() -> None:
    (finding,) = review_license([entry({"psV_Date": [PSV_NEW, PSV_OLD]}, number=5)])
    assert (finding.rule, finding.license_key, finding.history_id, finding.user) == (
        PSV_BACKWARDS,
        7,
        5,
        "alice",
    )
    assert finding.detail == f"psV_Date {PSV_NEW} → {PSV_OLD}"


@pytest.mark.parametrize(
    "entries",
    [fires for _, fires, _ in RULE_CASES]
    + [[entry({"term_Date": [TERM_OLD, "none"]})], [entry({"psV_Date": ["none", "1"]})]],
)
def test_a_findings_parts_join_to_its_detail_and_quote_stored_values(
    entries: list[Entry],
) -> None:
    """The page shows ``parts`` and the CSV ``detail``: they must say the same, and each value
    a page may show its own way must be one the change stored (a 'none' in the text is not)."""
    stored = {str(v) for e in entries for pair in e.changes.values() for v in pair if v}
    for finding in review_license(entries):
        if finding.parts:
            assert "".join(finding.parts) == finding.detail, finding
            assert set(finding.parts[1::2]) <= stored, finding


def test_every_rule_has_a_name_and_a_one_line_reason() -> None:
    assert len({rule.name for rule in RULES}) == len(RULES) >= 5
    assert all(rule.reason and "\n" not in rule.reason for rule in RULES)


# ---------------------------------------------------------------------------------------------
# Over the database


@pytest.fixture
def history(make_cred: Any, session_for: Callable[..., Any]) -> None:
    """License 1: extended without PSV by alice, then changed by bob (two people in an hour);
    license 2: PSV moved backwards; license 3: deleted; license 4: renewed properly."""
    make_cred(1)

    def write(actor: str, *items: dict[str, Any]) -> None:
        with session_for() as session:
            outcomes = upsert_licenses(session, 1, list(items), actor=actor, activity_id=actor)
        assert all(o.ok for o in outcomes), outcomes

    base = {"term_Date": "2026-01-01", "psV_Date": "2025-06-01"}
    write("seed", *(license_item(k, **base) for k in (1, 2, 3, 4)))
    write("alice", license_item(1, term_Date="2028-01-01", psV_Date="2025-06-01"))
    write("bob", license_item(1, term_Date="2028-01-01", psV_Date="2025-06-01", state="CA"))
    write("seed", license_item(2, term_Date="2026-01-01", psV_Date="2025-01-01"))
    write("seed", license_item(4, term_Date="2028-01-01", psV_Date="2025-07-01"))
    with session_for() as session:
        delete_licenses(session, 1, [3], actor="seed", activity_id="gone")


def today_range() -> tuple[datetime, datetime]:
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    return today, today + timedelta(days=1)


def test_the_review_finds_each_rule_in_the_history(
    history: None, session_for: Callable[..., Any]
) -> None:
    with session_for() as session:
        findings = integrity_findings(session, *today_range())
    assert sorted((f.rule.name, f.license_key, f.user) for f in findings) == sorted(
        [
            (TERM_EXTENDED.name, 1, "alice"),
            (SEVERAL_EDITORS.name, 1, "alice"),  # alice after seed
            (SEVERAL_EDITORS.name, 1, "bob"),
            (PSV_BACKWARDS.name, 2, "seed"),
            (LICENSE_DELETED.name, 3, "seed"),
        ]
    )


def test_the_review_keeps_to_its_date_range(history: None, session_for: Callable[..., Any]) -> None:
    today, _ = today_range()
    with session_for() as session:
        assert integrity_findings(session, today - timedelta(days=30), today) == []
        assert (
            integrity_findings(session, today + timedelta(days=1), today + timedelta(days=2)) == []
        )


@pytest.mark.parametrize(("size", "parts"), [(1, 6), (2, 4), (3, 3), (9, 1), (100, 1)])
def test_the_parts_of_a_review_find_what_the_whole_range_finds(
    history: None, session_for: Callable[..., Any], size: int, parts: int
) -> None:
    """The history holds nine rows at six instants, the first four rows one batch's instant.
    A part holds at most ``size`` rows and never splits an instant (so the first is that batch
    whatever the size); the several-editors finding on bob's change looks back into the part
    before it."""
    since, until = today_range()
    with session_for() as session:
        whole = integrity_findings(session, since, until)
        found, starts, start = [], [], since
        while True:
            part = review_part(session, start, until, size)
            assert part.start == start
            found += part.findings
            starts.append(start)
            if part.next_start is None:
                break
            assert part.next_start > start
            start = part.next_start
    assert len(whole) == 5 and found == whole
    assert len(starts) == parts


@pytest.mark.parametrize("size", range(1, 10))
def test_the_parts_find_a_row_whose_time_was_respelled_by_hand_on_sqlite(
    history: None, session_for: Callable[..., Any], size: int
) -> None:
    """SQLite compares the stored text: alice's change respelled ``…T…`` (the same instant,
    its hash still holds) sorts after the day's other rows. The parts still find its two
    findings, once, and still end: a part could end where alice's change was, before the
    part's start (the next part was the same one), or not read it at all."""
    with session_for() as session:
        if session.get_bind().dialect.name != "sqlite":
            pytest.skip("PostgreSQL stores an instant, not its spelling")
        session.execute(
            text("UPDATE license_change SET at = replace(at, ' ', 'T') WHERE \"user\" = 'alice'")
        )
        session.commit()
    since, until = today_range()
    with session_for() as session:
        whole = integrity_findings(session, since, until)
        found, start = [], since
        for _ in range(10):
            part = review_part(session, start, until, size)
            found += part.findings
            if part.next_start is None:
                break
            assert part.next_start > start
            start = part.next_start
    assert len(whole) == 5 and found == whole


def history_row(session: Any, user: str, license_key: int) -> int:
    return session.scalar(
        text(
            'SELECT id FROM license_change WHERE "user" = :user '
            "AND provider_cred_license_key = :key ORDER BY id DESC LIMIT 1"
        ),
        {"user": user, "key": license_key},
    )


def review_in_parts(session: Any, since: datetime, until: datetime, size: int) -> list[Any]:
    found, start = [], since
    for _ in range(20):
        part = review_part(session, start, until, size)
        found += part.findings
        if part.next_start is None:
            return found
        assert part.next_start > start
        start = part.next_start
    raise AssertionError("the parts do not end")


@pytest.mark.parametrize("spelling", ZONED_TIMES)
def test_a_time_respelled_by_hand_with_a_zone_is_read_as_its_instant(
    history: None, session_for: Callable[..., Any], runner: Any, spelling: str
) -> None:
    """SQLite hands a time with a zone back aware of it, which no comparison with the
    service's naive UTC times survives: the review failed (TypeError), whole and in parts.
    Read as its instant in UTC, alice's change respelled so is the change it was: the same
    findings, and its hash still holds."""
    since, until = today_range()
    with session_for() as session:
        before = integrity_findings(session, since, until)
        edit_time_by_hand(
            session, history_row(session, "alice", 1), ZONED_TIMES[spelling], timestamp_holds=True
        )
    with session_for() as session:
        assert integrity_findings(session, since, until) == before
        for size in range(1, 10):
            assert review_in_parts(session, since, until, size) == before
    assert len(before) == 5
    result = runner.invoke(args=["integrity-report", "--since", f"{since:%Y-%m-%d}"])
    assert result.exit_code == 1 and "5 finding(s)" in result.output, result.output
    result = runner.invoke(args=["verify-history"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("spelling", UNREADABLE_TIMES)
def test_a_time_edited_into_text_that_is_no_time_is_a_finding_not_a_failure(
    history: None, session_for: Callable[..., Any], runner: Any, spelling: str
) -> None:
    """SQLAlchemy's SQLite reader fails on such text: the review, whole and in parts, and
    verify-history failed with it. The row is now reported as altered (with the text as
    stored) at the start of the day the text still names; text that names no day has no
    time to fall in a range, and verify-history reports it."""
    since, until = today_range()
    with session_for() as session:
        row_id = history_row(session, "seed", 2)
        stored = edit_time_by_hand(
            session, row_id, UNREADABLE_TIMES[spelling][0], timestamp_holds=False
        )
    names_a_day = UNREADABLE_TIMES[spelling][1]
    reason = f"row {row_id} has a time that is not one, stored as {stored!r}: edited by hand"
    with session_for() as session:
        whole = integrity_findings(session, since, until)
        for size in range(1, 10):
            assert review_in_parts(session, since, until, size) == whole
        everything = integrity_findings(session, datetime.min, None)
    altered = [
        (f.license_key, f.history_id, f.at, f.detail) for f in whole if f.rule == HISTORY_ALTERED
    ]
    assert altered == ([(2, row_id, since, reason)] if names_a_day else [])
    assert (reason in [f.detail for f in everything]) == names_a_day
    result = runner.invoke(args=["integrity-report", "--since", f"{since:%Y-%m-%d}"])
    assert result.exit_code == 1, result.output  # the history fixture's own findings at least
    assert (reason in result.output) == names_a_day
    result = runner.invoke(args=["verify-history"])
    assert result.exit_code == 1, result.output
    assert f"license 2: {reason}" in result.output


def test_a_review_part_past_the_last_change_is_the_last_and_empty(
    history: None, session_for: Callable[..., Any]
) -> None:
    since, until = today_range()
    with session_for() as session:
        part = review_part(session, until - timedelta(microseconds=1), until, 1)
    assert part.findings == [] and part.next_start is None


def test_rows_altered_by_sql_are_findings(history: None, session_for: Callable[..., Any]) -> None:
    with session_for() as session:
        session.execute(
            text(
                "UPDATE license_change SET \"user\" = 'seed' WHERE provider_cred_license_key = 1 "
                "AND \"user\" = 'bob'"
            )
        )
        session.commit()
    with session_for() as session:
        findings = integrity_findings(session, *today_range())
    altered = [f for f in findings if f.rule == HISTORY_ALTERED]
    assert [(f.license_key, f.history_id is not None) for f in altered] == [(1, True)]
    assert "does not match its hash" in altered[0].detail


@pytest.mark.parametrize(
    "changes",
    [
        "[1]",  # not an object
        '{"term_Date": 5, "psV_Date": ["2025-01-01", 7]}',  # not [old, new] pairs of dates
        '{"state": ["CA", 1e400]}',  # a number no double holds
        b'{"state": ["CA", "N\xffY"]}',  # a byte that is not UTF-8 (SQLite's text only)
    ],
)
def test_changes_edited_into_any_shape_are_a_finding_not_a_failure(
    history: None, session_for: Callable[..., Any], runner: Any, changes: str | bytes
) -> None:
    """The review exists for rows edited by hand: whatever such a row holds, it is reported
    as altered, and the review and verify-history still answer."""
    with session_for() as session:
        postgres = session.get_bind().dialect.name == "postgresql"
        if postgres and isinstance(changes, bytes):
            pytest.skip("jsonb holds UTF-8 only")
        value = "CAST(:changes AS jsonb)" if postgres else "CAST(:changes AS TEXT)"
        session.execute(
            text(
                f"UPDATE license_change SET changes = {value} "
                "WHERE provider_cred_license_key = 2 AND action = 'updated'"
            ),
            {"changes": changes},
        )
        session.commit()
    with session_for() as session:
        findings = integrity_findings(session, *today_range())
    altered = [f for f in findings if f.rule == HISTORY_ALTERED]
    assert [f.license_key for f in altered] == [2]
    assert "does not match its hash" in altered[0].detail
    result = runner.invoke(args=["verify-history"])
    assert result.exit_code == 1, result.output
    assert "does not match its hash" in result.output


def test_integrity_report_cli_as_text_and_csv(history: None, runner: Any) -> None:
    """Written in full, then exit status 1 when there is a finding, as verify-history exits 1
    on a broken chain, so a scheduled run can alert on it (it exited 0)."""
    today = utcnow().strftime("%Y-%m-%d")
    result = runner.invoke(args=["integrity-report", "--since", today, "--database", "main"])
    assert result.exit_code == 1, result.output
    assert "5 finding(s)." in result.output
    assert f"license 2  {PSV_BACKWARDS.name}: psV_Date 2025-06-01T00:00:00Z → 2025-01-01" in (
        result.output
    )
    assert "/ui/licenses/2/history" in result.output
    assert f"  {TERM_EXTENDED.name}: {TERM_EXTENDED.reason}" in result.output
    assert "every history row was deleted has no date to fall in a range" in result.output

    result = runner.invoke(
        args=["integrity-report", "--since", today, "--until", today, "--format", "csv"]
    )
    assert result.exit_code == 1, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert len(rows) == 5
    deleted = next(r for r in rows if r["rule"] == LICENSE_DELETED.name)
    assert deleted["providerCredLicense_Key"] == "3"
    assert deleted["reason"] == LICENSE_DELETED.reason
    assert deleted["history"] == "/ui/licenses/3/history"
    assert deleted["at"].endswith("Z")


@pytest.mark.parametrize("output_format", ["text", "csv"])
def test_integrity_report_cli_without_findings_exits_0(
    history: None, runner: Any, output_format: str
) -> None:
    result = runner.invoke(
        args=["integrity-report", "--since", "2020-01-01", "--until", "2020-01-31"]
        + ["--format", output_format]
    )
    assert result.exit_code == 0, result.output
    if output_format == "csv":
        assert list(csv.DictReader(io.StringIO(result.output))) == []
    else:
        assert "0 finding(s)." in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["--since", "2026-01-01", "--until", "9999-12-31"],
        ["--since", "0001-01-01"],
        ["--since", "0001-01-01", "--until", "9999-12-31", "--format", "csv"],
    ],
)
def test_integrity_report_cli_takes_the_calendars_first_and_last_days(
    history: None, runner: Any, args: list[str]
) -> None:
    """A range to the ends of the calendar reviews everything (it overflowed the date type)."""
    result = runner.invoke(args=["integrity-report", *args, "--database", "main"])
    assert result.exit_code == 1, result.output
    if "csv" in args:
        assert len(list(csv.DictReader(io.StringIO(result.output)))) == 5
    else:
        assert "5 finding(s)." in result.output
        # The range as given, in the form it was given (the year 1 was written "1-01-01").
        assert f"Integrity review of 'main', {args[1]} to " in result.output


def test_the_review_reaches_the_calendars_ends(
    history: None, session_for: Callable[..., Any]
) -> None:
    with session_for() as session:
        assert len(integrity_findings(session, datetime(1, 1, 1), None)) == 5
        assert integrity_findings(session, datetime(9999, 12, 31), None) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # Said in words, not as strptime's '%Y-%m-%d'.
        (
            ["--since", "2026-02-30"],
            "Invalid value for '--since': '2026-02-30' is not a date; use YYYY-MM-DD, e.g. "
            "2024-01-31.",
        ),
        (
            ["--since", "2026-03-01", "--until", "yesterday"],
            "Invalid value for '--until': 'yesterday' is not a date; use YYYY-MM-DD, e.g. "
            "2024-01-31.",
        ),
        (["--since", "2026-03-02", "--until", "2026-03-01"], "must not be before --since"),
        (["--since", "9999-12-31"], "Invalid value for --since: must not be after today"),
        ([], "Missing option '--since'"),
        (["--since", "2026-03-01", "--format", "xml"], "Invalid value for '--format'"),
    ],
)
def test_integrity_report_cli_rejects_bad_options(
    runner: Any, args: list[str], message: str
) -> None:
    result = runner.invoke(args=["integrity-report", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "%Y" not in result.output and "Traceback" not in result.output


def test_a_time_respelled_by_hand_does_not_make_the_rest_of_the_range_one_part_on_sqlite(
    history: None, session_for: Callable[..., Any]
) -> None:
    """SQLite compares the stored text: the first change respelled ``…T00:00:01`` sorts after
    its day's other rows. Where it was the row after a part's first ``size``, the part ended
    before its start and the whole rest of the range (the next day too) became one part. The
    parts count only the times the service spelled, which sort as their instants: each of the
    nine rows is a part of its own, and they find what the whole range finds."""
    since, until = today_range()
    day, next_day = since.date().isoformat(), until.date().isoformat()
    with session_for() as session:
        if session.get_bind().dialect.name != "sqlite":
            pytest.skip("PostgreSQL stores an instant, not its spelling")
        ids = list(session.scalars(text("SELECT id FROM license_change ORDER BY id")))
        times = [f"{day}T00:00:01"] + [f"{day} 0{hour}:00:00.000000" for hour in (1, 2, 3)]
        times += [f"{next_day} 0{hour}:00:00.000000" for hour in (1, 2, 3, 4, 5)]
        for row_id, at in zip(ids, times, strict=True):
            session.execute(
                text("UPDATE license_change SET at = :at WHERE id = :id"), {"at": at, "id": row_id}
            )
        session.commit()
    end = until + timedelta(days=1)
    with session_for() as session:
        whole = integrity_findings(session, since, end)
        found, starts, start = [], [], since
        while len(starts) < 20:
            part = review_part(session, start, end, 1)
            found += part.findings
            starts.append(start)
            if part.next_start is None:
                break
            start = part.next_start
    assert found == whole
    assert len(starts) == 8  # the first part holds the first two rows (00:00:01, 01:00)


DELETED_LICENSES = 40


@pytest.mark.parametrize("output_format", ["text", "csv"])
def test_integrity_report_holds_a_run_of_findings_not_every_one(
    app: Any,
    make_cred: Any,
    session_for: Callable[..., Any],
    runner: Any,
    monkeypatch: Any,
    output_format: str,
) -> None:
    """A bulk change is as many findings (300,000 licenses deleted: 300,000 of them, which the
    report held at once with their links: 433 MB at its peak, against 137 MB now). They are
    sorted a run at a time, spilled to a temporary file and merged as they are written, in
    the same order and with the same count first."""
    from app.integrity import service

    make_cred(1)
    keys = list(range(1, DELETED_LICENSES + 1))
    with session_for() as session:
        upsert_licenses(session, 1, [license_item(k) for k in keys], actor="seed", activity_id="a")
    with session_for() as session:
        delete_licenses(session, 1, keys, actor="seed", activity_id="gone")
    today = utcnow().strftime("%Y-%m-%d")
    args = ["integrity-report", "--since", today, "--format", output_format]
    whole = runner.invoke(args=args).output  # not the result: its traceback holds the report
    monkeypatch.setattr(service, "SORT_RUN", 4, raising=False)
    alive = most_findings_alive_per_row(monkeypatch)
    result = runner.invoke(args=args)
    assert result.exit_code == 1, result.output
    assert result.output == whole  # the same report, in the same order
    assert f"{DELETED_LICENSES} finding(s)." in result.output or output_format == "csv"
    assert len(alive) == DELETED_LICENSES
    # Ten runs of four: at most one finding of each spilled run and the last run in memory.
    assert max(alive) <= 15, alive


def test_the_report_reads_the_history_a_part_at_a_time(
    history: None, runner: Any, monkeypatch: Any
) -> None:
    """The report's range was one statement, its rows set apart and sorted before the first
    came back: a long range at a large plan met the statement timeout (900,000 rows over 2 s).
    It reads parts of ``REPORT_PART_ROWS`` history rows now, a statement each, and reports
    exactly what the whole range does."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from app.integrity import service

    today = utcnow().strftime("%Y-%m-%d")
    args = ["integrity-report", "--since", today, "--format", "csv"]
    whole = runner.invoke(args=args).output
    monkeypatch.setattr(service, "REPORT_PART_ROWS", 1, raising=False)
    reads: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "in_range" in statement:
            reads.append(statement)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        result = runner.invoke(args=args)
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert result.exit_code == 1 and result.output == whole
    assert len(reads) >= 5  # the fixture's five writes at five instants: a part each


def test_the_report_lists_findings_by_time_across_licenses(
    make_cred: Any, session_for: Callable[..., Any]
) -> None:
    """The findings are read license by license: license 1's, then license 2's. License 2's
    came first (its PSV date moved back by a second editor before license 1's), and the
    report lists them by
    time, however few they are (all in the run held in memory)."""
    from app.integrity.service import findings_by_time

    make_cred(1)
    since = utcnow() - timedelta(minutes=1)
    for key in (2, 1):
        for actor, psv in (("alice", "2025-06-01"), ("bob", "2025-01-01")):
            item = license_item(key, psV_Date=psv)
            with session_for() as session:
                upsert_licenses(session, 1, [item], actor=actor, activity_id=f"{key}{actor}")
    with session_for() as session:
        expected = integrity_findings(session, since, None)
        assert [f.license_key for f in expected] == [2, 2, 1, 1], expected
        with findings_by_time(session, since, None) as findings:
            assert list(findings) == expected


def test_findings_spilled_to_a_file_keep_the_values_their_detail_quotes(
    monkeypatch: Any,
) -> None:
    """A page shows a finding's quoted dates its own way from ``parts``: the findings sorted
    a run at a time and read back from their temporary files keep them."""
    from app.integrity import service

    monkeypatch.setattr(service, "SORT_RUN", 2, raising=False)
    entries = [
        Entry(n, n, 1, "a", datetime(2026, 12, 1, 0, n), "bob", "updated", changes)
        for n, changes in enumerate(
            [{"psV_Date": ["2025-06-01T00:00:00Z", f"2025-01-0{n}T00:00:00Z"]} for n in range(1, 6)]
        )
    ]
    found = [finding for entry in entries for finding in review_license([entry])]
    with service.FindingsByTime(reversed(found)) as by_time:
        read_back = list(by_time)
    assert read_back == found
    assert read_back[0].parts == (
        "psV_Date ",
        "2025-06-01T00:00:00Z",
        " → ",
        "2025-01-01T00:00:00Z",
    )

"""The history's hash chain: written with every change, and any edit by hand is found."""

from __future__ import annotations

import importlib.util
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text

from app.audit import utcnow
from app.history.chain import GENESIS, canonical, link, seal
from app.history.models import LicenseChange, LicenseHistoryHead
from app.history.verification import chain_breaks, rows_between
from app.integrity.rules import HISTORY_ALTERED
from app.integrity.service import integrity_findings
from app.licenses.service import delete_licenses, upsert_licenses
from app.schema import MIGRATIONS_DIR
from tests.factories import license_item

CRED = 1


@pytest.fixture
def write(session_for: Callable[..., Any], make_cred: Any) -> Callable[..., Any]:
    make_cred(CRED)

    def _write(items: list[dict[str, Any]], actor: str = "alice", activity: str = "a") -> Any:
        with session_for() as session:
            outcomes = upsert_licenses(session, CRED, items, actor=actor, activity_id=activity)
        assert all(o.ok for o in outcomes), outcomes
        return outcomes

    return _write


@pytest.fixture
def three_licenses(write: Callable[..., Any], session_for: Callable[..., Any]) -> None:
    """Licenses 1, 2 and 3 with three history rows each; license 4 created then deleted."""
    write([license_item(k) for k in (1, 2, 3, 4)], activity="create")
    write([license_item(k, state="CA") for k in (1, 2, 3)], activity="move")
    write([license_item(k, state="TX", license_Number=f"T-{k}") for k in (1, 2, 3)], actor="bob")
    with session_for() as session:
        delete_licenses(session, CRED, [4], actor="alice", activity_id="gone")


def tamper(session_for: Callable[..., Any], *statements: str) -> None:
    """Run SQL as someone would in psql or sqlite3, bypassing the application."""
    with session_for() as session:
        for statement in statements:
            session.execute(text(statement))
        session.commit()


def broken(session_for: Callable[..., Any]) -> set[int]:
    with session_for() as session:
        return {chain_break.license_key for chain_break in chain_breaks(session)}


def row_ids(session_for: Callable[..., Any], key: int) -> list[int]:
    with session_for() as session:
        return list(
            session.scalars(
                select(LicenseChange.id)
                .where(LicenseChange.provider_cred_license_key == key)
                .order_by(LicenseChange.id)
            )
        )


# ---------------------------------------------------------------------------------------------
# The pure chain


def test_seal_chains_rows_onto_the_stored_heads_and_returns_the_new_heads() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, 123456)
    first = (7, 1, "a", at, "ann", "created", {"state": [None, "NY"]})
    second = (7, 1, "b", at, "bob", "updated", {"state": ["NY", "CA"]})
    other = (8, 1, "b", at, "bob", "created", {})
    columns = ("provider_cred_license_key", "provider_cred_key", "activity_id", "at", "user")
    columns += ("action", "changes")
    rows = [dict(zip(columns, values, strict=True)) for values in (first, second, other)]
    heads = seal(rows, {8: "abc"})
    one = link(GENESIS, canonical(*first))
    two = link(one, canonical(*second))
    assert [r["row_hash"] for r in rows] == [one, two, link("abc", canonical(*other))]
    assert heads == {7: two, 8: rows[2]["row_hash"]}
    assert {k: v for k, v in rows[0].items() if k != "row_hash"} == dict(
        zip(columns, first, strict=True)
    )


def test_the_canonical_form_ignores_key_order_and_covers_every_value() -> None:
    at = datetime(2026, 1, 2)
    base = canonical(1, 1, "a", at, "ann", "updated", {"a": [1, 2], "b": [None, "x"]})
    assert base == canonical(1, 1, "a", at, "ann", "updated", {"b": [None, "x"], "a": [1, 2]})
    variants = [
        canonical(2, 1, "a", at, "ann", "updated", {"a": [1, 2], "b": [None, "x"]}),
        canonical(1, 2, "a", at, "ann", "updated", {"a": [1, 2], "b": [None, "x"]}),
        canonical(1, 1, "b", at, "ann", "updated", {"a": [1, 2], "b": [None, "x"]}),
        canonical(1, 1, "a", at.replace(microsecond=1), "ann", "updated", {"a": [1, 2]}),
        canonical(1, 1, "a", at, "bob", "updated", {"a": [1, 2], "b": [None, "x"]}),
        canonical(1, 1, "a", at, "ann", "deleted", {"a": [1, 2], "b": [None, "x"]}),
        canonical(1, 1, "a", at, "ann", "updated", {"a": [1, 3], "b": [None, "x"]}),
    ]
    assert base not in variants


def test_the_migration_keeps_an_identical_copy_of_the_canonical_form() -> None:
    path = MIGRATIONS_DIR / "versions" / "0007_compliance_records.py"
    spec = importlib.util.spec_from_file_location("migration_0007", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    row = (
        5,
        1,
        "act",
        datetime(2026, 5, 1, 0, 0, 0, 7),
        None,
        "updated",
        {"z": [1, None], "a": []},
    )
    assert migration._canonical(*row) == canonical(*row)
    assert migration._link("prev", b"x") == link("prev", b"x")
    assert migration.GENESIS == GENESIS


# ---------------------------------------------------------------------------------------------
# Written by the service


def test_every_write_keeps_the_chain_and_the_head(
    three_licenses: None, session_for: Callable[..., Any]
) -> None:
    with session_for() as session:
        rows = session.scalars(select(LicenseChange).order_by(LicenseChange.id)).all()
        heads = {
            h.provider_cred_license_key: h.row_hash
            for h in session.scalars(select(LicenseHistoryHead))
        }
    assert all(row.row_hash for row in rows)
    previous: dict[int, str] = {}
    for row in rows:
        key = row.provider_cred_license_key
        content = canonical(
            key, row.provider_cred_key, row.activity_id, row.at, row.user, row.action, row.changes
        )
        assert row.row_hash == link(previous.get(key, GENESIS), content)
        previous[key] = row.row_hash
    assert heads == previous
    assert set(heads) == {1, 2, 3, 4}  # the deleted license keeps its history and head
    assert broken(session_for) == set()


def test_a_range_reads_its_rows_only_each_with_its_chain_neighbours(
    three_licenses: None, session_for: Callable[..., Any]
) -> None:
    """The integrity review's read: the rows dated in the range and nothing else, each with
    the stored hash of the row before it and the id of the row after it, read from rows
    outside the range."""
    tamper(session_for, "UPDATE license_change SET at = '2020-03-01 10:00:00'")
    moved = [row_ids(session_for, key)[1] for key in (1, 2, 3)]  # each chain's middle row
    tamper(
        session_for,
        "UPDATE license_change SET at = '2020-03-02 10:00:00' "
        f"WHERE id IN ({', '.join(map(str, moved))})",
    )
    with session_for() as session:
        found = list(rows_between(session, datetime(2020, 3, 2), datetime(2020, 3, 3)))
        stored = {row.id: row for row in session.scalars(select(LicenseChange))}
    assert [row.id for row in found] == moved
    for row in found:
        ids = row_ids(session_for, row.license_key)
        assert row.previous_hash == stored[ids[0]].row_hash
        assert row.next_id == ids[2]
        assert row.changes == stored[row.id].changes and row.head is not None


def test_a_range_looks_back_at_its_own_licenses_rows_only(
    three_licenses: None, session_for: Callable[..., Any]
) -> None:
    """What the review looks back at (the hour before a part) is read for the licenses with a
    row in the part only: after a bulk change each later part of that day's review read every
    row of the hour before it (300,000 rows in six minutes: 8.8 s a part, 0.3 s now)."""
    # As the service spells a time (SQLite reads the others from a day around the range).
    tamper(session_for, "UPDATE license_change SET at = '2020-03-02 09:30:00.000000'")
    moved = [row_ids(session_for, key)[-1] for key in (1, 2)]  # licenses 1 and 2 change later
    tamper(
        session_for,
        "UPDATE license_change SET at = '2020-03-02 10:00:00.000000' "
        f"WHERE id IN ({', '.join(map(str, moved))})",
    )
    since, until = datetime(2020, 3, 2, 10), datetime(2020, 3, 2, 11)
    with session_for() as session:
        found = list(rows_between(session, since, until, lookback=since - timedelta(hours=1)))
        alone = list(rows_between(session, since, until))
    assert [row.id for row in found] == row_ids(session_for, 1) + row_ids(session_for, 2)
    assert [row.id for row in alone] == moved


def test_an_unchanged_resend_writes_no_row_and_keeps_the_head(
    write: Callable[..., Any], session_for: Callable[..., Any]
) -> None:
    write([license_item(1)])
    with session_for() as session:
        head = session.get(LicenseHistoryHead, 1)
        assert head is not None
        before = head.row_hash
    write([license_item(1)])
    with session_for() as session:
        assert session.get(LicenseHistoryHead, 1).row_hash == before  # type: ignore[union-attr]
        assert session.scalar(select(func.count()).select_from(LicenseChange)) == 1


def test_the_history_api_answers_without_the_hash(
    three_licenses: None, client: Any, auth_headers: Any
) -> None:
    response = client.get("/provider-credentialing/1/licenses/1/history", headers=auth_headers())
    assert response.status_code == 200
    entries = response.get_json()["data"]
    assert len(entries) == 3
    assert all(set(e) == {"activityID", "at", "user", "action", "changes"} for e in entries)


# ---------------------------------------------------------------------------------------------
# Tampering by SQL is found, naming exactly the licenses touched


TAMPERING: dict[str, Callable[[list[int]], list[str]]] = {
    "changes edited": lambda ids: [
        f'UPDATE license_change SET changes = \'{{"state": ["CA", "NY"]}}\' WHERE id = {ids[1]}'
    ],
    "user edited": lambda ids: [
        f"UPDATE license_change SET \"user\" = 'mallory' WHERE id = {ids[2]}"
    ],
    "date edited": lambda ids: [
        f"UPDATE license_change SET at = '2020-01-01 00:00:00' WHERE id = {ids[0]}"
    ],
    "action edited": lambda ids: [
        f"UPDATE license_change SET action = 'created' WHERE id = {ids[1]}"
    ],
    "middle row deleted": lambda ids: [f"DELETE FROM license_change WHERE id = {ids[1]}"],
    "first row deleted": lambda ids: [f"DELETE FROM license_change WHERE id = {ids[0]}"],
    "newest row deleted": lambda ids: [f"DELETE FROM license_change WHERE id = {ids[2]}"],
    "every row deleted": lambda ids: [
        "DELETE FROM license_change WHERE provider_cred_license_key = 2"
    ],
    "head deleted": lambda ids: [
        "DELETE FROM license_history_head WHERE provider_cred_license_key = 2"
    ],
    # license 2 is still live: every write of a license writes its history, so none is left
    "every row and the head deleted": lambda ids: [
        "DELETE FROM license_change WHERE provider_cred_license_key = 2",
        "DELETE FROM license_history_head WHERE provider_cred_license_key = 2",
    ],
    "rows reordered": lambda ids: [
        f"UPDATE license_change SET id = -1 WHERE id = {ids[0]}",
        f"UPDATE license_change SET id = {ids[0]} WHERE id = {ids[1]}",
        f"UPDATE license_change SET id = {ids[1]} WHERE id = -1",
    ],
    "row inserted": lambda ids: [
        "INSERT INTO license_change (id, provider_cred_license_key, provider_cred_key, "
        'activity_id, at, "user", action, changes) VALUES '
        f"({ids[2] + 1000}, 2, 1, 'forged', '2026-01-01 00:00:00', 'mallory', 'updated', "
        '\'{"state": ["TX", "NY"]}\')'
    ],
    "row inserted with a copied hash": lambda ids: [
        "INSERT INTO license_change (id, provider_cred_license_key, provider_cred_key, "
        'activity_id, at, "user", action, changes, row_hash) SELECT '
        f"{ids[2] + 1000}, 2, 1, 'forged', at, \"user\", action, changes, row_hash "
        f"FROM license_change WHERE id = {ids[2]}"
    ],
}


@pytest.mark.parametrize("how", TAMPERING)
def test_tampering_by_sql_is_found(
    three_licenses: None, session_for: Callable[..., Any], runner: Any, how: str
) -> None:
    tamper(session_for, *TAMPERING[how](row_ids(session_for, 2)))
    assert broken(session_for) == {2}
    result = runner.invoke(args=["verify-history", "--database", "main"])
    assert result.exit_code == 1, result.output
    assert "license 2:" in result.output
    assert "license 1:" not in result.output and "license 3:" not in result.output
    assert "have history changed outside the service: 2." in result.output


NAMED_BREAKS: dict[str, Callable[[list[int]], str]] = {
    "row inserted": lambda ids: (
        f"row {ids[2] + 1000} has no hash: written outside the license service"
    ),
    "head deleted": lambda ids: "has no newest hash on record (its head was deleted)",
    "newest row deleted": lambda ids: (
        f"ends at row {ids[1]}, not at its newest hash on record: newer rows were deleted"
    ),
    "changes edited": lambda ids: (
        f"row {ids[1]} does not match its hash: edited, inserted or reordered by hand, or a "
        "row before it was deleted"
    ),
}


@pytest.mark.parametrize("how", NAMED_BREAKS)
def test_each_break_is_named_for_what_was_done(
    three_licenses: None, session_for: Callable[..., Any], how: str
) -> None:
    """Not only license 2 is found: its break says which of the chain's checks failed (a row
    without a hash is not "does not match its hash", a deleted head not "newer rows were
    deleted")."""
    ids = row_ids(session_for, 2)
    tamper(session_for, *TAMPERING[how](ids))
    with session_for() as session:
        reasons = [b.reason for b in chain_breaks(session) if b.license_key == 2]
    assert NAMED_BREAKS[how](ids) in reasons, reasons


#: Hand edits of a row's time: the break is then placed at the edited time.
MOVED_IN_TIME: dict[str, Callable[[list[int]], list[str]]] = {
    "date moved to another day": lambda ids: [
        f"UPDATE license_change SET at = '2020-03-01 10:00:00' WHERE id = {ids[0]}"
    ],
    "newest row moved to an earlier day": lambda ids: [
        f"UPDATE license_change SET at = '2020-03-01 00:00:00' WHERE id = {ids[2]}"
    ],
    # SQLite keeps the zone's spelling, on the day next to its instant's in UTC (2020-03-01
    # 20:00; 2020-03-02 03:00); PostgreSQL's timestamp drops the zone
    "moved to a time whose zone puts it on the day before": lambda ids: [
        f"UPDATE license_change SET at = '2020-03-02T01:00:00+05:00' WHERE id = {ids[0]}"
    ],
    "moved to a time whose zone puts it on the day after": lambda ids: [
        f"UPDATE license_change SET at = '2020-03-01 22:00:00-05:00' WHERE id = {ids[1]}"
    ],
}
#: Hand edits of a row's time into text that is no time (SQLite's text column only): the
#: break is placed at the start of the day the text still names; text that names none is the
#: walk's alone, like a license whose every row was deleted.
TIME_NOT_A_TIME: dict[str, Callable[[list[int]], list[str]]] = {
    "time unpadded": lambda ids: [
        f"UPDATE license_change SET at = '2020-03-01 9:00:00' WHERE id = {ids[1]}"
    ],
    "newest row's time past its day's hours": lambda ids: [
        f"UPDATE license_change SET at = '2020-03-01T25:00:00' WHERE id = {ids[2]}"
    ],
    "time that names no day": lambda ids: [
        f"UPDATE license_change SET at = 'garbage' WHERE id = {ids[1]}"
    ],
    "time empty": lambda ids: [f"UPDATE license_change SET at = '' WHERE id = {ids[0]}"],
    # Python reads these as 2020-03-01 20:00, but their text sorts off that day's (after
    # 2020-12-31): read as times, the review of 2020-03-01 never saw them
    "time in ISO basic format": lambda ids: [
        f"UPDATE license_change SET at = '20200301T200000' WHERE id = {ids[1]}"
    ],
    "time as an ISO week date": lambda ids: [
        f"UPDATE license_change SET at = '2020-W09-7T20:00:00' WHERE id = {ids[1]}"
    ],
}
EDITS = {**TAMPERING, **MOVED_IN_TIME, **TIME_NOT_A_TIME}


@pytest.mark.parametrize("how", EDITS)
def test_the_integrity_review_finds_in_a_range_what_the_whole_walk_finds_there(
    three_licenses: None, session_for: Callable[..., Any], how: str
) -> None:
    """The review reads only the chains of the licenses with rows in its range; over every
    day that holds a row (and every day's neighbours) and over all time, its hash findings
    are the breaks the walk of every chain dates in that range. Only a license whose every
    row was deleted, or a row whose time names no day, has no date and is the walk's alone."""
    with session_for() as session:
        if how in TIME_NOT_A_TIME and session.get_bind().dialect.name != "sqlite":
            pytest.skip("a timestamp holds a time only")
    tamper(session_for, *EDITS[how](row_ids(session_for, 2)))
    with session_for() as session:
        walked = list(chain_breaks(session))
        days = {at.replace(hour=0, minute=0, second=0, microsecond=0) for at in _times(walked)}
        ranges = [(datetime(1, 1, 1), None)] + [
            (day + timedelta(days=shift), day + timedelta(days=shift + 1))
            for day in days
            for shift in (-1, 0, 1)
        ]
        for since, until in ranges:
            expected = {
                (b.license_key, b.row_id, b.reason)
                for b in walked
                # a half-open range, stated here rather than by the reader's own ``within``
                if b.at is not None and since <= b.at and (until is None or b.at < until)
            }
            found = {
                (f.license_key, f.history_id, f.detail)
                for f in integrity_findings(session, since, until)
                if f.rule == HISTORY_ALTERED
            }
            assert found == expected, (since, until)
    no_day = how in {
        "every row deleted",
        "every row and the head deleted",
        "time that names no day",
        "time empty",
        "time in ISO basic format",
        "time as an ISO week date",
    }
    assert any(b.at is None for b in walked) == no_day
    assert walked, "each tampering breaks license 2's chain"
    if how in TIME_NOT_A_TIME:
        assert any("has a time that is not one, stored as" in b.reason for b in walked)


def _times(walked: list[Any]) -> list[datetime]:
    """The time of every break, and of today's rows (every row the service wrote)."""
    return [b.at for b in walked if b.at is not None] + [utcnow()]


def test_verify_history_passes_an_untouched_database(three_licenses: None, runner: Any) -> None:
    result = runner.invoke(args=["verify-history"])
    assert result.exit_code == 0, result.output
    assert "Every history chain in 'main' holds." in result.output


def test_verify_history_names_every_broken_license(
    three_licenses: None, session_for: Callable[..., Any], runner: Any
) -> None:
    tamper(
        session_for,
        f"DELETE FROM license_change WHERE id = {row_ids(session_for, 1)[2]}",
        f"UPDATE license_change SET \"user\" = 'eve' WHERE id = {row_ids(session_for, 3)[0]}",
        f"UPDATE license_change SET \"user\" = 'eve' WHERE id = {row_ids(session_for, 4)[1]}",
    )
    result = runner.invoke(args=["verify-history"])
    assert result.exit_code == 1
    assert "have history changed outside the service: 1, 3, 4." in result.output
    assert f"row {row_ids(session_for, 3)[0]} does not match its hash" in result.output
    assert "newer rows were deleted" in result.output


def test_a_later_write_does_not_hide_earlier_tampering(
    three_licenses: None, write: Callable[..., Any], session_for: Callable[..., Any]
) -> None:
    tamper(session_for, f"DELETE FROM license_change WHERE id = {row_ids(session_for, 2)[2]}")
    write([license_item(2, state="WA")])
    assert broken(session_for) == {2}


# ---------------------------------------------------------------------------------------------
# Concurrent writers


def test_concurrent_batches_keep_every_chain_valid(
    write: Callable[..., Any], session_for: Callable[..., Any]
) -> None:
    keys = list(range(1, 13))
    write([license_item(k) for k in keys])
    states = ["NY", "CA", "TX", "WA", "OR", "NV"]

    def batch(worker: int) -> int:
        rng = random.Random(worker)
        written = 0
        for round_number in range(6):
            chosen = rng.sample(keys, 5)
            state = states[(worker + round_number) % len(states)]
            outcomes = write(
                [
                    license_item(k, state=state, license_Number=f"{worker}-{round_number}")
                    for k in chosen
                ],
                actor=f"w{worker}",
                activity=f"{worker}-{round_number}",
            )
            written += sum(1 for o in outcomes if o.changes)
        return written

    with ThreadPoolExecutor(max_workers=4) as pool:
        written = sum(pool.map(batch, range(4)))
    assert broken(session_for) == set()
    with session_for() as session:
        assert session.scalar(select(func.count()).select_from(LicenseChange)) == 12 + written


def test_canonical_spells_each_instant_as_given_even_when_equal_instants_differ_in_zone() -> None:
    """The content of a row hashes its instant as written; two aware instants that are equal
    but in different zones are different content (a cache keyed by equality must not merge
    them), and a naive instant is spelled without a zone."""
    from datetime import timedelta, timezone

    utc = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
    eastern = utc.astimezone(timezone(timedelta(hours=-5)))
    assert utc == eastern
    first, second = (canonical(1, 2, "a", at, "u", "created", {}) for at in (utc, eastern))
    assert b"2026-01-02T12:00:00.000000+00:00" in first
    assert b"2026-01-02T07:00:00.000000-05:00" in second
    naive = canonical(1, 2, "a", datetime(2026, 1, 2, 12, 0), "u", "created", {})
    assert b'"2026-01-02T12:00:00.000000"' in naive


def test_a_break_is_described_with_a_four_digit_year() -> None:
    """A row's time edited by hand to the year 1 is named as 0001-01-01 (strftime's ``%Y``
    wrote "1-01-01"), as the UI's times are (``app.ui.views.format_utc``)."""
    from app.history.chain import ChainBreak
    from app.history.verification import describe

    early = ChainBreak(7, 1, 3, datetime(1, 1, 1, 2, 3, 4), "altered")
    assert describe(early) == "license 7: altered (0001-01-01 02:03:04 UTC)"
    late = ChainBreak(7, 1, 3, datetime(2026, 12, 7, 23, 59, 59, 123456), "altered")
    assert describe(late) == "license 7: altered (2026-12-07 23:59:59 UTC)"

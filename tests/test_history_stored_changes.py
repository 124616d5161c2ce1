"""The one reader of a history row's stored ``changes``: the service's shape, and any other
that someone stored by hand, read without failing (the views' tests: the API's and the staff
page's history tests; the checks': tests/test_integrity.py)."""

from __future__ import annotations

import pytest

from app.history.stored_changes import StoredChanges, parse_changes, read_changes
from tests.history_support import AS_READ, HAND_EDITED_CHANGES


@pytest.mark.parametrize(
    ("text", "pairs"),
    [
        ("{}", {}),  # a delete of an all-null row
        (
            '{"state": [null, "CA"], "credLicenseType_Key": [3, null]}',
            {"state": [None, "CA"], "credLicenseType_Key": [3, None]},
        ),
        (
            '{"license_Name": ["Old", "New"], "psV_Date": ["2025-01-01T00:00:00Z", null]}',
            {"license_Name": ["Old", "New"], "psV_Date": ["2025-01-01T00:00:00Z", None]},
        ),
    ],
)
def test_what_the_service_writes_reads_as_it_is(text: str, pairs: dict) -> None:
    """The pairs are written out, not computed by ``parse_changes`` as the reader does."""
    assert read_changes(text) == StoredChanges(pairs, True, text)


@pytest.mark.parametrize("shape", HAND_EDITED_CHANGES)
def test_any_other_shape_reads_as_its_pairs_and_its_text(shape: str) -> None:
    stored, pairs = HAND_EDITED_CHANGES[shape]
    text = AS_READ.get(stored, stored)
    assert isinstance(text, str)
    assert read_changes(text) == StoredChanges(pairs, False, text)


def test_sql_null_reads_as_nothing_in_an_unexpected_shape() -> None:
    assert read_changes(None) == StoredChanges({}, False, None)


def test_text_that_does_not_parse_stays_text() -> None:
    assert parse_changes('{"state": ["CA", 1e400]}') == '{"state": ["CA", 1e400]}'
    assert parse_changes("[1]") == [1]
    assert parse_changes(None) is None

"""The grid's row logic without HTTP: cells → service items, what Save sends, blank rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from app.licenses.schemas import WRITABLE_FIELDS
from app.ui.grid import (
    COLUMN_NAMES,
    blank_lines,
    blank_values,
    cell_datetime,
    date_input_type,
    fingerprint,
    next_suggestion,
)
from app.ui.grid_save import SubmittedRow, plan_save, to_item
from app.wire.fields import INT32_MAX

KEY = "providerCredLicense_Key"
LOADED = datetime(2025, 3, 1, 10, 20, 30, 123456)


def test_the_grid_has_a_column_for_every_field_a_client_writes() -> None:
    assert set(COLUMN_NAMES) == set(WRITABLE_FIELDS.values()) - {"providerCred_Key"}


def row(**cells: str) -> dict[str, str]:
    return {**blank_values(), **cells}


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ({KEY: "12"}, {KEY: 12}),
        ({KEY: " 12 "}, {KEY: 12}),
        ({KEY: "-3"}, {KEY: -3}),
        ({KEY: "abc"}, {KEY: "abc"}),  # passed on: the schema says "Not a valid integer."
        ({KEY: "1.5"}, {KEY: "1.5"}),
        ({KEY: "١٢"}, {KEY: "١٢"}),  # non-ASCII digits are not an integer here
        ({KEY: "99999999999"}, {KEY: 99999999999}),  # the schema reports the range
        ({KEY: ""}, {}),  # left out: the schema reports it missing
        ({"credLicenseType_Key": ""}, {"credLicenseType_Key": None}),
        ({"credLicenseType_Key": "4"}, {"credLicenseType_Key": 4}),
        ({"term_Date": ""}, {"term_Date": None}),
        ({"term_Date": "  "}, {"term_Date": None}),
        ({"term_Date": "2024-01-31"}, {"term_Date": "2024-01-31"}),
        ({"term_Date": "soon"}, {"term_Date": "soon"}),
        ({"license_Name": "  as typed "}, {"license_Name": "  as typed "}),
        ({"state": "ca"}, {"state": "ca"}),
    ],
)
def test_cells_become_service_items(cells: dict[str, str], expected: dict[str, Any]) -> None:
    item = to_item(row(**cells), 9)
    assert item["providerCred_Key"] == 9
    for name, value in expected.items():
        assert item[name] == value
    if not expected:
        assert KEY not in item
    assert set(item) <= {*COLUMN_NAMES, "providerCred_Key"}


@pytest.mark.parametrize(
    ("value", "cell", "input_type"),
    [
        (None, "", "date"),
        (datetime(2024, 1, 31), "2024-01-31", "date"),
        (datetime(2024, 1, 31, 15, 30), "2024-01-31T15:30", "datetime-local"),
        (datetime(2024, 1, 31, 15, 30, 5), "2024-01-31T15:30:05", "datetime-local"),
    ],
)
def test_date_cells_never_drop_a_time(value: datetime | None, cell: str, input_type: str) -> None:
    assert cell_datetime(value) == cell
    assert date_input_type(cell) == input_type


def test_text_that_is_no_date_gets_a_text_input() -> None:
    assert date_input_type("31/12/2024") == "text"


def test_fingerprint_sees_every_cell_but_not_line_breaks_browsers_drop() -> None:
    base = row(**{KEY: "1", "license_Name": "A"})
    assert fingerprint(base) == fingerprint(row(**{KEY: "1", "license_Name": "A\r\n"}))
    for name in COLUMN_NAMES:
        changed = {**base, name: base[name] + "x"}
        assert fingerprint(changed) != fingerprint(base), name


def existing(**overrides: Any) -> SubmittedRow:
    values = row(**{KEY: "11", "license_Name": "Stored"})
    submitted = SubmittedRow(
        values=values, version=LOADED.isoformat(), original=fingerprint(values)
    )
    for name, value in overrides.items():
        if name in COLUMN_NAMES:
            submitted.values[name] = value
        else:
            setattr(submitted, name, value)
    return submitted


def new(delete: bool = False, **cells: str) -> SubmittedRow:
    return SubmittedRow(values=row(**{KEY: "20", **cells}), suggested_key="20", delete=delete)


def test_untouched_rows_are_not_sent() -> None:
    plan = plan_save([existing(), new(), new(**{KEY: ""})], 1)
    assert plan.items == [] and plan.delete_keys == []
    assert plan.skipped == {0, 1, 2}


def test_touched_rows_carry_the_version_they_were_loaded_at() -> None:
    plan = plan_save([existing(license_Name="Edited"), new(license_Name="Fresh")], 1)
    assert [item[KEY] for item in plan.items] == [11, 20]
    assert plan.item_versions == {11: LOADED, 20: None}


def test_a_new_row_with_only_a_typed_key_is_sent() -> None:
    plan = plan_save([new(**{KEY: "25"})], 1)
    assert [item[KEY] for item in plan.items] == [25]


def test_delete_and_overwrite() -> None:
    stored_now = datetime(2025, 3, 2, 8, 0, 0, 1)
    plan = plan_save(
        [
            existing(delete=True),
            existing(**{KEY: "12"}, overwrite=True, stored_version=stored_now.isoformat()),
            existing(**{KEY: "13"}, overwrite=True, stored_version=""),  # deleted meanwhile
            new(license_Name="Discarded", delete=True),
        ],
        1,
    )
    assert plan.delete_keys == [11] and plan.delete_versions == {11: LOADED}
    assert [item[KEY] for item in plan.items] == [12, 13]
    assert plan.item_versions == {12: stored_now, 13: None}
    assert plan.skipped == {3}


@pytest.mark.parametrize("version", ["yesterday", "2025-03-01T10:20:30+00:00"])
def test_an_unreadable_version_is_refused_before_the_service(version: str) -> None:
    plan = plan_save([existing(license_Name="Edited", version=version)], 1)
    assert plan.items == []
    assert list(plan.refused) == [0]


def test_deleting_a_row_without_an_integer_key_is_refused() -> None:
    plan = plan_save([existing(**{KEY: "x"}, delete=True)], 1)
    assert plan.delete_keys == [] and plan.refused == {0: {KEY: ["Not a valid integer."]}}


def test_blank_rows_offer_free_keys() -> None:
    lines = blank_lines(3, 10, taken=[11, 13])
    assert [line.values[KEY] for line in lines] == ["10", "12", "14"]
    assert [line.suggested_key for line in lines] == ["10", "12", "14"]
    assert next_suggestion(lines) == 15
    assert [line.values[KEY] for line in blank_lines(2, INT32_MAX, [])] == [str(INT32_MAX), ""]
    assert [line.values[KEY] for line in blank_lines(1, None, [])] == [""]

"""The grid's row logic without HTTP: cells → service items, what Save sends, merges."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from app.licenses.models import ProviderCredLicense
from app.licenses.schemas import WRITABLE_FIELDS
from app.ui.cell_messages import NAME_OR_NUMBER, UNREADABLE_DATE
from app.ui.cell_values import STATE_NAMES, UnreadableDate, parse_date_cell
from app.ui.grid import COLUMN_NAMES, blank_lines, blank_values, cell_datetime, loaded_text
from app.ui.grid_save import LOCKED_KEY, SubmittedRow, merge, plan_save, to_item
from app.wire.fields import USPS_STATE_CODES

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
        ({KEY: "abc"}, {KEY: "abc"}),  # passed on: the schema refuses it on that cell
        ({KEY: "1.5"}, {KEY: "1.5"}),
        ({KEY: "١٢"}, {KEY: "١٢"}),  # non-ASCII digits are not an integer here
        ({KEY: "99999999999"}, {KEY: 99999999999}),  # the schema reports the range
        ({KEY: ""}, {}),  # left out: the server assigns a free key
        ({"credLicenseType_Key": ""}, {"credLicenseType_Key": None}),
        ({"credLicenseType_Key": "4"}, {"credLicenseType_Key": 4}),
        ({"term_Date": ""}, {"term_Date": None}),
        ({"term_Date": "  "}, {"term_Date": None}),
        ({"term_Date": "2024-01-31"}, {"term_Date": "2024-01-31T00:00:00Z"}),
        ({"term_Date": "01/31/2024"}, {"term_Date": "2024-01-31T00:00:00Z"}),
        ({"term_Date": "1/5/2024 15:30"}, {"term_Date": "2024-01-05T15:30:00Z"}),
        ({"license_Name": "  as typed "}, {"license_Name": "  as typed "}),
        ({"state": "ca"}, {"state": "CA"}),
        ({"state": "Texas"}, {"state": "TX"}),
        ({"state": " new  york "}, {"state": "NY"}),
        ({"state": "Narnia"}, {"state": "Narnia"}),  # the schema refuses it on that cell
        ({"state": ""}, {"state": None}),
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
    ("value", "cell"),
    [
        (None, ""),
        (datetime(2024, 1, 31), "01/31/2024"),
        (datetime(2024, 1, 31, 15, 30), "01/31/2024 15:30"),
        (datetime(2024, 1, 31, 15, 30, 5), "01/31/2024 15:30:05"),
        (datetime(1, 1, 1), "01/01/0001"),  # "%Y" wrote "1", which the grid cannot read back
        (datetime(999, 12, 31), "12/31/0999"),
    ],
)
def test_date_cells_never_drop_a_time(value: datetime | None, cell: str) -> None:
    assert cell_datetime(value) == cell
    assert parse_date_cell(cell) == value


@pytest.mark.parametrize(
    "text", ["02/30/2027", "13/01/2027", "31/12/2024", "2027-02-30", "next tuesday", "3/1/27 10:00"]
)
def test_a_date_that_is_not_real_is_unreadable(text: str) -> None:
    with pytest.raises(UnreadableDate):
        parse_date_cell(text)


def test_every_state_name_maps_to_a_usps_code() -> None:
    assert set(STATE_NAMES.values()) == USPS_STATE_CODES


def existing(**overrides: Any) -> SubmittedRow:
    values = row(**{KEY: "11", "license_Name": "Stored"})
    submitted = SubmittedRow(
        values=dict(values), version=LOADED.isoformat(), loaded=loaded_text(values)
    )
    for name, value in overrides.items():
        if name in COLUMN_NAMES:
            submitted.values[name] = value
        else:
            setattr(submitted, name, value)
    return submitted


def new(delete: bool = False, **cells: str) -> SubmittedRow:
    return SubmittedRow(values=row(**cells), delete=delete)


def test_untouched_rows_are_not_sent() -> None:
    plan = plan_save([existing(), new(), new(**{KEY: ""})], 1)
    assert plan.items == [] and plan.delete_keys == []
    assert plan.skipped == {0, 1, 2}


def test_a_date_typed_another_way_is_not_a_change() -> None:
    values = row(**{KEY: "11", "license_Name": "Stored", "term_Date": "01/31/2027"})
    submitted = SubmittedRow(
        values=dict(values), version=LOADED.isoformat(), loaded=loaded_text(values)
    )
    submitted.values["term_Date"] = "2027-01-31"
    assert submitted.untouched


def test_touched_rows_carry_the_version_they_were_loaded_at() -> None:
    plan = plan_save([existing(license_Name="Edited"), new(**{KEY: "20"}, license_Name="Fresh")], 1)
    assert [item[KEY] for item in plan.items] == [11, 20]
    assert plan.item_versions == {11: LOADED, 20: None}


def test_a_new_row_without_a_key_is_sent_without_one() -> None:
    plan = plan_save([new(license_Number="N-1")], 1)
    assert len(plan.items) == 1 and KEY not in plan.items[0]


@pytest.mark.parametrize(
    "cells",
    [{"credLicenseType_Key": "1"}, {"license_Name": " ", "state": "TX"}, {KEY: "25"}],
)
def test_a_row_without_number_or_name_is_refused(cells: dict[str, str]) -> None:
    plan = plan_save([new(**cells)], 1)
    assert plan.items == []
    assert plan.refused == {0: {"license_Number": [NAME_OR_NUMBER]}}


def test_an_unreadable_date_refuses_the_row_with_the_error_on_its_cell() -> None:
    plan = plan_save([existing(term_Date="02/30/2027", license_Name="Edited")], 1)
    assert plan.items == []
    assert plan.refused == {0: {"term_Date": [UNREADABLE_DATE]}}


def test_a_conflict_needs_a_choice_and_applies_it() -> None:
    rebased = existing(license_Name="Mine", conflicts="license_Name")
    assert plan_save([rebased], 1).refused[0]["license_Name"][0].startswith("Changed by")
    mine = plan_save([existing(license_Name="Mine", conflicts="license_Name", resolve="mine")], 1)
    assert mine.items[0]["license_Name"] == "Mine"
    theirs = existing(
        license_Name="Mine", specialty_Code="FM", conflicts="license_Name", resolve="theirs"
    )
    plan = plan_save([theirs], 1)
    assert (plan.items[0]["license_Name"], plan.items[0]["specialty_Code"]) == ("Stored", "FM")


def test_merge_applies_only_the_cells_the_user_changed() -> None:
    loaded = row(**{KEY: "11", "license_Name": "Stored", "psV_Date": ""})
    mine = SubmittedRow(
        values={**loaded, "license_Number": "N-2"},
        version=LOADED.isoformat(),
        loaded=loaded_text(loaded),
    )
    current = ProviderCredLicense(
        provider_cred_license_key=11,
        provider_cred_key=1,
        license_name="Stored",
        psv_date=datetime(2026, 1, 15),
        update_date=datetime(2026, 2, 1),
    )
    merged = merge(mine, current)
    assert merged.both == frozenset()
    assert merged.values["license_Number"] == "N-2"  # mine
    assert merged.values["psV_Date"] == "01/15/2026"  # theirs, not reverted
    both = merge(
        SubmittedRow(
            values={**loaded, "psV_Date": "01/20/2026"}, version="x", loaded=loaded_text(loaded)
        ),
        current,
    )
    assert both.both == frozenset({"psV_Date"})


def test_delete() -> None:
    plan = plan_save([existing(delete=True), new(license_Name="Discarded", delete=True)], 1)
    assert plan.delete_keys == [11] and plan.delete_versions == {11: LOADED}
    assert plan.skipped == {1}


@pytest.mark.parametrize("version", ["yesterday", "2025-03-01T10:20:30+00:00"])
def test_an_unreadable_version_is_refused_before_the_service(version: str) -> None:
    plan = plan_save([existing(license_Name="Edited", version=version)], 1)
    assert plan.items == []
    assert list(plan.refused) == [0]


def test_a_loaded_row_without_an_integer_key_is_refused() -> None:
    plan = plan_save([existing(**{KEY: "x"}, delete=True)], 1)
    assert plan.delete_keys == [] and plan.refused == {0: {KEY: [LOCKED_KEY]}}


def test_blank_rows_have_no_key() -> None:
    assert [line.values[KEY] for line in blank_lines(3)] == ["", "", ""]

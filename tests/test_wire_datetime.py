"""``format_wire_datetime`` writes ``YYYY-MM-DDTHH:MM:SSZ`` for every date-time."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from app.wire.fields import WireDateTime, format_wire_datetime


def reference(value: datetime) -> str:
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
        f"T{value.hour:02d}:{value.minute:02d}:{value.second:02d}Z"
    )


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))
def test_naive_date_times(value: datetime) -> None:
    assert format_wire_datetime(value) == reference(value)


@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_aware_date_times_are_written_in_utc(value: datetime, offset: int) -> None:
    aware = value.replace(tzinfo=timezone(timedelta(minutes=offset)))
    utc = (value - timedelta(minutes=offset)).replace(tzinfo=None)
    assert format_wire_datetime(aware) == reference(utc)


def test_dates_and_none() -> None:
    assert format_wire_datetime(date(24, 2, 29)) == "0024-02-29T00:00:00Z"
    assert format_wire_datetime(datetime(2024, 1, 1, 5, 6, 7, 999999)) == "2024-01-01T05:06:07Z"
    assert format_wire_datetime(None) is None


# ---------------------------------------------------------------------------------------------
# Reading: each distinct short string is parsed once; long ones are never kept


def load(value: object) -> object:
    from marshmallow import ValidationError

    try:
        return WireDateTime().deserialize(value)
    except ValidationError as exc:
        return exc.messages


def test_a_repeated_date_time_is_parsed_once_and_read_the_same() -> None:
    from app.wire.fields import _parse_to_the_second

    _parse_to_the_second.cache_clear()
    values = [load("2024-05-06 07:08:09.750 UTC") for _ in range(50)]
    assert set(values) == {datetime(2024, 5, 6, 7, 8, 9)}
    assert _parse_to_the_second.cache_info().misses == 1


def test_a_long_string_is_parsed_but_not_kept() -> None:
    from app.wire.fields import _parse_to_the_second

    _parse_to_the_second.cache_clear()
    padded = " " * 100 + "2024-05-06T07:08:09Z" + " " * 100
    assert load(padded) == datetime(2024, 5, 6, 7, 8, 9)
    assert load(" " * 100 + "2024-13-01" + "x" * 10_000) == [
        WireDateTime.default_error_messages["invalid"]
    ]
    assert _parse_to_the_second.cache_info().currsize == 0


def test_an_invalid_short_string_stays_invalid_when_repeated() -> None:
    invalid = [WireDateTime.default_error_messages["invalid"]]
    assert [load("2024-02-30") for _ in range(3)] == [invalid] * 3

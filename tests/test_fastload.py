"""The schema fast path accepts exactly what ``schema.load`` accepts, and loads it identically.

``load_item`` must answer exactly what it answered when it only called ``schema.load``: the same
data for valid items and the same normalised error messages for invalid ones.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate

from app.licenses.schemas import LICENSE_SCHEMA, LicenseSchema
from app.wire.fastload import FastLoader, fast_loader
from app.wire.fields import USPS_STATE_CODES
from app.wire.records import AUDIT_FIELDS
from app.wire.validation import load_item, normalise_errors

INT32 = 2**31 - 1
LICENSE_KEYS = [f.data_key or n for n, f in LICENSE_SCHEMA.load_fields.items()]
INT_KEYS = {"providerCredLicense_Key", "providerCred_Key", "credLicenseType_Key"}
DATE_KEYS = {"effective_Date", "term_Date", "psV_Date"}
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def schema_only(schema: Schema, raw: Any) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    """What ``load_item`` answered before the fast path existed."""
    if not isinstance(raw, dict):
        return None, {"_item": ["Must be a JSON object."]}
    try:
        return schema.load(raw), {}
    except ValidationError as exc:
        return None, normalise_errors(exc.messages)


def assert_equivalent(schema: Schema, raw: Any) -> Any:
    fast = FastLoader(schema).load(raw)
    expected = schema_only(schema, raw)
    if fast is not None:
        assert expected[1] == {}, (raw, expected)
        assert fast == expected[0]
        assert list(fast) == list(expected[0] or {})
    else:
        assert expected[0] is None, f"fast path refused a valid item: {raw!r}"
    actual = load_item(schema, raw)
    assert actual == expected
    if expected[0] is not None:
        assert list(actual[0] or {}) == list(expected[0])
    return fast


# -- values a client might send: valid ones and every kind of wrong one -----------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
json_values = st.one_of(json_scalars, st.lists(json_scalars, max_size=2), st.just({"a": 1}))
int32s = st.integers(min_value=-INT32 - 1, max_value=INT32)
texts = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=" \t\n", max_size=3),
    st.builds(lambda s: f"  {s}  ", st.text(max_size=8)),
    st.just("x" * 51),
    st.just("x" * 513),
    st.just("a\x00b"),
    st.just("\ud800"),
)
states = st.one_of(
    st.sampled_from(sorted(USPS_STATE_CODES)),
    st.sampled_from(sorted(USPS_STATE_CODES)).map(str.lower),
    st.sampled_from(["", " ", "XX", "C", "CAL", " ny ", "zz"]),
)
moments = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)) | st.just(
    datetime.now(UTC).replace(tzinfo=None) + timedelta(days=2)
)
date_texts = st.one_of(
    moments.map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")),
    moments.map(lambda d: d.isoformat()),
    moments.map(lambda d: d.isoformat() + "+05:30"),
    moments.map(lambda d: d.strftime("%Y-%m-%d")),
    moments.map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S UTC")),
    moments.map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S +0000")),
    moments.map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S gmt")),
    st.sampled_from(
        ["", "2024-13-01", "yesterday", "2024-01-01T25:00:00Z", "0001-01-01T00:00:00-01:00"]
    ),
)


def value_for(key: str) -> st.SearchStrategy[Any]:
    if key in INT_KEYS:
        return st.one_of(int32s, int32s, json_values)
    if key in DATE_KEYS:
        return st.one_of(date_texts, date_texts, json_values)
    if key == "state":
        return st.one_of(states, states, json_values)
    return st.one_of(texts, texts, json_values)


@st.composite
def license_items(draw: st.DrawFn, valid_keys_only: bool = False) -> dict[str, Any]:
    keys = draw(st.sets(st.sampled_from(LICENSE_KEYS), min_size=len(LICENSE_KEYS) - 3))
    item = {key: draw(value_for(key)) for key in LICENSE_KEYS if key in keys}
    if not valid_keys_only:
        extra = draw(st.sets(st.sampled_from([*AUDIT_FIELDS, "license_number", "bogus"])))
        for key in extra:
            item[key] = draw(json_values)
    return item


@st.composite
def valid_license_items(draw: st.DrawFn) -> dict[str, Any]:
    effective = draw(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2020, 1, 1)))
    return {
        "providerCredLicense_Key": draw(int32s),
        "providerCred_Key": draw(int32s),
        "credLicenseType_Key": draw(st.none() | int32s),
        "license_Name": draw(st.none() | st.text(max_size=512)),
        "license_Number": draw(st.none() | st.text(max_size=50)),
        "state": draw(st.none() | st.sampled_from(sorted(USPS_STATE_CODES))),
        "specialty_Code": draw(st.none() | st.text(max_size=10)),
        "effective_Date": effective.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "term_Date": (effective + timedelta(days=draw(st.integers(0, 4000)))).isoformat(),
        "psV_Date": draw(st.none() | st.just("2024-01-01 00:00:00 UTC")),
        **draw(st.fixed_dictionaries({}, optional={k: json_values for k in AUDIT_FIELDS})),
    }


@SETTINGS
@given(license_items())
def test_license_fast_path_matches_schema_load(raw: dict[str, Any]) -> None:
    assert_equivalent(LICENSE_SCHEMA, raw)


@SETTINGS
@given(valid_license_items())
def test_license_fast_path_accepts_valid_items(raw: dict[str, Any]) -> None:
    """Not vacuous: real items take the fast path (unless schema.load rejects them too)."""
    fast = assert_equivalent(LICENSE_SCHEMA, raw)
    if not any(isinstance(v, str) and "\x00" in v for k, v in raw.items() if k not in AUDIT_FIELDS):
        assert fast is not None


@SETTINGS
@given(st.one_of(json_values, st.lists(st.just({}), max_size=2)))
def test_non_objects_are_refused_like_before(raw: Any) -> None:
    assert_equivalent(LICENSE_SCHEMA, raw)


def test_a_full_valid_item_takes_the_fast_path() -> None:
    raw = {
        "providerCredLicense_Key": 5012,
        "providerCred_Key": 1,
        "credLicenseType_Key": None,
        "license_Name": "  Medical Doctor ",
        "state": "ca",
        "effective_Date": "2024-01-01",
        "term_Date": "2025-01-01 00:00:00 +0000",
        "entry_Date": "not parsed",
    }
    fast = assert_equivalent(LICENSE_SCHEMA, raw)
    assert fast is not None
    assert fast["state"] == "CA" and fast["license_number"] is None


def test_loaders_are_built_once_per_schema_instance() -> None:
    assert fast_loader(LICENSE_SCHEMA) is fast_loader(LICENSE_SCHEMA)
    assert fast_loader(LicenseSchema()) is not None


# -- the derivation is generic: hooks, defaults, validators, unknown=EXCLUDE ------------------


class HookedSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    name = fields.String(required=True, validate=validate.Length(min=2))
    size = fields.Integer(load_default=lambda: 7, validate=validate.Range(max=100))
    tag = fields.String(data_key="Tag", allow_none=True)

    @post_load
    def stamp(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        return {**data, "stamped": True}


@SETTINGS
@given(
    st.dictionaries(
        st.sampled_from(["name", "size", "Tag", "tag", "other"]),
        st.one_of(json_scalars, st.sampled_from(["ab", "a", 5, 500])),
    )
)
def test_generic_fast_path_matches_schema_load(raw: dict[str, Any]) -> None:
    assert_equivalent(HookedSchema(), raw)


def test_schemas_with_unsupported_hooks_get_no_fast_path() -> None:
    from marshmallow import validates

    class FieldHooked(Schema):
        name = fields.String()

        @validates("name")
        def check(self, value: str, **_kwargs: Any) -> None:
            if value == "x":
                raise ValidationError("no x")

    schema = FieldHooked()
    assert fast_loader(schema) is None
    assert load_item(schema, {"name": "x"}) == (None, {"name": ["no x"]})
    assert fast_loader(HookedSchema(many=True)) is None

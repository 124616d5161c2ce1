"""A hostile client: arbitrary JSON items never cause a 500, and every item gets one result."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.licenses.schemas import WRITABLE_FIELDS
from tests.factories import license_item
from tests.helpers import BATCH_URL

FIELD_NAMES = [*WRITABLE_FIELDS.values(), "entry_Date", "update_User", "unknown_Field"]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=60),
    st.sampled_from(["2024-01-01", "2024-01-01 00:00:00 UTC", "NY", "ny", "", " ", "\x00"]),
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=5,
)
items = st.one_of(
    st.dictionaries(st.sampled_from(FIELD_NAMES), json_values, max_size=len(FIELD_NAMES)),
    st.builds(
        lambda key, overrides: {**license_item(key), **overrides},
        st.integers(min_value=1, max_value=20),
        st.dictionaries(st.sampled_from(FIELD_NAMES), json_values, max_size=3),
    ),
    json_values,
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(items, max_size=8))
def test_arbitrary_items_get_one_result_each_and_never_500(
    client: Any, auth_headers: Any, make_cred: Any, batch: list[Any]
) -> None:
    if not getattr(client, "_credgrid_ready", False):
        make_cred(1)
        client._credgrid_ready = True
        client._credgrid_headers = auth_headers()
    response = client.put(BATCH_URL.format(cred=1), json=batch, headers=client._credgrid_headers)
    assert response.status_code == 207, response.get_json()
    data = response.get_json()["data"]
    assert len(data) == len(batch)
    for item, result in zip(batch, data, strict=True):
        assert result["status"] in {200, 201, 400, 409}, result
        key = item.get("providerCredLicense_Key") if isinstance(item, dict) else None
        if result["id"][0]["value"] is not None:
            assert result["id"][0]["value"] == str(key)

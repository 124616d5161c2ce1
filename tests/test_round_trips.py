"""Round trips between the application and PostgreSQL per batch request: a constant number,
whatever the batch's size (counted on the wire, tests/roundtrips.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests.factories import license_item
from tests.helpers import BATCH_URL
from tests.roundtrips import RoundTripProxy, round_trip_proxy

#: Today's count for a batch request: the authentication read; BEGIN, the ProviderCred's lock
#: and the stored rows with the history chain's heads; the licenses' statement, the history's
#: with the new heads, and COMMIT.
MAX_ROUND_TRIPS = 3


@pytest.fixture
def proxy(backend: str, database_urls: dict[str, str]) -> Iterator[RoundTripProxy]:
    if backend != "postgresql":
        pytest.skip("round trips to a PostgreSQL server")
    url = make_url(database_urls["main"])
    with round_trip_proxy(url.host or "127.0.0.1", url.port or 5432) as running:
        yield running


@pytest.fixture
def app_config(app_config: dict[str, Any], proxy: RoundTripProxy) -> dict[str, Any]:
    main = make_url(app_config["DATABASES"]["main"]).set(host="127.0.0.1", port=proxy.port)
    databases = {**app_config["DATABASES"], "main": main.render_as_string(hide_password=False)}
    return {**app_config, "DATABASES": databases}


def test_a_batch_costs_the_same_round_trips_whatever_its_size(
    client: Any, auth_headers: Any, make_cred: Any, proxy: RoundTripProxy
) -> None:
    make_cred(1)
    headers = auth_headers()
    url = BATCH_URL.format(cred=1)

    def round_trips(items: list[Any]) -> int:
        proxy.reset()
        response = client.put(url, json=items, headers=headers)
        assert response.status_code == 207
        return proxy.round_trips

    round_trips([license_item(k) for k in range(0, 1000, 2)])  # connections made, rows exist
    small = round_trips([license_item(0, state="CA"), license_item(1)])
    large = round_trips([license_item(k, state="CA") for k in range(2, 1000)])
    assert small == large
    assert small <= MAX_ROUND_TRIPS

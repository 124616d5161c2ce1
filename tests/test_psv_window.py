"""The PSV window per program: a ``FLASK_DATABASES`` entry may set its own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from app.audit import utcnow
from app.config import ConfigError, normalise_databases
from app.licenses.service import upsert_licenses
from app.psv_window import psv_window_days
from app.wire.fields import format_wire_datetime
from tests.factories import license_item

SQLITE = "sqlite:///x.db"


def test_an_entry_is_a_url_or_an_object_with_a_window() -> None:
    databases, windows = normalise_databases(
        {
            "plain": SQLITE,
            "cvo": {"url": "postgresql://u@h/db", "psv_window_days": 90},
            "object": {"url": SQLITE},
        }
    )
    assert databases == {
        "plain": SQLITE,
        "cvo": "postgresql+psycopg://u@h/db",
        "object": SQLITE,
    }
    assert windows == {"cvo": 90}


def test_the_object_form_is_read_from_json_too() -> None:
    databases, windows = normalise_databases(
        '{"cvo": {"url": "sqlite:////srv/cvo.db", "psv_window_days": 7}}'
    )
    assert (databases, windows) == ({"cvo": "sqlite:////srv/cvo.db"}, {"cvo": 7})


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"psv_window_days": 90}, "FLASK_DATABASES['x'] needs a \"url\"."),
        (
            {"url": SQLITE, "psv_window_days": 0},
            "psv_window_days must be a number of days from 1 to 3660 (ten years), got 0",
        ),
        ({"url": SQLITE, "psv_window_days": 800_000}, "(ten years), got 800000"),
        ({"url": SQLITE, "psv_window_days": "90"}, "(ten years), got '90'"),
        ({"url": SQLITE, "psv_window_days": True}, "(ten years), got True"),
        ({"url": SQLITE, "window": 90}, "unknown member(s) 'window'"),
        ({"url": 5}, "FLASK_DATABASES['x'] must be a URL string."),
        ({"url": "mysql://h/db"}, "uses 'mysql'; only sqlite and postgresql"),
    ],
)
def test_a_bad_entry_object_is_named(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        normalise_databases({"x": entry})
    assert message in str(caught.value)


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    databases = dict(app_config["DATABASES"])
    databases["other"] = {"url": databases["other"], "psv_window_days": 90}
    return app_config | {"DATABASES": databases}


def test_each_database_has_its_window(app: Any) -> None:
    assert app.config["DATABASES"]["other"].startswith(("sqlite", "postgresql"))
    with app.app_context():
        assert psv_window_days("main") == 120
        assert psv_window_days("other") == 90
        app.config["PSV_WINDOW_DAYS"] = 100
        assert psv_window_days("main") == 100
        assert psv_window_days("other") == 90


def test_psv_overdue_of_the_expirables_route_follows_the_database_window(
    make_cred: Any, session_for: Callable[..., Any], client: Any, auth_headers: Any
) -> None:
    psv = format_wire_datetime(utcnow() - timedelta(days=100))
    for database in ("main", "other"):
        make_cred(1, database=database)
        with session_for(database) as session:
            (outcome,) = upsert_licenses(
                session,
                1,
                [license_item(1, term_Date="2026-01-01", psV_Date=psv)],
                actor="seed",
                activity_id="setup",
            )
            assert outcome.ok
    for database, overdue in (("main", 0), ("other", 1)):
        response = client.get("/licenses/expirables", headers=auth_headers(database))
        report = response.get_json()["data"]
        assert report["counts"]["psvOverdue"] == overdue, database
        assert [item["psvOverdue"] for item in report["licenses"]] == [bool(overdue)]

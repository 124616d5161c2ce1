"""The benchmark's HTTP floor writes what the batch endpoint writes (same rows, same history,
an intact hash chain) and answers the same 207, so the two can be compared fairly."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select, text

from app.history.models import LicenseChange
from app.history.verification import chain_breaks
from app.licenses.models import ProviderCredLicense
from app.tenancy import session_scope
from bench.http import BATCH_PATH
from bench.http_floor import EXTENSION_KEY, floor_path
from bench.server import create_app as create_bench_app
from bench.workload import CRED_KEY, LICENSE_TYPES, batch
from tests.helpers import dispose_engines

FLOOR_PATH = floor_path(CRED_KEY)


@pytest.fixture
def bench_app(app_config: dict[str, Any]) -> Iterator[Any]:
    """The benchmark's app as gunicorn serves it: CSRF on, like any deployment."""
    config = {**app_config, "BENCH_ENDPOINTS": True, "WTF_CSRF_ENABLED": True}
    application = create_bench_app(config)
    yield application
    application.extensions[EXTENSION_KEY].close()
    dispose_engines(application)


@pytest.fixture
def workload(
    make_cred: Callable[..., int], make_license_type: Callable[..., int]
) -> Callable[[str], None]:
    """The benchmark's ProviderCred and license types in one database."""

    def _make(database: str) -> None:
        make_cred(CRED_KEY, database=database)
        for key in LICENSE_TYPES:
            make_license_type(key, database=database)

    return _make


def stored(app: Any, database: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The written licenses and history of ``database`` (its users' names left out: each
    database has its own user), after checking the hash chain. History by license: the
    endpoint writes a batch's creates before its updates, the floor in item order."""
    user = f"editor-{database}"
    with app.app_context(), session_scope(database) as session:
        rows = session.scalars(
            select(ProviderCredLicense).order_by(ProviderCredLicense.provider_cred_license_key)
        ).all()
        assert {(row.entry_user, row.update_user) for row in rows} == {(user, user)}
        licenses = [
            (row.provider_cred_license_key, row.license_number, row.term_date, row.psv_date)
            for row in rows
        ]
        changes = session.scalars(
            select(LicenseChange).order_by(
                LicenseChange.provider_cred_license_key, LicenseChange.id
            )
        ).all()
        assert {row.user for row in changes} == {user}
        history = [(row.provider_cred_license_key, row.action, row.changes) for row in changes]
        assert not list(chain_breaks(session))
        heads = session.execute(text("SELECT count(*) FROM license_history_head")).scalar()
        assert heads == len({row[0] for row in history})
    return licenses, history


def test_floor_writes_what_the_endpoint_writes(
    backend: str,
    bench_app: Any,
    workload: Callable[[str], None],
    auth_headers: Callable[..., dict[str, str]],
):
    if backend != "postgresql":
        pytest.skip("the floor is written for PostgreSQL")
    client = bench_app.test_client()
    workload("main")
    workload("other")
    prepared = batch(500, 6)
    answers = {}
    for database, path in (("main", FLOOR_PATH), ("other", BATCH_PATH)):
        headers = auth_headers(database)
        seeded = client.put(path, json=prepared.existing, headers=headers)
        assert seeded.status_code == 207
        answer = client.put(path, json=prepared.items, headers=headers)
        assert answer.status_code == 207
        answers[database] = answer.get_json()["data"]
    assert answers["main"] == answers["other"]
    assert [entry["status"] for entry in answers["main"]] == [201, 200] * 3
    assert stored(bench_app, "main") == stored(bench_app, "other")


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"x-api-key": "cg_not-a-key"}, 401),
        ({"Authorization": "Bearer not-a-token"}, 401),
        ({"role": "viewer"}, 403),
    ],
)
def test_floor_checks_the_caller(
    backend: str,
    bench_app: Any,
    workload: Callable[[str], None],
    auth_headers: Callable[..., dict[str, str]],
    change: dict[str, str],
    status: int,
):
    if backend != "postgresql":
        pytest.skip("the floor is written for PostgreSQL")
    workload("main")
    role = change.pop("role", "editor")
    headers = {**auth_headers("main", role=role), **change}
    response = bench_app.test_client().put(FLOOR_PATH, json=batch(1, 2).items, headers=headers)
    assert response.status_code == status


def test_floor_answers_400_on_sqlite(
    backend: str, bench_app: Any, auth_headers: Callable[..., dict[str, str]]
):
    if backend != "sqlite":
        pytest.skip("on PostgreSQL it writes")
    response = bench_app.test_client().put(FLOOR_PATH, json=[], headers=auth_headers("main"))
    assert response.status_code == 400

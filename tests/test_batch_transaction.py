"""The batch engine's write transaction (app/batch/transaction.py): on SQLite a connection of
its own, always ended (and the writers' queue released) whatever happens; on PostgreSQL the
session's own transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from app.batch import engine, transaction
from app.batch.outcome import ParentNotFound
from app.licenses.service import upsert_licenses
from app.sqlite_writers import lock_file_for
from app.tenancy import engine_for
from tests.helpers import license_item, writers_lock_taken

CRED = 1


@pytest.fixture
def upsert(
    session_for: Callable[..., Any], make_cred: Any, make_license_type: Any
) -> Callable[..., Any]:
    make_cred(CRED)
    make_license_type(1)

    def _upsert(session: Any, items: list[Any], cred: int = CRED, **kwargs: Any) -> list[Any]:
        return upsert_licenses(session, cred, items, actor="alice", activity_id="a", **kwargs)

    return _upsert


def queue_is_free(app: Any) -> bool:
    with app.app_context():
        path = lock_file_for(engine_for("main"))
    assert path is not None
    return not writers_lock_taken(path)


@pytest.fixture
def sqlite_only(backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("SQLite writes on a connection of their own")


def test_sqlite_writes_leave_the_session_untouched(
    app: Any, session_for: Any, upsert: Any, sqlite_only: None
) -> None:
    with session_for() as session:
        outcomes = upsert(session, [license_item(1)])
        assert outcomes[0].status == 201
        assert not session.in_transaction()
    assert queue_is_free(app)


@pytest.mark.parametrize(
    "case", ["dry run", "atomic failure", "parent missing", "unexpected error", "database error"]
)
def test_every_sqlite_path_ends_its_transaction(
    app: Any,
    session_for: Any,
    upsert: Any,
    sqlite_only: None,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
) -> None:
    items = [license_item(1)]
    with session_for() as session:
        if case == "dry run":
            upsert(session, items, dry_run=True)
        elif case == "atomic failure":
            upsert(session, [license_item(1), {"bad": 1}], atomic=True)
        elif case == "parent missing":
            with pytest.raises(ParentNotFound):
                upsert(session, [license_item(1, providerCred_Key=99)], cred=99)
        elif case == "unexpected error":
            monkeypatch.setattr(engine, "_write_set", _raise(TypeError("boom")))
            with pytest.raises(TypeError):
                upsert(session, items)
        else:  # a database error on both passes: the item-by-item pass reports it
            monkeypatch.setattr(engine.bulk, "upsert_rows", _raise(_integrity_error()))
            outcomes = upsert(session, items)
            assert outcomes[0].status == 500
        assert not session.in_transaction()
    monkeypatch.undo()
    assert queue_is_free(app)
    with session_for() as session:  # the next writer goes straight in
        assert upsert(session, [license_item(2)])[0].status == 201


def test_sqlite_refuses_to_write_beside_the_sessions_open_transaction(
    session_for: Any, upsert: Any, sqlite_only: None
) -> None:
    with session_for() as session:
        session.connection()  # the caller's read transaction
        with pytest.raises(RuntimeError, match="must start the write transaction"):
            upsert(session, [license_item(1)])


def test_postgresql_writes_in_the_sessions_transaction(session_for: Any, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("PostgreSQL goes on in the session's transaction")
    with session_for() as session:
        writer = transaction.begin(session)
        assert isinstance(writer, transaction.SessionWrite)
        assert writer.connection is session.connection()
        writer.rollback()


def _raise(error: BaseException) -> Callable[..., Any]:
    def raiser(*_args: Any, **_kwargs: Any) -> Any:
        raise error

    return raiser


def _integrity_error() -> Exception:
    from sqlalchemy.exc import IntegrityError

    return IntegrityError("INSERT …", {}, Exception("constraint failed"))


def test_sqlite_refuses_to_leave_the_sessions_pending_changes_behind(
    session_for: Any, upsert: Any, sqlite_only: None
) -> None:
    """Pending ORM objects were committed with the batch when it wrote in the session's
    transaction; on a connection of its own it would silently leave them out, so it refuses."""
    from app.audit import utcnow
    from app.license_types.models import CredLicenseType

    with session_for() as session:
        now = utcnow()
        session.add(
            CredLicenseType(cred_license_type_key=9, display="x", entry_date=now, update_date=now)
        )
        with pytest.raises(RuntimeError, match="pending changes"):
            upsert(session, [license_item(1)])

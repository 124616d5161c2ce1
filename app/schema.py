"""Schema management: Alembic migrations applied to one configured database."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


class MigrationError(RuntimeError):
    """A migration left the database inconsistent; it was rolled back."""


def upgrade_database(engine: Engine) -> str:
    """Bring the database to the newest revision (a no-op when it is there already).

    On SQLite, Alembic's batch mode changes a table by copying it and dropping the original,
    which fails while foreign keys are enforced and other rows reference the table. As SQLite
    documents for such changes, enforcement is switched off for the migration (it can only
    be switched outside a transaction) and the foreign keys are checked before committing.
    """
    config = alembic_config()
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            _sqlite_pragma(connection, "PRAGMA foreign_keys = OFF")
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise MigrationError(
                            f"The migration left rows with broken foreign keys: {broken[:5]}."
                        )
        finally:
            if sqlite:
                _sqlite_pragma(connection, "PRAGMA foreign_keys = ON")
    return head_revision()


def _sqlite_pragma(connection: Connection, pragma: str) -> None:
    """Run ``pragma`` outside any transaction, on the driver's (autocommit) connection."""
    driver_connection = connection.connection.driver_connection
    assert driver_connection is not None
    driver_connection.execute(pragma)


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()

"""Alembic environment: migrates the connection handed over by ``app.schema``."""

from alembic import context

from app import models  # noqa: F401  (registers every table on the metadata)
from app.extensions import db
from app.schema import include_for, lock_tables

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=db.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_object=include_for(connection.dialect.name),
)
with context.begin_transaction():
    migrations = context.get_context()
    if connection.dialect.name == "postgresql" and migrations.get_current_heads() != (
        context.get_head_revision(),
    ):
        lock_tables(connection, [*db.metadata.tables, "alembic_version"])
    context.run_migrations()

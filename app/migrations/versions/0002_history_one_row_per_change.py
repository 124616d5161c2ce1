"""license history: one row per change, its field changes as a JSON object

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 06:00:00

0001 kept one row per changed field (``field``, ``old_value``, ``new_value`` as text). This
revision folds the rows of each change into one row whose ``changes`` column holds
``{field: [old, new]}`` exactly as the history API returns it (integers as numbers again), and
drops the three per-field columns and the index on ``activity_id``, which no reader uses (each
index is one more page every batch's commit writes). Downgrade restores all of it.

The data is moved in chunks of licenses, so memory stays bounded whatever the history's size.
The migration keeps its own copy of what it needs (no application imports): later code may
change, a migration must not.
"""

import json
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: The license fields that are integers; 0001 stored every value as text.
INTEGER_FIELDS = frozenset({"providerCred_Key", "credLicenseType_Key"})
LICENSES_PER_CHUNK = 500

history = sa.table(
    "license_change",
    sa.column("id", sa.Integer),
    sa.column("provider_cred_license_key", sa.Integer),
    sa.column("provider_cred_key", sa.Integer),
    sa.column("activity_id", sa.String),
    sa.column("at", sa.DateTime),
    sa.column("user", sa.String),
    sa.column("action", sa.String),
    sa.column("field", sa.String),
    sa.column("old_value", sa.Text),
    sa.column("new_value", sa.Text),
    sa.column("changes", sa.Text),  # JSON text, written and read here with json
)


def upgrade() -> None:
    with op.batch_alter_table("license_change", schema=None) as batch_op:
        batch_op.add_column(sa.Column("changes", sa.Text(), nullable=True))
    connection = op.get_bind()
    for rows in _rows_by_license_chunk(connection):
        groups: dict[tuple[Any, ...], tuple[int, dict[str, list[Any]]]] = {}
        for row in rows:
            group = (row.provider_cred_license_key, row.activity_id, row.action, row.at)
            first_id, changes = groups.setdefault(group, (row.id, {}))
            if row.field is not None:
                changes[row.field] = [
                    _typed(row.field, row.old_value),
                    _typed(row.field, row.new_value),
                ]
        if groups:
            connection.execute(
                history.update()
                .where(history.c.id == sa.bindparam("row_id"))
                .values(changes=sa.bindparam("row_changes")),
                [{"row_id": i, "row_changes": json.dumps(c)} for i, c in groups.values()],
            )
    # Every change kept its first row; the others' fields are now in that row's ``changes``.
    connection.execute(history.delete().where(history.c.changes.is_(None)))
    with op.batch_alter_table("license_change", schema=None) as batch_op:
        batch_op.alter_column("changes", existing_type=sa.Text(), nullable=False)
        batch_op.drop_index("ix_license_change_activity_id")
        batch_op.drop_column("field")
        batch_op.drop_column("old_value")
        batch_op.drop_column("new_value")


def downgrade() -> None:
    with op.batch_alter_table("license_change", schema=None) as batch_op:
        batch_op.add_column(sa.Column("field", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("old_value", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("new_value", sa.Text(), nullable=True))
        batch_op.alter_column("changes", existing_type=sa.Text(), nullable=True)
    connection = op.get_bind()
    for rows in _rows_by_license_chunk(connection):
        updates: list[dict[str, Any]] = []
        inserts: list[dict[str, Any]] = []
        for row in rows:
            fields = list(_as_changes(row.changes).items())
            first, rest = (fields[0], fields[1:]) if fields else ((None, [None, None]), [])
            updates.append({"row_id": row.id, **_field_values(*first)})
            base = {
                "provider_cred_license_key": row.provider_cred_license_key,
                "provider_cred_key": row.provider_cred_key,
                "activity_id": row.activity_id,
                "at": row.at,
                "user": row.user,
                "action": row.action,
            }
            inserts.extend({**base, **_field_values(*f)} for f in rest)
        if updates:
            connection.execute(
                history.update()
                .where(history.c.id == sa.bindparam("row_id"))
                .values(
                    field=sa.bindparam("field"),
                    old_value=sa.bindparam("old_value"),
                    new_value=sa.bindparam("new_value"),
                ),
                updates,
            )
        if inserts:
            connection.execute(history.insert(), inserts)
    with op.batch_alter_table("license_change", schema=None) as batch_op:
        batch_op.drop_column("changes")
        batch_op.create_index("ix_license_change_activity_id", ["activity_id"], unique=False)


def _rows_by_license_chunk(connection: sa.Connection) -> Iterator[Sequence[sa.Row[Any]]]:
    """The history rows, ordered by id, a chunk of licenses at a time."""
    key = history.c.provider_cred_license_key
    licenses = connection.execute(sa.select(key).distinct().order_by(key)).scalars().all()
    for start in range(0, len(licenses), LICENSES_PER_CHUNK):
        chunk = licenses[start : start + LICENSES_PER_CHUNK]
        yield connection.execute(
            sa.select(history).where(key.in_(chunk)).order_by(history.c.id)
        ).all()


def _typed(field: str, value: str | None) -> Any:
    if value is not None and field in INTEGER_FIELDS:
        try:
            return int(value)
        except ValueError:
            return value
    return value


def _as_changes(text: str | None) -> dict[str, list[Any]]:
    value = json.loads(text) if text else {}
    return value if isinstance(value, dict) else {}


def _field_values(field: str | None, pair: list[Any]) -> dict[str, Any]:
    old, new = pair
    return {
        "field": field,
        "old_value": None if old is None else str(old),
        "new_value": None if new is None else str(new),
    }

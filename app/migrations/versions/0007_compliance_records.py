"""compliance records: the history's hash chain and its heads, monitoring runs

Revision ID: 0007
Revises: 0002
Create Date: 2026-12-04 16:00:00

Adds ``license_change.row_hash`` and the ``license_history_head`` table and chains the
existing history, license by license in id order, exactly as ``app.history.chain`` does for
new rows (this file keeps its own copy of the canonical form: a migration must not change when
the application does; ``tests/test_history_chain.py`` checks the copies agree). Adds the
monitoring run tables. Downgrade drops all of it.
"""

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

LICENSES_PER_CHUNK = 500
GENESIS = ""

history = sa.table(
    "license_change",
    sa.column("id", sa.Integer),
    sa.column("provider_cred_license_key", sa.Integer),
    sa.column("provider_cred_key", sa.Integer),
    sa.column("activity_id", sa.String),
    sa.column("at", sa.DateTime),
    sa.column("user", sa.String),
    sa.column("action", sa.String),
    sa.column("changes"),  # JSON text (SQLite) or jsonb (PostgreSQL, since 0003)
    sa.column("row_hash", sa.String),
)
heads = sa.table(
    "license_history_head",
    sa.column("provider_cred_license_key", sa.Integer),
    sa.column("row_hash", sa.String),
)


def upgrade() -> None:
    with op.batch_alter_table("license_change", schema=None) as batch_op:
        batch_op.add_column(sa.Column("row_hash", sa.String(length=64), nullable=True))
    op.create_table(
        "license_history_head",
        sa.Column("provider_cred_license_key", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("provider_cred_license_key", name=op.f("pk_license_history_head")),
    )
    op.create_table(
        "monitoring_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ran_at", sa.DateTime(), nullable=False),
        sa.Column("ran_by", sa.String(length=64), nullable=False),
        sa.Column("psv_window_days", sa.Integer(), nullable=False),
        sa.Column("expired", sa.Integer(), nullable=False),
        sa.Column("within30", sa.Integer(), nullable=False),
        sa.Column("within60", sa.Integer(), nullable=False),
        sa.Column("within90", sa.Integer(), nullable=False),
        sa.Column("no_term_date", sa.Integer(), nullable=False),
        sa.Column("psv_overdue", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_run")),
    )
    with op.batch_alter_table("monitoring_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_monitoring_run_ran_at"), ["ran_at"], unique=False)
    op.create_table(
        "monitoring_run_license",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("provider_cred_license_key", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("provider_cred_key", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.String(length=20), nullable=False),
        sa.Column("license_name", sa.String(length=512), nullable=True),
        sa.Column("license_number", sa.String(length=50), nullable=True),
        sa.Column("state", sa.String(length=2), nullable=True),
        sa.Column("term_date", sa.DateTime(), nullable=True),
        sa.Column("psv_date", sa.DateTime(), nullable=True),
        sa.Column("expiry_status", sa.String(length=10), nullable=True),
        sa.Column("psv_overdue", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["monitoring_run.id"],
            name=op.f("fk_monitoring_run_license_run_id_monitoring_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "run_id", "provider_cred_license_key", name=op.f("pk_monitoring_run_license")
        ),
    )
    _chain_existing_history(op.get_bind())


def downgrade() -> None:
    op.drop_table("monitoring_run_license")
    with op.batch_alter_table("monitoring_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitoring_run_ran_at"))
    op.drop_table("monitoring_run")
    op.drop_table("license_history_head")
    with op.batch_alter_table("license_change", schema=None) as batch_op:
        batch_op.drop_column("row_hash")


def _chain_existing_history(connection: sa.Connection) -> None:
    for rows in _rows_by_license_chunk(connection):
        hashes: list[dict[str, Any]] = []
        newest: dict[int, str] = {}
        for row in rows:
            key = row.provider_cred_license_key
            # JSON text, or already parsed where 0003 made the column jsonb (PostgreSQL).
            raw = row.changes
            changes = (orjson.loads(raw) if isinstance(raw, str | bytes) else raw) if raw else {}
            content = _canonical(
                key,
                row.provider_cred_key,
                row.activity_id,
                row.at,
                row.user,
                row.action,
                changes,
            )
            newest[key] = row_hash = _link(newest.get(key, GENESIS), content)
            hashes.append({"row_id": row.id, "row_hash": row_hash})
        if hashes:
            connection.execute(
                history.update()
                .where(history.c.id == sa.bindparam("row_id"))
                .values(row_hash=sa.bindparam("row_hash")),
                hashes,
            )
            connection.execute(
                heads.insert(),
                [{"provider_cred_license_key": k, "row_hash": h} for k, h in newest.items()],
            )


def _rows_by_license_chunk(connection: sa.Connection) -> Iterator[Sequence[sa.Row[Any]]]:
    """The history rows, ordered by license and id, a chunk of licenses at a time."""
    key = history.c.provider_cred_license_key
    licenses = connection.execute(sa.select(key).distinct().order_by(key)).scalars().all()
    for start in range(0, len(licenses), LICENSES_PER_CHUNK):
        chunk = licenses[start : start + LICENSES_PER_CHUNK]
        yield connection.execute(
            sa.select(history).where(key.in_(chunk)).order_by(key, history.c.id)
        ).all()


def _canonical(
    license_key: int,
    provider_cred_key: int,
    activity_id: str,
    at: Any,
    user: str | None,
    action: str,
    changes: Any,
) -> bytes:
    return orjson.dumps(
        [
            license_key,
            provider_cred_key,
            activity_id,
            at.isoformat(sep="T", timespec="microseconds"),
            user,
            action,
            changes or {},
        ],
        option=orjson.OPT_SORT_KEYS,
    )


def _link(previous: str, content: bytes) -> str:
    return hashlib.sha256(previous.encode() + b"\n" + content).hexdigest()

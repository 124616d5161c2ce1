"""idempotency records: scoped to the user as well as the API key; claims are leases

Revision ID: 0006
Revises: 0002
Create Date: 2026-12-04 16:00:00

A stored answer is replayed only to the same user of the same API key: ``username`` joins the
unique key. A running request's claim gets an ``owner`` and a ``lease_expires_at``, so a claim
whose worker died can be taken over by a retry instead of pinning the key for 24 hours.
Existing rows keep their answers under the user name ``''`` (no user can have it), and
existing running claims have no lease, so a retry takes them over.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("username", sa.String(length=20), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("owner", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("lease_expires_at", sa.DateTime(), nullable=True))
        batch_op.drop_constraint("uq_idempotency_record_api_key_id", type_="unique")
        batch_op.create_unique_constraint(
            "uq_idempotency_record_api_key_id", ["api_key_id", "username", "idempotency_key"]
        )
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.alter_column("username", server_default=None)


def downgrade() -> None:
    # Answers of different users under one key and name cannot share the old unique key.
    op.execute(
        "DELETE FROM idempotency_record WHERE id NOT IN ("
        "SELECT MIN(id) FROM idempotency_record GROUP BY api_key_id, idempotency_key)"
    )
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.drop_constraint("uq_idempotency_record_api_key_id", type_="unique")
        batch_op.create_unique_constraint(
            "uq_idempotency_record_api_key_id", ["api_key_id", "idempotency_key"]
        )
        batch_op.drop_column("lease_expires_at")
        batch_op.drop_column("owner")
        batch_op.drop_column("username")

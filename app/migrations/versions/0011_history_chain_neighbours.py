"""The history by license and id, the chain's order, instead of by license and time

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 11:00:00

The integrity review checks each history row of its range against its chain: the hash of the
license's row before it, whether a row follows it, in id order. With an index on (license,
id) each is one probe; before, a row's neighbours were found by window functions over its
license's whole chain. The same index serves a license's history page, now in id order (the
order its rows were written in, under the license's lock; their times come from the writers'
clocks): the (license, time) index it replaces would be one more page each batch writes.
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BY_ID = "ix_license_change_license_id"
BY_TIME = "ix_license_change_license_at"


def upgrade() -> None:
    op.create_index(BY_ID, "license_change", ["provider_cred_license_key", "id"])
    op.drop_index(BY_TIME, table_name="license_change")


def downgrade() -> None:
    op.create_index(BY_TIME, "license_change", ["provider_cred_license_key", "at"])
    op.drop_index(BY_ID, table_name="license_change")

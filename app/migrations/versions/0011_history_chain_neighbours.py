"""The history chain by license and id: an index on ``license_change`` for a row's neighbours

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 11:00:00

The integrity review checks each history row of its range against its chain: the hash of the
license's row before it, whether a row follows it, in id order. With this index each is one
probe; without it a row's neighbours were found by window functions over its license's whole
chain (or, asked of the time-ordered license index, a scan of the whole chain per row). A
batch's history rows take the newest ids, so each lands at its license's end of the index.
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

INDEX = "ix_license_change_license_id"


def upgrade() -> None:
    op.create_index(INDEX, "license_change", ["provider_cred_license_key", "id"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="license_change")

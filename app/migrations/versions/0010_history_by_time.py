"""The history by time: an index on ``license_change.at``

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 06:00:00

The integrity review (``/ui/integrity``, ``flask integrity-report``) reads the history rows of
a date range. Without an index on the time that read was a scan of the whole history table,
which only grows; with it, the review reads its range. A batch's history rows share one
instant, the newest, so each batch appends them at the index's end.
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

INDEX = "ix_license_change_at"


def upgrade() -> None:
    op.create_index(INDEX, "license_change", ["at"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="license_change")

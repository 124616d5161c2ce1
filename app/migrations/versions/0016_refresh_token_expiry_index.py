"""refresh tokens: indexed by expiry, for the purge

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 19:00:00

``flask --app app purge`` deletes the expired refresh tokens (``expires_at < now``). Tokens
are never deleted when used (a second use must be recognised as a copy), so the table keeps
every token issued in the last 30 days, one per login and one per renewal, and the expired
ones are a day's worth when the purge runs daily. Without an index on ``expires_at`` that
DELETE read the whole table, holding SQLite's one write lock throughout; with it, it reads the
rows it deletes. Same index on both engines.
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

TABLE = "refresh_token"
INDEX = "ix_refresh_token_expires_at"


def upgrade() -> None:
    op.create_index(INDEX, TABLE, ["expires_at"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name=TABLE)

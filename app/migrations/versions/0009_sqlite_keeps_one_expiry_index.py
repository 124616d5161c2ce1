"""SQLite keeps one expiry index: the PSV, state, type and license-number indexes are
PostgreSQL's alone

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 02:10:00

Every index of the license table is written by every batch. On SQLite a batch holds the
database's one write lock while it writes, so each index makes every writer wait longer. What
these four serve there, the expiry lists narrowed by PSV date, state or license type and the
search by license number, reads the table instead, which stays quick at the sizes SQLite is for
(both trade-offs are measured in docs/operations.md and docs/performance.md). The term date's
index stays on both: it serves the expiry buckets and the lists' default order. PostgreSQL
keeps all of them (migration 0003); nothing changes there.

Downgrade gives SQLite the four indexes back.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

LICENSE = "provider_cred_license"
COLUMN_INDEXES = {
    "ix_license_psv": ["psv_date", "provider_cred_license_key"],
    "ix_license_state_term": ["state", "term_date", "provider_cred_license_key"],
    "ix_license_type_term": ["cred_license_type_key", "term_date", "provider_cred_license_key"],
}
NUMBER_INDEX = "ix_license_number_lower"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in (*COLUMN_INDEXES, NUMBER_INDEX):
        op.drop_index(name, table_name=LICENSE)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name, columns in COLUMN_INDEXES.items():
        op.create_index(name, LICENSE, columns)
    op.create_index(NUMBER_INDEX, LICENSE, [sa.text("lower(license_number)")])

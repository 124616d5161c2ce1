"""bounded reads: 64-bit jsonb history, and an index for every expiry filter and sort

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 16:00:00

``license_change.id`` becomes 64-bit (its sequence too) and ``changes`` becomes ``jsonb`` on
PostgreSQL, converted in place (every row kept). On SQLite the id already is the 64-bit rowid
and ``changes`` stays JSON text, so only the indexes change there.

The license table gains the indexes the expiry lists and the credential search need (term date,
PSV date, state or type with term date, each ending with the key; the license number in any
case); the single-column term-date and type indexes are dropped: the new ones lead with the
same columns.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

LICENSE = "provider_cred_license"
NEW_INDEXES = {
    "ix_license_term": ["term_date", "provider_cred_license_key"],
    "ix_license_psv": ["psv_date", "provider_cred_license_key"],
    "ix_license_state_term": ["state", "term_date", "provider_cred_license_key"],
    "ix_license_type_term": ["cred_license_type_key", "term_date", "provider_cred_license_key"],
}
OLD_INDEXES = {
    "ix_provider_cred_license_term_date": ["term_date"],
    "ix_provider_cred_license_cred_license_type_key": ["cred_license_type_key"],
}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER SEQUENCE license_change_id_seq AS BIGINT")
        op.execute(
            "ALTER TABLE license_change "
            "ALTER COLUMN id TYPE BIGINT, "
            "ALTER COLUMN changes TYPE JSONB USING changes::jsonb"
        )
    for name, columns in NEW_INDEXES.items():
        op.create_index(name, LICENSE, columns)
    op.create_index("ix_license_number_lower", LICENSE, [sa.text("lower(license_number)")])
    for name in OLD_INDEXES:
        op.drop_index(name, table_name=LICENSE)


def downgrade() -> None:
    for name, columns in OLD_INDEXES.items():
        op.create_index(name, LICENSE, columns)
    op.drop_index("ix_license_number_lower", table_name=LICENSE)
    for name in NEW_INDEXES:
        op.drop_index(name, table_name=LICENSE)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE license_change "
            "ALTER COLUMN changes TYPE TEXT USING changes::text, "
            "ALTER COLUMN id TYPE INTEGER"
        )
        op.execute("ALTER SEQUENCE license_change_id_seq AS INTEGER")

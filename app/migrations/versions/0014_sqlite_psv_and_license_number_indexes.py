"""SQLite gets the PSV date's and the license number's indexes back

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 16:00:00

Migration 0009 left them to PostgreSQL, to spare SQLite's one write lock two of the indexes
every batch writes. But every expiry list, the API's and the UI's, counts all its buckets on
every page, and the PSV bucket's count read the whole license table twice without its index;
the credential search reads it once (twice with its count) for the license number. At 200,000
licenses, a one-node plan's size, an expiry page took 181–283 ms and a search 210–348 ms,
growing with the table; with the two indexes the counts and the search read only the rows
they count or find: 17–38 ms and 45–89 ms (docs/operations.md).
The state's and the license type's indexes stay PostgreSQL's: those filters narrow a term-date
range the term-date index already reads. PostgreSQL has had both since 0003; nothing changes
there.

Downgrade drops them from SQLite again.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

LICENSE = "provider_cred_license"
PSV_INDEX = "ix_license_psv"
NUMBER_INDEX = "ix_license_number_lower"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.create_index(PSV_INDEX, LICENSE, ["psv_date", "provider_cred_license_key"])
    op.create_index(NUMBER_INDEX, LICENSE, [sa.text("lower(license_number)")])


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.drop_index(NUMBER_INDEX, table_name=LICENSE)
    op.drop_index(PSV_INDEX, table_name=LICENSE)

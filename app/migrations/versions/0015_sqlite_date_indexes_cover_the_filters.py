"""SQLite's term-date and PSV-date indexes also carry the other date, the state and the type

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 18:30:00

The expiry lists narrowed by state or license type, and the PSV bucket listed in term order,
read each row of their date range on SQLite to check what no index of it held: at 200,000
licenses a state's counts looked up 54,000 rows, 80–160 ms a page on a quiet machine (270–610
on a loaded one). PostgreSQL has an index for each (state or type with the term date, since
0003); SQLite is not given more indexes, each of which every batch writes under its one write
lock: its two date indexes are made again, each in its date's and the key's order as before,
followed by the other date, the state and the type, so those reads read index entries alone
(docs/operations.md has the figures). ``ix_license_term`` and ``ix_license_psv`` become
``ix_license_term_sqlite`` and ``ix_license_psv_sqlite``; nothing changes on PostgreSQL.

Downgrade makes SQLite's two narrow indexes again.
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

LICENSE = "provider_cred_license"
KEY = "provider_cred_license_key"
FILTERS = ["state", "cred_license_type_key"]
WIDE = {
    "ix_license_term_sqlite": ["term_date", KEY, "psv_date", *FILTERS],
    "ix_license_psv_sqlite": ["psv_date", KEY, "term_date", *FILTERS],
}
NARROW = {"ix_license_term": ["term_date", KEY], "ix_license_psv": ["psv_date", KEY]}


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name, columns in WIDE.items():
        op.create_index(name, LICENSE, columns)
    for name in NARROW:
        op.drop_index(name, table_name=LICENSE)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name, columns in NARROW.items():
        op.create_index(name, LICENSE, columns)
    for name in WIDE:
        op.drop_index(name, table_name=LICENSE)

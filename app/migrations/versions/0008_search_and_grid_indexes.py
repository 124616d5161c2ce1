"""search and grid indexes: a trigram index on the provider ID, licenses by ProviderCred and key

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 10:00:00

The UI's credential search finds provider IDs *containing* the query, in any case: no B-tree
serves that, so at 200,000 ProviderCreds it was a scan of the table. On PostgreSQL a GIN
trigram index (``pg_trgm``) serves ``ILIKE '%…%'``; SQLite has no such index and keeps its
scan (its databases are small). The extension is created if absent, in the ``public`` schema:
created in the migrated schema instead (the first on the search path), dropping that schema
would drop the extension and, with it, every trigram index of the database's other schemas.
The operator class is named with the schema the extension actually lives in, which need not
be on the search path.

The license grid and the API's license list read a ProviderCred's licenses in key order, a
page at a time: ``ix_license_cred`` (ProviderCred, key) serves the filter and the order in one
index walk. With the single-column ProviderCred index alone, the planner, expecting thousands
of licenses per ProviderCred on a table without statistics, walked the whole primary key in
key order to avoid a sort. The new index replaces that one, whose column it leads with.

Downgrade drops the trigram index but leaves the extension: it may have been there before,
and other objects may use it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

LICENSE = "provider_cred_license"
TRIGRAM_INDEX = "ix_provider_cred_provider_id_trgm"


def upgrade() -> None:
    op.create_index("ix_license_cred", LICENSE, ["provider_cred_key", "provider_cred_license_key"])
    op.drop_index("ix_provider_cred_license_provider_cred_key", table_name=LICENSE)
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
        schema = connection.execute(
            sa.text(
                "SELECT extnamespace::regnamespace::text FROM pg_extension "
                "WHERE extname = 'pg_trgm'"
            )
        ).scalar_one()
        op.execute(
            f"CREATE INDEX {TRIGRAM_INDEX} ON provider_cred "
            f"USING gin (provider_id {schema}.gin_trgm_ops)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index(TRIGRAM_INDEX, table_name="provider_cred")
    op.create_index("ix_provider_cred_license_provider_cred_key", LICENSE, ["provider_cred_key"])
    op.drop_index("ix_license_cred", table_name=LICENSE)

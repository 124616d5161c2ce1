"""monitoring runs: each license's place in the run's report, indexed

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 10:00:00

A run's pages (``/ui/monitoring/<id>``, ``GET /monitoring-runs/<id>``) list its licenses
expired first, then by term date and key. That order was a ``CASE`` no index holds, so every
page sorted the whole run (a quarter of the licenses at the time), and its cost grew with the
table. A run never changes once recorded: each license's place in that order is now stored
when the run is recorded (``report_order``, 1 to the run's size) and indexed with the run, so
a page reads its own rows. The runs already recorded are numbered here, in the same order.
The order is copied here (no application imports): expired, within30, within60, within90,
noTermDate, then the PSV-only rows; a missing term date first; then the license key.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

INDEX = "ix_monitoring_run_license_report_order"
NUMBERED = """
UPDATE monitoring_run_license SET report_order = numbered.place
FROM (
    SELECT run_id, provider_cred_license_key, row_number() OVER (
        PARTITION BY run_id
        ORDER BY CASE expiry_status
                     WHEN 'expired' THEN 0 WHEN 'within30' THEN 1
                     WHEN 'within60' THEN 2 WHEN 'within90' THEN 3
                     WHEN 'noTermDate' THEN 4 ELSE 5 END,
                 term_date IS NOT NULL, term_date, provider_cred_license_key
    ) AS place
    FROM monitoring_run_license
) AS numbered
WHERE numbered.run_id = monitoring_run_license.run_id
  AND numbered.provider_cred_license_key = monitoring_run_license.provider_cred_license_key
"""


def upgrade() -> None:
    op.add_column("monitoring_run_license", sa.Column("report_order", sa.Integer()))
    op.execute(NUMBERED)
    op.create_index(INDEX, "monitoring_run_license", ["run_id", "report_order"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="monitoring_run_license")
    with op.batch_alter_table("monitoring_run_license") as batch:
        batch.drop_column("report_order")

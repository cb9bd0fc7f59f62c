"""rollup clustered by brand and order day

The insights rollup is read by (brand, order-day range). Its primary key becomes
(brand_id, order_day, shipment_id) so that the range is one contiguous run of rows: on SQLite the
table is rebuilt WITHOUT ROWID (stored in primary-key order); on PostgreSQL only the key changes.
The rows are kept. ``shipment_id`` stays unique for the rollup's per-parcel updates.

Revision ID: 5b1c0e7d9a42
Revises: 68a070c2fdc3
Create Date: 2026-12-02 08:45:00
"""

import re
from collections.abc import Sequence

from alembic import op

revision: str = "5b1c0e7d9a42"
down_revision: str | None = "68a070c2fdc3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KEY = "PRIMARY KEY (shipment_id)"
NEW_KEY = "PRIMARY KEY (brand_id, order_day, shipment_id)"


def _rebuild_sqlite(old_key: str, new_key: str, *, with_rowid: bool) -> None:
    """Copy the table into one with the other key, from its own stored definition."""
    bind = op.get_bind()
    (definition,) = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'shipmentfigures'"
    ).one()
    definition = definition.replace(old_key, new_key).rstrip()
    definition = definition.removesuffix("WITHOUT ROWID").rstrip()
    if not with_rowid:
        definition += " WITHOUT ROWID"
    definition = re.sub(
        r'^CREATE TABLE "?shipmentfigures"?', "CREATE TABLE _shipmentfigures_new", definition
    )
    op.execute(definition)
    op.execute("INSERT INTO _shipmentfigures_new SELECT * FROM shipmentfigures")
    op.execute("DROP TABLE shipmentfigures")
    op.execute("ALTER TABLE _shipmentfigures_new RENAME TO shipmentfigures")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(OLD_KEY, NEW_KEY, with_rowid=False)
    else:
        op.drop_index("ix_shipmentfigures_brand_day", table_name="shipmentfigures")
        op.execute(
            f"ALTER TABLE shipmentfigures DROP CONSTRAINT shipmentfigures_pkey, ADD {NEW_KEY}"
        )
    op.create_index("ux_shipmentfigures_shipment", "shipmentfigures", ["shipment_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_shipmentfigures_shipment", table_name="shipmentfigures")
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(NEW_KEY, OLD_KEY, with_rowid=True)
    else:
        op.execute(
            f"ALTER TABLE shipmentfigures DROP CONSTRAINT shipmentfigures_pkey, ADD {OLD_KEY}"
        )
    op.create_index("ix_shipmentfigures_brand_day", "shipmentfigures", ["brand_id", "order_day"])

"""a brand's parcels by id (the API's list) and by carrier (the console's carriers)

Revision ID: 8e4b1f0c7a25
Revises: 5d2a7e9c4b18
Create Date: 2026-12-06 11:45:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '8e4b1f0c7a25'
down_revision: str | None = '5d2a7e9c4b18'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_shipment_brand_id_id', 'shipment', ['brand_id', 'id'], unique=False)
    op.create_index(
        'ix_shipment_brand_carrier', 'shipment', ['brand_id', 'carrier_code'], unique=False
    )
    op.drop_index('ix_shipment_carrier_code', table_name='shipment')


def downgrade() -> None:
    op.create_index('ix_shipment_carrier_code', 'shipment', ['carrier_code'], unique=False)
    op.drop_index('ix_shipment_brand_carrier', table_name='shipment')
    op.drop_index('ix_shipment_brand_id_id', table_name='shipment')

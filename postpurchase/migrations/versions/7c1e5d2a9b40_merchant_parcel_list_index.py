"""the merchant's parcel list, newest first, read from an index

Revision ID: 7c1e5d2a9b40
Revises: 525e33e88be4
Create Date: 2026-12-06 03:05:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '7c1e5d2a9b40'
down_revision: str | None = '525e33e88be4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        'ix_shipment_brand_created', 'shipment', ['brand_id', 'created_at', 'id'], unique=False
    )


def downgrade() -> None:
    op.drop_index('ix_shipment_brand_created', table_name='shipment')

"""a parcel's brand_id indexed once: the index on it alone duplicated two that begin with it

Revision ID: 3b8f1c6d2e71
Revises: 7c1e5d2a9b40
Create Date: 2026-12-06 09:20:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '3b8f1c6d2e71'
down_revision: str | None = '7c1e5d2a9b40'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index('ix_shipment_brand_id', table_name='shipment')


def downgrade() -> None:
    op.create_index('ix_shipment_brand_id', 'shipment', ['brand_id'], unique=False)

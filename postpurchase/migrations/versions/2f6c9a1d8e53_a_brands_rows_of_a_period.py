"""a brand's parcels shipped and delivered, and its messages, of a period (the dashboard)

Revision ID: 2f6c9a1d8e53
Revises: 8e4b1f0c7a25
Create Date: 2026-12-06 12:25:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '2f6c9a1d8e53'
down_revision: str | None = '8e4b1f0c7a25'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        'ix_shipment_brand_shipped', 'shipment', ['brand_id', 'shipped_at'], unique=False
    )
    op.create_index(
        'ix_shipment_brand_delivered', 'shipment', ['brand_id', 'delivered_at'], unique=False
    )
    op.create_index(
        'ix_outboxmessage_brand_created', 'outboxmessage', ['brand_id', 'created_at'], unique=False
    )
    op.drop_index('ix_outboxmessage_brand_id', table_name='outboxmessage')


def downgrade() -> None:
    op.create_index('ix_outboxmessage_brand_id', 'outboxmessage', ['brand_id'], unique=False)
    op.drop_index('ix_outboxmessage_brand_created', table_name='outboxmessage')
    op.drop_index('ix_shipment_brand_delivered', table_name='shipment')
    op.drop_index('ix_shipment_brand_shipped', table_name='shipment')

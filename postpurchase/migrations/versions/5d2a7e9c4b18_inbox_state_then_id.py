"""the inbox's state index ordered by id: a worker's next pending events read in order, not sorted

Revision ID: 5d2a7e9c4b18
Revises: 3b8f1c6d2e71
Create Date: 2026-12-06 11:20:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '5d2a7e9c4b18'
down_revision: str | None = '3b8f1c6d2e71'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_inboxevent_state_id', 'inboxevent', ['state', 'id'], unique=False)
    op.drop_index('ix_inboxevent_state', table_name='inboxevent')


def downgrade() -> None:
    op.create_index('ix_inboxevent_state', 'inboxevent', ['state'], unique=False)
    op.drop_index('ix_inboxevent_state_id', table_name='inboxevent')

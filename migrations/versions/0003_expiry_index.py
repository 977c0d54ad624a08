"""payments: one (status, expires_at) index for the expiry task, in place of the status index

The expiry task asks every half second for pending charges past their expiry,
oldest first. On ``ix_payments_status`` SQLite read every pending charge and
sorted them (1.5 ms with 6,000 pending, growing with each one, blocking the
server); ``(status, expires_at)`` answers it from the index, in order. It also
serves every query on ``status`` alone, so the old index goes.

Revision ID: 0003_expiry_index
Revises: 0002_webhook
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0003_expiry_index'
down_revision = '0002_webhook'
branch_labels = None
depends_on = None


def _indexes() -> set[str]:
    return {index['name'] for index in sa.inspect(op.get_bind()).get_indexes('payments')}


def upgrade() -> None:
    # Checks what exists: a database made by create_all (schema.prepare stamps it at 0002)
    # may come from code before or after this revision.
    existing = _indexes()
    with op.batch_alter_table('payments', schema=None) as batch_op:
        if 'ix_payments_status_expires_at' not in existing:
            batch_op.create_index('ix_payments_status_expires_at', ['status', 'expires_at'],
                                  unique=False)
        if 'ix_payments_status' in existing:
            batch_op.drop_index('ix_payments_status')


def downgrade() -> None:
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index('ix_payments_status', ['status'], unique=False)
        batch_op.drop_index('ix_payments_status_expires_at')

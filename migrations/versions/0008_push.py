"""push_subscriptions: the browsers to tell of a charge's changes (Web Push)

One row per browser subscribed to a charge: its push service's endpoint and
its keys. Purged a while after the charge stops being pending.

Revision ID: 0008_push
Revises: 0007_outbox
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008_push'
down_revision = '0007_outbox'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Checks what exists: a database made by create_all (schema.prepare stamps it at 0002)
    # may come from code with this table already.
    if 'push_subscriptions' in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table('push_subscriptions',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=False),
    sa.Column('endpoint', sa.String(length=2048), nullable=False),
    sa.Column('p256dh', sa.String(length=100), nullable=False),
    sa.Column('auth', sa.String(length=32), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('payment_id', 'endpoint', name='uq_push_subscriptions_endpoint')
    )
    with op.batch_alter_table('push_subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_push_subscriptions_payment_id'), ['payment_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('push_subscriptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_push_subscriptions_payment_id'))

    op.drop_table('push_subscriptions')

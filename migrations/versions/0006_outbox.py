"""events, event_deliveries: the outbox of payment events and their deliveries

Every change of a payment is written as an event in the change's own
transaction; each destination's target gets a delivery row the relay sends
and records.

Revision ID: 0006_outbox
Revises: 0005_merchant
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0006_outbox'
down_revision = '0005_merchant'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Checks what exists: a database made by create_all (schema.prepare stamps it at 0002)
    # may come from code before or after this revision.
    tables = set(sa.inspect(op.get_bind()).get_table_names())
    if 'events' not in tables:
        op.create_table('events',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('type', sa.String(length=64), nullable=False),
        sa.Column('subject', sa.String(length=32), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id')
        )
        with op.batch_alter_table('events', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_events_created_at'), ['created_at'], unique=False)
            batch_op.create_index(batch_op.f('ix_events_subject'), ['subject'], unique=False)
    if 'event_deliveries' not in tables:
        op.create_table('event_deliveries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.String(length=36), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('target', sa.String(length=2048), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
        sa.Column('last_status', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.String(length=500), nullable=True),
        sa.Column('delivered_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id')
        )
        with op.batch_alter_table('event_deliveries', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_event_deliveries_event_id'), ['event_id'],
                                  unique=False)
            batch_op.create_index('ix_event_deliveries_status_next_attempt_at',
                                  ['status', 'next_attempt_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('event_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_event_deliveries_status_next_attempt_at')
        batch_op.drop_index(batch_op.f('ix_event_deliveries_event_id'))
    op.drop_table('event_deliveries')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_subject'))
        batch_op.drop_index(batch_op.f('ix_events_created_at'))
    op.drop_table('events')

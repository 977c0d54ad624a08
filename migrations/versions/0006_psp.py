"""psp: dynamic charges at a Pix provider (txid up to 35), refunds asked for, job leases

A dynamic charge's txid has 26 to 35 characters (a static BR Code's, 25 at most).
psp_refunds keeps each refund asked of the provider and its state; psp_leases lets one
process at a time reconcile received Pix, and remembers how far it got.

Revision ID: 0006_psp
Revises: 0005_merchant
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0006_psp'
down_revision = '0005_merchant'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Checks what exists: a database made by create_all may come from code after this revision.
    inspector = sa.inspect(op.get_bind())
    tables = inspector.get_table_names()
    txid = next(c for c in inspector.get_columns('payments') if c['name'] == 'txid')
    if getattr(txid['type'], 'length', None) != 35:
        with op.batch_alter_table('payments', schema=None) as batch_op:
            batch_op.alter_column('txid', existing_type=sa.String(length=25),
                                  type_=sa.String(length=35), existing_nullable=False)
    if 'psp_refunds' not in tables:
        op.create_table('psp_refunds',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('refund_id', sa.String(length=35), nullable=False),
        sa.Column('payment_id', sa.Integer(), nullable=False),
        sa.Column('end_to_end_id', sa.String(length=35), nullable=False),
        sa.Column('amount_cents', sa.BigInteger(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('rtr_id', sa.String(length=35), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('refund_id')
        )
        with op.batch_alter_table('psp_refunds', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_psp_refunds_payment_id'), ['payment_id'],
                                  unique=False)
            batch_op.create_index(batch_op.f('ix_psp_refunds_status'), ['status'], unique=False)
    if 'psp_leases' not in tables:
        op.create_table('psp_leases',
        sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('owner', sa.String(length=64), nullable=True),
        sa.Column('until', sa.DateTime(), nullable=True),
        sa.Column('mark', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('name')
        )


def downgrade() -> None:
    op.drop_table('psp_leases')
    with op.batch_alter_table('psp_refunds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_psp_refunds_status'))
        batch_op.drop_index(batch_op.f('ix_psp_refunds_payment_id'))
    op.drop_table('psp_refunds')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.alter_column('txid', existing_type=sa.String(length=35),
                              type_=sa.String(length=25), existing_nullable=False)

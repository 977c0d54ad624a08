"""payments: the merchant's order fields and listing index; idempotent_requests

A charge now carries what the merchant says of it (description, external_id,
metadata, return_url); charges made before have none (metadata ``{}``). The
merchant's listing pages by (created_at, public_id) and filters by external_id.
idempotent_requests keeps the answers to requests sent with an Idempotency-Key.

Revision ID: 0005_merchant
Revises: 0004_delivery_routes
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0005_merchant'
down_revision = '0004_delivery_routes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Checks what exists: a database made by create_all (schema.prepare stamps it at 0002)
    # may come from code before or after this revision.
    inspector = sa.inspect(op.get_bind())
    if 'idempotent_requests' not in inspector.get_table_names():
        op.create_table('idempotent_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('merchant', sa.String(length=32), nullable=False),
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=True),
        sa.Column('body', sa.LargeBinary(), nullable=True),
        sa.Column('headers', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('merchant', 'key', name='uq_idempotent_requests_key')
        )
        with op.batch_alter_table('idempotent_requests', schema=None) as batch_op:
            batch_op.create_index(batch_op.f('ix_idempotent_requests_created_at'), ['created_at'],
                                  unique=False)

    columns = {column['name'] for column in inspector.get_columns('payments')}
    indexes = {index['name'] for index in inspector.get_indexes('payments')}
    new_columns = [
        sa.Column('description', sa.String(length=140), nullable=True),
        sa.Column('external_id', sa.String(length=64), nullable=True),
        sa.Column('metadata', sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
        sa.Column('return_url', sa.Text(), nullable=True),
    ]
    with op.batch_alter_table('payments', schema=None) as batch_op:
        for column in new_columns:
            if column.name not in columns:
                batch_op.add_column(column)
        if 'ix_payments_created_at_public_id' not in indexes:
            batch_op.create_index('ix_payments_created_at_public_id', ['created_at', 'public_id'],
                                  unique=False)
        if 'ix_payments_external_id' not in indexes:
            batch_op.create_index(batch_op.f('ix_payments_external_id'), ['external_id'],
                                  unique=False)


def downgrade() -> None:
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payments_external_id'))
        batch_op.drop_index('ix_payments_created_at_public_id')
        batch_op.drop_column('return_url')
        batch_op.drop_column('metadata')
        batch_op.drop_column('external_id')
        batch_op.drop_column('description')

    with op.batch_alter_table('idempotent_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_idempotent_requests_created_at'))

    op.drop_table('idempotent_requests')

"""webhook_deliveries: the route by its endpoint's name, not its path

The delivery log recorded each request's path; ``deliveries replay`` found the
handler by it, so serving the app under another prefix (``APPLICATION_ROOT``,
a proxy's ``SCRIPT_NAME``) made every older delivery unreplayable. The route
is now the endpoint's name; this renames what was recorded before.

Revision ID: 0004_delivery_routes
Revises: 0003_expiry_index
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0004_delivery_routes'
down_revision = '0003_expiry_index'
branch_labels = None
depends_on = None

#: The two webhook routes: their path as recorded before, and their endpoint's name.
ROUTES = {
    '/payments/pix/confirmation': 'webhooks.confirmation',
    '/payments/pix/confirmation/pix': 'webhooks.confirmation_pix',
}
_RENAME = sa.text('UPDATE webhook_deliveries SET route = :new WHERE route = :old')


def upgrade() -> None:
    for path, name in ROUTES.items():
        op.execute(_RENAME.bindparams(new=name, old=path))


def downgrade() -> None:
    for path, name in ROUTES.items():
        op.execute(_RENAME.bindparams(new=path, old=name))

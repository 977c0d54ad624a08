"""The webhook's tables come with migration 0002 onto a database that predates them."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from payments import create_app
from payments.extensions import db
from payments.schema import MIGRATIONS, migrations
from tests.apps import app_with_tables, migrated_app

WEBHOOK_TABLES = {"pix_receipts", "pix_refunds", "webhook_deliveries"}


def make_app(url, tmp_path, schema):
    config = {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "test"}
    make = migrated_app if schema == "migrate" else app_with_tables
    return make(config, str(tmp_path))


def test_database_from_before_the_webhook_tables_gets_them(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    old = make_app(url, tmp_path, "create_all")
    with old.app_context():
        with db.engine.begin() as conn:
            for table in WEBHOOK_TABLES:
                conn.execute(text(f"DROP TABLE {table}"))
        db.engine.dispose()

    app = make_app(url, tmp_path, "migrate")

    with app.app_context(), db.engine.connect() as conn:
        assert WEBHOOK_TABLES <= set(inspect(conn).get_table_names())
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []
    with app.app_context():
        db.engine.dispose()


def test_deliveries_recorded_by_path_are_renamed_to_their_endpoints(tmp_path):
    """Migration 0004: rows of the log from before it name their route's endpoint after it."""
    url = f"sqlite:///{tmp_path / 'paths.sqlite'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "test"},
                     instance_path=str(tmp_path))
    flask_migrate = migrations(app)
    with app.app_context():
        flask_migrate.upgrade(MIGRATIONS, "0003_expiry_index")
        with db.engine.begin() as conn:
            for path in ("/payments/pix/confirmation", "/payments/pix/confirmation/pix"):
                conn.execute(text("INSERT INTO webhook_deliveries (received_at, route, body, "
                                  "body_size) VALUES ('2026-11-23 10:00:00', :r, '', 0)"),
                             {"r": path})
        flask_migrate.upgrade(MIGRATIONS)
        with db.engine.connect() as conn:
            routes = conn.execute(text("SELECT route FROM webhook_deliveries ORDER BY id"))
            assert list(routes.scalars()) == ["webhooks.confirmation", "webhooks.confirmation_pix"]
        flask_migrate.downgrade(MIGRATIONS, "0003_expiry_index")
        with db.engine.connect() as conn:
            routes = conn.execute(text("SELECT route FROM webhook_deliveries ORDER BY id"))
            assert list(routes.scalars()) == ["/payments/pix/confirmation",
                                              "/payments/pix/confirmation/pix"]
        db.engine.dispose()

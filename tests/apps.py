"""Apps for tests that need their own settings: made by the factory, their tables created."""

from flask import Flask

from payments import create_app
from payments.extensions import db


def app_with_tables(config: dict, instance_path: str) -> Flask:
    """Return ``create_app(config)`` with the models' tables made (the server would migrate)."""
    app = create_app(config, instance_path=instance_path)
    with app.app_context():
        db.create_all()
    return app


def migrated_app(config: dict, instance_path: str) -> Flask:
    """Return ``create_app(config)`` with its database migrated, as the server's start does."""
    from payments.boot import prepare_database

    app = create_app(config, instance_path=instance_path)
    prepare_database(app)
    return app

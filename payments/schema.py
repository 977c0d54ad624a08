"""Bring the database schema to the current version: Alembic migrations, under a lock."""

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import flask_migrate
from flask import Flask
from sqlalchemy import inspect, text

from .extensions import db

#: Where the Alembic migrations live (``flask --app payments db migrate`` writes there).
MIGRATIONS = str(Path(__file__).resolve().parent.parent / "migrations")
#: The first migration; a database made by ``create_all`` before migrations is stamped with it.
BASELINE = "0001_payments"
#: Where a database that ``create_all`` made with every table is stamped: the last revision
#: whose schema it surely has. Later revisions check what exists (0003: its index).
CREATE_ALL_REVISION = "0002_webhook"
#: Key of the PostgreSQL advisory lock held while one process migrates.
ADVISORY_LOCK_KEY = 0x5049_5850  # "PIXP"


def prepare(app: Flask) -> None:
    """Create or upgrade the schema as ``DATABASE_SCHEMA`` says: ``migrate`` or ``create_all``."""
    with app.app_context():
        if app.config["DATABASE_SCHEMA"] == "create_all":
            db.create_all()
            return
        with _migration_lock():
            tables = set(inspect(db.engine).get_table_names())
            if "alembic_version" not in tables and "payments" in tables:
                # Made by create_all: with every model's table it has at least the schema of
                # CREATE_ALL_REVISION, else it predates the later tables: the baseline.
                complete = set(db.metadata.tables) <= tables
                flask_migrate.stamp(MIGRATIONS, CREATE_ALL_REVISION if complete else BASELINE)
            flask_migrate.upgrade(MIGRATIONS)


@contextmanager
def _migration_lock() -> Iterator[None]:
    """Let one process at a time migrate: an advisory lock on PostgreSQL, a file lock on SQLite."""
    url = db.engine.url
    if url.get_backend_name() == "postgresql":
        with db.engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
                conn.commit()
    elif url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        with open(f"{url.database}.migrate-lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
    else:
        yield

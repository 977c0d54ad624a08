"""Database engine settings that belong to the app, in one place."""

from sqlalchemy import Engine, event

#: How long a SQLite writer waits for another one to finish before giving up.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def tune(engine: Engine) -> None:
    """Make SQLite wait for locks (``busy_timeout``) and let readers run beside a writer (WAL).

    Without this, concurrent webhooks on the default SQLite file can fail with
    "database is locked". Other databases are left as they are.
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, connection_record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")  # in-memory databases answer "memory"
        cursor.close()

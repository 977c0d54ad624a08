"""Tune the database connection: the one place for SQLite's pragmas."""

from sqlalchemy import Engine, event

#: Pragmas set on every SQLite connection.
#: WAL lets readers run while one writer commits; ``synchronous=NORMAL`` in WAL
#: mode fsyncs at checkpoints instead of at every commit (a power cut may lose
#: the last commits, a crash of the app loses nothing); ``busy_timeout`` makes a
#: second process wait for the write lock instead of failing at once.
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=5000",
)


def tune(engine: Engine) -> None:
    """Set the SQLite pragmas on each new connection of ``engine`` (other databases: nothing)."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _set_pragmas(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        try:
            for pragma in SQLITE_PRAGMAS:
                cursor.execute(pragma)
        finally:
            cursor.close()

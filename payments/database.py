"""Database engine settings that belong to the app, in one place."""

from sqlalchemy import Engine, event

#: How long a SQLite writer waits for another one to finish before giving up.
SQLITE_BUSY_TIMEOUT_MS = 30_000

#: Pragmas set on every SQLite connection.
#: ``busy_timeout``: a second writer (thread or process) waits instead of failing
#: with "database is locked". WAL: readers run beside a writer (in-memory databases
#: answer "memory"). ``synchronous=NORMAL`` in WAL mode fsyncs at checkpoints, not
#: at every commit: a crash of the app loses nothing, a power cut may lose the last
#: commits; the fsync per commit was a third of the server's time creating charges.
SQLITE_PRAGMAS = (
    f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
)


def tune(engine: Engine) -> None:
    """Set the SQLite pragmas on each new connection of ``engine`` (other databases: nothing)."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, connection_record) -> None:
        cursor = dbapi_connection.cursor()
        try:
            for pragma in SQLITE_PRAGMAS:
                cursor.execute(pragma)
        finally:
            cursor.close()

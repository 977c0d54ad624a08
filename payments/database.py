"""Database engine settings that belong to the app, in one place."""

import os
import sqlite3
import stat

from flask import Flask
from sqlalchemy import Engine, event

from payments.extensions import db

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

#: WAL pages (4 KiB) after which a commit checkpoints by itself when the background task
#: checkpoints too: only a safety net (40 MiB) should that task fall behind. SQLite's
#: default, 1,000, puts the checkpoint and its two fsyncs (4-12 ms here) inside one
#: request in a few hundred, and under green threads every request in flight waits.
BACKGROUND_WAL_AUTOCHECKPOINT = 10_000


def init_app(app: Flask) -> None:
    """Tune ``app``'s engine (it does not connect)."""
    with app.app_context():
        tune(db.engine, background_checkpoints=app.config["BACKGROUND_TASKS"])


def tune(engine: Engine, background_checkpoints: bool = False) -> None:
    """Set the SQLite pragmas on each new connection of ``engine`` (other databases: nothing).

    With ``background_checkpoints``, commits leave checkpoints to ``checkpoint()``.
    """
    if engine.dialect.name != "sqlite":
        return
    path = sqlite_file(engine)
    if path is not None:

        @event.listens_for(engine, "do_connect")
        def before_connect(dialect, connection_record, cargs, cparams) -> None:
            owner_only(path)

    pragmas = SQLITE_PRAGMAS
    if background_checkpoints:
        pragmas += (f"PRAGMA wal_autocheckpoint = {BACKGROUND_WAL_AUTOCHECKPOINT}",)

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, connection_record) -> None:
        cursor = dbapi_connection.cursor()
        try:
            for pragma in pragmas:
                cursor.execute(pragma)
        finally:
            cursor.close()


def sqlite_file(engine: Engine) -> str | None:
    """Return the path of ``engine``'s SQLite database file, or None (memory, other databases)."""
    if engine.dialect.name != "sqlite":
        return None
    path = engine.url.database
    return path if path and path != ":memory:" and not path.startswith("file:") else None


#: What SQLite keeps beside a database file; it gives them the database file's mode.
SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def owner_only(path: str) -> None:
    """Make the SQLite database at ``path`` and its companions readable by their owner only.

    A database not there yet is created empty with mode ``0600`` (SQLite would make it
    ``0644``, and its ``-wal`` and ``-shm`` as the database); existing files with a wider
    mode are set to ``0600``. Run before every new connection: at a server's start, and for
    any command or test that opens the database.
    """
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError:  # no such folder, read-only: SQLite's own error will say
        return
    for name in SQLITE_COMPANIONS:
        restrict(path + name)


def restrict(path: str) -> None:
    """Set the file at ``path`` to ``0600`` if anyone but its owner may read or write it."""
    try:
        mode = os.stat(path).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            os.chmod(path, 0o600)
    except FileNotFoundError:
        pass


def checkpoint(path: str) -> tuple[int, int, int]:
    """Copy the WAL of the SQLite file at ``path`` into the database; return SQLite's answer.

    PASSIVE: it neither waits for nor blocks readers and writers. It opens its own
    connection, so it may run in a native thread (the app's pool is green under
    eventlet). Returns ``(busy, WAL pages, pages checkpointed)``.
    """
    connection = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    try:
        return connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        connection.close()

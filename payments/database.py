"""Database engine settings that belong to the app, in one place."""

import os
import socket
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

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


#: Seconds a PostgreSQL round trip may outlast the statement timeout before it is cut.
CUT_GRACE_SECONDS = 1
#: Seconds between two looks of the watchdog at the round trips in flight.
WATCH_SECONDS = 0.25


def init_app(app: Flask) -> None:
    """Tune ``app``'s engine (it does not connect)."""
    with app.app_context():
        tune(db.engine, background_checkpoints=app.config["BACKGROUND_TASKS"])
        if db.engine.dialect.name == "postgresql":
            seconds = app.config["DATABASE_STATEMENT_TIMEOUT"] + CUT_GRACE_SECONDS
            app.extensions["database_deadlines"] = Deadlines(seconds).watch(db.engine)


class Deadlines:
    """Cut a database connection whose round trip stays unanswered past its deadline.

    A server that is reachable but silent (stopped, or behind a network black hole
    whose far side still acknowledges) never answers, and nothing in libpq gives up
    on a statement already sent: the server's own ``statement_timeout`` cannot fire
    either. So each statement, commit and rollback is given a deadline, and one
    watchdog (a thread, or a green thread under eventlet) shuts the socket of any
    connection still waiting when it passes: the driver sees the connection broken,
    SQLAlchemy invalidates the pool, the request answers ``503`` and the next one
    opens a fresh connection, which works again as soon as the server does.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._due: dict[int, tuple[float, object]] = {}
        self._paused = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def watch(self, engine: Engine) -> "Deadlines":
        """Give every round trip of ``engine`` a deadline; return self."""
        event.listen(engine, "before_cursor_execute", self._before_execute)
        event.listen(engine, "after_cursor_execute", self._after_execute)
        event.listen(engine, "handle_error", self._on_error)
        event.listen(engine, "commit", self._before_end)
        event.listen(engine, "rollback", self._before_end)
        event.listen(engine.pool, "reset", self._before_reset)
        for name in ("checkin", "invalidate", "close"):
            event.listen(engine.pool, name, self._done)
        return self

    def arm(self, dbapi_connection) -> None:
        """Start the deadline of a round trip on ``dbapi_connection``."""
        if self._paused or dbapi_connection is None:
            return
        self._due[id(dbapi_connection)] = (time.monotonic() + self.seconds, dbapi_connection)
        if self._thread is None:
            self._start()

    def disarm(self, dbapi_connection) -> None:
        """End the deadline of ``dbapi_connection``'s round trip: it was answered."""
        self._due.pop(id(dbapi_connection), None)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Give no deadline inside the block (migrations at start may take long)."""
        self._paused = True
        try:
            yield
        finally:
            self._paused = False

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:  # started lazily: in the process (worker) that serves
                self._thread = threading.Thread(target=self._run, name="database-deadlines",
                                                daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(WATCH_SECONDS)
            now = time.monotonic()
            for key, (due, connection) in list(self._due.items()):
                if due <= now and self._due.pop(key, None) is not None:
                    cut(connection)

    # Event listeners: SQLAlchemy's documented hooks around each round trip.

    def _before_execute(self, conn, cursor, statement, parameters, context, executemany):
        self.arm(getattr(cursor, "connection", None))

    def _after_execute(self, conn, cursor, statement, parameters, context, executemany):
        self.disarm(getattr(cursor, "connection", None))

    def _on_error(self, context) -> None:
        connection = context.connection  # None when connecting failed: nothing was armed
        if connection is not None and not connection.invalidated:
            self.disarm(connection.connection.dbapi_connection)

    def _before_end(self, conn) -> None:
        if not conn.invalidated:  # an invalidated connection's rollback sends nothing
            self.arm(conn.connection.dbapi_connection)

    def _before_reset(self, dbapi_connection, connection_record, reset_state) -> None:
        self.arm(dbapi_connection)

    def _done(self, dbapi_connection, connection_record, *args) -> None:
        if dbapi_connection is not None:
            self.disarm(dbapi_connection)


def cut(dbapi_connection) -> None:
    """Shut the socket of a DB-API connection: a call waiting on it fails at once."""
    try:
        fd = dbapi_connection.fileno()
    except Exception:  # already closed or broken: nothing waits on it
        return
    try:
        sock = socket.socket(fileno=os.dup(fd))
    except OSError:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.close()  # our duplicate only; the driver closes its own


@contextmanager
def unbounded(app: Flask) -> Iterator[None]:
    """Run the block with no statement timeout (migrations, their lock); drop its connections.

    :raise: whatever the block raises.
    """
    deadlines = app.extensions.get("database_deadlines")
    if deadlines is None:
        yield
        return

    def no_statement_timeout(dbapi_connection, connection_record, connection_proxy) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SET statement_timeout = 0")
        finally:
            cursor.close()

    engine = db.engine
    event.listen(engine.pool, "checkout", no_statement_timeout)
    try:
        with deadlines.paused():
            yield
    finally:
        event.remove(engine.pool, "checkout", no_statement_timeout)
        engine.dispose()  # the connections without a statement timeout go


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

"""Start a server process: check what it needs, migrate the schema, start its background tasks.

This is the only code that acts on the world at start. ``create_app`` only
configures; ``app.py`` (eventlet's server) and ``wsgi.py`` (gunicorn) call
``serve_app`` after their monkey patching. Every problem found here is a
``StartError`` whose text is one line per problem naming what failed and where,
which ``refuse`` prints as ``error: ...`` lines before exiting non-zero.
"""

import sys
from typing import NoReturn

from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from payments import background, create_app, database, schema
from payments.bank import deliveries
from payments.events import broker, relay
from payments.extensions import db
from payments.realtime import engine_sockets, message_queue
from payments.settings import ConfigError


class StartError(RuntimeError):
    """The server cannot start; the text says what and where, one line per problem."""


def refuse(exc: StartError, status: int = 1) -> NoReturn:
    """Print each problem of ``exc`` as ``error: <problem>`` to stderr; exit with ``status``."""
    for line in str(exc).splitlines():
        print(f"error: {line}", file=sys.stderr)
    sys.exit(status)


def serve_app(overrides: dict | None = None, instance_path: str | None = None) -> Flask:
    """Return the app of a server process, its database migrated and its task running.

    :raise StartError: a setting is invalid, or the database or Redis cannot be reached.
    """
    try:
        app = create_app({"BACKGROUND_TASKS": True, **(overrides or {})}, instance_path)
    except ConfigError as exc:
        raise StartError(str(exc)) from None
    if app.config["LEAN_WEBSOCKETS"]:
        engine_sockets.install()  # no idle green thread per page; see docs/benchmarks.md
    prepare_database(app)
    mark_interrupted_deliveries(app)
    check_message_queue(app)
    warn_at_start(app)
    background.start(app)
    relay.start(app)
    broker.start(app)  # an unreachable broker is one log line, not a refusal: events wait
    return app


def warn_at_start(app: Flask) -> None:
    """Log what the operator should know about a setting that is allowed but unsafe."""
    if not app.config.get("PIX_WEBHOOK_SECRET"):
        app.logger.warning(
            "PIX_WEBHOOK_SECRET is not set: unsigned bank webhooks are accepted; "
            "set it before taking real payments"
        )
    if not app.config.get("MERCHANT_API_KEYS"):
        app.logger.warning(
            "MERCHANT_API_KEYS is not set: the merchant routes (create, list, cancel, refund, "
            "push notify) are open to anyone who reaches this server; set it before taking "
            "real payments"
        )


def prepare_database(app: Flask) -> None:
    """Connect to the database and bring its schema to the newest migration.

    :raise StartError: it cannot be reached, or a migration fails.
    """
    with app.app_context():
        where = db.engine.url.render_as_string(hide_password=True)
        try:
            with db.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise StartError(f"cannot reach the database at {where}: {reason(exc)}") from None
        try:
            with database.unbounded(app):  # a migration, or waiting for another's, may be long
                schema.prepare(app)
        except SQLAlchemyError as exc:
            raise StartError(f"cannot migrate the database at {where}: {reason(exc)}") from None


def mark_interrupted_deliveries(app: Flask) -> None:
    """Mark the webhook deliveries a stopped process left without a result ``interrupted``.

    :raise StartError: the database refuses the update.
    """
    with app.app_context():
        try:
            count = deliveries.mark_interrupted()
        except SQLAlchemyError as exc:
            where = db.engine.url.render_as_string(hide_password=True)
            raise StartError(f"cannot mark interrupted deliveries in the database at {where}: "
                             f"{reason(exc)}") from None
    if count:
        app.logger.warning(
            "%d webhook %s had no result (a process stopped while handling %s): marked "
            "interrupted; the bank sends a notice again when it got no answer, and "
            "`flask --app payments deliveries replay <id>` applies one now",
            count, "delivery" if count == 1 else "deliveries", "it" if count == 1 else "them")


def check_message_queue(app: Flask) -> None:
    """Check that the Redis of ``SOCKETIO_MESSAGE_QUEUE`` answers, if one is set.

    :raise StartError: it does not.
    """
    url = app.config.get("SOCKETIO_MESSAGE_QUEUE")
    if url and message_queue.status(app) != "ok":
        problem = message_queue.last_error(app) or "no answer"
        raise StartError(f"cannot reach Redis at {message_queue.safe_url(url)}: {problem}")


def reason(exc: BaseException) -> str:
    """Return the gist of a driver's error: ``connection refused``, not its whole text.

    Drivers nest their reasons (``connection failed: connection to server at
    "127.0.0.1", port 1 failed: Connection refused``); the last one is the news.
    """
    original = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    if not lines:
        return type(original).__name__
    gist = lines[0].rsplit("failed: ", 1)[-1].strip().removeprefix("FATAL:").strip()
    return gist[:1].lower() + gist[1:]

"""App-wide routes: health and the page's vendored Socket.IO client."""

from pathlib import Path

from flask import Blueprint, Flask, abort, current_app, send_from_directory, url_for
from sqlalchemy import text

from payments.errors import DATABASE_RETRY_AFTER
from payments.events import broker, relay
from payments.extensions import db
from payments.realtime import message_queue

bp = Blueprint("site", __name__)

#: Where ``npm ci`` puts the page's Socket.IO client.
SOCKETIO_CLIENT_DIR = Path(__file__).resolve().parent.parent / "node_modules/socket.io-client/dist"
SOCKETIO_CLIENT_FILE = "socket.io.min.js"


def init_app(app: Flask) -> None:
    """Give every page the receiver's name and the Socket.IO client's URL."""

    # Every page (and every macro) says when this is a test environment.
    app.jinja_env.globals["sandbox"] = app.config["PAYMENTS_ENV"] == "sandbox"

    @app.context_processor
    def page_globals() -> dict:
        client = socketio_client_installed()
        return {
            "merchant_name": app.config["PIX_MERCHANT_NAME"],
            "socketio_client_url": url_for("site.socketio_client") if client else None,
        }


def socketio_client_installed() -> bool:
    """Tell whether ``npm ci`` has installed the Socket.IO client."""
    return (SOCKETIO_CLIENT_DIR / SOCKETIO_CLIENT_FILE).is_file()


@bp.get("/vendor/socket.io.min.js")
def socketio_client():
    """Serve the pinned Socket.IO client from ``node_modules``."""
    if not socketio_client_installed():
        abort(404, "The Socket.IO client is not installed; run npm ci")
    return send_from_directory(SOCKETIO_CLIENT_DIR, SOCKETIO_CLIENT_FILE, max_age=86400)


@bp.get("/health")
def health():
    """Report whether the app, its database and its message queue answer.

    ``503`` only when the database is down: nothing can be served. Redis down is
    ``degraded``: payments and bank notices still work, pages catch up by polling.
    """
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except Exception as exc:  # any driver error means "down"
        reason = getattr(exc, "orig", None) or exc
        current_app.logger.error("health check: database unavailable: %s",
                                 type(reason).__name__)
        try:
            db.session.rollback()
        except Exception:  # the connection may be gone; the session is discarded anyway
            pass
        database = "unavailable"
    queue = message_queue.status(current_app)
    broker_state = broker.status(current_app)
    if database != "ok":
        status = "unavailable"
    elif queue == "unavailable" or broker_state == "unavailable":
        status = "degraded"  # payments go on; real time falls back, events wait
    else:
        status = "ok"
    body = {"status": status, "database": database, "message_queue": queue,
            "environment": current_app.config["PAYMENTS_ENV"],
            "events_waiting": events_waiting() if database == "ok" else None,
            "broker": broker_state}
    if status == "unavailable":
        return body, 503, {"Retry-After": str(DATABASE_RETRY_AFTER)}
    return body, 200


def events_waiting() -> int | None:
    """Return how many event deliveries wait to be sent; None if that cannot be read now."""
    try:
        return relay.waiting()
    except Exception:  # the outbox's count never fails the health check
        current_app.logger.warning("health check: cannot count the waiting events")
        return None

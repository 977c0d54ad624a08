"""App-wide routes: health and the page's vendored Socket.IO client."""

from pathlib import Path

from flask import Blueprint, Flask, abort, current_app, send_from_directory, url_for
from sqlalchemy import text

from payments.events import relay
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
    """Report whether the app, its database and its message queue answer."""
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except Exception:  # any driver error means "down"
        current_app.logger.exception("health check: database unavailable")
        db.session.rollback()
        database = "unavailable"
    queue = message_queue.status(current_app)
    healthy = database == "ok" and queue != "unavailable"
    body = {"status": "ok" if healthy else "unavailable", "database": database,
            "message_queue": queue, "environment": current_app.config["PAYMENTS_ENV"],
            "events_waiting": events_waiting()}
    return body, 200 if body["status"] == "ok" else 503


def events_waiting() -> int | None:
    """Return how many event deliveries wait to be sent; None if that cannot be read now."""
    try:
        return relay.waiting()
    except Exception:  # the outbox's count never fails the health check
        current_app.logger.warning("health check: cannot count the waiting events")
        return None

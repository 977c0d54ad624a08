"""Serve the PIX payment pages: ``python app.py`` (HOST, PORT from the environment)."""

import warnings

# eventlet warns at import that it is in maintenance; we know, and chose it knowingly.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated", category=Warning)

import eventlet  # noqa: E402

eventlet.monkey_patch()  # before anything else imports sockets or threads (Redis, psycopg)

import os  # noqa: E402
import sys  # noqa: E402

# psycopg 3 picks a C wait function that eventlet cannot green (it only detects gevent),
# so one slow query would stall every request; the pure-Python select() one is greened.
os.environ["PSYCOPG_WAIT_FUNC"] = "wait_select"  # read when psycopg is first imported

from payments import create_app  # noqa: E402
from payments.extensions import socketio  # noqa: E402
from payments.settings import ConfigError  # noqa: E402


def main() -> None:
    """Start the Socket.IO server on eventlet."""
    try:
        app = create_app({"ASYNC_MODE": "eventlet", "BACKGROUND_TASKS": True})
    except ConfigError as exc:
        sys.exit(f"error: {exc}")
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    socketio.run(
        app,
        host=host,
        port=port,
        debug=False,  # never the Werkzeug debugger: it runs code for whoever reaches it
        max_size=10_000,  # eventlet's default of 1,024 connections would starve the webhook
        log_output=os.environ.get("ACCESS_LOG", "1") != "0",
        # Write each chunk a streamed response yields at once; eventlet's default
        # holds them until 4 KiB, which would stall Server-Sent Events.
        minimum_chunk_size=1,
    )


if __name__ == "__main__":
    main()

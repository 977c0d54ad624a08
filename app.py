"""Serve the PIX payment pages: ``python app.py`` (HOST, PORT from the environment).

``ASYNC_MODE`` chooses the Socket.IO server: ``eventlet`` (the default and the
production choice), ``gevent`` or ``threading`` (measured in docs/benchmarks.md).
"""

import os
import warnings

#: The async modes this server can run, each with its own monkey patching below.
ASYNC_MODES = ("eventlet", "gevent", "threading")
ASYNC_MODE = os.environ.get("ASYNC_MODE") or "eventlet"

# The one place that patches the standard library, before anything imports sockets or threads.
if ASYNC_MODE == "eventlet":
    # eventlet warns at import that it is in maintenance; we know, and chose it knowingly.
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated", category=Warning)
    import eventlet

    eventlet.monkey_patch()  # before anything else imports sockets or threads (Redis, psycopg)
elif ASYNC_MODE == "gevent":
    from gevent import monkey

    monkey.patch_all()

import gc  # noqa: E402
import logging  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402

# psycopg 3 picks a C wait function that eventlet cannot green (it only detects gevent),
# so one slow query would stall every request; the pure-Python select() one is greened.
os.environ["PSYCOPG_WAIT_FUNC"] = "wait_select"  # read when psycopg is first imported

from payments.boot import StartError, refuse, serve_app  # noqa: E402
from payments.extensions import socketio  # noqa: E402


def request_handler() -> dict:
    """Return the ``socketio.run`` option giving each accepted connection our handler.

    It sets TCP_NODELAY: without it, a small write that follows another
    unacknowledged one waits for the peer's delayed ACK (about 40 ms per event
    on Linux loopback). And with green threads it yields after each request of
    a keep-alive connection: otherwise a client whose next request is already
    waiting is served again and again while the others starve (p50 1.2 ms but
    p95 224 ms with 20 creating clients).
    """
    if ASYNC_MODE == "eventlet":
        import eventlet

        from payments.web.connections import Protocol

        class EventletHandler(Protocol):  # with the head deadline and the guarded body
            # A WebSocket page holds its connection's read and write buffers for its whole
            # life, unused after the handshake: 8 + 16 KiB by default, 1 + 2 KiB here (7 KiB
            # less RSS per page). A request line and headers fit in 1 KiB and longer ones are
            # read in more calls; 2 KiB still sends a JSON answer with its headers in one write.
            rbufsize = 1024
            wbufsize = 2048

            def setup(self) -> None:
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                super().setup()

            def handle_one_request(self) -> None:
                super().handle_one_request()
                eventlet.sleep(0)  # not socketio.sleep(): three layers of wrappers per request

        return {"protocol": EventletHandler}
    if ASYNC_MODE == "gevent":
        import gevent
        from gevent.pywsgi import WSGIHandler

        class GeventHandler(WSGIHandler):
            def handle(self) -> None:
                self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                super().handle()

            def handle_one_request(self):
                result = super().handle_one_request()
                gevent.sleep(0)
                return result

        return {"handler_class": GeventHandler}
    from werkzeug.serving import WSGIRequestHandler

    class ThreadingHandler(WSGIRequestHandler):
        disable_nagle_algorithm = True  # socketserver sets TCP_NODELAY in setup()

    return {"request_handler": ThreadingHandler}


def main() -> None:
    """Start the Socket.IO server in ``ASYNC_MODE``."""
    if ASYNC_MODE not in ASYNC_MODES:
        sys.exit(f"error: ASYNC_MODE must be one of {', '.join(ASYNC_MODES)}, not {ASYNC_MODE!r}")
    try:
        max_connections = int(os.environ.get("MAX_CONNECTIONS") or 10_000)
    except ValueError:
        sys.exit("error: MAX_CONNECTIONS must be a whole number")
    try:
        app = serve_app({"ASYNC_MODE": ASYNC_MODE})
    except StartError as exc:
        refuse(exc)
    # What exists now (modules, the app, its routes) lives as long as the process: take it out of
    # the collector's sight, or every full collection walks it again (about 50 ms here, a pause
    # every request in flight would wait out).
    gc.freeze()
    host = os.environ.get("HOST", "127.0.0.1")
    try:
        port = int(os.environ.get("PORT") or 5000)
    except ValueError:
        sys.exit(f"error: PORT must be a whole number, not {os.environ['PORT']!r}")
    options: dict = {
        "debug": False,  # never the Werkzeug debugger: it runs code for whoever reaches it
        "log_output": os.environ.get("ACCESS_LOG", "1") != "0",
        **request_handler(),
    }
    if ASYNC_MODE == "eventlet":
        # eventlet's default of 1,024 connections would starve the webhook
        options["max_size"] = max_connections
        # Write each chunk a streamed response yields at once; eventlet's default
        # holds them until 4 KiB, which would stall Server-Sent Events.
        options["minimum_chunk_size"] = 1
        # Send header names as the app wrote them: eventlet's default re-capitalizes every
        # name of every response (2% of a create's CPU); names are case-insensitive in HTTP.
        options["capitalize_response_headers"] = False
        from payments.web import connections

        # Per-address cap, head and body timeouts, chunked bodies, one line per departed
        # client: payments/web/connections.py.
        del options["debug"]
        access_log = options.pop("log_output")
        connections.serve(app, host, port, app.config, access_log=access_log, **options)
        return
    elif ASYNC_MODE == "gevent":
        # gevent's server ends chunked bodies itself, as eventlet's does (see connections.py).
        options["environ"] = {"wsgi.input_terminated": True}
    elif ASYNC_MODE == "threading":
        options["allow_unsafe_werkzeug"] = True  # the measured alternative, not for production
        if not options["log_output"]:
            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # werkzeug ignores log_output
    socketio.run(app, host=host, port=port, **options)


if __name__ == "__main__":
    main()

"""``python app.py`` with test-only routes that look inside its Engine.IO server (live tests only).

    ASYNC_MODE=gevent python -m tests.engine_server

- ``GET /_test/engine``: the process's open WebSocket connections, how many have a writer
  running, and how many green threads (threads, in threading mode) are alive;
- ``POST /_test/burst/<id>?count=N``: this request emits ``burst`` 0, 1, ... N-1 to the
  payment's pages, as fast as it can;
- ``POST /_test/disconnect/<id>?level=socketio|engineio``: the server closes the payment's
  pages: Socket.IO's DISCONNECT, or Engine.IO's CLOSE (``close(wait=True)``).
"""

import app as server  # first: it patches the standard library for ASYNC_MODE

# isort: split
import gc
import threading

from flask import Flask, request

from payments import boot
from payments.extensions import socketio
from payments.realtime.publish import room_for

_create_app = boot.create_app


def live_tasks() -> int:
    """Return how many green threads (threads, in threading mode) are alive in this process."""
    if server.ASYNC_MODE == "threading":
        return threading.active_count()
    import greenlet

    return sum(1 for obj in gc.get_objects() if isinstance(obj, greenlet.greenlet) and obj)


def engine() -> dict:
    sockets = list(socketio.server.eio.sockets.values())
    return {
        "websockets": sum(1 for s in sockets if s.upgraded and not s.closed),
        "writers": sum(1 for s in sockets if s._writing),
        "tasks": live_tasks(),
    }


def burst(payment_id: str) -> dict:
    count = int(request.args.get("count", "100"))
    for number in range(count):
        socketio.emit("burst", number, to=room_for(payment_id))
    return {"sent": count}


def disconnect(payment_id: str) -> dict:
    sio = socketio.server
    pages = list(sio.manager.get_participants("/", room_for(payment_id)))
    for sid, eio_sid in pages:
        if request.args["level"] == "socketio":
            sio.disconnect(sid)
        else:
            sio.eio.disconnect(eio_sid)
    return {"pages": len(pages)}


def create_app(overrides: dict, instance_path: str | None = None) -> Flask:
    """Create the app as ``python app.py`` does, with the test routes."""
    app = _create_app(overrides, instance_path)
    app.add_url_rule("/_test/engine", view_func=engine)
    app.add_url_rule("/_test/burst/<payment_id>", view_func=burst, methods=["POST"])
    app.add_url_rule("/_test/disconnect/<payment_id>", view_func=disconnect, methods=["POST"])
    return app


if __name__ == "__main__":
    boot.create_app = create_app  # what serve_app() builds the server's app with
    server.main()

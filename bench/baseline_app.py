"""The floor: a bare Flask-SocketIO eventlet server speaking our wire protocol, nothing more.

No database, no BR Code, no delivery log, no signature, no watchers: charges live in a
dict. ``python -m bench.baseline_app`` (HOST, PORT) serves ``POST /payments/pix``,
``POST /payments/pix/confirmation`` and the Socket.IO room of a payment, so the bench's
clients measure it exactly as they measure the app. What the app costs above this is
the price of its work; this server is never a product.
"""

import eventlet

eventlet.monkey_patch()

import itertools  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402

from eventlet.wsgi import HttpProtocol  # noqa: E402
from flask import Flask, request  # noqa: E402
from flask_socketio import ConnectionRefusedError, SocketIO, emit, join_room  # noqa: E402

app = Flask(__name__)
socketio = SocketIO(app, async_mode="eventlet")
payments: dict[str, dict] = {}
by_bank_id: dict[str, dict] = {}
numbers = itertools.count(1)


@app.get("/health")
def health():
    return {"status": "ok"}


@app.post("/payments/pix")
def create():
    number = next(numbers)
    payment = {"id": f"p{number:015d}", "value": request.get_json()["value"],
               "status": "pending", "paid": False, "bank_payment_id": f"b{number:015d}"}
    payments[payment["id"]] = by_bank_id[payment["bank_payment_id"]] = payment
    return {"message": "The payment has been created", "payment": payment}, 201


@app.post("/payments/pix/confirmation")
def confirmation():
    payment = by_bank_id[request.get_json()["bank_payment_id"]]
    payment.update(status="paid", paid=True)
    socketio.emit("payment_status", payment, to=payment["id"])
    return {"message": "The payment has been confirmed", "payment": payment}


@socketio.on("connect")
def connect(auth=None):
    payment = payments.get((auth or {}).get("payment_id"))
    if payment is None:
        raise ConnectionRefusedError("unknown payment")
    join_room(payment["id"])
    emit("payment_status", payment)


class Handler(HttpProtocol):
    """TCP_NODELAY, as the app sets it: without it each event waits for a delayed ACK."""

    def setup(self) -> None:
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().setup()


if __name__ == "__main__":
    socketio.run(app, host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ["PORT"]),
                 log_output=False, protocol=Handler, max_size=12_000)
